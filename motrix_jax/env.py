"""The environment interface: a task written in jax.numpy plus a physics backend.

`Env.reset(key) -> EnvState` and `Env.step(state, action) -> EnvState` act on a
batch of `num_envs` worlds. Episodes end by `terminated` (a failure: no
bootstrap) or `truncated` (the time limit: bootstrap from `final_obs`), and
restart automatically: the next `step` sends the ended worlds' new initial
state to the physics backend, which applies it before stepping.
"""

from __future__ import annotations

from typing import Protocol

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class PhysicsView:
    """What a task may read of the physics, for a batch of N worlds."""

    qpos: jax.Array  # [N, nq]
    qvel: jax.Array  # [N, nv]
    # int32 []: control steps since the last full reset, counted by the backend. Each
    # step takes the previous view's tick, so every host call depends on the one before
    # it (none can be dropped or reordered) and the host can check the order.
    tick: jax.Array


class Physics(Protocol):
    """A physics backend: batched, functional from JAX's point of view."""

    nq: int
    nv: int
    nu: int

    def reset(self, qpos: jax.Array, qvel: jax.Array) -> PhysicsView:
        """Put every world in the given state; [N, nq], [N, nv]."""

    def step(self, view: PhysicsView, ctrl: jax.Array, reset_mask: jax.Array,
             reset_qpos: jax.Array, reset_qvel: jax.Array) -> PhysicsView:
        """From `view` (a host backend keeps its own copy), reset the masked worlds,
        apply ctrl [N, nu] and advance one control step."""


class Task(Protocol):
    """Task logic, written once in jax.numpy against a PhysicsView."""

    name: str
    obs_size: int
    action_size: int
    episode_length: int  # control steps before truncation
    reward_scales: dict[str, float]

    def initial_state(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        """Sample n initial (qpos [n, nq], qvel [n, nv])."""

    def observe(self, view: PhysicsView) -> jax.Array:
        """Observation [N, obs_size]."""

    def ctrl(self, action: jax.Array) -> jax.Array:
        """Map policy actions [N, action_size] to actuator controls [N, nu]."""

    def reward_terms(self, view: PhysicsView, action: jax.Array) -> dict[str, jax.Array]:
        """Unscaled reward terms, each [N]."""

    def failed(self, view: PhysicsView) -> jax.Array:
        """Termination condition [N] bool (non-finite physics is added by Env)."""


@struct.dataclass
class EnvState:
    obs: jax.Array  # [N, obs] observation the policy acts on (post-reset)
    reward: jax.Array  # [N] reward of the last step
    terminated: jax.Array  # [N] bool: last step ended in failure
    truncated: jax.Array  # [N] bool: last step hit the time limit (and did not fail)
    final_obs: jax.Array  # [N, obs] observation reached by the last step, before reset
    physics: PhysicsView  # physics after the last step (before any pending reset)
    step_count: jax.Array  # [N] int32 control steps in the current episode
    reset_qpos: jax.Array  # [N, nq] initial state of the episode that starts next step
    reset_qvel: jax.Array  # [N, nv]
    episode_return: jax.Array  # [N] running undiscounted return
    episode_length: jax.Array  # [N] int32 running length
    done_return: jax.Array  # [N] return of the episode that just ended (0 if none)
    done_length: jax.Array  # [N] length of the episode that just ended (0 if none)
    nonfinite: jax.Array  # [N] bool: last step produced non-finite physics
    reward_terms: dict[str, jax.Array]  # each [N], unscaled
    key: jax.Array

    @property
    def done(self) -> jax.Array:
        return self.terminated | self.truncated


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

    def reset(self, key: jax.Array) -> EnvState:
        key, key_init, key_next = jax.random.split(key, 3)
        n = self.num_envs
        qpos, qvel = self.task.initial_state(key_init, n)
        view = self.physics.reset(qpos, qvel)
        obs = self.task.observe(view)
        next_qpos, next_qvel = self.task.initial_state(key_next, n)
        zeros = jnp.zeros((n,))
        terms = {k: zeros for k in self.task.reward_scales}
        return EnvState(
            obs=obs, reward=zeros, terminated=jnp.zeros((n,), bool),
            truncated=jnp.zeros((n,), bool), final_obs=obs, physics=view,
            step_count=jnp.zeros((n,), jnp.int32), reset_qpos=next_qpos,
            reset_qvel=next_qvel, episode_return=zeros,
            episode_length=jnp.zeros((n,), jnp.int32), done_return=zeros,
            done_length=jnp.zeros((n,), jnp.int32), nonfinite=jnp.zeros((n,), bool),
            reward_terms=terms, key=key)

    def step(self, state: EnvState, action: jax.Array) -> EnvState:
        """Advance every world one control step; action [N, action_size]."""
        task = self.task
        ctrl = jnp.nan_to_num(task.ctrl(action))
        view = self.physics.step(state.physics, ctrl, state.done, state.reset_qpos,
                                 state.reset_qvel)
        # Worlds that were reset this step start a new episode.
        step_count = jnp.where(state.done, 0, state.step_count) + 1
        episode_return = jnp.where(state.done, 0.0, state.episode_return)
        episode_length = jnp.where(state.done, 0, state.episode_length)

        nonfinite = ~(jnp.isfinite(view.qpos).all(-1) & jnp.isfinite(view.qvel).all(-1))
        obs = jnp.nan_to_num(task.observe(view), posinf=0.0, neginf=0.0)
        terms = task.reward_terms(view, action)
        reward = sum(task.reward_scales[k] * terms[k] for k in task.reward_scales)
        reward = jnp.where(nonfinite, 0.0, jnp.nan_to_num(reward))
        terminated = task.failed(view) | nonfinite
        truncated = (step_count >= task.episode_length) & ~terminated
        done = terminated | truncated

        episode_return = episode_return + reward
        episode_length = episode_length + 1
        # The next episode's first observation comes from its sampled initial
        # state; the physics applies that state at the start of the next step.
        key, key_init = jax.random.split(state.key)
        next_qpos, next_qvel = task.initial_state(key_init, self.num_envs)
        reset_obs = task.observe(PhysicsView(qpos=state.reset_qpos, qvel=state.reset_qvel,
                                             tick=view.tick))
        return EnvState(
            obs=jnp.where(done[:, None], reset_obs, obs), reward=reward,
            terminated=terminated, truncated=truncated, final_obs=obs, physics=view,
            step_count=step_count,
            reset_qpos=jnp.where(done[:, None], state.reset_qpos, next_qpos),
            reset_qvel=jnp.where(done[:, None], state.reset_qvel, next_qvel),
            episode_return=episode_return, episode_length=episode_length,
            done_return=jnp.where(done, episode_return, 0.0),
            done_length=jnp.where(done, episode_length, 0),
            nonfinite=nonfinite, reward_terms=terms, key=key)
