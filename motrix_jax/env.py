"""The environment interface: a task written in jax.numpy plus a physics backend.

`Env.reset(key) -> EnvState` and `Env.step(state, action) -> EnvState` act on a
batch of `num_envs` worlds. Episodes end by `terminated` (a failure: no
bootstrap) or `truncated` (the time limit: bootstrap from `final_obs`), and
restart automatically: the step that ends an episode samples the next one's
initial state (and task info) and returns its first observation; the physics
backend applies that state at the start of the following step, inside the same
call that advances the physics, so a host backend is called once per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import jax
import jax.numpy as jnp
from flax import struct

from motrix_jax.symmetry import Mirrors

if TYPE_CHECKING:  # motrix_jax.task builds on this module's types
    from motrix_jax.task import Task

Info = Any  # a task's per-env pytree (commands, last action, ...); leaves [N, ...]


@struct.dataclass
class PhysicsView:
    """What a task may read of the physics, for a batch of N worlds."""

    qpos: jax.Array  # [N, nq]
    qvel: jax.Array  # [N, nv]
    contacts: jax.Array  # [N, P] float 1.0 where the task's contact pair p touches
    # int32 []: control steps since the last full reset, counted by the backend. Each
    # step takes the previous view's tick, so every host call depends on the one before
    # it (none can be dropped or reordered) and the host can check the order.
    tick: jax.Array
    # The backend's own state, where it lives in JAX (MJX: the batched mjx.Data); tasks
    # never read it. None for a host backend, which keeps its worlds on the host.
    data: Any = None


@dataclass(frozen=True)
class Randomization:
    """Domain randomisation: physical parameters drawn per world, once, when the batch
    of worlds is created (each range is a uniform (low, high) scale factor)."""

    friction: tuple[float, float] = (1.0, 1.0)  # sliding friction of every geom
    mass: tuple[float, float] = (1.0, 1.0)  # mass of every moving link
    com_body: str = ""  # link whose centre of mass is shifted ("" for none)
    com_offset: float = 0.0  # metres, uniform +- per axis
    kp: tuple[float, float] = (1.0, 1.0)  # position-actuator stiffness
    kd: tuple[float, float] = (1.0, 1.0)  # position-actuator damping
    seed: int = 0


@dataclass(frozen=True)
class SolverOptions:
    """MuJoCo constraint-solver settings (`mjOption`) for the MuJoCo engines (MJX and the
    C engine), applied where their model is built; MotrixSim keeps its own solver. The
    defaults are MuJoCo's.
    Under `vmap`, MJX's solver loop runs until the slowest world converges and its line
    search runs all `ls_iterations` in every world, so each iteration costs every world."""

    solver: str = "newton"  # newton | cg
    iterations: int = 100  # solver iterations (1: one Newton step, warm-started)
    ls_iterations: int = 50  # line-search iterations
    tolerance: float = 1e-8  # solver early-exit tolerance
    eulerdamp: bool = True  # implicit joint damping in the Euler integrator
    cone: str = "pyramidal"  # friction cone: pyramidal | elliptic

    def __post_init__(self):
        if self.solver not in ("newton", "cg"):
            raise ValueError(f"solver must be newton or cg, got {self.solver!r}")
        if self.cone not in ("pyramidal", "elliptic"):
            raise ValueError(f"cone must be pyramidal or elliptic, got {self.cone!r}")
        if self.iterations < 1 or self.ls_iterations < 1:
            raise ValueError(f"iterations and ls_iterations must be >= 1, got "
                             f"{self.iterations} and {self.ls_iterations}")
        if not self.tolerance >= 0.0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")


# MuJoCo Playground's Go1 settings: one warm-started Newton step, a 5-step line search.
# They keep Go1's and VBot's standing height on MJX within 1 cm of MotrixSim and the feet
# touching down within a control step of it (tests/test_legged_mjx.py); MJX steps
# go1_flat 20-26x faster than with MuJoCo's defaults (README Performance).
LEAN_SOLVER = SolverOptions(iterations=1, ls_iterations=5, eulerdamp=False)


@dataclass(frozen=True)
class MotrixSimSolver:
    """MotrixSim's constraint-solver budget (`model.options`), applied where its model is
    loaded. The defaults are MotrixSim's own: the solver stops after `max_iterations` or
    once its residual is below `tolerance`, whichever comes first."""

    max_iterations: int = 100
    tolerance: float = 1e-4

    def __post_init__(self):
        if self.max_iterations < 1:
            raise ValueError(f"max_iterations must be >= 1, got {self.max_iterations}")
        if not self.tolerance > 0.0:
            raise ValueError(f"tolerance must be > 0, got {self.tolerance}")


def substeps(sim_dt: float, ctrl_dt: float) -> int:
    """Physics steps per control step; ValueError unless sim_dt > 0 divides ctrl_dt into
    a whole number of steps."""
    n = round(ctrl_dt / sim_dt) if sim_dt > 0 else 0
    if n < 1 or abs(n * sim_dt - ctrl_dt) > 1e-9:
        some = ", ".join(f"{ctrl_dt / k:g}" for k in (1, 2, 4))
        raise ValueError(f"sim_dt={sim_dt} does not divide ctrl_dt={ctrl_dt} into whole "
                         f"physics steps; sim_dt must be ctrl_dt / k (e.g. {some})")
    return n


class Physics(Protocol):
    """A physics backend: batched, functional from JAX's point of view."""

    nq: int
    nv: int
    nu: int
    options: dict  # the settings that ran (timestep, substeps, solver): for config.json

    def reset(self, qpos: jax.Array, qvel: jax.Array) -> PhysicsView:
        """Put every world in the given state; [N, nq], [N, nv]."""

    def step(self, view: PhysicsView, ctrl: jax.Array, reset_mask: jax.Array,
             reset_qpos: jax.Array, reset_qvel: jax.Array) -> PhysicsView:
        """From `view` (a host backend keeps its own copy), reset the masked worlds,
        apply ctrl [N, nu] and advance one control step."""

    def restore(self, physics_state: PhysicsView) -> None:
        """Make the backend continue from `physics_state`, a view saved from it (eager,
        outside jit), e.g. from a checkpoint: a host backend puts its worlds in that
        state; a backend whose state lives in the view (MJX) has nothing to do."""


