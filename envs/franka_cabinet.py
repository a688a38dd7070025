"""Franka Panda opens a drawer: grasp its handle and pull (`franka_open_cabinet`).

Scene: our Panda (envs/panda.py) at the world origin on the floor, facing a low cabinet
built from boxes whose drawer slides out towards the robot (a slide joint, 0 to 0.25 m).
The drawer's handle is a horizontal bar (along y) standing 7 cm off the drawer's front
at its top edge, 0.55 m ahead of the robot and 0.30 m high when closed, so the hand
grasps it from above, pointing down with the fingers closing along x. (A front grasp
needs the hand pointing forward, which the Panda's joint-6 limit rules out at this
reach in the elbow-up posture.) The home pose has the TCP 0.15 m above and 0.1 m short
of the handle.

Observation (25): arm and finger positions - home (9), their velocities (9), handle -
TCP (3), drawer opening (m) and velocity (2), and how the hand is aligned for the grasp:
hand z . -z and |hand y . x| (2; both 1 at home).
Action (8): as franka_lift_cube, joint targets about home + a binary gripper command.
Reward terms (unscaled; weights in `reward_scales`):
- approach = 1 - tanh(|tcp - handle| / approach_std)
- align = (hand z . -z + |hand y . x|) / 2: pointing down, fingers across the bar
- grasp = 1 when both finger pads touch the handle
- open = grasp * min(opening / open_goal, 1): only while grasped (ungated, a 4-minute
  trial learned to hook the bar with one finger and pull: drawer open in 98% of the
  worlds, grasped in none)
- action_rate, joint_vel: as franka_lift_cube (growing after `penalty_warmup`)
Terminated only when a joint speed exceeds `max_joint_speed`; truncated after 700 steps.
Metrics: `opening`, `grasped`, and per last finished episode `episode_reached` (TCP within
2 cm of the handle), `episode_max_opening` and `episode_opened` (opened >= open_goal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from flax import struct

from motrix_jax.env import PhysicsView, scaled_sum
from motrix_jax.envs import panda
from motrix_jax.envs.franka import arm_ctrl, penalty_growth
from motrix_jax.envs.presets import franka_preset
from motrix_jax.envs.spec import EnvSpec, Target, at_least
from motrix_jax.task import Task

HANDLE = (0.55, 0.0, 0.30)  # the handle's centre, drawer closed (world frame)
HANDLE_STANDOFF = 0.07  # m from the drawer's front face: room for a finger behind the bar
DRAWER_TRAVEL = 0.25  # m
# TCP at (0.45, 0, 0.45), hand pointing down, fingers closing along x
CABINET_HOME = (0.0, -0.35, 0.0, -2.126, 0.0, 1.776, -0.785)


def cabinet_scene_xml() -> str:
    """The MJCF of the drawer scene: floor, Panda, cabinet with a sliding drawer."""
    hx, _, hz = HANDLE
    face = hx + HANDLE_STANDOFF  # the drawer front's outer face (x), closed
    low = hz - 0.15  # the drawer front's lower edge; its upper edge is hz + 0.01
    fixed = 'contype="0" conaffinity="1" rgba="0.55 0.4 0.25 1"'
    return f"""<mujoco model="franka_open_cabinet">
