"""Planar hopper stand / hop (dm_control's hopper tasks).

Observation (15): qpos without rootx (6), qvel (7), toe and heel touch (floor contact
flags of the spheres at the foot's ends; dm_control reads log(1 + touch force)).
Action (4): torques of waist, hip, knee, ankle in [-1, 1] (x gear).
Reward: standing = tolerance(torso - foot centre-of-mass height, (0.6, 2)), times
  stand: small_control = (mean tolerance(action, margin 1, quadratic, 0) + 4) / 5,
  hop: hopping = tolerance(centre-of-mass speed, (2, inf), margin 1, linear, 0.5).
Terminated when the torso touches the floor, or (`min_height` > 0) when the torso's
centre of mass sinks below `min_height` over the foot's; truncated after 1000 control
steps of 20 ms.

Start: upright at rest, joint angles +-`reset_noise`; with `start_speed` > 0 the whole
body moves forward at a speed uniform in [0, start_speed] (a shaped start; evaluations
hold it at 0, `envs.evaluation_changes`, so they start at rest).

dm_hopper_hop uses both (`start_speed` 2 m/s, `min_height` 0.3 m); dm_control's hop has
neither: it starts in a random pose (every limited joint uniform in its range, the
root's pitch uniform in a full turn) and never terminates. Why they are needed here:
the hop reward is standing x hopping, both 0 at rest (hopping is 0 at or below 0 m/s), so
a hopper standing still earns exactly what a collapsed one does. Trained from rest with
only the torso-contact termination, the policy sank onto its folded leg without the
torso touching the floor (16M env steps, 10 min: torso 0.07 m over the foot, 0.03 m/s,
1.8 % of episodes terminated). From rest, the first thing PPO finds is a dive: falling
forward while still tall pays about 10-15 in 30-50 steps, more (discounted at 0.99)
than shuffling forward at 0.2 m/s for the whole episode (0.1 a step), so only a hop of
>= 0.5 m/s beats it, and nothing on the way there does. Started at up to 2 m/s, keeping
the speed while tall pays up to 1 a step from the first step, so hopping is what the
gradient leads to; a low torso ends the episode, so training samples hop from fresh
starts instead of a sitting hopper's zeros.
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

XML_PATH = Path(__file__).parent / "assets" / "hopper.xml"


def default_terms() -> dict[str, float]:
    return {"standing": 1.0, "small_control": 1.0, "hopping": 1.0}


@dataclass(frozen=True)
class Hopper(Task):
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
    start_speed: float = 0.0  # m/s: forward speed at reset uniform in [0, start_speed]
    min_height: float = 0.0  # m of torso over foot below which the episode ends (0: off)
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
        key_joints, key_speed = jax.random.split(key)
        # the knee's range starts at 5 deg
        qpos, qvel, info = planar.initial_state(
            key_joints, n, 4, self.reset_noise,
            lambda joints: joints.at[:, 2].set(jnp.abs(joints[:, 2]) + 0.0873))
        if self.start_speed > 0:  # rootx's velocity moves every body alike
            speed = jax.random.uniform(key_speed, (n,), maxval=self.start_speed)
            qvel = qvel.at[:, 0].set(speed)
        return qpos, qvel, info

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
        failed = (view.contacts[:, 2] > 0.5) | (height < self.min_height)
        return terms, failed, planar.PlanarInfo(speed=speed, height=height)

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        second = terms["hopping"] if self.hopping else terms["small_control"]
        return self.reward_scale * terms["standing"] * second

    def metrics(self, info: planar.PlanarInfo) -> dict[str, jax.Array]:
        return {"speed": info.speed, "torso_height": info.height}


ENVS = [
    EnvSpec("dm_hopper_stand", functools.partial(Hopper, name="dm_hopper_stand"),
            classic_preset((32, 32, 32), epochs=5),
            Target("standing: torso >= 0.6 m (dm_control's hopper)",
                   (at_least("torso height (m)", "eval/task/torso_height", 0.6),)),
            aliases=("dm-hopper-stand",), summary="planar hopper stands up"),
    EnvSpec("dm_hopper_hop",
            functools.partial(Hopper, name="dm_hopper_hop", hopping=True, start_speed=2.0,
                              min_height=0.3),
            classic_preset((32, 32, 32), epochs=5),
            Target("hopping forward >= 1 m/s",
                   (at_least("speed (m/s)", "eval/task/speed", 1.0),)),
            aliases=("dm-hopper-hop",), summary="planar hopper hops forward at 2 m/s"),
]
