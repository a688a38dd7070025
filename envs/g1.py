"""Unitree G1 humanoid (23 DoF) velocity tracking: walk at a commanded (vx, vy, yaw rate)
on flat ground (g1_flat) or generated rough terrain with a curriculum (g1_rough).

Joints (`JOINTS`, the order of actions and observations): left leg, right leg (hip pitch,
hip roll, hip yaw, knee, ankle pitch, ankle roll), waist yaw, left arm, right arm
(shoulder pitch, shoulder roll, shoulder yaw, elbow, wrist roll).

Observation (83): base linear velocity in the body frame x2, gyro x0.25, gravity in the
body frame, joint angles - q0, joint velocities x0.05, last action, command x (2, 2,
0.25) (`legged.proprioception`), then sin and cos of the gait clock (a 0.8 s cycle: the
left foot's stance is the first 55 %, the right foot's half a cycle later, as
unitree_rl_gym's G1). g1_rough adds the Go1 height scan (77 points around the pelvis, its
height above the ground there minus the standing height 0.78 m, clipped to +-1 m). With
`privileged_critic` the value network also sees each foot's contact, air and ground
times and sole height above the ground, the pelvis height above the ground and the PD
torques (`critic_observe`).

Action (23): joint position targets q0 + action_scale * a, tracked by the engine's PD
(the gains and torque limits of the MJCF, `KP`, `KD`, `TORQUE_LIMITS`) at every physics
substep. The feet's positions come from forward kinematics in JAX (`legged.chain_point`
on the MJCF's leg chains), so the clearance and slip terms read the same on every engine.

Reward: the terms of `reward_scales`, unscaled in `evaluate` and scaled in one place; the
total is clipped at 0 from below and is 0 on termination. Terminated when the pelvis
tilts past `max_tilt` or is within `min_base_height` of the ground under it (only the
feet collide); truncated after 20 s. Terrain and command curricula as Go1's
(`go1.terrain_level`, `go1.next_level`). The MuJoCo engines solve with `mujoco_solver`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from motrix_jax import symmetry
from motrix_jax.env import LEAN_SOLVER, PhysicsView, SolverOptions
from motrix_jax.envs import legged
from motrix_jax.envs import terrain as terrain_lib
from motrix_jax.envs.go1 import (
    SCAN_POINTS,
    SCAN_SHAPE,
    climbing,
    first_levels,
    next_level,
    terrain_level,
    walking,
)
from motrix_jax.envs.presets import g1_preset
from motrix_jax.envs.spec import EnvSpec, at_most
from motrix_jax.symmetry import Mirrors
from motrix_jax.task import Task

XML_PATH = Path(__file__).parent / "assets" / "g1.xml"
TERRAINS = ("flat", "rough")
LEG = ("hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll")
ARM = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll")
JOINTS = (tuple(f"left_{j}" for j in LEG) + tuple(f"right_{j}" for j in LEG) + ("waist_yaw",)
          + tuple(f"left_{j}" for j in ARM) + tuple(f"right_{j}" for j in ARM))
FEET = ("left_foot", "right_foot")
SOLE = (0.035, 0.0, -0.035)  # the sole's centre in the ankle-roll body's frame (m)
# legs slightly bent (unitree_rl_gym's G1), arms hanging with the elbows bent
LEG_POSE = (-0.1, 0.0, 0.0, 0.3, -0.2, 0.0)
DEFAULT_POSE = LEG_POSE * 2 + (0.0,) + (0.2, 0.2, 0.0, 1.28, 0.0) + (0.2, -0.2, 0.0, 1.28, 0.0)
# per joint, as the MJCF's actuator classes give them (tests check the two agree)
KP = (100.0, 100.0, 100.0, 150.0, 40.0, 40.0) * 2 + (200.0,) + (40.0,) * 4 + (20.0,) \
    + (40.0,) * 4 + (20.0,)
KD = (2.0, 2.0, 2.0, 4.0, 2.0, 2.0) * 2 + (5.0,) + (1.0,) * 4 + (0.5,) + (1.0,) * 4 + (0.5,)
TORQUE_LIMITS = (88.0, 139.0, 88.0, 139.0, 50.0, 50.0) * 2 + (88.0,) + (25.0,) * 10
STANDING_HEIGHT = 0.78  # m, pelvis above the ground holding DEFAULT_POSE
GAIT_PERIOD = 0.8  # s
STANCE = 0.55  # share of the gait cycle a foot is on the ground
PRIVILEGED_SIZE = 2 * 4 + 1 + len(JOINTS)  # what critic_observe adds (32)

# Left-right mirror of the joints: the legs and arms trade places; roll and yaw angles
# (and the waist's yaw) flip, pitch angles and the knees and elbows keep their sign.
LEG_MIRROR = symmetry.signs(1, -1, -1, 1, 1, -1)
ARM_MIRROR = symmetry.signs(1, -1, -1, 1, -1)
JOINTS_MIRROR = (symmetry.blocks((1, 0), LEG_MIRROR) + symmetry.signs(-1)
                 + symmetry.blocks((1, 0), ARM_MIRROR))
FEET_MIRROR = symmetry.blocks((1, 0), symmetry.keep(1))
QPOS_MIRROR = legged.VECTOR_MIRROR + symmetry.signs(-1, 1, -1, 1) + JOINTS_MIRROR
QVEL_MIRROR = legged.VECTOR_MIRROR + legged.ANGULAR_MIRROR + JOINTS_MIRROR
# the gait clock's (sin, cos): the mirror image's clock runs half a cycle apart
CLOCK_MIRROR = symmetry.signs(-1, -1)
PROPRIOCEPTION_MIRROR = (legged.VECTOR_MIRROR + legged.ANGULAR_MIRROR + legged.VECTOR_MIRROR
                         + JOINTS_MIRROR + JOINTS_MIRROR + JOINTS_MIRROR
                         + legged.COMMAND_MIRROR + CLOCK_MIRROR)


def default_reward_scales() -> dict[str, float]:
    """unitree_rl_gym's G1 terms and weights where it has them, plus the feet air time,
    a waist/arm pose term and joint-limit, slip and clearance terms under our names."""
    return {"tracking_lin_vel": 1.0, "tracking_ang_vel": 0.5, "lin_vel_z": -2.0,
            "ang_vel_xy": -0.05, "upright": -1.0, "base_height": -10.0, "torques": -1e-5,
            "dof_acc": -2.5e-7, "action_rate": -0.01, "joint_limits": -5.0,
            "hip_pos": -1.0, "pose": -0.2, "feet_phase": 0.18, "feet_air_time": 0.5,
            "feet_clearance": -20.0, "foot_slip": -0.2, "alive": 0.15}


@struct.dataclass
class G1Info:
    command: jax.Array  # [N, 3] vx, vy (m/s, body frame), yaw rate (rad/s)
    last_action: jax.Array  # [N, 23]
    last_qvel: jax.Array  # [N, 23] joint velocities of the previous step
    air_time: jax.Array  # [N, 2] seconds since each foot left the ground
    ground_time: jax.Array  # [N, 2] seconds since each foot touched down
    last_contact: jax.Array  # [N, 2] contact flags of the previous step
    feet_pos: jax.Array  # [N, 2, 3] sole centres (world) after the previous step
    level: jax.Array  # [N] int32 terrain level under the robot (0 on flat ground)
    command_level: jax.Array  # [N] int32 command curriculum level
    walked: jax.Array  # [N] sum over steps of (body velocity . command) dt
    asked: jax.Array  # [N] sum over steps of |command|^2 dt
    fell: jax.Array  # [N] bool: the last step was a failure
    steps: jax.Array  # [N] int32 steps in the episode
    command_tracking: jax.Array  # [N] lin-vel tracking term summed since the command
    command_steps: jax.Array  # [N] int32 steps since the command was last sampled


@dataclass(frozen=True)
class G1(Task):
    name: str = "g1_flat"
    terrain: str = "flat"  # flat | rough
    terrain_seed: int = 0
    sim_dt: float = 0.005
    ctrl_dt: float = 0.02
    episode_length: int = 1000  # 20 s
    action_size: int = 23
    action_scale: float = 0.25
    # command ranges (low, high): vx, vy in m/s (body frame), yaw rate in rad/s
    command_low: tuple[float, float, float] = (-0.5, -0.5, -1.0)
    command_high: tuple[float, float, float] = (1.0, 0.5, 1.0)
    resample_commands_s: float = 10.0
    zero_command_below: float = 0.1  # planar commands slower than this become 0
    command_levels: int = 4  # command curriculum as Go1's (1: none)
    terrain_curriculum: bool = True  # as Go1's
    promote: float = 0.8
    demote: float = 0.4
    initial_levels: tuple[int, ...] = ()
    max_tilt: float = 0.8  # rad
    min_base_height: float = 0.45  # m of pelvis above the ground; stands at 0.78
    mujoco_solver: SolverOptions = LEAN_SOLVER
    feet_air_time_target: float = 0.3  # s; swings longer than this earn the bonus
    feet_air_time_cap: float = 0.5  # s; longer swings earn no more (no hopping)
    swing_height: float = 0.08  # m, the sole's target height above the ground in swing
    reset_joint_noise: float = 0.05
    spawn_height: float = 0.80  # m of pelvis above the ground at spawn
    privileged_critic: bool = False
    reward_scales: dict[str, float] = field(default_factory=default_reward_scales)

    def __post_init__(self):
        legged.check_choice("terrain", self.terrain, TERRAINS)

    @property
    def obs_size(self) -> int:
        scan = 0 if self.terrain_map is None else len(SCAN_POINTS)
        return 12 + 3 * len(JOINTS) + 2 + scan

    @property
    def critic_obs_size(self) -> int | None:
        return self.obs_size + PRIVILEGED_SIZE if self.privileged_critic else None

    @property
    def contact_pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple(("floor", foot) for foot in FEET)

    @property
    def terrain_map(self) -> terrain_lib.Terrain | None:
        return None if self.terrain == "flat" else _rough(self.terrain_seed)

    @property
    def num_terrain_levels(self) -> int:
        field_ = self.terrain_map
        return 1 if field_ is None else field_.num_levels

    def mjcf(self) -> str:
        heightfield, boxes = (None, ()) if self.terrain_map is None else self.terrain_map.mjcf()
        return legged.scene_xml(XML_PATH, heightfield, extra_geoms=boxes, colliding=FEET)

    def export_metadata(self) -> dict:
        """What a robot-side program needs beyond the policy (export.py writes it)."""
        return {"joint_order": list(JOINTS), "default_joint_pos": list(DEFAULT_POSE),
                "joint_target": f"default_joint_pos + {self.action_scale} * action",
                "pd_gains": {"kp": list(KP), "kd": list(KD)},
                "torque_limits": list(TORQUE_LIMITS),
                "gait_clock": f"obs[81:83] = sin, cos of 2 pi t / {GAIT_PERIOD} s, t since "
                              "the episode began"}

    # --- episodes -----------------------------------------------------------------

    def initial_info(self, n: int) -> G1Info:
        nj = len(JOINTS)
        return G1Info(
            command=jnp.zeros((n, 3)), last_action=jnp.zeros((n, nj)),
            last_qvel=jnp.zeros((n, nj)), air_time=jnp.zeros((n, 2)),
            ground_time=jnp.zeros((n, 2)), last_contact=jnp.zeros((n, 2)),
            feet_pos=jnp.zeros((n, 2, 3)), level=first_levels(self.initial_levels, n,
                                                         self.num_terrain_levels),
            command_level=jnp.zeros((n,), jnp.int32), walked=jnp.zeros((n,)),
            asked=jnp.zeros((n,)), fell=jnp.zeros((n,), bool),
            steps=jnp.zeros((n,), jnp.int32), command_tracking=jnp.zeros((n,)),
            command_steps=jnp.zeros((n,), jnp.int32))

    def reset(self, key: jax.Array, n: int, info: G1Info):
        key_xy, key_yaw, key_q, key_cmd = jax.random.split(key, 4)
        level = info.level
        if self.terrain_curriculum:
            level = terrain_level(info, self.promote, self.demote, self.num_terrain_levels)
        command_level = next_level(info.command_level, info.command_tracking,
                                   info.command_steps, self.command_levels)
        yaw = jax.random.uniform(key_yaw, (n,), minval=-math.pi, maxval=math.pi)
        field_ = self.terrain_map
        if field_ is None:
            xy, ground = jnp.zeros((n, 2)), jnp.zeros((n,))
        else:
            xy, ground = field_.spawn(key_xy, level)
        qpos, qvel = legged.standing_state(key_q, xy, ground, self.spawn_height, yaw,
                                           DEFAULT_POSE, self.reset_joint_noise)
        fresh = self.initial_info(n)
        return qpos, qvel, fresh.replace(
            command=self.sample_command(key_cmd, command_level), level=level,
            command_level=command_level, feet_pos=feet_positions(qpos))

    def sample_command(self, key: jax.Array, command_level: jax.Array) -> jax.Array:
        """Commands [N, 3] uniform in the ranges scaled by (command_level + 1) / levels."""
        n = command_level.shape[0]
        scale = ((command_level + 1) / self.command_levels)[:, None]
        cmd = jax.random.uniform(key, (n, 3), minval=jnp.asarray(self.command_low) * scale,
                                 maxval=jnp.asarray(self.command_high) * scale)
        small = jnp.linalg.norm(cmd[:, :2], axis=-1) < self.zero_command_below
        return cmd.at[:, :2].set(jnp.where(small[:, None], 0.0, cmd[:, :2]))

    # --- observations -------------------------------------------------------------

    def clock(self, steps: jax.Array) -> jax.Array:
        """The gait clock's phase [N] in [0, 1) after `steps` control steps."""
        return jnp.mod(steps * self.ctrl_dt / GAIT_PERIOD, 1.0)

    def observe(self, view: PhysicsView, info: G1Info) -> jax.Array:
        phase = 2 * math.pi * self.clock(info.steps)
        parts = [legged.proprioception(view, DEFAULT_POSE, info.last_action, info.command),
                 jnp.sin(phase)[:, None], jnp.cos(phase)[:, None]]
        if self.terrain_map is not None:
            parts.append(self.height_scan(view))
        return jnp.concatenate(parts, -1)

    def height_scan(self, view: PhysicsView) -> jax.Array:
        """The pelvis's height above the ground at `go1.SCAN_POINTS` around it [N, 77],
        minus the standing height, clipped to +-1 m."""
        ground = self.terrain_map.scan(view.qpos[:, :2], legged.yaw_of(view.qpos[:, 3:7]),
                                       jnp.asarray(SCAN_POINTS))
        return jnp.clip(view.qpos[:, 2:3] - STANDING_HEIGHT - ground, -1.0, 1.0)

    def critic_observe(self, view: PhysicsView, info: G1Info) -> jax.Array | None:
        """With `privileged_critic`, the critic's observation [N, obs_size + 32]: the
        policy's, then each foot's contact flag, air time, time on the ground and sole
        height above the ground (8), the pelvis height above the ground minus the
        standing height (1) and the PD torques over the torque limits (23)."""
        if not self.privileged_critic:
            return None
        torques = self.torques(view, self.ctrl(info.last_action, info))
        feet = feet_positions(view.qpos)
        sole = feet[..., 2] - self.ground_at(feet[..., :2])
        height = view.qpos[:, 2] - self.ground_at(view.qpos[:, :2]) - STANDING_HEIGHT
        return jnp.concatenate([
            self.observe(view, info), view.contacts[:, :2], info.air_time,
            info.ground_time, sole, height[:, None], torques / jnp.asarray(TORQUE_LIMITS)], -1)

    def mirrors(self) -> Mirrors:
        """Left-right: legs and arms trade places with their roll and yaw angles flipped,
        the waist's yaw flips; the lateral velocity and gravity, the roll and yaw rates and
        the vy and yaw-rate commands flip; the gait clock moves half a cycle; foot values
        swap; the height scan's columns (across the pelvis) reverse."""
        obs = PROPRIOCEPTION_MIRROR
        if self.terrain_map is not None:
            obs = obs + symmetry.grid(*SCAN_SHAPE)
        critic = None
        if self.privileged_critic:
            critic = (obs + FEET_MIRROR + FEET_MIRROR + FEET_MIRROR + FEET_MIRROR
                      + symmetry.keep(1) + JOINTS_MIRROR)
        return Mirrors(obs=obs, action=JOINTS_MIRROR, critic_obs=critic)

    def video_marks(self, view: PhysicsView, info: G1Info) -> dict[str, jax.Array]:
        return legged.velocity_marks(view, info.command)

    # --- control and reward -------------------------------------------------------

    def ctrl(self, action: jax.Array, info: G1Info) -> jax.Array:
        return legged.position_targets(DEFAULT_POSE, self.action_scale, action)

    def torques(self, view: PhysicsView, ctrl: jax.Array) -> jax.Array:
        """The PD torques the actuators apply for `ctrl` at this state [N, 23]."""
        return legged.pd_torques(view, ctrl, jnp.asarray(KP), jnp.asarray(KD), TORQUE_LIMITS)

    def ground_at(self, xy: jax.Array) -> jax.Array:
        """The terrain's height [...] under points xy [..., 2]."""
        field_ = self.terrain_map
        return jnp.zeros(xy.shape[:-1]) if field_ is None else field_.grid.ground(xy)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: G1Info, action: jax.Array):
        lin_vel, gyro, gravity = legged.base_state(view)
        contact = view.contacts[:, :2] > 0.5
        feet = feet_positions(view.qpos)
        terms = {
            **legged.velocity_tracking(info.command, lin_vel, gyro),
            **legged.smoothness_terms(view, lin_vel, gyro, action, info.last_action,
                                      info.last_qvel, self.torques(view, self.ctrl(action, info)),
                                      self.ctrl_dt),
            **self.posture_terms(view, gravity),
            **self.feet_terms(info, contact, feet),
            "alive": jnp.ones(view.qpos.shape[:1]),
        }
        ground = self.ground_at(view.qpos[:, :2])
        failed = (legged.base_low(view, ground, self.min_base_height)
                  | legged.tilted(gravity, self.max_tilt))
        return terms, failed, self.next_info(key, view, info, action, contact, feet, lin_vel,
                                             failed, terms["tracking_lin_vel"])

    def posture_terms(self, view: PhysicsView, gravity: jax.Array) -> dict[str, jax.Array]:
        """Unscaled posture penalties [N]: tilt (gravity off the body's -z), pelvis height
        off the standing height, joints past 90 % of their ranges (rad), hip roll and yaw
        off zero, waist and arms off their default pose."""
        q = view.qpos[:, 7:]
        low, high = JOINT_SOFT_LIMITS
        outside = jnp.maximum(q - high, 0.0) + jnp.maximum(low - q, 0.0)
        height = view.qpos[:, 2] - self.ground_at(view.qpos[:, :2])
        hips = q[:, jnp.array([1, 2, 7, 8])]
        upper = q[:, 12:] - jnp.asarray(DEFAULT_POSE[12:])
        return {"upright": jnp.sum(gravity[:, :2] ** 2, -1),
                "base_height": (height - STANDING_HEIGHT) ** 2,
                "joint_limits": jnp.sum(outside, -1),
                "hip_pos": jnp.sum(hips ** 2, -1),
                "pose": jnp.sum(upper ** 2, -1)}

    def feet_terms(self, info: G1Info, contact: jax.Array, feet: jax.Array):
        """Unscaled foot terms [N]: contacts matching the gait clock (+1 per foot), the
        air time of each swing at touchdown over `feet_air_time_target` (capped; moving
        commands only), the swing foot's squared sole height error, and the squared
        horizontal speed of feet on the ground (slip)."""
        phase = self.clock(info.steps)
        legs = jnp.stack([phase, jnp.mod(phase + 0.5, 1.0)], -1)
        stance = legs < STANCE
        touchdown = contact & (info.last_contact < 0.5)
        air = jnp.minimum(info.air_time + self.ctrl_dt, self.feet_air_time_cap)
        moving = jnp.linalg.norm(info.command[:, :2], axis=-1) > 0.1
        sole = feet[..., 2] - self.ground_at(feet[..., :2])
        speed = jnp.sum(((feet - info.feet_pos)[..., :2] / self.ctrl_dt) ** 2, -1)
        return {"feet_phase": jnp.sum(stance == contact, -1).astype(jnp.float32),
                "feet_air_time": moving * jnp.sum(
                    (air - self.feet_air_time_target) * touchdown, -1),
                "feet_clearance": jnp.sum(~contact * (sole - self.swing_height) ** 2, -1),
                "foot_slip": jnp.sum(contact * speed, -1)}

    def next_info(self, key, view, info: G1Info, action, contact, feet, lin_vel, failed,
                  tracking) -> G1Info:
        """The info after this step: timers, command resampling and the curricula's
        bookkeeping (as Go1's)."""
        dt = self.ctrl_dt
        steps = info.steps + 1
        command_tracking = info.command_tracking + tracking
        command_steps = info.command_steps + 1
        command, command_level = info.command, info.command_level
        if self.resample_commands_s > 0:
            resample = steps % round(self.resample_commands_s / dt) == 0
            stepped = next_level(command_level, command_tracking, command_steps,
                                 self.command_levels)
            command_level = jnp.where(resample, stepped, command_level)
            command = jnp.where(resample[:, None], self.sample_command(key, command_level),
                                command)
            command_tracking = jnp.where(resample, 0.0, command_tracking)
            command_steps = jnp.where(resample, 0, command_steps)
        field_ = self.terrain_map
        level = info.level if field_ is None else field_.level_at(view.qpos[:, :2])
        cmd = info.command[:, :2]
        return info.replace(
            command=command, command_level=command_level, last_action=action,
            last_qvel=view.qvel[:, 6:], air_time=jnp.where(contact, 0.0, info.air_time + dt),
            ground_time=jnp.where(contact, info.ground_time + dt, 0.0),
            last_contact=contact.astype(jnp.float32), feet_pos=feet, level=level,
            walked=info.walked + jnp.sum(lin_vel[:, :2] * cmd, -1) * dt,
            asked=info.asked + jnp.sum(cmd ** 2, -1) * dt, fell=failed, steps=steps,
            command_tracking=command_tracking, command_steps=command_steps)

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        total = sum(self.reward_scales[k] * terms[k] for k in self.reward_scales)
        return jnp.where(failed, 0.0, jnp.maximum(total, 0.0))

    def metrics(self, info: G1Info) -> dict[str, jax.Array]:
        """Mean terrain and command levels and, on terrain, the share on each level."""
        out = {"terrain_level": info.level.astype(jnp.float32),
               "command_level": info.command_level.astype(jnp.float32)}
        if self.terrain_map is not None:
            out |= {f"terrain_level_{k}": (info.level == k).astype(jnp.float32)
                    for k in range(self.num_terrain_levels)}
        return out


