"""Quadruped velocity tracking (Unitree Go1 and Go2): walk at a commanded (vx, vy, yaw
rate) on flat ground, rough terrain or stairs.

One task for both robots: `Quadruped` holds what differs between them (MJCF, default pose,
PD gains, torque and velocity limits, the base's name and standing height), the task's
`robot` field picks one (`ROBOTS`), and everything below is the same for both.

Observation (48): base linear velocity in the body frame x2, gyro x0.25, gravity in
the body frame, joint angles - q0, joint velocities x0.05, last action, command x
(2, 2, 0.25). go1_stairs adds 12 dims of foot contact information: contact flags,
air time and time on the ground of each foot. On terrain (rough, stairs) the policy also
sees a height scan: the trunk's height above the ground at `SCAN_POINTS` (11 x 7 points,
1.5 m x 0.6 m around it, clipped to +-1 m), read in JAX from the generated heights, so it
needs no ray casting on any backend (rough 125, stairs 137). With `privileged_critic`
the value network also sees each foot's contact, air and ground times, the base height
above the ground and the PD torques (`critic_observe`); the policy's input is unchanged.

Terrain curriculum: a robot's `level` is the terrain strip under it, updated every step.
An episode that ends without a fall and with the robot having walked >= `promote` of the
distance its commands asked for (the body velocity's projection on the command, summed
over the episode, over the command's squared speed summed) spawns the next one a level
up from where the robot ended; a fall, or less than `demote` of it, a level down.
On stairs the commands are forward only and the yaw-rate command holds the heading up
the stairs (`heading_hold`).

Action (12): joint position targets q0 + action_scale * a, tracked by the engine's PD
(the robot's kp and kd: 80 and 1 for both, clipped to the robot's motor torque limits)
at every physics substep.
Reward: the terms of `reward_scales`, unscaled in `evaluate` and scaled in one place;
the total is clipped at 0 from below and is 0 on termination (`hip_pos` penalises the
abduction angles' offsets from the default pose). Terminated when the trunk (the base)
tilts past `max_tilt` or is down: within `min_base_height` of the ground under
it (`collision="feet"`: only the four feet collide, as in MuJoCo Playground's Go1), or
touching the ground (`collision="full"`: trunk and knees collide too, kept for
go1_stairs, whose stair edges would otherwise pass through the shins); truncated after
20 s. The MuJoCo engines (MJX, MuJoCo C) solve with `mujoco_solver`;
MotrixSim with its own solver.

Everything the task reads comes from qpos/qvel (free-joint quaternion xyzw, linear
velocity in the world frame, angular velocity in the body frame) and contact flags,
so the same code runs on any physics backend.
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
from motrix_jax.env import LEAN_SOLVER, PhysicsView, Randomization, SolverOptions
from motrix_jax.envs import legged
from motrix_jax.envs import terrain as terrain_lib
from motrix_jax.envs.legged import rotate_inverse  # noqa: F401  (kept importable here)
from motrix_jax.envs.presets import go1_preset, go2_preset
from motrix_jax.envs.spec import Check, EnvSpec, Target, at_least, at_most
from motrix_jax.symmetry import Mirrors
from motrix_jax.task import Task

ASSETS = Path(__file__).parent / "assets"
XML_PATH = ASSETS / "go1.xml"
TERRAINS = ("flat", "rough", "stairs")
FEET = ("FR_foot", "FL_foot", "RR_foot", "RL_foot")
JOINT_ORDER = "FR, FL, RR, RL legs x (abduction, thigh, calf)"
DEFAULT_POSE = (0.0, 0.9, -1.8) * 4  # Go1's: abduction, thigh, calf per leg: FR, FL, RR, RL
KP, KD = 80.0, 1.0
TORQUE_LIMITS = (23.7, 23.7, 35.55) * 4  # Go1's
SCAN_HEIGHT = 0.3  # m subtracted from the height scan: about either robot's standing height
PRIVILEGED_SIZE = 25  # what critic_observe adds to the policy's observation
# height-scan points (m) in the trunk's heading frame: 11 along x, 7 across
SCAN_SHAPE = (11, 7)
SCAN_POINTS = np.stack(np.meshgrid(np.linspace(-0.6, 0.9, SCAN_SHAPE[0]),
                                   np.linspace(-0.3, 0.3, SCAN_SHAPE[1]), indexing="ij"),
                       -1).reshape(-1, 2)


@dataclass(frozen=True)
class Quadruped:
    """What differs between the quadrupeds the task drives; the rest is in `legged` and
    the task. Both have legs FR, FL, RR, RL of (abduction, thigh, calf) joints."""

    xml: str  # file in envs/assets
    default_pose: tuple[float, ...]  # q0 of the 12 joints (JOINT_ORDER)
    kp: float
    kd: float
    torque_limits: tuple[float, ...]  # N m, the 12 joints
    velocity_limits: tuple[float, ...]  # rad/s, the 12 joints (export metadata only)
    base: str  # the floating base's body and collision geom
    standing_height: float  # m, the base above flat ground holding the default pose
    feet: tuple[str, ...] = FEET  # foot geoms, in the legs' order

    @property
    def xml_path(self) -> Path:
        return ASSETS / self.xml


# Unitree's published figures (the MJCF files say which); both hold kp 80, kd 1
GO1 = Quadruped(xml="go1.xml", default_pose=DEFAULT_POSE, kp=KP, kd=KD,
                torque_limits=TORQUE_LIMITS, velocity_limits=(30.1, 30.1, 20.06) * 4,
                base="trunk", standing_height=0.27)
# Go2: MotrixLab's go2 default pose (abduction 0.1 rad outward: FR and RR -0.1, FL and RL
# +0.1), its stronger knee (45.43 N m)
GO2 = Quadruped(xml="go2.xml", default_pose=(-0.1, 0.9, -1.8, 0.1, 0.9, -1.8) * 2,
                kp=KP, kd=KD, torque_limits=(23.7, 23.7, 45.43) * 4,
                velocity_limits=(30.1, 30.1, 20.07) * 4, base="base", standing_height=0.26)
ROBOTS = {"go1": GO1, "go2": GO2}


def default_reward_scales() -> dict[str, float]:
    return {"tracking_lin_vel": 1.0, "tracking_ang_vel": 0.5, "lin_vel_z": -2.0,
            "ang_vel_xy": -0.05, "torques": -1e-5, "dof_acc": -2.5e-7, "action_rate": -0.001,
            "hip_pos": -1.0, "feet_air_time": 1.0}


@struct.dataclass
class Go1Info:
    command: jax.Array  # [N, 3] vx, vy (m/s, body frame), yaw rate (rad/s)
    last_action: jax.Array  # [N, 12]
    last_qvel: jax.Array  # [N, 12] joint velocities of the previous step
    air_time: jax.Array  # [N, 4] seconds since each foot left the ground
    ground_time: jax.Array  # [N, 4] seconds since each foot touched down
    last_contact: jax.Array  # [N, 4] contact flags of the previous step
    level: jax.Array  # [N] int32 terrain level under the robot (0 on flat ground)
    command_level: jax.Array  # [N] int32 command curriculum: ranges x (level+1)/levels
    walked: jax.Array  # [N] sum over steps of (body velocity . command) dt
    asked: jax.Array  # [N] sum over steps of |command|^2 dt (walked / asked = progress)
    fell: jax.Array  # [N] bool: the last step was a failure
    steps: jax.Array  # [N] int32 steps in the episode
    command_tracking: jax.Array  # [N] lin-vel tracking term summed since the command
    # was last sampled
    command_steps: jax.Array  # [N] int32 steps since the command was last sampled


@dataclass(frozen=True)
class Go1(Task):
    """The velocity-tracking task of either quadruped (`robot`; the name is Go1's, the
    robot it was first written for)."""

    name: str = "go1_flat"
    robot: str = "go1"  # a key of ROBOTS
    terrain: str = "flat"  # flat | rough | stairs
    terrain_seed: int = 0
    sim_dt: float = 0.005
    ctrl_dt: float = 0.02
    episode_length: int = 1000  # 20 s
    action_size: int = 12
    action_scale: float = 0.25
    # command ranges (low, high): vx, vy in m/s (body frame), yaw rate in rad/s
    command_low: tuple[float, float, float] = (-1.0, -1.0, -1.0)
    command_high: tuple[float, float, float] = (2.0, 1.0, 1.0)
    resample_commands_s: float = 10.0  # <= 0: one command per episode
    zero_command_below: float = 0.2  # planar commands slower than this become 0 (stand)
    # Command curriculum: a robot's command ranges start at 1/command_levels of the full
    # ranges and widen a step after each episode it tracked well (1: no curriculum).
    command_levels: int = 4
    # Terrain curriculum (rough, stairs): see the module docstring. `initial_levels`
    # gives the first episode's levels, cycled over the envs (empty: all on level 0);
    # `terrain_curriculum=False` keeps every robot on the level it starts on.
    terrain_curriculum: bool = True
    promote: float = 0.8
    demote: float = 0.4
    initial_levels: tuple[int, ...] = ()
    max_tilt: float = 1.0  # rad; tilting further terminates
    # feet: only the feet collide, the base height stands in for trunk contact (fewer
    # contacts: MJX 4 instead of 12 per world, 40 constraint rows instead of 72);
    # full: trunk box and knee spheres collide too, trunk contact terminates
    collision: str = "feet"
    min_base_height: float = 0.12  # m above the ground (feet collision); stands at 0.27
    mujoco_solver: SolverOptions = LEAN_SOLVER
    # MotrixSim's solver budget: fewer iterations than its default 100 (issue 45)
    motrixsim_solver: legged.MotrixSimSolver = legged.MOTRIXSIM_SOLVER
    feet_air_time_target: float = 0.5  # s, legged-gym style touchdown bonus threshold
    reset_joint_noise: float = 0.05
    spawn_height: float = 0.4  # m above the ground under the spawn point
    # Domain randomisation (host backends: MotrixSim, MuJoCo C): per-world floor/foot
    # friction x0.5-1.25, link masses x0.9-1.1, trunk centre of mass +-2 cm, kp and kd
    # x0.9-1.1, drawn once.
    domain_randomization: bool = False
    # The critic's own observation (`critic_observe`): off until a learning benchmark
    # shows it helps (issue 20)
    privileged_critic: bool = False
    reward_scales: dict[str, float] = field(default_factory=default_reward_scales)

    def __post_init__(self):
        legged.check_collision(self.collision)
        legged.check_choice("terrain", self.terrain, TERRAINS)
        legged.check_choice("robot", self.robot, tuple(ROBOTS))

    @property
    def spec(self) -> Quadruped:
        """The robot's description."""
        return ROBOTS[self.robot]

    @property
    def randomization(self) -> Randomization | None:
        if not self.domain_randomization:
            return None
        return Randomization(friction=(0.5, 1.25), mass=(0.9, 1.1), com_body=self.spec.base,
                             com_offset=0.02, kp=(0.9, 1.1), kd=(0.9, 1.1),
                             seed=self.terrain_seed)

    @property
    def foot_contact_obs(self) -> bool:
        return self.terrain == "stairs"

    @property
    def obs_size(self) -> int:
        scan = 0 if self.terrain_map is None else len(SCAN_POINTS)
        return 48 + 12 * self.foot_contact_obs + scan

    @property
    def critic_obs_size(self) -> int | None:
        return self.obs_size + PRIVILEGED_SIZE if self.privileged_critic else None

    @property
    def contact_pairs(self) -> tuple[tuple[str, str], ...]:
        feet = tuple(("floor", foot) for foot in self.spec.feet)
        return feet + (("floor", self.spec.base),) if self.collision == "full" else feet

    @property
    def terrain_map(self) -> terrain_lib.Terrain | None:
        if self.terrain == "flat":
            return None
        return _terrain(self.terrain, self.terrain_seed)

    def mjcf(self) -> str:
        return scene_xml(self.terrain_map, self.collision, self.spec)

    def export_metadata(self) -> dict:
        """What a robot-side program needs beyond the policy (export.py writes it)."""
        spec = self.spec
        meta = {"joint_order": JOINT_ORDER, "default_joint_pos": list(spec.default_pose),
                "joint_target": f"default_joint_pos + {self.action_scale} * action",
                "pd_gains": {"kp": spec.kp, "kd": spec.kd},
                "torque_limits": list(spec.torque_limits)}
        if self.robot != "go1":  # Go1's metadata stays as it was exported before
            meta |= {"robot": self.robot, "velocity_limits": list(spec.velocity_limits)}
        return meta

    # --- episodes -----------------------------------------------------------------

    def initial_info(self, n: int) -> Go1Info:
        return Go1Info(
            command=jnp.zeros((n, 3)), last_action=jnp.zeros((n, 12)),
            last_qvel=jnp.zeros((n, 12)), air_time=jnp.zeros((n, 4)),
            ground_time=jnp.zeros((n, 4)), last_contact=jnp.zeros((n, 4)),
            level=first_levels(self.initial_levels, n, self.num_terrain_levels),
            command_level=jnp.zeros((n,), jnp.int32),
            walked=jnp.zeros((n,)), asked=jnp.zeros((n,)), fell=jnp.zeros((n,), bool),
            steps=jnp.zeros((n,), jnp.int32),
            command_tracking=jnp.zeros((n,)), command_steps=jnp.zeros((n,), jnp.int32))

    def reset(self, key: jax.Array, n: int, info: Go1Info):
        key_xy, key_yaw, key_q, key_cmd = jax.random.split(key, 4)
        level = info.level
        if self.terrain_curriculum:
            level = terrain_level(info, self.promote, self.demote, self.num_terrain_levels)
        command_level = next_level(info.command_level, info.command_tracking,
                                   info.command_steps, self.command_levels)
        field_ = self.terrain_map
        if field_ is None:
            xy = jnp.zeros((n, 2))
            ground = jnp.zeros((n,))
            yaw = jax.random.uniform(key_yaw, (n,), minval=-math.pi, maxval=math.pi)
        else:
            xy, ground = field_.spawn(key_xy, level)
            # stairs climb along +x: face up the stairs; rough: any heading
            yaw = jnp.zeros((n,)) if self.terrain == "stairs" else jax.random.uniform(
                key_yaw, (n,), minval=-math.pi, maxval=math.pi)
        qpos, qvel = legged.standing_state(key_q, xy, ground, self.spawn_height, yaw,
                                           self.spec.default_pose, self.reset_joint_noise)
        fresh = self.initial_info(n)
        command = self.sample_command(key_cmd, command_level)
        return qpos, qvel, fresh.replace(command=command, level=level,
                                         command_level=command_level)

    @property
    def num_terrain_levels(self) -> int:
        field_ = self.terrain_map
        return 1 if field_ is None else field_.num_levels

    def sample_command(self, key: jax.Array, command_level: jax.Array) -> jax.Array:
        """Commands [N, 3] uniform in the ranges scaled by (command_level + 1) / levels."""
        n = command_level.shape[0]
        low, high = jnp.asarray(self.command_low), jnp.asarray(self.command_high)
        if self.terrain == "stairs":  # forward only, up the stairs
            low, high = jnp.array([0.3, 0.0, 0.0]), jnp.array([1.0, 0.0, 0.0])
        scale = ((command_level + 1) / self.command_levels)[:, None]
        cmd = jax.random.uniform(key, (n, 3), minval=low * scale, maxval=high * scale)
        small = jnp.linalg.norm(cmd[:, :2], axis=-1) < self.zero_command_below
        return cmd.at[:, :2].set(jnp.where(small[:, None], 0.0, cmd[:, :2]))

    # --- physics view -> quantities -----------------------------------------------

    def base(self, view: PhysicsView):
        """(body-frame linear velocity, gyro, gravity direction in the body frame)."""
        return legged.base_state(view)

    def observe(self, view: PhysicsView, info: Go1Info) -> jax.Array:
        parts = [legged.proprioception(view, self.spec.default_pose, info.last_action,
                                       info.command)]
        if self.foot_contact_obs:
            parts += [view.contacts[:, :4], info.air_time, info.ground_time]
        if self.terrain_map is not None:
            parts.append(self.height_scan(view))
        return jnp.concatenate(parts, -1)

    @property
    def student_obs_size(self) -> int:
        return 48 + 12 * self.foot_contact_obs

    def student_observe(self, view: PhysicsView, info: Go1Info) -> jax.Array:
        """A distilled student's observation (`--distill-from`): the policy's without the
        height scan, what a blind real Go1 measures [N, 48 (+12 on stairs)]."""
        parts = [legged.proprioception(view, DEFAULT_POSE, info.last_action, info.command)]
        if self.foot_contact_obs:
            parts += [view.contacts[:, :4], info.air_time, info.ground_time]
        return jnp.concatenate(parts, -1)

    def critic_observe(self, view: PhysicsView, info: Go1Info) -> jax.Array | None:
        """With `privileged_critic`, the critic's observation [N, obs_size + 25]: the
        policy's, then what a real robot does not measure: each foot's contact flag, air time
        and time on the ground (12), the base's height above the ground under it minus the
        robot's standing height (Go1 0.27 m, Go2 0.26 m; 1) and the PD torques of the last
        action over the torque limits (12). None otherwise (the critic reads the policy's observation)."""
        if not self.privileged_critic:
            return None
        torques = self.torques(view, self.ctrl(info.last_action, info))
        height = view.qpos[:, 2] - self.ground_under(view) - self.spec.standing_height
        return jnp.concatenate([
            self.observe(view, info), view.contacts[:, :4], info.air_time, info.ground_time,
            height[:, None], torques / jnp.asarray(self.spec.torque_limits)], -1)

    def mirrors(self) -> Mirrors:
        """Left-right: the legs FR <-> FL and RR <-> RL trade places with their abduction
        angles flipped; the lateral velocity and gravity, the roll and yaw rates and the vy
        and yaw-rate commands flip; foot values swap with their legs; the height scan's
        columns (across the trunk) reverse."""
        feet = legged.FEET_MIRROR + legged.FEET_MIRROR + legged.FEET_MIRROR  # contacts,
        obs = legged.PROPRIOCEPTION_MIRROR  # air times and ground times of the four feet
        if self.foot_contact_obs:
            obs = obs + feet
        if self.terrain_map is not None:
            obs = obs + symmetry.grid(*SCAN_SHAPE)
        critic = None
        if self.privileged_critic:  # the feet's values, base height, torques
            critic = obs + feet + symmetry.keep(1) + legged.JOINTS_MIRROR
        return Mirrors(obs=obs, action=legged.JOINTS_MIRROR, critic_obs=critic)

    def video_marks(self, view: PhysicsView, info: Go1Info) -> dict[str, jax.Array]:
        return legged.velocity_marks(view, info.command)

    def height_scan(self, view: PhysicsView) -> jax.Array:
        """The trunk's height above the ground at `SCAN_POINTS` around it [N, 77], minus
        `SCAN_HEIGHT` (0.3 m), clipped to +-1 m."""
        ground = self.terrain_map.scan(view.qpos[:, :2], legged.yaw_of(view.qpos[:, 3:7]),
                                       jnp.asarray(SCAN_POINTS))
        return jnp.clip(view.qpos[:, 2:3] - SCAN_HEIGHT - ground, -1.0, 1.0)

    def ctrl(self, action: jax.Array, info: Go1Info) -> jax.Array:
        return legged.position_targets(self.spec.default_pose, self.action_scale, action)

    def torques(self, view: PhysicsView, ctrl: jax.Array) -> jax.Array:
        """The PD torques the actuators apply for `ctrl` at this state [N, 12]."""
        spec = self.spec
        return legged.pd_torques(view, ctrl, spec.kp, spec.kd, spec.torque_limits)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: Go1Info, action: jax.Array):
        lin_vel, gyro, gravity = self.base(view)
        contact = view.contacts[:, :4] > 0.5
        qvel_joints = view.qvel[:, 6:]
        # A touchdown ends a swing: reward swings longer than the target (legged-gym
        # style). The air time is read *before* it is cleared by the contact.
        touchdown = contact & (info.last_contact < 0.5)
        moving = jnp.linalg.norm(info.command[:, :2], axis=-1) > 0.1
        terms = {
            **legged.velocity_tracking(info.command, lin_vel, gyro),
            **legged.smoothness_terms(view, lin_vel, gyro, action, info.last_action,
                                      info.last_qvel, self.torques(view, self.ctrl(action, info)),
                                      self.ctrl_dt),
            "hip_pos": jnp.sum((view.qpos[:, 7::3]
                                - jnp.asarray(self.spec.default_pose[::3])) ** 2, -1),
            "feet_air_time": moving * jnp.sum(
                (info.air_time + self.ctrl_dt - self.feet_air_time_target) * touchdown, -1),
        }
        failed = self.trunk_down(view) | legged.tilted(gravity, self.max_tilt)

        dt = self.ctrl_dt
        steps = info.steps + 1
        command_tracking = info.command_tracking + terms["tracking_lin_vel"]
        command_steps = info.command_steps + 1
        command, command_level = info.command, info.command_level
        if self.resample_commands_s > 0:
            # a new command; the command curriculum steps on how the last one was tracked
            resample = steps % round(self.resample_commands_s / dt) == 0
            stepped = next_level(command_level, command_tracking, command_steps,
                                 self.command_levels)
            command_level = jnp.where(resample, stepped, command_level)
            command = jnp.where(resample[:, None], self.sample_command(key, command_level),
                                command)
            command_tracking = jnp.where(resample, 0.0, command_tracking)
            command_steps = jnp.where(resample, 0, command_steps)
        if self.terrain == "stairs":
            command = command.at[:, 2].set(self.heading_hold(view))
        info = info.replace(
            command=command, command_level=command_level, last_action=action,
            last_qvel=qvel_joints, air_time=jnp.where(contact, 0.0, info.air_time + dt),
            ground_time=jnp.where(contact, info.ground_time + dt, 0.0),
            last_contact=contact.astype(jnp.float32),
            steps=steps, command_tracking=command_tracking, command_steps=command_steps,
            **self._terrain_progress(view, info, lin_vel, failed))
        return terms, failed, info

    def _terrain_progress(self, view: PhysicsView, info: Go1Info, lin_vel: jax.Array,
                          failed: jax.Array) -> dict:
        """The curriculum's per-step bookkeeping: the level under the robot, the distance
        walked along the command and the distance asked for."""
        field_ = self.terrain_map
        level = info.level if field_ is None else field_.level_at(view.qpos[:, :2])
        cmd = info.command[:, :2]
        return {"level": level, "fell": failed,
                "walked": info.walked + jnp.sum(lin_vel[:, :2] * cmd, -1) * self.ctrl_dt,
                "asked": info.asked + jnp.sum(cmd ** 2, -1) * self.ctrl_dt}

    def heading_hold(self, view: PhysicsView) -> jax.Array:
        """Stairs: the yaw-rate command [N] that turns the robot back to facing up the
        stairs (+x), legged_gym's heading command. Without it a policy learned to turn
        and walk along the flat first landing, across the strips, instead of climbing
        (seed 0, 38 min: 0 % climbed, tracking 0.96)."""
        return jnp.clip(-legged.wrap_angle(legged.yaw_of(view.qpos[:, 3:7])), -1.0, 1.0)

    def trunk_down(self, view: PhysicsView) -> jax.Array:
        """[N] bool: the trunk touches the ground (collision="full"), or with feet-only
        collisions is less than `min_base_height` above the ground under it."""
        if self.collision == "full":
            return view.contacts[:, 4] > 0.5
        return legged.base_low(view, self.ground_under(view), self.min_base_height)

    def ground_under(self, view: PhysicsView) -> jax.Array:
        """[N] the terrain's height under the base."""
        field_ = self.terrain_map
        return (jnp.zeros(view.qpos.shape[:1]) if field_ is None
                else field_.grid.ground(view.qpos[:, :2]))

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        total = sum(self.reward_scales[k] * terms[k] for k in self.reward_scales)
        return jnp.where(failed, 0.0, jnp.maximum(total, 0.0))

    def metrics(self, info: Go1Info) -> dict[str, jax.Array]:
        """Mean terrain and command levels and, on terrain, the share of robots on each
        level (`terrain_level_k`: the level distribution)."""
        out = {"terrain_level": info.level.astype(jnp.float32),
               "command_level": info.command_level.astype(jnp.float32)}
        if self.terrain_map is not None:
            out |= {f"terrain_level_{k}": (info.level == k).astype(jnp.float32)
                    for k in range(self.num_terrain_levels)}
        return out