<compiler angle="radian"/>
<option timestep="0.01" gravity="0 0 -9.81"/>
{panda.defaults_xml()}
<worldbody>
  <geom name="floor" type="plane" size="2 2 0.05" contype="0" conaffinity="1"
        rgba="0.8 0.8 0.8 1"/>
  {panda.robot_xml()}
  <body name="cabinet" pos="{face + 0.02 + 0.17} 0 0">
    <geom name="cabinet_bottom" type="box" pos="0 0 {low / 2}" size="0.17 0.25 {low / 2}"
          {fixed}/>
    <geom name="cabinet_top" type="box" pos="0 0 {hz + 0.02}" size="0.17 0.25 0.01" {fixed}/>
    <geom name="cabinet_left" type="box" pos="0 0.24 {hz - 0.07}" size="0.17 0.01 0.08"
          {fixed}/>
    <geom name="cabinet_right" type="box" pos="0 -0.24 {hz - 0.07}" size="0.17 0.01 0.08"
          {fixed}/>
    <geom name="cabinet_back" type="box" pos="0.16 0 {hz - 0.07}" size="0.01 0.23 0.08"
          {fixed}/>
  </body>
  <body name="drawer" pos="{face} 0 {hz}">
    <joint name="drawer" type="slide" axis="-1 0 0" range="0 {DRAWER_TRAVEL}" damping="5"
           armature="0"/>
    <inertial pos="0.15 0 -0.08" mass="1.5" diaginertia="0.03 0.02 0.04"/>
    <geom name="drawer_front" type="box" pos="0.01 0 -0.07" size="0.01 0.22 0.08"
          contype="0" conaffinity="1" rgba="0.7 0.55 0.35 1"/>
    <geom name="drawer_box" type="box" pos="0.16 0 -0.09" size="0.14 0.21 0.05" contype="0"
          conaffinity="0" rgba="0.7 0.55 0.35 1"/>
    <geom name="handle_left" type="box" pos="{-HANDLE_STANDOFF / 2} 0.07 0"
          size="{HANDLE_STANDOFF / 2} 0.008 0.008" contype="0" conaffinity="0"
          rgba="0.3 0.3 0.3 1"/>
    <geom name="handle_right" type="box" pos="{-HANDLE_STANDOFF / 2} -0.07 0"
          size="{HANDLE_STANDOFF / 2} 0.008 0.008" contype="0" conaffinity="0"
          rgba="0.3 0.3 0.3 1"/>
    <geom name="handle" type="capsule" fromto="{-HANDLE_STANDOFF} -0.07 0 {-HANDLE_STANDOFF} 0.07 0"
          size="0.01" friction="1.5 0.02 0.001" contype="0" conaffinity="1"
          rgba="0.3 0.3 0.3 1"/>
  </body>
</worldbody>
{panda.actuators_xml()}
</mujoco>"""


def default_cabinet_scales() -> dict[str, float]:
    return {"approach": 2.0, "align": 0.5, "grasp": 2.0, "open": 10.0,
            "action_rate": -1e-4, "joint_vel": -1e-4}


@struct.dataclass
class CabinetInfo:
    last_action: jax.Array  # [N, 8]
    train_steps: jax.Array  # [N] int32 control steps since training began (kept on reset)
    opening: jax.Array  # [N] m, after the last step
    grasped: jax.Array  # [N] float: both finger pads touch the handle
    ever_reached: jax.Array  # [N] float: this episode
    max_opening: jax.Array  # [N] this episode
    episode_reached: jax.Array  # [N] of the last finished episode
    episode_max_opening: jax.Array  # [N]


def handle_position(opening: jax.Array) -> jax.Array:
    """The handle's centre [N, 3] for drawer openings [N] (it slides along -x)."""
    return jnp.asarray(HANDLE) - opening[:, None] * jnp.array([1.0, 0.0, 0.0])


