"""Franka Panda manipulation: lift a cube to a target (`franka_lift_cube`).

Scene: our Panda model (envs/panda.py) stands at the world origin on a table whose top
is z = 0 (x -0.1..1.1, y -0.6..0.6 m); a 4 cm, 100 g cube rests in front of it.

Observation (36): arm and finger positions - home (9), their velocities (9), the cube's
position and xyzw quaternion (7), the target position (3) and the last action (8).
Action (8): arm joint targets home + action_scale * a[:7] (clipped to the joint limits,
tracked by stiff position actuators) and a binary gripper command: a[7] > 0 opens both
fingers, otherwise they close (each finger's actuator force is limited to 20 N).
With `privileged_critic` the value network also sees the TCP and the cube's offset from it,
the cube's velocity, the pad contacts and the penalties' growth (`critic_observe`).
Reward terms (unscaled; `reward_scales` holds the weights, MotrixLab's/Isaac Lab's):
- reach = 1 - tanh(|tcp - cube| / reach_std) (0.2 m; 0.1 in MotrixLab, whose gradient
  vanished at our start distances, ~0.2-0.35 m)
- lift = 1 when the cube's centre is above `lift_height` (2 cm off the table)
- track = lift * (1 - tanh(|cube - target| / 0.3)), track_fine the same with 0.05
- action_rate = |a - a_prev|^2 and joint_vel = |qvel of the 9 robot joints|^2, each
  multiplied by `penalty_growth`: 1 for the first `penalty_warmup` steps of training,
  then rising linearly to `penalty_final` over the next `penalty_warmup` steps, so the
  smoothness penalties only bite once the policy has found the cube.
Terminated when the cube falls off the table or a joint speed exceeds `max_joint_speed`
(an exploding simulation); truncated after 250 control steps of 10 ms.

Success measures (`metrics`, logged as task/<name>): `reached` / `lifted` (now),
`grasped` (both pads touch the cube), and, for each env's last finished episode,
`episode_reached` (the TCP came within `reach_radius` of the cube), `episode_lifted`
and `episode_max_height` (highest cube centre above its resting height, m).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from flax import struct

from motrix_jax.env import PhysicsView, scaled_sum
from motrix_jax.envs import panda
from motrix_jax.envs.presets import franka_preset
from motrix_jax.envs.spec import EnvSpec, Target, at_least
from motrix_jax.task import Task

CUBE_HALF = 0.02  # m
PRIVILEGED_SIZE = 15  # what critic_observe adds to the policy's observation
CUBE_MASS = 0.1  # kg
TABLE_X, TABLE_Y = (-0.1, 1.1), (-0.6, 0.6)
# The arm's home pose for lifting: the hand points down with the TCP 0.25 m above the
# table at x = 0.45 m, close enough to the cube for the reach term to have a gradient
# (from the Panda's 'ready' pose, 0.49 m from the cube, it had none: measured 2.6e-4).
LIFT_HOME = (0.0, -0.185, 0.0, -2.497, 0.0, 2.312, 0.785)


def lift_scene_xml() -> str:
    """The MJCF of the lift-cube scene: table, Panda, free cube."""
    inertia = CUBE_MASS * (2 * CUBE_HALF) ** 2 / 6
    cx, cy = sum(TABLE_X) / 2, sum(TABLE_Y) / 2
    sx, sy = (TABLE_X[1] - TABLE_X[0]) / 2, (TABLE_Y[1] - TABLE_Y[0]) / 2
    return f"""<mujoco model="franka_lift_cube">
<compiler angle="radian"/>
<option timestep="0.01" gravity="0 0 -9.81"/>
{panda.defaults_xml()}
<worldbody>
  <geom name="table" type="box" pos="{cx} {cy} -0.02" size="{sx} {sy} 0.02" contype="1"
        conaffinity="1" rgba="0.6 0.45 0.3 1"/>
  {panda.robot_xml()}
  <body name="cube" pos="0.5 0 {CUBE_HALF}">
    <freejoint name="cube"/>
    <inertial pos="0 0 0" mass="{CUBE_MASS}" diaginertia="{inertia} {inertia} {inertia}"/>
    <geom name="cube" type="box" size="{CUBE_HALF} {CUBE_HALF} {CUBE_HALF}"
          friction="1 0.01 0.001" contype="1" conaffinity="1" rgba="0.8 0.2 0.2 1"/>
  </body>
