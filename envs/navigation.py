"""Point-goal navigation for legged robots (VBot, ANYmal C): walk to a target position and
heading, through a course's waypoints where there is one, then stop there.

One task for every robot and course. `Robot` holds what differs between robots (MJCF,
default pose, PD gains, action scale and filter); `courses.Course` holds an obstacle
course (ground, obstacles, waypoints, spawn region, bounds); without a course the ground
is flat and each episode draws its own spawn pose and target.

Observation (54): base linear velocity in the body frame x2, gyro x0.25, gravity in the
body frame, joint angles - q0, joint velocities x0.05, last action, the velocity command
the task derives x(2, 2, 0.25), position error to the current waypoint in the body frame
(scaled to norm <= 1), heading error to the goal heading / pi, distance to the current
waypoint clipped at 5 m / 5, reached flag (within `reach_radius` of the goal) and
stop-ready flag (reached and facing the goal heading within `heading_tolerance`).
With `privileged_critic` the value network also sees the action filter's state, the foot
contacts, the PD torques, the base height and the distance left along the waypoints
(`critic_observe`); the policy's input is unchanged.
On the MotrixArena course (sections 011, 012, 013 and the whole course 002;
docs/motrixarena.md) episodes start on the section's start platform, follow a route of
`arena_routes` (the column nearest the start; the lane of `lane`), and keep the
competition's score (`arena_score`): logged as `score`, `score_<item>`, and the goal
reached without a fall as `episode_reached`; the balls' state follows the robot's in
qpos/qvel (the task reads the robot's alone), the base touching any course geom is a
fall and a ball touching any robot geom is recorded. With `course_spawns` a share of the
training episodes starts at a waypoint of its route instead (a curriculum over the
course; the score voids that section, as the rules void a non-random start).
Derived command: walk toward the current waypoint at min(max_speed, distance) m/s
(max_speed 0.6 m/s: at rest the lin-vel tracking term still pays exp(-0.36 / 0.25)), turn
to face the way to go (the goal heading within 0.5 m of the goal); zero on the goal.
Action (12): joint targets q0 + action_scale * a_f with a_f the low-pass filtered action
a_f <- a_f + action_filter * (a - a_f) (VBot: 0.25 and 0.5; ANYmal C: 0.06, no filter),
tracked by the engine's PD at every substep.
Reward: the terms of `reward_scales`, unscaled in `evaluate`, summed with the scales
(not clipped): velocity tracking, approach progress (m/s toward the current waypoint),
a stop bonus on the goal, one-time checkpoint and arrival bonuses, posture and
smoothness penalties, and a termination penalty. Terminated on a fall (tilt past 75
degrees; the base on the ground, or with `collision="feet"`, the flat-ground default
where only the feet collide, the base lower than the robot's `min_base_height`), joint
velocities past `max_joint_vel`, or leaving the course; truncated at the episode length.
Courses keep `collision="full"` (base and knees collide): their walls, bridge and balls
must stop the robot. The MuJoCo engines (MJX, MuJoCo C) solve with `mujoco_solver`;
MotrixSim with its own solver.
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
from motrix_jax.envs import arena_routes, arena_score, courses, legged
from motrix_jax.envs.presets import arena_preset, navigation_preset
from motrix_jax.envs.spec import EnvSpec, Target, at_least
from motrix_jax.symmetry import Mirrors
from motrix_jax.task import Task

ASSETS = Path(__file__).parent / "assets"
PRIVILEGED_SIZE = 30  # what critic_observe adds to the policy's observation
ARENA = ("section011", "section012", "section013", "section002")  # the MotrixArena course
LANE_CHOICES = ("riverbed", "bridge", "draw")
ROBOT_NQ, ROBOT_NV = 19, 18  # the robot's qpos and qvel come first; balls follow


@dataclass(frozen=True)
class Robot:
    """What differs between legged robots; the rest is in `legged`."""

    xml: str  # file in envs/assets
    default_pose: tuple[float, ...]  # q0, 12 joints
    action_scale: float  # rad per unit action
    action_filter: float  # a_f <- a_f + action_filter * (a - a_f); 1.0: no filter
    kp: float
    kd: float
    torque_limits: tuple[float, ...]
    spawn_height: float  # base height above the ground when spawned (a short drop)
    feet: tuple[str, ...]  # foot geoms: the only ones colliding with collision="feet"
    min_base_height: float  # m; a lower base counts as on the ground (collision="feet")
    max_speed: float = 0.6  # m/s, the derived command's top speed
    max_joint_vel: float = 60.0  # rad/s; faster joints terminate (exploding physics)
    body_geoms: tuple[str, ...] = ()  # every geom of the robot (a ball may touch any)


VBOT = Robot(xml="vbot.xml", default_pose=(0.0, 0.9, -1.8) * 4, action_scale=0.25,
             action_filter=0.5, kp=60.0, kd=0.8, torque_limits=(17.0, 17.0, 34.0) * 4,
             spawn_height=0.28, feet=("FR_foot", "FL_foot", "RR_foot", "RL_foot"),
             min_base_height=0.1,
             body_geoms=("base", *(f"{leg}_{part}" for leg in ("FR", "FL", "RR", "RL")
                                   for part in ("thigh", "knee", "calf", "foot"))))  # stands at 0.24, base box 0.06 m below its centre
ANYMAL_C = Robot(xml="anymal_c.xml",
                 default_pose=(0.0, 0.4, -0.8) * 2 + (0.0, -0.4, 0.8) * 2,
                 action_scale=0.06, action_filter=1.0, kp=200.0, kd=1.0,
                 torque_limits=(140.0,) * 12, spawn_height=0.62,
                 feet=("LF_foot", "RF_foot", "LH_foot", "RH_foot"),
                 min_base_height=0.25)  # stands at 0.60, base box 0.10 m below its centre
ROBOTS = {"vbot": VBOT, "anymal_c": ANYMAL_C}


def default_reward_scales() -> dict[str, float]:
    return {"tracking_lin_vel": 1.0, "tracking_ang_vel": 0.5, "approach": 1.0, "stop": 2.0,
            "arrival": 10.0, "checkpoint": 5.0, "orientation": -1.0, "lin_vel_z": -2.0,
            "ang_vel_xy": -0.05, "torques": -1e-5, "dof_acc": -2.5e-7,
            "action_rate": -0.01, "termination": -10.0}


@struct.dataclass
class NavInfo:
    waypoints: jax.Array  # [N, K, 2] world xy; the last one is the goal
    goal_heading: jax.Array  # [N] rad
    index: jax.Array  # [N] int32 current waypoint
    command: jax.Array  # [N, 3] derived vx, vy (body frame), yaw rate
    distance: jax.Array  # [N] to the current waypoint, after the last step
    arrived: jax.Array  # [N] float 1.0 once the goal was reached this episode
    last_action: jax.Array  # [N, 12]
    filtered_action: jax.Array  # [N, 12]
    last_qvel: jax.Array  # [N, 12]
    episode_arrived: jax.Array  # [N] `arrived` of the last episode that ended
    episode_distance: jax.Array  # [N] its final distance to the goal
    episode_checkpoints: jax.Array  # [N] waypoints it passed (the goal included)
    route: jax.Array  # [N] int32: the arena route (arena_routes.routes) of the episode
    score: arena_score.ScoreState  # the competition's items earned this episode
    episode_points: jax.Array  # [N, items] arena_score.record of the last episode ended


@dataclass(frozen=True)
class Navigation(Task):
    name: str = "vbot_navigation_flat"
    robot: str = "vbot"  # a key of ROBOTS
    course: str = "flat"  # flat or a key of courses.COURSES
    course_seed: int = 0
    sim_dt: float = 0.005
    ctrl_dt: float = 0.02
    episode_length: int = 500  # control steps (10 s at 50 Hz on flat ground)
    action_size: int = 12
    obs_size: int = 54
    target_distance: tuple[float, float] = (1.0, 3.0)  # flat: metres from the spawn
    spawn_range: float = 2.0  # flat: spawn xy uniform in +- this
    reach_radius: float = 0.3  # m: the goal (or a waypoint) counts as reached inside it
    heading_tolerance: float = 0.3  # rad, for the stop-ready flag and bonus
    max_tilt: float = math.radians(75.0)
    reset_joint_noise: float = 0.05
    collision: str = "feet"  # feet (flat ground only) | full: base and knees collide too
    mujoco_solver: SolverOptions = LEAN_SOLVER
    # MotrixSim's solver budget: fewer iterations than its default 100 (issue 45)
    motrixsim_solver: legged.MotrixSimSolver = legged.MOTRIXSIM_SOLVER
    # The critic's own observation (`critic_observe`): off until a learning benchmark
    # shows it helps (issue 20)
    privileged_critic: bool = False
    # The share of episodes that start at a waypoint along the course (uniform among all
    # but the goal, facing the next one, which is their target) instead of at its start:
    # a curriculum over the course, so robots meet its later terrain before they can
    # cross all that comes first. Evaluations start every robot at the start
    # (envs.evaluation_changes); in training logs the episodes started along the course
    # count their checkpoints from the course's start.
    course_spawns: float = 0.0
    # the arena's section-2 lane: riverbed (the stones, 50 points), bridge (30 points) or
    # draw (each episode draws one, evenly)
    lane: str = "riverbed"
    # m/s, the derived command's top speed; 0: the robot's own (`Robot.max_speed`)
    command_speed: float = 0.0
    reward_scales: dict[str, float] = field(default_factory=default_reward_scales)

    def __post_init__(self):
        legged.check_collision(self.collision)
        legged.check_choice("robot", self.robot, tuple(ROBOTS))
        legged.check_choice("course", self.course, ("flat", *courses.COURSES))
        legged.check_choice("lane", self.lane, LANE_CHOICES)
        if not 0.0 <= self.course_spawns <= 1.0:
            raise ValueError(f"{self.name}: course_spawns is a share of episodes in "
                             f"[0, 1], got {self.course_spawns}")
        if self.course_spawns > 0 and self.num_waypoints < 2:
            raise ValueError(f"{self.name}: course_spawns needs a course of several "
                             f"waypoints; {self.course!r} has {self.num_waypoints}")
        if self.arena and not self.spec.body_geoms:
            raise ValueError(f"{self.name}: the arena course needs a robot whose geoms are "
                             f"named (vbot), got {self.robot!r}")
        if self.course != "flat" and self.collision != "full":
            raise ValueError(f"{self.name}: collision must be 'full' on a course (its "
                             f"walls and obstacles must stop the base), got "
                             f"{self.collision!r}")

    @property
    def spec(self) -> Robot:
        return ROBOTS[self.robot]

    @property
    def track(self) -> courses.Course | None:
        return None if self.course == "flat" else courses.build(self.course, self.course_seed)

    @property
    def arena(self) -> bool:
        """The MotrixArena course: routes per lane, the competition's score, balls."""
        return self.course in ARENA

    @property
    def num_waypoints(self) -> int:
        if self.arena:
            return arena_routes.routes(self.course)[0].shape[1]
        track = self.track
        return 1 if track is None else len(track.waypoints)

    @property
    def contact_pairs(self) -> tuple[tuple[str, str], ...]:
        """Feet on the ground (4), then the base on the ground (1); on the arena each
        foot and the base against every solid course geom (`contact_groups` says how
        many), then every ball against every robot geom."""
        if not self.arena:
            feet = tuple(("floor", foot) for foot in self.spec.feet)
            return feet + (("floor", "base"),) if self.collision == "full" else feet
        track = self.track
        solid = track.solid_geoms
        feet = tuple((foot, geom) for foot in self.spec.feet for geom in solid)
        return feet + track.base_contact_pairs() + track.ball_pairs(self.spec.body_geoms)

    def contact_groups(self, contacts: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(each foot down [N, 4], the base down [N], a ball touching the robot [N]) from
        the contact flags [N, P] of `contact_pairs` (floats 0/1)."""
        if not self.arena:
            base = contacts[:, 4] if self.collision == "full" else jnp.zeros_like(contacts[:, 0])
            return contacts[:, :4], base, jnp.zeros_like(contacts[:, 0])
        n, solid = contacts.shape[0], len(self.track.solid_geoms)
        feet = contacts[:, :4 * solid].reshape(n, 4, solid).max(-1)
        base = contacts[:, 4 * solid:5 * solid].max(-1)
        balls = contacts[:, 5 * solid:]
        touch = balls.max(-1) if balls.shape[1] else jnp.zeros((n,))
        return feet, base, touch

    def mjcf(self) -> str:
        track = self.track
        if track is None:
            return legged.scene_xml(ASSETS / self.spec.xml, colliding=(
                self.spec.feet if self.collision == "feet" else None))
        return legged.scene_xml(ASSETS / self.spec.xml, track.ground, track.ground_pos,
                                track.geoms())

    # --- episodes -----------------------------------------------------------------

    def initial_info(self, n: int) -> NavInfo:
        k = self.num_waypoints
        zeros, actions = jnp.zeros((n,)), jnp.zeros((n, 12))
        return NavInfo(
            waypoints=jnp.zeros((n, k, 2)), goal_heading=zeros,
            index=jnp.zeros((n,), jnp.int32), command=jnp.zeros((n, 3)), distance=zeros,
            arrived=zeros, last_action=actions, filtered_action=actions, last_qvel=actions,
            episode_arrived=zeros, episode_distance=zeros, episode_checkpoints=zeros,
            route=jnp.zeros((n,), jnp.int32), score=arena_score.initial(n),
            episode_points=jnp.zeros((n, len(arena_score.ITEMS))))

    def reset(self, key: jax.Array, n: int, info: NavInfo):
        if self.arena:
            return self._arena_reset(key, n, info)
        key_spawn, key_goal, key_q = jax.random.split(key, 3)
        track = self.track
        index = jnp.zeros((n,), jnp.int32)
        if track is None:
            xy, yaw, ground, waypoints, heading = self._flat_episode(key_spawn, key_goal, n)
        else:
            xy, yaw = track.spawn(key_spawn, n)  # section001: one waypoint, its goal
            ground = jnp.full((n,), track.spawn_ground)
            waypoints = jnp.broadcast_to(jnp.asarray(track.waypoints, jnp.float32),
                                         (n, *track.waypoints.shape))
            heading = (jax.random.uniform(key_goal, (n,), minval=-math.pi, maxval=math.pi)
                       if track.random_goal_heading else jnp.full((n,), track.goal_heading))
        qpos, qvel = legged.standing_state(key_q, xy, ground, self.spec.spawn_height, yaw,
                                           self.spec.default_pose, self.reset_joint_noise)
        fresh = self.initial_info(n)
        distance = jnp.linalg.norm(_take(waypoints, index) - xy, axis=-1)
        fresh = fresh.replace(
            waypoints=waypoints, goal_heading=heading, index=index, distance=distance,
            episode_arrived=info.arrived, episode_distance=goal_distance(info),
            episode_checkpoints=(info.index + info.arrived).astype(jnp.float32))
        command = self.command(xy, yaw, fresh)
        return qpos, qvel, fresh.replace(command=command)

    def _arena_reset(self, key: jax.Array, n: int, info: NavInfo):
        """An arena episode: a uniform start on the section's start platform (the whole
        course: START), the route of the column nearest the start and of the lane; with
        `course_spawns`, a share moved to a waypoint of their route; the balls' start
        after the robot's state; the score's record of the episode that ended."""
        key_spawn, key_lane, key_q, key_along, key_ball = jax.random.split(key, 5)
        track = self.track
        points, columns, lanes = (jnp.asarray(a) for a in arena_routes.routes(self.course))
        xy, yaw = track.spawn(key_spawn, n)
        lane = (jax.random.randint(key_lane, (n,), 0, 2) if self.lane == "draw"
                else jnp.full((n,), arena_routes.LANES.index(self.lane)))
        other_lane = (lanes[None, :] >= 0) & (lanes[None, :] != lane[:, None])
        route = jnp.argmin(jnp.abs(columns[None, :] - xy[:, :1]) + 100.0 * other_lane, 1)
        ground = jnp.full((n,), track.spawn_ground)
        index, moved = jnp.zeros((n,), jnp.int32), jnp.zeros((n,), bool)
        if self.course_spawns > 0:
            xy, yaw, ground, index, moved = self._along_route(key_along, route, xy, yaw,
                                                              ground)
        qpos, qvel = legged.standing_state(key_q, xy, ground, self.spec.spawn_height, yaw,
                                           self.spec.default_pose, self.reset_joint_noise)
        if track.balls:
            ball_qpos, ball_qvel = track.ball_state(key_ball, n)
            qpos, qvel = (jnp.concatenate(pair, -1) for pair in
                          ((qpos, ball_qpos), (qvel, ball_qvel)))
        waypoints = points[route]
        distance = jnp.linalg.norm(_take(waypoints, index) - xy, axis=-1)
        goal = arena_score.GOALS[self.course]
        fresh = self.initial_info(n).replace(
            waypoints=waypoints, goal_heading=jnp.full((n,), track.goal_heading),
            index=index, distance=distance, route=route.astype(jnp.int32),
            score=arena_score.start(xy[:, 1], ~moved),
            episode_arrived=arena_score.reached(info.score, goal).astype(jnp.float32),
            episode_distance=goal_distance(info),
            episode_checkpoints=(info.index + info.arrived).astype(jnp.float32),
            episode_points=arena_score.record(info.score))
        return qpos, qvel, fresh.replace(command=self.command(xy, yaw, fresh))

    def _along_route(self, key, route, xy, yaw, ground):
        """A `course_spawns` share of the arena's start spawns moved to a waypoint of
        their route [N] (+- 0.2 m, yaw +- 0.15 about the way to the next waypoint); with
        the index [N] of each spawn's target waypoint and which were moved [N]."""
        key_moved, key_at, key_xy, key_yaw = jax.random.split(key, 4)
        n = xy.shape[0]
        points = jnp.asarray(arena_routes.routes(self.course)[0])
        at = jax.random.randint(key_at, (n,), 0, points.shape[1] - 1)
        start, following = points[route, at], points[route, at + 1]
        moved = jax.random.uniform(key_moved, (n,)) < self.course_spawns
        jitter = jax.random.uniform(key_xy, (n, 2), minval=-0.2, maxval=0.2)
        turn = jax.random.uniform(key_yaw, (n,), minval=-0.15, maxval=0.15)
        way = following - start
        xy = jnp.where(moved[:, None], start + jitter, xy)
        yaw = jnp.where(moved, jnp.arctan2(way[:, 1], way[:, 0]) + turn, yaw)
        ground = jnp.where(moved, jnp.asarray(route_ground(self.course))[route, at], ground)
        return xy, yaw, ground, jnp.where(moved, at + 1, 0).astype(jnp.int32), moved

    def _flat_episode(self, key_spawn, key_goal, n):
        """Flat ground: spawn pose, one target [N, 1, 2] and its heading."""
        key_xy, key_yaw = jax.random.split(key_spawn)
        key_r, key_dir, key_heading = jax.random.split(key_goal, 3)
        xy = jax.random.uniform(key_xy, (n, 2), minval=-self.spawn_range,
                                maxval=self.spawn_range)
        yaw = jax.random.uniform(key_yaw, (n,), minval=-math.pi, maxval=math.pi)
        r = jax.random.uniform(key_r, (n,), minval=self.target_distance[0],
                               maxval=self.target_distance[1])
        angle = jax.random.uniform(key_dir, (n,), minval=-math.pi, maxval=math.pi)
        target = xy + r[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
        heading = jax.random.uniform(key_heading, (n,), minval=-math.pi, maxval=math.pi)
        return xy, yaw, jnp.zeros((n,)), target[:, None, :], heading

    # --- quantities ---------------------------------------------------------------

    def goal_frame(self, xy: jax.Array, yaw: jax.Array, info: NavInfo):
        """(error to the current waypoint in the body frame [N, 2], its distance [N],
        on_goal [N] bool: within reach_radius of the last waypoint, heading error to the
        goal heading [N])."""
        target = _take(info.waypoints, info.index)
        error = target - xy
        c, s = jnp.cos(yaw), jnp.sin(yaw)
        body = jnp.stack([c * error[:, 0] + s * error[:, 1],
                          -s * error[:, 0] + c * error[:, 1]], -1)
        distance = jnp.linalg.norm(error, axis=-1)
        on_goal = (info.index == self.num_waypoints - 1) & (distance < self.reach_radius)
        return body, distance, on_goal, legged.wrap_angle(info.goal_heading - yaw)

    def command(self, xy: jax.Array, yaw: jax.Array, info: NavInfo) -> jax.Array:
        """The derived velocity command [N, 3]: toward the current waypoint, facing the
        way to go, then the goal heading near the goal; no translation on the goal."""
        body, distance, on_goal, heading_error = self.goal_frame(xy, yaw, info)
        speed = jnp.minimum(self.command_speed or self.spec.max_speed, distance)
        v = body / jnp.maximum(distance, 1e-6)[:, None] * speed[:, None]
        v = jnp.where(on_goal[:, None], 0.0, v)
        near_goal = (info.index == self.num_waypoints - 1) & (distance < 0.5)
        turn = jnp.where(near_goal, heading_error, jnp.arctan2(body[:, 1], body[:, 0]))
        return jnp.concatenate([v, jnp.clip(turn, -1.0, 1.0)[:, None]], -1)

    def observe(self, view: PhysicsView, info: NavInfo) -> jax.Array:
        view = robot_view(view)
        yaw = legged.yaw_of(view.qpos[:, 3:7])
        body, distance, on_goal, heading_error = self.goal_frame(view.qpos[:, :2], yaw, info)
        stop_ready = on_goal & (jnp.abs(heading_error) < self.heading_tolerance)
        return jnp.concatenate([
            legged.proprioception(view, self.spec.default_pose, info.last_action,
                                  info.command),
            body / jnp.maximum(distance, 5.0)[:, None], (heading_error / math.pi)[:, None],
            (jnp.minimum(distance, 5.0) / 5.0)[:, None],
            on_goal[:, None].astype(jnp.float32), stop_ready[:, None].astype(jnp.float32)],
            -1)

    @property
    def critic_obs_size(self) -> int | None:
        return self.obs_size + PRIVILEGED_SIZE if self.privileged_critic else None

    def critic_observe(self, view: PhysicsView, info: NavInfo) -> jax.Array | None:
        """With `privileged_critic`, the critic's observation [N, obs_size + 30]: the
        policy's, then what decides the return but the policy does not see: the action
        filter's state (the joint targets' own memory; 12), each foot's contact flag (4),
        the PD torques at this state over the torque limits (12), the base's height (1)
        and the distance left to the goal along the remaining waypoints / 10 m (1).
        None otherwise (the critic reads the policy's observation)."""
        if not self.privileged_critic:
            return None
        feet, _, _ = self.contact_groups(view.contacts)
        view = robot_view(view)
        spec = self.spec
        target = legged.position_targets(spec.default_pose, spec.action_scale,
                                         info.filtered_action)
        torques = legged.pd_torques(view, target, spec.kp, spec.kd, spec.torque_limits)
        to_go = goal_distance(info)
        return jnp.concatenate([
            self.observe(view, info), info.filtered_action, feet,
            torques / jnp.asarray(spec.torque_limits), view.qpos[:, 2:3],
            (to_go / 10.0)[:, None]], -1)

    def mirrors(self) -> Mirrors:
        """Left-right: the proprioception as Go1's (legs of a pair swap, abduction angles,
        lateral velocity and gravity, roll and yaw rates, vy and yaw-rate commands flip);
        the waypoint's lateral error and the heading error flip; distance and flags stay."""
        obs = (legged.PROPRIOCEPTION_MIRROR + symmetry.signs(1, -1) + symmetry.signs(-1)
               + symmetry.keep(3))
        critic = None
        if self.privileged_critic:  # filter state, feet, torques, height, distance to go
            critic = (obs + legged.JOINTS_MIRROR + legged.FEET_MIRROR + legged.JOINTS_MIRROR
                      + symmetry.keep(2))
        return Mirrors(obs=obs, action=legged.JOINTS_MIRROR, critic_obs=critic)

    def video_marks(self, view: PhysicsView, info: NavInfo) -> dict[str, jax.Array]:
        """The derived command, the velocity reached and the current waypoint (drawn at
        the base's height)."""
        view = robot_view(view)
        target = jnp.concatenate([_take(info.waypoints, info.index), view.qpos[:, 2:3]], -1)
        return {**legged.velocity_marks(view, info.command), "target": target}

    def filter_action(self, action: jax.Array, info: NavInfo) -> jax.Array:
        a = jnp.clip(action, -10.0, 10.0)
        return info.filtered_action + self.spec.action_filter * (a - info.filtered_action)

    def ctrl(self, action: jax.Array, info: NavInfo) -> jax.Array:
        """Joint targets for the low-pass filtered action (the filter state is in info)."""
        return legged.position_targets(self.spec.default_pose, self.spec.action_scale,
                                       self.filter_action(action, info))

    # --- rewards ------------------------------------------------------------------

    def evaluate(self, key: jax.Array, view: PhysicsView, info: NavInfo, action: jax.Array):
        _, base_down, ball_touch = self.contact_groups(view.contacts)
        view = robot_view(view)
        lin_vel, gyro, gravity = legged.base_state(view)
        xy, yaw = view.qpos[:, :2], legged.yaw_of(view.qpos[:, 3:7])
        _, distance, on_goal, heading_error = self.goal_frame(xy, yaw, info)
        last_waypoint = info.index == self.num_waypoints - 1
        reached = distance < self.reach_radius
        torques = legged.pd_torques(view, self.ctrl(action, info), self.spec.kp,
                                    self.spec.kd, self.spec.torque_limits)
        speed2 = jnp.sum(lin_vel[:, :2] ** 2, -1) + gyro[:, 2] ** 2
        if self.collision == "full":  # the base touches the ground (a course geom)
            down = base_down > 0.5
        else:  # flat ground at height 0
            down = legged.base_low(view, jnp.zeros_like(xy[:, 0]), self.spec.min_base_height)
        fell = down | legged.tilted(gravity, self.max_tilt)
        exploded = jnp.abs(legged.joint_velocities(view)).max(-1) > self.spec.max_joint_vel
        track = self.track
        outside = (jnp.zeros_like(fell) if track is None else ~track.inside(xy))
        failed = fell | exploded | outside
        terms = {
            **legged.velocity_tracking(info.command, lin_vel, gyro),
            "approach": jnp.clip((info.distance - distance) / self.ctrl_dt, -1.0, 1.0),
            "stop": on_goal * jnp.exp(-speed2 / 0.05) * jnp.exp(-heading_error ** 2),
            "arrival": (last_waypoint & reached & (info.arrived < 0.5)).astype(jnp.float32),
            "checkpoint": (~last_waypoint & reached).astype(jnp.float32),
            "orientation": jnp.sum(gravity[:, :2] ** 2, -1),
            **legged.smoothness_terms(view, lin_vel, gyro, action, info.last_action,
                                      info.last_qvel, torques, self.ctrl_dt),
            "termination": failed.astype(jnp.float32),
        }
        index = jnp.where(reached & ~last_waypoint, info.index + 1, info.index)
        score = info.score
        if self.arena:
            score = arena_score.update(score, view.qpos[:, :3], fell | exploded, outside,
                                       ball_touch > 0.5)
        info = info.replace(
            score=score, index=index, arrived=jnp.maximum(info.arrived, terms["arrival"]),
            last_action=action, filtered_action=self.filter_action(action, info),
            last_qvel=legged.joint_velocities(view))
        _, distance, _, _ = self.goal_frame(xy, yaw, info)  # to the new waypoint
        info = info.replace(distance=distance)
        return terms, failed, info.replace(command=self.command(xy, yaw, info))

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        return sum(self.reward_scales[k] * terms[k] for k in self.reward_scales)

    def metrics(self, info: NavInfo) -> dict[str, jax.Array]:
        """`reached`: the goal was reached (within reach_radius) in the running episode;
        `episode_reached`: in the last episode that ended (a success rate over envs);
        `goal_distance`: distance to the goal along the remaining waypoints; on a course
        of sections (section002) `episode_sections`: the sections completed."""
        out = {"reached": info.arrived, "episode_reached": info.episode_arrived,
               "goal_distance": goal_distance(info),
               "episode_goal_distance": info.episode_distance}
        if self.num_waypoints > 1:
            out["episode_checkpoints"] = info.episode_checkpoints
        ends = (arena_routes.section_ends(self.course) if self.arena
                else () if self.track is None else self.track.section_ends)
        if ends:
            out["episode_sections"] = sum(
                (info.episode_checkpoints >= end).astype(jnp.float32) for end in ends)
        return out | (self.score_metrics(info) if self.arena else {})

    def score_metrics(self, info: NavInfo) -> dict[str, jax.Array]:
        """The competition's score (arena_score) of the last episode that ended: `score`
        and `episode_score` (its total; the second is read per env at its first end by
        evaluations), `score_<item>` (each item's points; for an item worth 0 points,
        1 where it was reached in a section not voided), `score_section<k>` (per
        section), and `score_running` (the running episode's score so far)."""
        recorded = info.episode_points
        pointed = jnp.where(jnp.asarray(arena_score.POINTS) > 0, recorded, 0.0)
        one_hot = jnp.asarray(arena_score.SECTION)[:, None] == jnp.arange(3)[None, :]
        sections = pointed @ one_hot.astype(jnp.float32)
        total = arena_score.record_total(recorded)
        out = {"score": total, "episode_score": total,
               "score_running": arena_score.total(info.score)}
        out |= {f"score_section{k + 1}": sections[:, k] for k in range(3)}
        return out | {f"score_{name}": recorded[:, i]
                      for i, name in enumerate(arena_score.NAMES)}


def goal_distance(info: NavInfo) -> jax.Array:
    """[N] the distance left to the goal: to the current waypoint, then from it to the goal
    (0 once on the goal)."""
    remaining = jnp.linalg.norm(info.waypoints[:, -1] - _take(info.waypoints, info.index),
                                axis=-1)
    return info.distance + remaining


def robot_view(view: PhysicsView) -> PhysicsView:
    """The view of the robot alone: its qpos and qvel come first, the balls' after."""
    return view.replace(qpos=view.qpos[:, :ROBOT_NQ], qvel=view.qvel[:, :ROBOT_NV])


@functools.cache
def route_ground(course: str) -> np.ndarray:
    """[R, K] the highest ground within 0.6 m of each waypoint of the arena's routes (a
    start along a route is dropped from its spawn height above it)."""
    points = arena_routes.routes(course)[0]
    ground = courses.build(course, 0).ground_near(points.reshape(-1, 2), 0.6)
    return ground.reshape(points.shape[:2]).astype(np.float32)


def _take(waypoints: jax.Array, index: jax.Array) -> jax.Array:
    """waypoints [N, K, 2] at index [N] -> [N, 2]."""
    return jnp.take_along_axis(waypoints, index[:, None, None], axis=1)[:, 0]


# --- Registered envs (envs/spec.py) --------------------------------------------------

ARENA_SECONDS = {"section002": 120.0}  # episode lengths other than the course's own
# a curriculum over the course: this share of training episodes starts at a waypoint of
# its route (evaluations start every robot on the start platform)
ARENA_COURSE_SPAWNS = {"section012": 0.5, "section002": 0.5}
# env steps per run (arena_preset): more than the suite's 2 hours reach on 2 cores
ARENA_ENV_STEPS = {"section011": 40_000_000, "section012": 40_000_000,
                   "section013": 40_000_000, "section002": 40_000_000}


def registered_task(name: str, robot: str, course: str = "flat"):
    """A builder of the registered navigation task `name`: `robot` on `course`."""
    def build() -> Navigation:
        if course == "flat":
            return Navigation(name=name, robot=robot)
        # walls, bridge and balls must stop the base: trunk and knees collide
        track = courses.build(course, 0)
        if course == "section001":
            return Navigation(name=name, robot=robot, course=course, ctrl_dt=0.02,
                              episode_length=round(track.episode_s / 0.02),
                              collision="full")
        # the MotrixArena course: the kit's 100 Hz, one physics step per control step;
        # the whole course runs 120 s, not the seed's 60 s: our route is 43 m and the
        # command's top speed 0.6 m/s (--task-set episode_length=6000 for 60 s)
        seconds = ARENA_SECONDS.get(course, track.episode_s)
        return Navigation(name=name, robot=robot, course=course, sim_dt=0.01,
                          ctrl_dt=0.01, episode_length=round(seconds / 0.01),
                          collision="full",
                          course_spawns=ARENA_COURSE_SPAWNS.get(course, 0.0))
    return build


def _reach(label: str, goal: float, minutes: float = 10) -> Target:
    return Target("the goal reached", (at_least(label, "eval/first_episode_reached", goal),),
                  minutes=minutes)


def _arena(what: str, label: str, goal: float) -> Target:
    """A MotrixArena course: the share of first episodes that reached the goal without
    a fall (arena_score.reached), and their mean competition score, shown beside it (a
    check every result meets: the table's place for the score); the issue's budget for
    the course, 2 hours per run."""
    checks = (at_least(f"first episodes {label}", "eval/first_episode_reached", goal),
              at_least("their mean score (shown)", "eval/first_episode_score", 0.0))
    return Target(what, checks, minutes=120)


ARENA_ENVS = [
    ("section011", 'the "2026" platform reached, scored', "reached the platform", 0.9,
     "MotrixArena section 1: bumps and a 15 deg ramp to the \"2026\" platform, scored"),
    ("section012", "the exit platform reached, scored", "reached the exit", 0.6,
     ("MotrixArena section 2: stairs, then the walled bridge or the riverbed's stones, "
      "stairs down to the exit, scored")),
    ("section013", "the finish reached with the balls rolling, scored", "reached the finish",
     0.8, ("MotrixArena section 3: rolling balls, a lip and random terrain to the finish, "
           "scored")),
    ("section002", "the whole course's finish reached, scored", "reached the finish", 0.5,
     "the whole MotrixArena course, START to finish (35 m), scored, 120 s"),
]

ENVS = [
    EnvSpec("vbot_navigation_flat", registered_task("vbot_navigation_flat", "vbot"),
            navigation_preset, _reach("first episodes reaching the goal", 0.9),
            aliases=("vbot-navigation-flat",),
            summary="VBot walks to a random target position and heading and stops there"),
    EnvSpec("anymal_c_navigation_flat",
            registered_task("anymal_c_navigation_flat", "anymal_c"), navigation_preset,
            _reach("first episodes reaching the goal", 0.9),
            aliases=("anymal-c-navigation-flat",),
            summary="ANYmal C walks to a random target position and heading and stops"),
    EnvSpec("vbot_navigation_section001",
            registered_task("vbot_navigation_section001", "vbot", "section001"),
            navigation_preset, _reach("first episodes reaching the finish", 0.8, minutes=30),
            aliases=("vbot-navigation-section001",),
            summary="VBot reaches the centre of a walled circular arena"),
    *[EnvSpec(f"vbot_navigation_{section}",
              registered_task(f"vbot_navigation_{section}", "vbot", section),
              arena_preset(ARENA_ENV_STEPS[section]), _arena(what, label, goal),
              aliases=(f"vbot-navigation-{section}",), summary=summary)
      for section, what, label, goal, summary in ARENA_ENVS],
]