def terrain_level(info: Go1Info, promote: float, demote: float, num_levels: int):
    """Next episode's level [N] from the ended one's `info`: a level up from the level
    under the robot after a walk without a fall of >= `promote` of the distance asked
    for, a level down after a fall or < `demote` of it (no step in an episode that asked
    for no distance and did not fall)."""
    progress = info.walked / jnp.maximum(info.asked, 1e-6)
    asked = info.asked > 1e-6
    up = ~info.fell & asked & (progress >= promote)
    down = info.fell | (asked & (progress < demote))
    step = jnp.where(up, 1, jnp.where(down, -1, 0))
    return jnp.clip(info.level + jnp.where(info.steps > 0, step, 0), 0, num_levels - 1)


def first_levels(initial_levels: tuple[int, ...], n: int, num_levels: int) -> jax.Array:
    """The terrain level [N] of each env's first episode: `initial_levels` repeated over
    the envs (clipped to the terrain's levels), or level 0 when there are none."""
    if not initial_levels:
        return jnp.zeros((n,), jnp.int32)
    levels = jnp.asarray(initial_levels, jnp.int32)
    return jnp.clip(jnp.resize(levels, (n,)), 0, num_levels - 1)


def next_level(level: jax.Array, tracking: jax.Array, steps: jax.Array,
               num_levels: int) -> jax.Array:
    """Curriculum step [N]: a robot whose mean lin-vel tracking term over `steps` exceeded
    0.8 moves a level up (wider commands), one below 0.5 a level down."""
    mean_tracking = tracking / jnp.maximum(steps, 1)
    step = jnp.where(mean_tracking > 0.8, 1, jnp.where(mean_tracking < 0.5, -1, 0))
    return jnp.clip(level + jnp.where(steps > 0, step, 0), 0, num_levels - 1)


