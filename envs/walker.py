"""Planar walker stand / walk / run (dm_control's walker tasks, speeds 0 / 1 / 5 m/s).

Observation (22): torso orientation (cos, sin of its pitch), the 6 joint angles, torso
height, qvel (9), the heights of both feet and their floor contact flags.
Action (6): torques of the hips, knees and ankles in [-1, 1] (x gear).
Reward (dm_control): stand = (3 standing + upright) / 4 with standing =
tolerance(torso height, (1.2, inf), margin 0.6) and upright = (1 + cos pitch) / 2; with a
move speed v > 0 it is multiplied by (5 move + 1) / 6, move = tolerance(centre-of-mass
speed, (v, inf), margin v/2, linear, value_at_margin 0.5). The three factors are the
logged terms. Terminated when the torso touches the floor; truncated after 1000 control
steps of 25 ms.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp

from motrix_jax.env import PhysicsView
from motrix_jax.envs import planar
from motrix_jax.envs.presets import classic_preset
from motrix_jax.envs.rewards import tolerance
from motrix_jax.envs.spec import EnvSpec, Target, at_least
from motrix_jax.task import Task

XML_PATH = Path(__file__).parent / "assets" / "walker.xml"
FEET = ("right_foot", "left_foot")


def default_terms() -> dict[str, float]:
    return {"standing": 1.0, "upright": 1.0, "move": 1.0}


@dataclass(frozen=True)
class Walker(Task):
    name: str = "dm_walker"
    move_speed: float = 1.0  # m/s; 0 = stand
    stand_height: float = 1.2  # torso height (m) above which `standing` is 1
    sim_dt: float = 0.005
    ctrl_dt: float = 0.025
    obs_size: int = 22
    action_size: int = 6
    episode_length: int = 1000
    reset_noise: float = 0.1  # rad, uniform on the joint angles
    # The dm_control reward is a product of the terms, so these are the names of the
    # logged terms; the reward is their product formula times `reward_scale`.
    reward_scales: dict[str, float] = field(default_factory=default_terms)
    reward_scale: float = 1.0
    contact_pairs: tuple[tuple[str, str], ...] = (
        ("floor", "torso"), ("floor", "right_foot"), ("floor", "left_foot"))

    def mjcf(self) -> str:
        return planar.load(XML_PATH)[0]

    def initial_info(self, n: int) -> planar.PlanarInfo:
        return planar.PlanarInfo.zeros(n)

    def reset(self, key: jax.Array, n: int, info: planar.PlanarInfo):
        # knees bend backwards only (range [-150, 0] deg): keep them inside it
        return planar.initial_state(
            key, n, 6, self.reset_noise,
            lambda joints: joints.at[:, 1::3].set(-jnp.abs(joints[:, 1::3])))

    def _kinematics(self, qpos: jax.Array):
        """(torso height [N], torso pitch [N], feet heights [N, 2])."""
        bodies = planar.load(XML_PATH)[1]
        positions, angles = bodies.poses(qpos)
        feet = jnp.stack([positions[:, bodies.index(f), 1] for f in FEET], -1)
        return positions[:, 0, 1], angles[:, 0], feet

    def observe(self, view: PhysicsView, info: planar.PlanarInfo) -> jax.Array:
        height, pitch, feet = self._kinematics(view.qpos)
        return jnp.concatenate([
            jnp.cos(pitch)[:, None], jnp.sin(pitch)[:, None], view.qpos[:, 3:],
            height[:, None], view.qvel, feet, view.contacts[:, 1:3]], -1)

    def ctrl(self, action: jax.Array, info: planar.PlanarInfo) -> jax.Array:
        return jnp.clip(action, -1.0, 1.0)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: planar.PlanarInfo,
                 action: jax.Array):
        height, pitch, _ = self._kinematics(view.qpos)
        speed = planar.load(XML_PATH)[1].com_velocity(view.qpos, view.qvel)[:, 0]
        v = self.move_speed
        move = (tolerance(speed, (v, float("inf")), margin=v / 2, sigmoid="linear",
                          value_at_margin=0.5) if v > 0 else jnp.ones_like(speed))
        terms = {
            "standing": tolerance(height, (self.stand_height, float("inf")),
                                  margin=self.stand_height / 2),
            "upright": (1.0 + jnp.cos(pitch)) / 2.0,
            "move": move,
        }
        failed = view.contacts[:, 0] > 0.5
        return terms, failed, planar.PlanarInfo(speed=speed, height=height)

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        stand = (3.0 * terms["standing"] + terms["upright"]) / 4.0
        if self.move_speed > 0:
            stand = stand * (5.0 * terms["move"] + 1.0) / 6.0
        return self.reward_scale * stand

    def metrics(self, info: planar.PlanarInfo) -> dict[str, jax.Array]:
        return {"speed": info.speed, "torso_height": info.height,
                "tall": (info.height >= 1.0).astype(jnp.float32)}


UPRIGHT = at_least("steps with the torso >= 1 m", "eval/task/tall", 0.8)

ENVS = [
    EnvSpec("dm_walker", functools.partial(Walker, name="dm_walker", move_speed=1.0),
            classic_preset(),
            Target("walking at 1 m/s, upright",
                   (at_least("speed (m/s)", "eval/task/speed", 0.9), UPRIGHT)),
            aliases=("dm-walker",), summary="planar walker walks at 1 m/s"),
    EnvSpec("dm_stander", functools.partial(Walker, name="dm_stander", move_speed=0.0),
            classic_preset(),
            Target("standing: torso >= 1.0 m (dm_control's stand)", (UPRIGHT,)),
            aliases=("dm-stander",), summary="planar walker stands tall"),
    EnvSpec("dm_runner", functools.partial(Walker, name="dm_runner", move_speed=5.0),
            classic_preset(),
            Target("running >= 4 m/s, upright",
                   (at_least("speed (m/s)", "eval/task/speed", 4.0), UPRIGHT)),
            aliases=("dm-runner",), summary="planar walker runs at 5 m/s"),
]