@dataclass(frozen=True)
class FrankaOpenCabinet(Task):
    name: str = "franka_open_cabinet"
    sim_dt: float = 0.01
    ctrl_dt: float = 0.01
    obs_size: int = 25
    action_size: int = 8
    episode_length: int = 700
    home: tuple[float, ...] = CABINET_HOME
    action_scale: float = 0.5
    joint_noise: float = 0.05
    approach_std: float = 0.1
    reach_radius: float = 0.02
    open_goal: float = 0.2  # m: a drawer opened this far counts as open
    penalty_warmup: int = 10_000
    penalty_final: float = 1000.0
    max_joint_speed: float = 20.0
    reward_scales: dict[str, float] = field(default_factory=default_cabinet_scales)
    contact_pairs: tuple[tuple[str, str], ...] = (("left_pad", "handle"),
                                                  ("right_pad", "handle"))

    def mjcf(self) -> str:
        return cabinet_scene_xml()

    def initial_info(self, n: int) -> CabinetInfo:
        zeros = jnp.zeros((n,))
        return CabinetInfo(last_action=jnp.zeros((n, 8)), train_steps=jnp.zeros((n,), jnp.int32),
                           opening=zeros, grasped=zeros, ever_reached=zeros,
                           max_opening=zeros, episode_reached=zeros, episode_max_opening=zeros)

    def reset(self, key: jax.Array, n: int, info: CabinetInfo):
        arm = jnp.asarray(self.home) + jax.random.uniform(
            key, (n, 7), minval=-self.joint_noise, maxval=self.joint_noise)
        qpos = jnp.concatenate([arm, jnp.full((n, 2), panda.FINGER_OPEN), jnp.zeros((n, 1))], -1)
        fresh = self.initial_info(n).replace(
            train_steps=info.train_steps, episode_reached=info.ever_reached,
            episode_max_opening=info.max_opening)
        return qpos, jnp.zeros((n, 10)), fresh

    def _grasp_frame(self, qpos: jax.Array):
        """(TCP [N, 3], hand z . -z [N], |hand y . x| [N])."""
        pos, rot = panda.hand_pose(qpos[:, :7])
        return pos + panda.TCP * rot[..., :, 2], -rot[:, 2, 2], jnp.abs(rot[:, 0, 1])

    def observe(self, view: PhysicsView, info: CabinetInfo) -> jax.Array:
        tcp, down, across = self._grasp_frame(view.qpos)
        home = jnp.asarray((*self.home, panda.FINGER_OPEN, panda.FINGER_OPEN))
        return jnp.concatenate([view.qpos[:, :9] - home, view.qvel[:, :9],
                                handle_position(view.qpos[:, 9]) - tcp, view.qpos[:, 9:10],
                                view.qvel[:, 9:10], down[:, None], across[:, None]],
                               -1)

    def ctrl(self, action: jax.Array, info: CabinetInfo) -> jax.Array:
        return arm_ctrl(action, self.home, self.action_scale)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: CabinetInfo,
                 action: jax.Array):
        tcp, down, across = self._grasp_frame(view.qpos)
        opening = view.qpos[:, 9]
        distance = jnp.linalg.norm(handle_position(opening) - tcp, axis=-1)
        grasped = (view.contacts > 0.5).all(-1).astype(jnp.float32)
        growth = penalty_growth(info.train_steps, self.penalty_warmup, self.penalty_final)
        terms = {
            "approach": 1.0 - jnp.tanh(distance / self.approach_std),
            "align": 0.5 * (down + across),
            "grasp": grasped,
            "open": grasped * jnp.clip(opening / self.open_goal, 0.0, 1.0),
            "action_rate": growth * jnp.sum((action - info.last_action) ** 2, -1),
            "joint_vel": growth * jnp.sum(view.qvel[:, :9] ** 2, -1),
        }
        failed = jnp.abs(view.qvel[:, :9]).max(-1) > self.max_joint_speed
        reached = (distance < self.reach_radius).astype(jnp.float32)
        info = info.replace(
            last_action=action, train_steps=info.train_steps + 1, opening=opening,
            grasped=grasped, ever_reached=jnp.maximum(info.ever_reached, reached),
            max_opening=jnp.maximum(info.max_opening, opening))
        return terms, failed, info

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        return scaled_sum(terms, self.reward_scales)

    def metrics(self, info: CabinetInfo) -> dict[str, jax.Array]:
        return {"opening": info.opening, "grasped": info.grasped,
                "episode_reached": info.episode_reached,
                "episode_max_opening": info.episode_max_opening,
                "episode_opened": (info.episode_max_opening >= self.open_goal).astype(
                    jnp.float32)}


ENVS = [
    EnvSpec("franka_open_cabinet", FrankaOpenCabinet, franka_preset,
            Target("the drawer opened >= 0.2 m",
                   (at_least("first episodes that opened it", "eval/first_episode_opened",
                             0.8),), minutes=30),
            aliases=("franka-open-cabinet",),
            summary="Franka Panda grasps a drawer's handle and pulls it open"),
]