</worldbody>
{panda.actuators_xml()}
</mujoco>"""


def default_lift_scales() -> dict[str, float]:
    return {"reach": 1.0, "lift": 15.0, "track": 16.0, "track_fine": 5.0,
            "action_rate": -1e-4, "joint_vel": -1e-4}


def penalty_growth(train_steps: jax.Array, warmup: int, final: float) -> jax.Array:
    """Multiplier [N] of the smoothness penalties: 1 until `warmup` control steps of
    training, then linear up to `final` at 2 * warmup, constant after."""
    ramp = jnp.clip((train_steps - warmup) / max(warmup, 1), 0.0, 1.0)
    return 1.0 + (final - 1.0) * ramp


def arm_ctrl(action: jax.Array, home: tuple[float, ...], action_scale: float) -> jax.Array:
    """Actuator targets [N, 9] for actions [N, 8]: 7 joint targets about `home`, then the
    two fingers, both open when action[:, 7] > 0 and closed otherwise."""
    low, high = jnp.asarray(panda.JOINT_LOW), jnp.asarray(panda.JOINT_HIGH)
    arm = jnp.clip(jnp.asarray(home) + action_scale * action[:, :7], low, high)
    finger = jnp.where(action[:, 7:8] > 0.0, panda.FINGER_OPEN, 0.0)
    return jnp.concatenate([arm, finger, finger], -1)


@struct.dataclass
class LiftInfo:
    target: jax.Array  # [N, 3] where the cube should be carried (world frame)
    last_action: jax.Array  # [N, 8]
    train_steps: jax.Array  # [N] int32 control steps since training began (kept on reset)
    reached: jax.Array  # [N] float: the TCP within reach_radius of the cube
    lifted: jax.Array  # [N] float: the cube's centre above lift_height
    grasped: jax.Array  # [N] float: both finger pads touch the cube
    ever_reached: jax.Array  # [N] float: this episode
    ever_lifted: jax.Array  # [N] float: this episode
    max_height: jax.Array  # [N] this episode's highest cube centre above rest, m
    episode_reached: jax.Array  # [N] float: ever_reached of the last finished episode
    episode_lifted: jax.Array  # [N]
    episode_max_height: jax.Array  # [N]


@dataclass(frozen=True)
class FrankaLiftCube(Task):
    name: str = "franka_lift_cube"
    sim_dt: float = 0.01
    ctrl_dt: float = 0.01
    obs_size: int = 36
    action_size: int = 8
    episode_length: int = 250
    home: tuple[float, ...] = LIFT_HOME  # arm joints (rad)
    action_scale: float = 0.5  # rad per unit action about the home pose
    joint_noise: float = 0.05  # rad, uniform, on the arm's home pose at reset
    cube_x: tuple[float, float] = (0.4, 0.6)
    cube_y: tuple[float, float] = (-0.25, 0.25)
    target_low: tuple[float, float, float] = (0.4, -0.25, 0.25)
    target_high: tuple[float, float, float] = (0.6, 0.25, 0.5)
    reach_std: float = 0.2  # m, tanh width of the reach term (MotrixLab 0.1: see above)
    reach_radius: float = 0.02  # m: the TCP this close to the cube counts as reached
    lift_height: float = CUBE_HALF + 0.02  # cube centre z above which it counts as lifted
    track_std: float = 0.3
    track_fine_std: float = 0.05
    penalty_warmup: int = 10_000  # control steps per env (MotrixLab: 10k)
    penalty_final: float = 1000.0  # -1e-4 -> -1e-1, as MotrixLab
    max_joint_speed: float = 20.0  # rad/s: an explosion (the Panda is rated 2.2-2.6; random
    # actions reach ~11)
    reward_scales: dict[str, float] = field(default_factory=default_lift_scales)
    contact_pairs: tuple[tuple[str, str], ...] = (("left_pad", "cube"), ("right_pad", "cube"))
    # The critic's own observation (`critic_observe`): off until a learning benchmark
    # shows it helps (issue 20)
    privileged_critic: bool = False

    def mjcf(self) -> str:
        return lift_scene_xml()

    @property
    def critic_obs_size(self) -> int | None:
        return self.obs_size + PRIVILEGED_SIZE if self.privileged_critic else None

    def critic_observe(self, view: PhysicsView, info: LiftInfo) -> jax.Array | None:
        """With `privileged_critic`, the critic's observation [N, 36 + 15]: the policy's,
        then what the reward is computed from but the policy must infer: the TCP position
        (3) and the cube's offset from it (3), the cube's linear and angular velocity (6),
        the two pads' contacts with the cube (2) and the smoothness penalties' current
        multiplier (`penalty_growth`, log10; 1): it grows 1000-fold during training, so
        without it the same state's value changes under the critic's feet. None otherwise."""
        if not self.privileged_critic:
            return None
        tcp = panda.tcp_position(view.qpos[:, :7])
        growth = penalty_growth(info.train_steps, self.penalty_warmup, self.penalty_final)
        return jnp.concatenate([
            self.observe(view, info), tcp, view.qpos[:, 9:12] - tcp, view.qvel[:, 9:15],
            view.contacts[:, :2], jnp.log10(growth)[:, None]], -1)

    def initial_info(self, n: int) -> LiftInfo:
        zeros = jnp.zeros((n,))
        return LiftInfo(target=jnp.zeros((n, 3)), last_action=jnp.zeros((n, 8)),
                        train_steps=jnp.zeros((n,), jnp.int32), reached=zeros,
                        lifted=zeros, grasped=zeros, ever_reached=zeros, ever_lifted=zeros,
                        max_height=zeros, episode_reached=zeros, episode_lifted=zeros,
                        episode_max_height=zeros)

    def reset(self, key: jax.Array, n: int, info: LiftInfo):
        key_q, key_x, key_y, key_t = jax.random.split(key, 4)
        arm = jnp.asarray(self.home) + jax.random.uniform(
            key_q, (n, 7), minval=-self.joint_noise, maxval=self.joint_noise)
        fingers = jnp.full((n, 2), panda.FINGER_OPEN)
        x = jax.random.uniform(key_x, (n, 1), minval=self.cube_x[0], maxval=self.cube_x[1])
        y = jax.random.uniform(key_y, (n, 1), minval=self.cube_y[0], maxval=self.cube_y[1])
        cube = jnp.concatenate([x, y, jnp.full((n, 1), CUBE_HALF), jnp.zeros((n, 3)),
                                jnp.ones((n, 1))], -1)  # quaternion xyzw
        target = jax.random.uniform(key_t, (n, 3), minval=jnp.asarray(self.target_low),
                                    maxval=jnp.asarray(self.target_high))
        qpos = jnp.concatenate([arm, fingers, cube], -1)
        fresh = self.initial_info(n).replace(
            target=target, train_steps=info.train_steps,
            episode_reached=info.ever_reached, episode_lifted=info.ever_lifted,
            episode_max_height=info.max_height)
        return qpos, jnp.zeros((n, 15)), fresh

    def observe(self, view: PhysicsView, info: LiftInfo) -> jax.Array:
        home = jnp.asarray((*self.home, panda.FINGER_OPEN, panda.FINGER_OPEN))
        return jnp.concatenate([view.qpos[:, :9] - home, view.qvel[:, :9],
                                view.qpos[:, 9:16], info.target, info.last_action], -1)

    def ctrl(self, action: jax.Array, info: LiftInfo) -> jax.Array:
        return arm_ctrl(action, self.home, self.action_scale)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: LiftInfo,
                 action: jax.Array):
        cube = view.qpos[:, 9:12]
        reach_distance = jnp.linalg.norm(panda.tcp_position(view.qpos[:, :7]) - cube, axis=-1)
        goal_distance = jnp.linalg.norm(info.target - cube, axis=-1)
        lifted = (cube[:, 2] > self.lift_height).astype(jnp.float32)
        growth = penalty_growth(info.train_steps, self.penalty_warmup, self.penalty_final)
        terms = {
            "reach": 1.0 - jnp.tanh(reach_distance / self.reach_std),
            "lift": lifted,
            "track": lifted * (1.0 - jnp.tanh(goal_distance / self.track_std)),
            "track_fine": lifted * (1.0 - jnp.tanh(goal_distance / self.track_fine_std)),
            "action_rate": growth * jnp.sum((action - info.last_action) ** 2, -1),
            "joint_vel": growth * jnp.sum(view.qvel[:, :9] ** 2, -1),
        }
        off_table = ((cube[:, 2] < -0.05) | (cube[:, 0] < TABLE_X[0]) | (cube[:, 0] > TABLE_X[1])
                     | (cube[:, 1] < TABLE_Y[0]) | (cube[:, 1] > TABLE_Y[1]))
        failed = off_table | (jnp.abs(view.qvel[:, :9]).max(-1) > self.max_joint_speed)
        reached = (reach_distance < self.reach_radius).astype(jnp.float32)
        info = info.replace(
            last_action=action, train_steps=info.train_steps + 1,
            reached=reached, lifted=lifted,
            grasped=(view.contacts > 0.5).all(-1).astype(jnp.float32),
            ever_reached=jnp.maximum(info.ever_reached, reached),
            ever_lifted=jnp.maximum(info.ever_lifted, lifted),
            max_height=jnp.maximum(info.max_height, cube[:, 2] - CUBE_HALF))
        return terms, failed, info

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        return scaled_sum(terms, self.reward_scales)

    def metrics(self, info: LiftInfo) -> dict[str, jax.Array]:
        return {"reached": info.reached, "lifted": info.lifted, "grasped": info.grasped,
                "episode_reached": info.episode_reached,
                "episode_lifted": info.episode_lifted,
                "episode_max_height": info.episode_max_height}


def _cube_within_5cm(task: FrankaLiftCube, state) -> jax.Array:
    """[N] whether the cube is within 5 cm of its target: the suite's measure."""
    return jnp.linalg.norm(state.info.target - state.physics.qpos[:, 9:12], axis=-1) < 0.05


ENVS = [
    EnvSpec("franka_lift_cube", FrankaLiftCube, franka_preset,
            Target("the cube at the target within 5 cm",
                   (at_least("envs with the cube there at the end", "eval/measure_final",
                             0.8),), measure=_cube_within_5cm, minutes=30),
            aliases=("franka-lift-cube",),
            summary="Franka Panda grasps a cube and lifts it to a target"),
]