def _finite(x: jax.Array | None) -> jax.Array | None:
    return None if x is None else jnp.nan_to_num(x, posinf=0.0, neginf=0.0)


def scaled_sum(terms: dict[str, jax.Array], scales: dict[str, float]) -> jax.Array:
    """sum_k scales[k] * terms[k]: the one place reward terms are scaled."""
    return sum(scales[k] * terms[k] for k in scales)


@struct.dataclass
class EnvState:
    obs: jax.Array  # [N, obs] observation the policy acts on (post-reset)
    reward: jax.Array  # [N] reward of the last step
    terminated: jax.Array  # [N] bool: last step ended in failure
    truncated: jax.Array  # [N] bool: last step hit the time limit (and did not fail)
    final_obs: jax.Array  # [N, obs] observation reached by the last step, before reset
    physics: PhysicsView  # physics after the last step (before any pending reset)
    info: Info  # task info of the episode `obs` belongs to
    step_count: jax.Array  # [N] int32 control steps in the current episode
    reset_qpos: jax.Array  # [N, nq] where done: initial state the next step applies
    reset_qvel: jax.Array  # [N, nv]
    episode_return: jax.Array  # [N] running undiscounted return
    episode_length: jax.Array  # [N] int32 running length
    done_return: jax.Array  # [N] return of the episode that just ended (0 if none)
    done_length: jax.Array  # [N] length of the episode that just ended (0 if none)
    nonfinite: jax.Array  # [N] bool: last step produced non-finite physics
    reward_terms: dict[str, jax.Array]  # each [N], unscaled
    key: jax.Array
    # The critic's own observations (`critic_observe`) of `obs` and `final_obs`; None
    # where the task has none (an empty pytree node: nothing stored or computed).
    critic_obs: jax.Array | None = None  # [N, critic_obs]
    final_critic_obs: jax.Array | None = None

    @property
    def done(self) -> jax.Array:
        return self.terminated | self.truncated


def _where(mask: jax.Array, a, b):
    """Per-env select over pytrees whose leaves are [N, ...]."""
    return jax.tree.map(
        lambda x, y: jnp.where(mask.reshape(mask.shape + (1,) * (x.ndim - 1)), x, y), a, b)