def scene_xml(terrain: terrain_lib.Terrain | None, collision: str = "feet",
              robot: Quadruped = GO1) -> str:
    """The robot's MJCF on `terrain` (a heightfield floor, or boxes on the floor plane)
    when given; with `collision="feet"` only the feet collide."""
    heightfield, boxes = (None, ()) if terrain is None else terrain.mjcf()
    return legged.scene_xml(robot.xml_path, heightfield, extra_geoms=boxes,
                            colliding=robot.feet if collision == "feet" else None)


@functools.cache
def _terrain(kind: str, seed: int) -> terrain_lib.Heightfield:
    """Deterministic per (kind, seed); cached so the task's properties don't regenerate it."""
    make = {"rough": terrain_lib.rough, "stairs": terrain_lib.stairs}[kind]
    return make(np.random.default_rng(seed))


def registered_task(name: str, terrain: str, robot: str = "go1", collision: str = "feet"):
    """A builder of the registered task `name`: `robot` on `terrain`. On terrain the first
    episodes start spread over levels 0-4 (legged_gym starts its robots on levels up to 5
    of 10), so the curriculum need not climb from 0 alone."""
    initial_levels = () if terrain == "flat" else (0, 1, 2, 3, 4)
    return functools.partial(Go1, name=name, robot=robot, terrain=terrain,
                             collision=collision, initial_levels=initial_levels)


