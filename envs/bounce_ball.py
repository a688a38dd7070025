"""Bounce a ball on a paddle held by a 6-DOF arm, near 0.8 m high over x = 0.

Observation (25): qpos (6 arm joints, ball position and xyzw quaternion) and qvel (6 arm
joints, ball linear and angular velocity).
Action (6): arm joint targets q = 0.5 rad x action (clipped to [-1, 1]), tracked by the
engine's PD (position actuators).
Reward terms (scaled and summed): `height` = tolerance(ball flight height, (0.75, 0.85),
margin 0.3) where the flight height z + vz^2 / 2g is the highest point of the current
free flight (the paddle alone reaches ~0.5 m, so it takes bouncing), and `center` =
tolerance(horizontal distance of the ball from (0, 0), (0, 0.05), margin 0.2).
Terminated when the ball falls below 0.25 m or strays 0.5 m sideways; truncated after
2000 control steps of 10 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import struct

from motrix_jax.env import PhysicsView, scaled_sum
from motrix_jax.envs.presets import classic_preset
from motrix_jax.envs.rewards import tolerance
from motrix_jax.envs.spec import EnvSpec, Target, at_most
from motrix_jax.task import Task

XML_PATH = Path(__file__).parent / "assets" / "bounce_ball.xml"
GRAVITY = 9.81


@struct.dataclass
class BounceInfo:
    bounces: jax.Array  # [N] take-offs from the paddle faster than 0.5 m/s this episode
    touching: jax.Array  # [N] bool: ball on the paddle after the last step
    flight_height: jax.Array  # [N] m


def default_reward_scales() -> dict[str, float]:
    return {"height": 1.0, "center": 0.5}


@dataclass(frozen=True)
class BounceBall(Task):
    name: str = "bounce_ball"
    sim_dt: float = 0.005
    ctrl_dt: float = 0.01
    obs_size: int = 25
    action_size: int = 6
    episode_length: int = 2000
    action_scale: float = 0.5  # rad per unit action
    target_height: float = 0.8
    min_height: float = 0.25  # ball below this: dropped
    max_offset: float = 0.5  # ball further sideways than this: lost
    reset_noise: float = 0.05  # rad on the arm; m on the ball's horizontal position
    reward_scales: dict[str, float] = field(default_factory=default_reward_scales)
    contact_pairs: tuple[tuple[str, str], ...] = (("paddle", "ball"),)

    def mjcf(self) -> str:
        return XML_PATH.read_text()

    def initial_info(self, n: int) -> BounceInfo:
        return BounceInfo(bounces=jnp.zeros((n,)), touching=jnp.zeros((n,), bool),
                          flight_height=jnp.zeros((n,)))

    def reset(self, key: jax.Array, n: int, info: BounceInfo):
        key_arm, key_ball = jax.random.split(key)
        arm = jax.random.uniform(key_arm, (n, 6), minval=-self.reset_noise,
                                 maxval=self.reset_noise)
        xy = jax.random.uniform(key_ball, (n, 2), minval=-self.reset_noise,
                                maxval=self.reset_noise)
        ball = jnp.concatenate([xy, jnp.full((n, 1), self.target_height),
                                jnp.zeros((n, 3)), jnp.ones((n, 1))], -1)  # quat xyzw
        qpos = jnp.concatenate([arm, ball], -1)
        return qpos, jnp.zeros((n, 12)), self.initial_info(n)

    def observe(self, view: PhysicsView, info: BounceInfo) -> jax.Array:
        return jnp.concatenate([view.qpos, view.qvel], -1)

    def ctrl(self, action: jax.Array, info: BounceInfo) -> jax.Array:
        return self.action_scale * jnp.clip(action, -1.0, 1.0)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: BounceInfo,
                 action: jax.Array):
        ball, vz = view.qpos[:, 6:9], view.qvel[:, 8]
        flight_height = ball[:, 2] + vz ** 2 / (2.0 * GRAVITY)
        offset = jnp.linalg.norm(ball[:, :2], axis=-1)
        band = 0.05
        terms = {
            "height": tolerance(flight_height, (self.target_height - band,
                                                self.target_height + band), margin=0.3),
            "center": tolerance(offset, (0.0, band), margin=0.2),
        }
        failed = (ball[:, 2] < self.min_height) | (offset > self.max_offset)
        touching = view.contacts[:, 0] > 0.5
        # the soft contact flickers while the ball rests: count only real take-offs
        take_off = info.touching & ~touching & (vz > 0.5)
        info = BounceInfo(bounces=info.bounces + take_off,
                          touching=touching, flight_height=flight_height)
        return terms, failed, info

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        return scaled_sum(terms, self.reward_scales)

    def metrics(self, info: BounceInfo) -> dict[str, jax.Array]:
        return {"bounces": info.bounces, "flight_height": info.flight_height}


ENVS = [
    EnvSpec("bounce_ball", BounceBall,
            classic_preset((512, 512, 512), epochs=15, mini_batches=16, num_envs=1024,
                           rollouts=128),
            Target("the ball kept bouncing for the whole episode",
                   (at_most("envs that dropped the ball", "eval/fell", 0.1),), minutes=20),
            aliases=("bounce-ball",), summary="6-DOF arm bounces a ball on a paddle"),
]