class Env:
    """A batched environment: `task` on `physics`, `num_envs` worlds."""

    def __init__(self, task: Task, physics: Physics, num_envs: int):
        self.task = task
        self.physics = physics
        self.num_envs = num_envs

    @property
    def obs_size(self) -> int:
        return self.task.obs_size

    @property
    def action_size(self) -> int:
        return self.task.action_size

    @property
    def critic_obs_size(self) -> int | None:
        """The critic's own observation size, or None where it reads the policy's."""
        return self.task.critic_obs_size

    @property
    def mirrors(self) -> Mirrors | None:
        """The task's left-right mirrors (`symmetry.Mirrors`), or None where it declares none."""
        return self.task.mirrors()

    def metrics(self, state: EnvState) -> dict[str, jax.Array]:
        """Batch means to log each step: every unscaled reward term and the task's own."""
        terms = {f"reward_terms/{k}": v.mean() for k, v in state.reward_terms.items()}
        task = {f"task/{k}": v.mean() for k, v in self.task.metrics(state.info).items()}
        return {**terms, **task}

    def _first_obs(self, qpos, qvel, info, tick) -> tuple[jax.Array, jax.Array | None]:
        """(policy, critic) observations of an episode's initial state."""
        contacts = jnp.zeros((self.num_envs, len(self.task.contact_pairs)))
        view = PhysicsView(qpos=qpos, qvel=qvel, contacts=contacts, tick=tick)
        return self.task.observe(view, info), self.task.critic_observe(view, info)

    def reset(self, key: jax.Array) -> EnvState:
        key, key_init = jax.random.split(key)
        n = self.num_envs
        qpos, qvel, info = self.task.reset(key_init, n, self.task.initial_info(n))
        view = self.physics.reset(qpos, qvel)
        obs, critic_obs = self._first_obs(view.qpos, view.qvel, info, view.tick)
        zeros = jnp.zeros((n,))
        return EnvState(
            obs=obs, reward=zeros, terminated=jnp.zeros((n,), bool),
            truncated=jnp.zeros((n,), bool), final_obs=obs, physics=view, info=info,
            step_count=jnp.zeros((n,), jnp.int32), reset_qpos=qpos, reset_qvel=qvel,
            episode_return=zeros, episode_length=jnp.zeros((n,), jnp.int32),
            done_return=zeros, done_length=jnp.zeros((n,), jnp.int32),
            nonfinite=jnp.zeros((n,), bool),
            reward_terms={k: zeros for k in self.task.reward_scales}, key=key,
            critic_obs=critic_obs, final_critic_obs=critic_obs)

    def step(self, state: EnvState, action: jax.Array) -> EnvState:
        """Advance every world one control step; action [N, action_size]."""
        task = self.task
        ctrl = jnp.nan_to_num(task.ctrl(action, state.info))
        view = self.physics.step(state.physics, ctrl, state.done, state.reset_qpos,
                                 state.reset_qvel)
        key, key_eval, key_reset = jax.random.split(state.key, 3)
        # Worlds that were reset this step start a new episode.
        step_count = jnp.where(state.done, 0, state.step_count) + 1
        episode_return = jnp.where(state.done, 0.0, state.episode_return)
        episode_length = jnp.where(state.done, 0, state.episode_length)

        nonfinite = ~(jnp.isfinite(view.qpos).all(-1) & jnp.isfinite(view.qvel).all(-1))
        terms, failed, info = task.evaluate(key_eval, view, state.info, action)
        obs = _finite(task.observe(view, info))
        critic_obs = _finite(task.critic_observe(view, info))
        terminated = failed | nonfinite
        reward = jnp.where(nonfinite, 0.0, jnp.nan_to_num(task.reward(terms, terminated)))
        truncated = (step_count >= task.episode_length) & ~terminated
        done = terminated | truncated
        episode_return = episode_return + reward
        episode_length = episode_length + 1

        # Ended worlds: sample the next episode now; its first observation is returned
        # at once and the physics applies its initial state at the start of next step.
        reset_qpos, reset_qvel, reset_info = task.reset(key_reset, self.num_envs, info)
        reset_obs, reset_critic_obs = self._first_obs(reset_qpos, reset_qvel, reset_info,
                                                      view.tick)
        return EnvState(
            obs=_where(done, reset_obs, obs), reward=reward, terminated=terminated,
            truncated=truncated, final_obs=obs, physics=view,
            info=_where(done, reset_info, info), step_count=step_count,
            reset_qpos=reset_qpos, reset_qvel=reset_qvel,
            episode_return=episode_return, episode_length=episode_length,
            done_return=jnp.where(done, episode_return, 0.0),
            done_length=jnp.where(done, episode_length, 0),
            nonfinite=nonfinite, reward_terms=terms, key=key,
            critic_obs=_where(done, reset_critic_obs, critic_obs),
            final_critic_obs=critic_obs)