def walking(minutes: float, what: str = "walking on the full command ranges",
            *more: Check) -> Target:
    """Velocity tracking met: episodes run >= 90 % of their length, lin-vel tracking >= 0.7."""
    return Target(what, (at_least("episode length / maximum", "train/length_frac", 0.9),
                         at_least("lin-vel tracking", "eval/reward_terms/tracking_lin_vel",
                                  0.7), *more), minutes=minutes)


def climbing(minutes: float) -> Target:
    """The terrain curriculum met: mean level >= 3 of 9, <= 20 % of the robots falling."""
    return Target("terrain level >= 3 of 9, >= 80 % not falling",
                  (at_least("mean terrain level", "terrain/trained_level_mean", 3.0),
                   at_most("robots that fell", "terrain/fell", 0.2)), minutes=minutes)


ENVS = [
    EnvSpec("go1_flat", registered_task("go1_flat", "flat"), go1_preset(), walking(45),
            aliases=("go1-flat-terrain-walk",),
            summary="Unitree Go1 tracks velocity commands on flat ground"),
    EnvSpec("go1_rough", registered_task("go1_rough", "rough"),
            go1_preset(max_env_steps=20_000_000), climbing(60),
            aliases=("go1-rough-terrain-walk",),
            summary="Go1 velocity tracking on generated rough terrain, with a curriculum"),
    # stair edges must not pass through the shins: trunk and knees collide too
    EnvSpec("go1_stairs", registered_task("go1_stairs", "stairs", collision="full"),
            go1_preset(max_env_steps=20_000_000),
            Target(">= 50 % climb a flight of 10 cm risers",
                   (at_least("robots that climbed", "terrain/climbed", 0.5),), minutes=60),
            aliases=("go1-stairs-terrain-walk",),
            summary="Go1 climbs generated stairs (foot contacts observed)"),
    # Go2 runs Go1's task with its own robot description (Quadruped). MotrixLab registers
    # go2-flat-terrain-walk; go2-rough-terrain-walk is named after Go1's by analogy.
    # Issue 41's budgets: go2_flat walks within 15 minutes; go2_rough gets go1_rough's
    # hour (the same task, preset and terrain).
    EnvSpec("go2_flat", registered_task("go2_flat", "flat", robot="go2"), go2_preset(),
            walking(15), aliases=("go2-flat-terrain-walk",),
            summary="Unitree Go2 tracks velocity commands on flat ground"),
    EnvSpec("go2_rough", registered_task("go2_rough", "rough", robot="go2"),
            go2_preset(max_env_steps=20_000_000), climbing(60),
            aliases=("go2-rough-terrain-walk",),
            summary="Go2 velocity tracking on generated rough terrain, with a curriculum"),
]
