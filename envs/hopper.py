"""Planar hopper stand / hop (dm_control's hopper tasks).

Observation (15): qpos without rootx (6), qvel (7), toe and heel touch (floor contact
flags of the spheres at the foot's ends; dm_control reads log(1 + touch force)).
Action (4): torques of waist, hip, knee, ankle in [-1, 1] (x gear).
Reward: standing = tolerance(torso - foot centre-of-mass height, (0.6, 2)), times
  stand: small_control = (mean tolerance(action, margin 1, quadratic, 0) + 4) / 5,
  hop: hopping = tolerance(centre-of-mass speed, (2, inf), margin 1, linear, 0.5).
Terminated when the torso touches the floor; truncated after 1000 control steps of 20 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp

from motrix_jax.env import PhysicsView
from motrix_jax.envs import planar
from motrix_jax.envs.rewards import tolerance

XML_PATH = Path(__file__).parent / "assets" / "hopper.xml"


def default_terms() -> dict[str, float]:
    return {"standing": 1.0, "small_control": 1.0, "hopping": 1.0}


@dataclass(frozen=True)
class Hopper:
    name: str = "dm_hopper_stand"
    hopping: bool = False
    stand_height: float = 0.6  # m of torso above foot where `standing` reaches 1
    hop_speed: float = 2.0  # m/s
    sim_dt: float = 0.005
    ctrl_dt: float = 0.02
    obs_size: int = 15
    action_size: int = 4
    episode_length: int = 1000
    reset_noise: float = 0.1  # rad, uniform on the joint angles
    # The reward is a product of the terms (dm_control); these name the logged terms.
    reward_scales: dict[str, float] = field(default_factory=default_terms)
    reward_scale: float = 1.0
    contact_pairs: tuple[tuple[str, str], ...] = (
        ("floor", "toe"), ("floor", "heel"), ("floor", "torso"))

    def mjcf(self) -> str:
        return planar.load(XML_PATH)[0]

    def initial_info(self, n: int) -> planar.PlanarInfo:
        return planar.PlanarInfo.zeros(n)

    def reset(self, key: jax.Array, n: int, info: planar.PlanarInfo):
        # the knee's range starts at 5 deg
        return planar.initial_state(
            key, n, 4, self.reset_noise,
            lambda joints: joints.at[:, 2].set(jnp.abs(joints[:, 2]) + 0.0873))

    def height(self, qpos: jax.Array) -> jax.Array:
        """Torso centre of mass above the foot's [N]."""
        bodies = planar.load(XML_PATH)[1]
        coms = bodies.coms_world(qpos)
        return coms[:, bodies.index("torso"), 1] - coms[:, bodies.index("foot"), 1]

    def observe(self, view: PhysicsView, info: planar.PlanarInfo) -> jax.Array:
        return jnp.concatenate([view.qpos[:, 1:], view.qvel, view.contacts[:, :2]], -1)

    def ctrl(self, action: jax.Array, info: planar.PlanarInfo) -> jax.Array:
        return jnp.clip(action, -1.0, 1.0)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: planar.PlanarInfo,
                 action: jax.Array):
        height = self.height(view.qpos)
        speed = planar.load(XML_PATH)[1].com_velocity(view.qpos, view.qvel)[:, 0]
        control = tolerance(self.ctrl(action, info), margin=1.0, sigmoid="quadratic",
                            value_at_margin=0.0).mean(-1)
        terms = {
            "standing": tolerance(height, (self.stand_height, 2.0)),
            "small_control": (control + 4.0) / 5.0,
            "hopping": tolerance(speed, (self.hop_speed, float("inf")),
                                 margin=self.hop_speed / 2, sigmoid="linear",
                                 value_at_margin=0.5),
        }
        failed = view.contacts[:, 2] > 0.5
        return terms, failed, planar.PlanarInfo(speed=speed, height=height)

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        second = terms["hopping"] if self.hopping else terms["small_control"]
        return self.reward_scale * terms["standing"] * second

    def metrics(self, info: planar.PlanarInfo) -> dict[str, jax.Array]:
        return {"speed": info.speed, "torso_height": info.height}
