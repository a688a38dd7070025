"""Any batched NumPy env trained by the jitted PPO: the host-env protocol and the env
that reaches it through one `jax.pure_callback` per control step.

The protocol (`HostEnvProtocol`): a batch of `num_envs` envs on the host,
`reset(seed) -> obs [N, obs]` and `step(actions [N, act]) -> HostStep`, all NumPy.
Autoreset is **same-step**: the step that ends an episode (terminated or truncated)
returns, in `obs`, the first observation of the env's next episode, and in `final_obs`
the observation the step reached (the one V(final_obs) bootstraps a time limit from);
where no episode ended, `final_obs` equals `obs`. Actions arrive clipped to
[action_low, action_high]. Each step may report numeric per-env `metrics` ([N]), named
in `metric_names` (fixed when the env is built); they are logged as `task/<name>`.
Adapters turn other conventions into this one (`motrix_jax/adapters/`).

The callback env (`HostEnv`) has the interface of `env.Env`: everything from the policy
on (GAE, PPO, normalisers, logging, checkpoints of the learner) is the same compiled
program. Every call carries the tick returned by the one before, so no step can be
dropped or reordered (`physics.host.TickedHost`). Seeds trained together under `vmap`
(`vmap_method="broadcast_all"`) reach the host as one call over [S, N] envs: the host
env is built once with S * N envs.

The host env's state cannot be saved: a checkpoint holds the learner, and a resumed
run restarts its envs (`HostEnv.restart`), new episodes from a new seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np

from motrix_jax.env import EnvState, PhysicsView
from motrix_jax.physics.host import TickedHost, flat

AUTORESET = "same-step"  # the protocol's convention (see the module docstring)


@dataclasses.dataclass(frozen=True)
class HostStep:
    """What one step of a host env returns, for N envs (NumPy)."""

    obs: np.ndarray  # [N, obs]: where an episode ended, the next episode's first
    reward: np.ndarray  # [N]
    terminated: np.ndarray  # [N] bool: a failure (no bootstrap)
    truncated: np.ndarray  # [N] bool: the time limit (bootstrap from final_obs)
    final_obs: np.ndarray  # [N, obs]: the observation the step reached, before reset
    metrics: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # each [N]


class HostEnvProtocol(Protocol):
    """A batched NumPy env with same-step autoreset (the module docstring)."""

    num_envs: int
    obs_size: int
    action_size: int
    action_low: np.ndarray  # [action_size]
    action_high: np.ndarray  # [action_size]
    metric_names: tuple[str, ...]

    def reset(self, seed: int) -> np.ndarray:
        """Start every env anew; the first observations [N, obs]."""

    def step(self, actions: np.ndarray) -> HostStep:
        """Advance every env one control step with actions [N, action_size]."""

    def close(self) -> None:
        """Release the envs."""


@dataclasses.dataclass(frozen=True)
class HostTask:
    """What the trainer, play and export need to know of a host env, found by building
    one env once: a registry entry for names such as `gymnasium:HalfCheetah-v5`."""

    name: str
    obs_size: int
    action_size: int
    episode_length: int  # the env's time limit, or play's episode cap where it has none
    ctrl_dt: float  # seconds per step where the env says (video frame rate), else 0.02
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    metric_names: tuple[str, ...] = ()
    autoreset: str = AUTORESET  # the convention of the env the adapter wraps, stated
    reward_scales: dict = dataclasses.field(default_factory=dict)  # none: one reward
    contact_pairs: tuple = ()

    robot = None  # not a field: `--init-from` tells host envs apart by their name

    def mjcf(self) -> str:
        raise ValueError(f"{self.name} is a host env: play cannot render it (no MJCF scene)")

    def export_metadata(self) -> dict:
        """Nothing beyond export's common metadata (see `motrix_jax.task.Task`)."""
        return {}


class HostBatch(TickedHost):
    """The host side: one host env over every seed's envs, built on first reset."""

    engine = "host env"

    def __init__(self, make: Callable[[int], HostEnvProtocol], task: HostTask):
        self.make, self.task = make, task
        self.env: HostEnvProtocol | None = None

    def _envs(self, n: int) -> HostEnvProtocol:
        if self.env is None or self.env.num_envs != n:
            if self.env is not None:
                self.env.close()
            self.env = self.make(n)
        return self.env

    def reset(self, seeds: np.ndarray, widths: np.ndarray):
        """seeds [...] int32, one per vmapped program; widths [..., N] (only its shape is
        read: N envs per program). One reset of all S * N envs, seeded by the first."""
        shape = widths.shape
        env = self._envs(int(np.prod(shape)))
        obs = np.asarray(env.reset(int(np.asarray(seeds).reshape(-1)[0])), np.float32)
        self.expected_tick = 0
        return obs.reshape(*shape, -1), self.ticks(shape)

    def step(self, tick, actions: np.ndarray):
        shape = actions.shape[:-1]
        if self.env is None or self.env.num_envs != int(np.prod(shape)):
            raise RuntimeError(f"host env: step for {shape} envs before reset")
        self.check_tick(tick)
        task = self.task
        out = self.env.step(np.clip(flat(actions, task.action_size), task.action_low,
                                    task.action_high))
        obs = lambda x: np.asarray(x, np.float32).reshape(*shape, task.obs_size)
        vec = lambda x, dtype=np.float32: np.asarray(x, dtype).reshape(shape)
        metrics = tuple(vec(out.metrics.get(k, np.zeros(shape))) for k in task.metric_names)
        return (obs(out.obs), vec(out.reward), vec(out.terminated, bool),
                vec(out.truncated, bool), obs(out.final_obs), metrics, self.ticks(shape))


