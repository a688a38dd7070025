"""Navigation (VBot, ANYmal C, VBot courses): env contract, standing spawn, course
generation, and reward terms on hand-built states."""

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import env_rollout, run_actions

from motrix_jax import envs
from motrix_jax.env import PhysicsView
from motrix_jax.envs import arena_routes, courses, legged, navigation

NAMES = ["vbot_navigation_flat", "anymal_c_navigation_flat", "vbot_navigation_section001",
         "vbot_navigation_section011", "vbot_navigation_section012",
         "vbot_navigation_section013", "vbot_navigation_section002"]


def half_random(k, n):
    """Envs in the first half hold q0 (zero action); the rest act at random."""
    noise = jax.random.normal(k, (n, 12))
    return jnp.where(jnp.arange(n)[:, None] < n // 2, 0.0, noise)


# section002 holds every part of 011, 012 and 013 (their own start platforms aside): the
# three alone run in the slow suite, which keeps the default run shorter
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.slow) if name.endswith(("11", "12", "13")) else name
    for name in NAMES])
def test_contract_and_standing_spawn(name):
    # every robot on the start (platform): q0 robots dropped along the route may land on a
    # bank or a stair and slide (the slow route-start test covers those spawns)
    along = "course_spawns" in {f.name for f in dataclasses.fields(envs.make_task(name))}
    env = envs.make(name, 8, task_changes={"course_spawns": 0.0} if along else None)
    balls = 0 if env.task.track is None else env.task.track.balls  # after the robot
    assert (env.physics.nq, env.physics.nv, env.physics.nu) == (19 + 7 * balls,
                                                                18 + 6 * balls, 12)
    assert env.obs_size == 54 and env.action_size == 12
    check_two_seconds_half_standing(env)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vbot_navigation_flat", "vbot_navigation_section013"])
def test_contract_and_standing_spawn_on_mjx(name):
    # on flat ground and on a heightfield course (compiling takes minutes on a CPU)
    check_two_seconds_half_standing(envs.make(name, 4, physics="mjx"))


