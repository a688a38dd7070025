"""Two-link reacher (dm_control's reacher): put the fingertip on a random target.

Observation (10): cos and sin of both joint angles, their velocities, the target's
(x, y) and the fingertip-to-target vector.
Action (2): shoulder and wrist torques in [-1, 1] (x gear 0.05).
Reward: tolerance(fingertip-target distance, (0, target radius + finger radius)),
1 on target and 0 elsewhere. No termination; truncated after 240 steps of 25 ms.
The target sits on two slide joints (qpos[2:4]); it is sampled at reset and never moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import struct

from motrix_jax.env import PhysicsView, scaled_sum
from motrix_jax.envs.presets import classic_preset
from motrix_jax.envs.rewards import tolerance
from motrix_jax.envs.spec import EnvSpec, Target, at_least
from motrix_jax.task import Task

XML_PATH = Path(__file__).parent / "assets" / "reacher.xml"
LINKS = (0.12, 0.12)  # shoulder -> wrist, wrist -> fingertip (m), as in reacher.xml
WRIST_LIMIT = 2.7925  # rad


@struct.dataclass
class ReacherInfo:
    distance: jax.Array  # [N] fingertip-target distance after the last step


def fingertip(qpos: jax.Array) -> jax.Array:
    """Fingertip (x, y) [N, 2] of the planar two-link arm."""
    a, b = qpos[:, 0], qpos[:, 0] + qpos[:, 1]
    return jnp.stack([LINKS[0] * jnp.cos(a) + LINKS[1] * jnp.cos(b),
                      LINKS[0] * jnp.sin(a) + LINKS[1] * jnp.sin(b)], -1)


@dataclass(frozen=True)
class Reacher(Task):
    name: str = "dm_reacher"
    sim_dt: float = 0.005
    ctrl_dt: float = 0.025
    obs_size: int = 10
    action_size: int = 2
    episode_length: int = 240
    target_radius: float = 0.02
    finger_radius: float = 0.01
    target_distance: tuple[float, float] = (0.05, 0.20)  # from the shoulder, m
    reward_scales: dict[str, float] = field(default_factory=lambda: {"reach": 1.0})
    contact_pairs: tuple[tuple[str, str], ...] = ()

    def mjcf(self) -> str:
        return XML_PATH.read_text()

    def initial_info(self, n: int) -> ReacherInfo:
        return ReacherInfo(distance=jnp.zeros((n,)))

    def reset(self, key: jax.Array, n: int, info: ReacherInfo):
        key_s, key_w, key_a, key_r = jax.random.split(key, 4)
        shoulder = jax.random.uniform(key_s, (n,), minval=-math.pi, maxval=math.pi)
        wrist = jax.random.uniform(key_w, (n,), minval=-WRIST_LIMIT, maxval=WRIST_LIMIT)
        angle = jax.random.uniform(key_a, (n,), minval=-math.pi, maxval=math.pi)
        radius = jax.random.uniform(key_r, (n,), minval=self.target_distance[0],
                                    maxval=self.target_distance[1])
        qpos = jnp.stack([shoulder, wrist, radius * jnp.cos(angle), radius * jnp.sin(angle)],
                         -1)
        return qpos, jnp.zeros((n, 4)), self.initial_info(n)

    def observe(self, view: PhysicsView, info: ReacherInfo) -> jax.Array:
        q, target = view.qpos[:, :2], view.qpos[:, 2:4]
        return jnp.concatenate([jnp.cos(q), jnp.sin(q), view.qvel[:, :2], target,
                                target - fingertip(view.qpos)], -1)

    def ctrl(self, action: jax.Array, info: ReacherInfo) -> jax.Array:
        return jnp.clip(action, -1.0, 1.0)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: ReacherInfo,
                 action: jax.Array):
        distance = jnp.linalg.norm(view.qpos[:, 2:4] - fingertip(view.qpos), axis=-1)
        reach = tolerance(distance, (0.0, self.target_radius + self.finger_radius))
        return {"reach": reach}, jnp.zeros(distance.shape, bool), ReacherInfo(distance)

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        return scaled_sum(terms, self.reward_scales)

    def metrics(self, info: ReacherInfo) -> dict[str, jax.Array]:
        return {"distance": info.distance}


def _at_reacher_target(task: Reacher, state) -> jax.Array:
    """[N] whether the finger is at the target (within its radius): the suite's measure."""
    return task.metrics(state.info)["distance"] <= task.target_radius + task.finger_radius


ENVS = [
    EnvSpec("dm_reacher", Reacher, classic_preset(),
            Target("at the target (within its radius) most of the episode",
                   (at_least("steps at the target", "eval/measure_mean", 0.5),),
                   measure=_at_reacher_target),
            aliases=("dm-reacher",), summary="two-link arm reaches a random target"),
]