class HostPhysicsStub:
    """`env.physics` of a host env: a name and options for config.json, and a restore
    that has nothing to put back (the envs restart: `HostEnv.restart`)."""

    name = "host"

    def __init__(self, task: HostTask):
        self.options = {"autoreset": task.autoreset, "metric_names": list(task.metric_names)}

    def restore(self, physics_state) -> None:
        pass


def _view(n_shape: tuple[int, ...], tick: jax.Array) -> PhysicsView:
    """An empty physics view: a host env's worlds are its own; only the tick rides."""
    empty = jnp.zeros((*n_shape, 0))
    return PhysicsView(qpos=empty, qvel=empty, contacts=empty, tick=tick)


class HostEnv:
    """A host env behind the interface of `env.Env`: reset and step are one callback."""

    restarts_on_resume = True  # the host env's state is not in the checkpoint
    critic_obs_size = None
    mirrors = None

    def __init__(self, task: HostTask, make: Callable[[int], HostEnvProtocol],
                 num_envs: int):
        self.task, self.num_envs = task, num_envs
        self.host = HostBatch(make, task)
        self.physics = HostPhysicsStub(task)

    @property
    def obs_size(self) -> int:
        return self.task.obs_size

    @property
    def action_size(self) -> int:
        return self.task.action_size

    def metrics(self, state: EnvState) -> dict[str, jax.Array]:
        """Batch means of the env's numeric metrics, as `task/<name>`."""
        return {f"task/{k}": v.mean() for k, v in state.info.items()}

    def reset(self, key: jax.Array) -> EnvState:
        key, key_seed = jax.random.split(key)
        n = self.num_envs
        seed = jax.random.randint(key_seed, (), 0, 2**31 - 1)
        obs, tick = jax.pure_callback(
            self.host.reset, (jax.ShapeDtypeStruct((n, self.obs_size), jnp.float32),
                              jax.ShapeDtypeStruct((), jnp.int32)),
            seed, jnp.zeros((n,), jnp.int8), vmap_method="broadcast_all")
        zeros, false = jnp.zeros((n,)), jnp.zeros((n,), bool)
        return EnvState(
            obs=obs, reward=zeros, terminated=false, truncated=false, final_obs=obs,
            physics=_view((n,), tick), info={k: zeros for k in self.task.metric_names},
            step_count=jnp.zeros((n,), jnp.int32), reset_qpos=jnp.zeros((n, 0)),
            reset_qvel=jnp.zeros((n, 0)), episode_return=zeros,
            episode_length=jnp.zeros((n,), jnp.int32), done_return=zeros,
            done_length=jnp.zeros((n,), jnp.int32), nonfinite=false, reward_terms={},
            key=key)

    def step(self, state: EnvState, action: jax.Array) -> EnvState:
        """One control step of every env: one host call; action [N, action_size]."""
        n, obs_size = self.num_envs, self.obs_size
        vec = lambda dtype=jnp.float32: jax.ShapeDtypeStruct((n,), dtype)
        shapes = (jax.ShapeDtypeStruct((n, obs_size), jnp.float32), vec(), vec(bool),
                  vec(bool), jax.ShapeDtypeStruct((n, obs_size), jnp.float32),
                  tuple(vec() for _ in self.task.metric_names),
                  jax.ShapeDtypeStruct((), jnp.int32))
        obs, reward, terminated, truncated, final_obs, metrics, tick = jax.pure_callback(
            self.host.step, shapes, state.physics.tick, jnp.nan_to_num(action),
            vmap_method="broadcast_all")
        nonfinite = ~(jnp.isfinite(final_obs).all(-1) & jnp.isfinite(reward))
        reward = jnp.where(nonfinite, 0.0, reward)
        truncated = truncated & ~terminated
        done = terminated | truncated
        step_count = jnp.where(state.done, 0, state.step_count) + 1
        episode_return = jnp.where(state.done, 0.0, state.episode_return) + reward
        episode_length = jnp.where(state.done, 0, state.episode_length) + 1
        return state.replace(
            obs=jnp.nan_to_num(obs), reward=reward, terminated=terminated,
            truncated=truncated, final_obs=jnp.nan_to_num(final_obs),
            physics=_view((n,), tick),
            info=dict(zip(self.task.metric_names, metrics, strict=True)),
            step_count=step_count, episode_return=episode_return,
            episode_length=episode_length, done_return=jnp.where(done, episode_return, 0.0),
            done_length=jnp.where(done, episode_length, 0), nonfinite=nonfinite)

    def restart(self, env_state: EnvState) -> EnvState:
        """New episodes for a resumed run (eager): the saved env state's keys, one per
        seed, start every host env anew; returns the env state to continue from."""
        keys = env_state.key
        reset = self.reset if keys.ndim == 1 else jax.vmap(self.reset)
        return jax.jit(reset)(keys)
