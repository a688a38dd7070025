"""Probe environments (after Andy Jones' "debugging RL" set): tiny tasks whose values
and best actions are known in closed form, so a trainer that learns them is shown to
get rewards, discounting, bootstrapping and the policy gradient right.

All five run side by side in one batch (env i is probe KINDS[i % 5]), so one
compiled program trains them all. The physics is a clock: qpos = [steps since reset,
a sign drawn at reset, the probe's index]. The observation is the probe's signal
and a one-hot of its index:
- constant: signal 0, reward 1, one step. V = 1.
- observation: signal = the sign (+-1), reward = the sign, one step. V(s) = s.
- discount: signal = the clock (0, 1), reward 1 on the second step, two steps.
  V(0) = gamma, V(1) = 1.
- action: signal 0, reward -(a - 0.5)^2, one step. The best action is 0.5.
- truncation: signal 0, reward 1 each step, never fails, truncated at the time limit
  and bootstrapped from V(0): V = 1 / (1 - gamma).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from jax_physics import ViewPhysics

from motrix_jax.env import PhysicsView
from motrix_jax.task import Task

KINDS = ("constant", "observation", "discount", "action", "truncation")


class ClockPhysics(ViewPhysics):
    name = "probe-clock"
    nq = nv = 3
    nu = 1
    options = None  # nothing to record (no run folder)

    def step(self, view, ctrl, reset_mask, reset_qpos, reset_qvel):
        qpos = self.reset_where(reset_mask, reset_qpos, view.qpos)
        return PhysicsView(qpos=qpos.at[:, 0].add(1.0), qvel=view.qvel,
                           contacts=view.contacts, tick=view.tick + 1)


@dataclass(frozen=True)
class Probes(Task):
    name: str = "probes"
    obs_size: int = 1 + len(KINDS)
    action_size: int = 1
    episode_length: int = 2  # the time limit: only the truncation probe reaches it
    sim_dt: float = 0.01
    ctrl_dt: float = 0.01
    reward_scales: dict[str, float] = field(default_factory=lambda: {"reward": 1.0})
    contact_pairs: tuple = ()

    def mjcf(self) -> str:
        raise NotImplementedError("a probe has no scene")

    def initial_info(self, n: int) -> dict:
        return {}

    def reset(self, key, n, info):
        sign = jnp.where(jax.random.bernoulli(key, 0.5, (n,)), 1.0, -1.0)
        kind = (jnp.arange(n) % len(KINDS)).astype(jnp.float32)
        return jnp.stack([jnp.zeros((n,)), sign, kind], -1), jnp.zeros((n, 3)), {}

    @staticmethod
    def _is(view: PhysicsView, kind: str) -> jax.Array:
        return view.qpos[:, 2] == KINDS.index(kind)

    def observe(self, view: PhysicsView, info) -> jax.Array:
        clock, sign = view.qpos[:, 0], view.qpos[:, 1]
        signal = jnp.where(self._is(view, "observation"), sign,
                           jnp.where(self._is(view, "discount"), clock, 0.0))
        one_hot = jax.nn.one_hot(view.qpos[:, 2].astype(jnp.int32), len(KINDS))
        return jnp.concatenate([signal[:, None], one_hot], -1)

    def ctrl(self, action, info):
        return action

    def evaluate(self, key, view: PhysicsView, info, action):
        clock, sign = view.qpos[:, 0], view.qpos[:, 1]
        rewards = {"constant": jnp.ones_like(clock), "observation": sign,
                   "discount": (clock >= 2).astype(jnp.float32),
                   "action": -(action[:, 0] - 0.5) ** 2, "truncation": jnp.ones_like(clock)}
        reward = sum(jnp.where(self._is(view, k), r, 0.0) for k, r in rewards.items())
        ends = jnp.where(self._is(view, "discount"), clock >= 2, clock >= 1)
        return {"reward": reward}, ends & ~self._is(view, "truncation"), info

    def reward(self, terms, failed):
        return terms["reward"]

    def metrics(self, info) -> dict:
        return {}


@dataclass(frozen=True)
class HiddenSignProbes(Probes):
    """The probes with the observation probe's sign hidden from the policy (its signal is
    0) and shown to the critic alone, which sees the probes' full observation: there
    V(sign) = sign is learnable only through `critic_observe`."""

    name: str = "probes-hidden-sign"
    critic_obs_size: int = 1 + len(KINDS)

    def observe(self, view: PhysicsView, info) -> jax.Array:
        obs = Probes.observe(self, view, info)
        return obs.at[:, 0].set(jnp.where(self._is(view, "observation"), 0.0, obs[:, 0]))

    def critic_observe(self, view: PhysicsView, info) -> jax.Array:
        return Probes.observe(self, view, info)