def _joint_ranges() -> tuple[np.ndarray, np.ndarray]:
    """(low, high) [23] of the MJCF's joints, in `JOINTS` order."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(XML_PATH.read_text())
    ranges = {j.get("name"): [float(v) for v in j.get("range").split()]
              for j in root.iter("joint") if j.get("range")}
    table = np.array([ranges[f"{name}_joint"] for name in JOINTS])
    return table[:, 0], table[:, 1]


def _soft_limits(share: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    low, high = _joint_ranges()
    mid, half = (low + high) / 2, (high - low) / 2 * share
    return mid - half, mid + half


JOINT_RANGES = _joint_ranges()
JOINT_SOFT_LIMITS = _soft_limits()
FOOT_CHAINS = tuple(legged.body_chain(XML_PATH, f"{side}_ankle_roll_link")
                    for side in ("left", "right"))


def feet_positions(qpos: jax.Array) -> jax.Array:
    """World positions [N, 2, 3] of the left and right soles' centres."""
    joints = (qpos[:, 7:13], qpos[:, 13:19])
    return jnp.stack([legged.chain_point(qpos, chain, q, SOLE)
                      for chain, q in zip(FOOT_CHAINS, joints, strict=True)], 1)


@functools.cache
def _rough(seed: int) -> terrain_lib.Terrain:
    """Go1's rough terrain (same generator and seed: the same ground), cached."""
    return terrain_lib.rough(np.random.default_rng(seed))


def registered_task(name: str, terrain: str):
    """A builder of the registered task `name` on `terrain`; on terrain the first episodes
    start spread over levels 0-4, as Go1's."""
    initial_levels = () if terrain == "flat" else (0, 1, 2, 3, 4)
    return functools.partial(G1, name=name, terrain=terrain, initial_levels=initial_levels)


ENVS = [
    EnvSpec("g1_flat", registered_task("g1_flat", "flat"), g1_preset(),
            walking(60, "walking on the full command ranges, <= 10 % falls in 20 s",
                    at_most("robots that fell", "eval/fell", 0.1)),
            summary="Unitree G1 humanoid (23 DoF) tracks velocity commands on flat ground"),
    EnvSpec("g1_rough", registered_task("g1_rough", "rough"),
            g1_preset(max_env_steps=200_000_000), climbing(120),
            summary="G1 velocity tracking on generated rough terrain, with a curriculum"),
]
