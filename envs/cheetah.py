"""Planar cheetah run (dm_control's cheetah-run): run forward as fast as possible.

Observation (17): qpos without rootx (8), qvel (9).
Action (6): torques of bthigh, bshin, bfoot, fthigh, fshin, ffoot in [-1, 1] (x gear).
Reward: tolerance(forward speed of the centre of mass, bounds=(10, inf), margin=10,
linear, value_at_margin=0), in [0, 1] per step. No termination; truncated after 400
control steps of 25 ms (10 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp

from motrix_jax.env import PhysicsView, scaled_sum
from motrix_jax.envs import planar
from motrix_jax.envs.presets import classic_preset
from motrix_jax.envs.rewards import tolerance
from motrix_jax.envs.spec import EnvSpec, Target, at_least
from motrix_jax.task import Task

XML_PATH = Path(__file__).parent / "assets" / "cheetah.xml"


@dataclass(frozen=True)
class Cheetah(Task):
    name: str = "dm_cheetah"
    sim_dt: float = 0.005
    ctrl_dt: float = 0.025
    obs_size: int = 17
    action_size: int = 6
    episode_length: int = 400
    run_speed: float = 10.0  # m/s at which the reward saturates
    reset_noise: float = 0.1  # rad, uniform on the joint angles
    reward_scales: dict[str, float] = field(default_factory=lambda: {"run": 1.0})
    contact_pairs: tuple[tuple[str, str], ...] = ()

    def mjcf(self) -> str:
        return planar.load(XML_PATH)[0]

    def initial_info(self, n: int) -> planar.PlanarInfo:
        return planar.PlanarInfo.zeros(n)

    def reset(self, key: jax.Array, n: int, info: planar.PlanarInfo):
        return planar.initial_state(key, n, 6, self.reset_noise)

    def observe(self, view: PhysicsView, info: planar.PlanarInfo) -> jax.Array:
        return jnp.concatenate([view.qpos[:, 1:], view.qvel], -1)

    def ctrl(self, action: jax.Array, info: planar.PlanarInfo) -> jax.Array:
        return jnp.clip(action, -1.0, 1.0)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: planar.PlanarInfo,
                 action: jax.Array):
        bodies = planar.load(XML_PATH)[1]
        speed = bodies.com_velocity(view.qpos, view.qvel)[:, 0]
        run = tolerance(speed, (self.run_speed, float("inf")), margin=self.run_speed,
                        sigmoid="linear", value_at_margin=0.0)
        failed = jnp.zeros(speed.shape, bool)
        height = bodies.poses(view.qpos)[0][:, 0, 1]
        return {"run": run}, failed, planar.PlanarInfo(speed=speed, height=height)

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        return scaled_sum(terms, self.reward_scales)

    def metrics(self, info: planar.PlanarInfo) -> dict[str, jax.Array]:
        return {"speed": info.speed}


ENVS = [
    EnvSpec("dm_cheetah", Cheetah, classic_preset(),
            Target("running forward (5 m/s: dm_control's run reward is 0.5 there)",
                   (at_least("speed (m/s)", "eval/task/speed", 5.0),)),
            aliases=("dm-cheetah",), summary="planar cheetah runs forward"),
]