def check_two_seconds_half_standing(env):
    """2 s of control: the zero-action half stands on q0 throughout, the random half keeps
    the contract (shapes, finite values, exclusive flags) through its falls and resets."""
    n, steps = env.num_envs, round(2.0 / env.task.ctrl_dt)
    traj = run_actions(env, steps, half_random)
    chex.assert_shape(traj.obs, (steps, n, 54))
    chex.assert_shape([traj.reward, traj.terminated, traj.truncated], (steps, n))
    assert traj.obs.dtype == jnp.float32
    chex.assert_tree_all_finite((traj.obs, traj.final_obs, traj.reward, traj.reward_terms))
    assert not bool((traj.terminated & traj.truncated).any())
    standing = slice(0, n // 2)
    assert not bool(traj.done[:, standing].any())
    height = np.asarray(traj.physics.qpos[-1, standing, 2])
    ground = np.zeros_like(height) if env.task.track is None else env.task.track.height_at(
        traj.physics.qpos[-1, standing, 0], traj.physics.qpos[-1, standing, 1])
    spawn = env.task.spec.spawn_height
    assert (height - ground > 0.7 * spawn).all() and (height - ground < spawn).all()
    assert float(jnp.abs(traj.physics.qvel[-1, standing, :18]).max()) < 0.5  # at rest
    feet, base, _ = env.task.contact_groups(traj.physics.contacts[-1, standing])
    np.testing.assert_array_equal(feet, 1.0)  # feet down
    np.testing.assert_array_equal(base, 0.0)  # base clear
    return traj


COURSES_OF_WAYPOINTS = NAMES[3:]  # section001's one waypoint is its goal


@pytest.mark.slow  # 1-2 min each on the loaded 2-core CPU
@pytest.mark.parametrize("name", COURSES_OF_WAYPOINTS)
def test_course_spawns_start_at_every_waypoint(name):
    # the arena's waypoints lie on slopes (bumps, ramp, banks, stones, rough terrain):
    # a robot holding q0 may slide there, so this holds the contract, not the standing
    k = envs.make_task(name).num_waypoints
    env = envs.make(name, 8 * k, task_changes={"course_spawns": 1.0})
    n, steps = env.num_envs, round(2.0 / env.task.ctrl_dt)
    traj = run_actions(env, steps, half_random)
    chex.assert_shape(traj.obs, (steps, n, 54))
    chex.assert_tree_all_finite((traj.obs, traj.final_obs, traj.reward, traj.reward_terms))
    assert not bool((traj.terminated & traj.truncated).any())
    assert float(traj.done[:, :n // 2].any(0).mean()) < 0.25  # most q0 robots stay up
    targets = np.asarray(traj.info.index[0, :4 * k])  # the standing half's
    assert set(targets) == set(range(1, env.task.num_waypoints))  # every waypoint but the goal


def test_course_spawns_bad_shares():
    # the arena's starts along its routes: tests/test_arena_task.py
    name = "vbot_navigation_section012"
    assert envs.evaluation_changes(name)["course_spawns"] == 0.0
    for bad, words in ((1.5, "a share of episodes"),
                       (0.5, "needs a course of several waypoints")):
        target = name if bad > 1 else "vbot_navigation_section001"
        with pytest.raises(ValueError, match=words):
            envs.with_task_changes(envs.make_task(target), {"course_spawns": bad})


def test_same_key_same_trajectory():
    env = envs.make("vbot_navigation_flat", 4, task_changes={"episode_length": 10})
    run, actions = env_rollout(env), jax.random.normal(jax.random.PRNGKey(1), (25, 4, 12))
    first, second = (run(jax.random.PRNGKey(0), actions) for _ in range(2))
    np.testing.assert_array_equal(first.final_obs, second.final_obs)
    assert bool(first.truncated[9].all())  # episodes restarted, with new targets
    assert not np.allclose(first.info.waypoints[5], first.info.waypoints[15])


def test_registry_presets_and_aliases():
    for name in NAMES:
        cfg = envs.preset(name)
        arena = envs.make_task(name).course in navigation.ARENA  # sized for 2 cores
        assert (cfg.num_envs, cfg.rollouts, cfg.learning_epochs, cfg.mini_batches) == (
            (512, 64, 5, 8) if arena else (2048, 48, 6, 32))
        assert cfg.learning_rate == 3e-4 and cfg.grad_norm_clip == 1.0
        assert cfg.share_features and cfg.policy_hidden_sizes == (256, 128, 64)
        assert envs.canonical_name(name.replace("_", "-")) == name
    lengths = {name: envs.make_task(name).episode_length * envs.make_task(name).ctrl_dt
               for name in NAMES[2:]}
    assert lengths == pytest.approx({NAMES[2]: 40.0, NAMES[3]: 40.0, NAMES[4]: 120.0,
                                     NAMES[5]: 40.0, NAMES[6]: 120.0})
    assert all(envs.make_task(name).ctrl_dt == 0.01 for name in NAMES[3:])  # 100 Hz


@pytest.mark.parametrize("section", sorted(courses.COURSES))
def test_courses_are_deterministic_per_seed(section):
    make = courses.COURSES[section]
    a, b, c = make(3), make(3), make(4)
    np.testing.assert_array_equal(a.waypoints, b.waypoints)
    assert a.obstacles == b.obstacles and a.markers == b.markers
    if section == "section001":  # a flat arena: the seed places the walls
        assert a.obstacles != c.obstacles
    else:  # the competition's course is fixed (test_arena_geometry checks it)
        assert [p.name for p in a.parts] == [p.name for p in c.parts]
        x, y = np.meshgrid(np.linspace(-5, 5, 41), np.linspace(*a.bounds[2:], 141))
        np.testing.assert_array_equal(a.height_at(x, y), c.height_at(x, y))
    # waypoints and every spawn point lie on the course; the spawn ground is flat enough
    assert bool(a.inside(jnp.asarray(a.waypoints, jnp.float32)).all())
    xy, _ = a.spawn(jax.random.PRNGKey(0), 256)
    assert bool(a.inside(xy).all())
    ground = a.height_at(np.asarray(xy[:, 0]), np.asarray(xy[:, 1]))
    assert (ground <= a.spawn_ground + 1e-6).all() and (a.spawn_ground - ground < 0.05).all()


def test_section002_is_sections_011_012_013_in_one_frame():
    whole = courses.section002(3)
    parts = [courses.section011(3), courses.section012(3), courses.section013(3)]
    assert whole.section_ends == (2, 6, 9) and whole.episode_s == 60.0
    np.testing.assert_array_equal(whole.waypoints,
                                  np.concatenate([part.waypoints for part in parts]))
    # no offsets: each section's ground is the whole course's ground where it lies
    for part in parts:
        x0, x1, y0, y1 = part.bounds
        x, y = np.meshgrid(np.linspace(x0 + 0.05, x1 - 0.05, 60),
                           np.linspace(y0 + 0.05, y1 - 0.05, 200))
        np.testing.assert_allclose(whole.height_at(x, y), part.height_at(x, y), atol=1e-9)
    assert whole.bounds == (-5.0, 5.0, -4.0, 33.83)
    # START centre to the finish centre: 35.0 m along y
    assert whole.waypoints[-1, 1] - whole.spawn_centre[1] == pytest.approx(35.03)


def test_sections_completed_on_the_whole_course():
    task = envs.make_task("vbot_navigation_section002")
    info = task.initial_info(4).replace(
        episode_checkpoints=jnp.array([0.0, 3.0, 17.0, 19.0]))  # 012's end is 15, 013's 19
    np.testing.assert_array_equal(task.metrics(info)["episode_sections"], [0, 1, 2, 3])
    assert "episode_sections" not in envs.make_task("vbot_navigation_section011").metrics(
        envs.make_task("vbot_navigation_section011").initial_info(1))


def view_for(xy=(0.0, 0.0), yaw=0.0, lin_vel=(0.0, 0.0, 0.0), gyro=(0.0, 0.0, 0.0), pitch=0.0,
             base_contact=0.0, joint_vel=0.0, height=0.24, task=None):
    """A one-env PhysicsView of VBot at xy with heading yaw (rad), pitched by `pitch`,
    the base `height` m up; lin_vel is in the body frame. Contact flags: the four feet
    down, the base (collision="full") as given; on an arena `task`, laid out as its
    contact pairs (the feet and the base on the floor plane)."""
    half_y, half_p = yaw / 2, pitch / 2
    # yaw then pitch (body frame): q = q_yaw * q_pitch, xyzw
    quat = [-math.sin(half_y) * math.sin(half_p), math.cos(half_y) * math.sin(half_p),
            math.sin(half_y) * math.cos(half_p), math.cos(half_y) * math.cos(half_p)]
    qpos = jnp.array([[*xy, height, *quat, *navigation.VBOT.default_pose]])
    c, s = math.cos(yaw), math.sin(yaw)
    vx, vy, vz = lin_vel  # (pitch 0 in the tests that move)
    qvel = jnp.array([[c * vx - s * vy, s * vx + c * vy, vz, *gyro] + [joint_vel] * 12])
    contacts = jnp.array([[1.0] * 4 + [base_contact]])
    if task is not None and task.arena:
        pairs = list(task.contact_pairs)
        flags = np.zeros((1, len(pairs)), np.float32)
        for foot in task.spec.feet:
            flags[0, pairs.index((foot, "floor"))] = 1.0
        flags[0, pairs.index(("base", "floor"))] = base_contact
        contacts = jnp.asarray(flags)
    return PhysicsView(qpos=qpos, qvel=qvel, contacts=contacts,
                       tick=jnp.zeros((), jnp.int32))


def info_for(task, waypoints, heading=0.0, start=(0.0, 0.0)):
    waypoints = jnp.asarray([waypoints], jnp.float32)
    info = task.initial_info(1)
    info = info.replace(waypoints=waypoints, goal_heading=jnp.array([heading]),
                        distance=jnp.linalg.norm(waypoints[:, 0] - jnp.asarray(start), axis=-1))
    return info.replace(command=task.command(jnp.asarray([start]), jnp.zeros(1), info))


def evaluate(task, view, info):
    return task.evaluate(jax.random.PRNGKey(0), view, info, jnp.zeros((1, 12)))


def test_derived_command_points_at_the_target():
    task = envs.make_task("vbot_navigation_flat")
    ahead = info_for(task, [(3.0, 0.0)])
    np.testing.assert_allclose(ahead.command, [[task.spec.max_speed, 0.0, 0.0]], atol=1e-6)
    left = info_for(task, [(0.0, 0.8)])
    np.testing.assert_allclose(left.command[0, :2], [0.0, task.spec.max_speed], atol=1e-6)
    assert float(left.command[0, 2]) > 0.9  # turn left to face it
    on_goal = info_for(task, [(0.1, 0.0)], heading=0.5)
    np.testing.assert_allclose(on_goal.command[0, :2], 0.0)
    np.testing.assert_allclose(on_goal.command[0, 2], 0.5, atol=1e-6)  # the goal heading
    obs = task.observe(view_for(), on_goal)
    np.testing.assert_allclose(obs[0, -4:], [0.5 / math.pi, 0.1 / 5.0, 1.0, 0.0], atol=1e-6)
    facing = task.observe(view_for(yaw=0.4), on_goal)
    np.testing.assert_allclose(facing[0, -2:], [1.0, 1.0])  # reached and stop-ready


def test_progress_toward_the_target_is_rewarded():
    task = envs.make_task("vbot_navigation_flat")
    info = info_for(task, [(3.0, 0.0)])
    step = task.ctrl_dt * 1.0
    speed = task.spec.max_speed
    toward, failed, after = evaluate(task, view_for(xy=(step, 0.0), lin_vel=(speed, 0, 0)), info)
    away, _, _ = evaluate(task, view_for(xy=(-step, 0.0), lin_vel=(-speed, 0, 0)), info)
    np.testing.assert_allclose(toward["approach"], 1.0, rtol=1e-3)
    np.testing.assert_allclose(away["approach"], -1.0, rtol=1e-3)
    np.testing.assert_allclose(toward["tracking_lin_vel"], 1.0, rtol=1e-5)
    assert float(away["tracking_lin_vel"][0]) < 0.01
    assert float(task.reward(toward, failed)[0]) > float(task.reward(away, failed)[0])
    np.testing.assert_allclose(after.distance, 3.0 - step, rtol=1e-5)
    assert not bool(failed[0])


def test_arrival_bonus_is_paid_once_then_the_stop_bonus():
    task = envs.make_task("vbot_navigation_flat")
    info = info_for(task, [(0.2, 0.0)], start=(-0.2, 0.0))
    terms, _, after = evaluate(task, view_for(), info)
    assert float(terms["arrival"][0]) == 1.0 and float(after.arrived[0]) == 1.0
    np.testing.assert_allclose(terms["stop"], math.exp(-1.0 * 0.0), rtol=1e-5)
    again, _, _ = evaluate(task, view_for(), after)
    assert float(again["arrival"][0]) == 0.0 and float(again["stop"][0]) > 0.99
    moving, _, _ = evaluate(task, view_for(lin_vel=(0.5, 0.0, 0.0)), after)
    assert float(moving["stop"][0]) < 0.01  # the stop bonus wants it still
    # the next episode reports this one as reached
    _, _, fresh = task.reset(jax.random.PRNGKey(0), 1, after)
    assert float(task.metrics(fresh)["episode_reached"][0]) == 1.0
    assert float(fresh.arrived[0]) == 0.0


def test_checkpoints_advance_the_waypoint_once():
    task = envs.make_task("vbot_navigation_section011")
    waypoints = arena_routes.routes(task.course)[0][1]  # column 0
    first = tuple(waypoints[0])
    info = info_for(task, waypoints, start=(first[0], first[1] - 0.5))
    terms, _, after = evaluate(task, view_for(xy=first, task=task), info)
    assert float(terms["checkpoint"][0]) == 1.0 and float(terms["arrival"][0]) == 0.0
    assert int(after.index[0]) == 1
    np.testing.assert_allclose(after.distance, np.hypot(*(waypoints[1] - first)),
                               rtol=1e-5)
    terms, _, after = evaluate(task, view_for(xy=first, task=task), after)
    assert float(terms["checkpoint"][0]) == 0.0 and int(after.index[0]) == 1
    _, failed, _ = evaluate(task, view_for(xy=(5.1, 4.0), task=task), info)
    assert bool(failed[0])  # left the course


def test_falls_and_exploding_joints_terminate():
    task = envs.make_task("vbot_navigation_flat")
    assert task.collision == "feet" and len(task.contact_pairs) == 4
    info = info_for(task, [(3.0, 0.0)])
    terms, failed, _ = evaluate(task, view_for(height=0.09), info)
    assert bool(failed[0]) and float(terms["termination"][0]) == 1.0  # base this low: down
    _, failed, _ = evaluate(task, view_for(height=0.11), info)
    assert not bool(failed[0])
    course = envs.make_task("vbot_navigation_section011")
    assert course.collision == "full" and ("base", "floor") in course.contact_pairs
    terms, failed, _ = evaluate(course, view_for(base_contact=1.0, task=course),
                                info_for(course, [(3.0, 0.0)]))
    assert bool(failed[0]) and float(terms["termination"][0]) == 1.0
    assert float(task.reward(terms, failed)[0]) < 0
    _, failed, _ = evaluate(task, view_for(pitch=math.radians(80)), info)
    assert bool(failed[0])
    _, failed, _ = evaluate(task, view_for(pitch=math.radians(70)), info)
    assert not bool(failed[0])
    _, failed, _ = evaluate(task, view_for(joint_vel=100.0), info)
    assert bool(failed[0])
    scales = task.reward_scales
    assert all(scales[k] > 0 for k in ("tracking_lin_vel", "tracking_ang_vel", "approach",
                                       "stop", "arrival", "checkpoint"))
    assert all(scales[k] < 0 for k in ("orientation", "lin_vel_z", "ang_vel_xy", "torques",
                                       "dof_acc", "action_rate", "termination"))


def test_action_filter_and_position_targets():
    vbot = envs.make_task("vbot_navigation_flat")
    info = vbot.initial_info(1)
    a = jnp.ones((1, 12))
    q0 = np.array(navigation.VBOT.default_pose)
    np.testing.assert_allclose(vbot.ctrl(a, info), [q0 + 0.25 * 0.5], rtol=1e-6)
    _, _, after = evaluate(vbot, view_for(), info_for(vbot, [(3.0, 0.0)]))
    np.testing.assert_allclose(after.filtered_action, 0.0)
    anymal = envs.make_task("anymal_c_navigation_flat")
    np.testing.assert_allclose(anymal.ctrl(a, anymal.initial_info(1)),
                               [np.array(navigation.ANYMAL_C.default_pose) + 0.06], rtol=1e-6)
    torques = legged.pd_torques(view_for(), jnp.asarray([q0 + 1.0]), 60.0, 0.8,
                                navigation.VBOT.torque_limits)
    np.testing.assert_allclose(torques, [navigation.VBOT.torque_limits])  # clipped


def test_privileged_critic_sees_the_filter_state_feet_torques_height_and_distance_to_go():
    env = envs.make("vbot_navigation_flat", 4, task_changes={"privileged_critic": True})
    assert envs.make("vbot_navigation_flat", 4).critic_obs_size is None  # off by default
    state = env.reset(jax.random.PRNGKey(0))
    for _ in range(40):  # dropped from its spawn height: standing on its feet by now
        state = env.step(state, jnp.full((4, 12), 0.1))
    assert env.critic_obs_size == env.obs_size + 30 == state.critic_obs.shape[1]
    np.testing.assert_array_equal(state.critic_obs[:, :env.obs_size], state.obs)
    extra = np.asarray(state.critic_obs[:, env.obs_size:])
    np.testing.assert_allclose(extra[:, :12], 0.1, atol=1e-6)  # the filter has settled
    np.testing.assert_array_equal(extra[:, 12:16], 1.0)  # every foot down
    assert (np.abs(extra[:, 16:28]) <= 1.0).all() and np.abs(extra[:, 16:28]).max() > 0.01
    assert ((extra[:, 28] > 0.15) & (extra[:, 28] < 0.35)).all()  # the base's height
    to_go = env.task.metrics(state.info)["goal_distance"]
    np.testing.assert_allclose(extra[:, 29], to_go / 10.0, rtol=1e-6)
    assert (extra[:, 29] > 0.0).all()
