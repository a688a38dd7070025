"""Go1: physics sanity in MotrixSim, terrain generation, reward terms on hand-built states."""

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import run_actions

from motrix_jax import envs
from motrix_jax.env import PhysicsView
from motrix_jax.envs import go1, terrain

STANDING_BAND = (0.25, 0.31)  # trunk height (m) holding q0 on flat ground


def zeros(k, n):
    return jnp.zeros((n, 12))


def test_model_loads_with_expected_sizes():
    env = envs.make("go1_flat", 4)
    assert (env.physics.nq, env.physics.nv, env.physics.nu) == (19, 18, 12)
    assert env.obs_size == 48 and env.action_size == 12
    # the terrain tasks see a 77-point height scan; stairs also foot contacts
    assert envs.make_task("go1_rough").obs_size == 48 + 77
    assert envs.make_task("go1_stairs").obs_size == 48 + 12 + 77
    assert envs.canonical_name("go1-rough-terrain-walk") == "go1_rough"


def test_holding_default_pose_stands_for_two_seconds():
    env = envs.make("go1_flat", 8)
    traj = run_actions(env, 100, zeros)  # 100 control steps of 20 ms, dropped from 0.4 m
    assert not bool(traj.done.any())
    height = np.asarray(traj.physics.qpos[-25:, :, 2])  # the last 0.5 s
    assert STANDING_BAND[0] < height.min() and height.max() < STANDING_BAND[1]
    chex.assert_tree_all_finite(traj.physics)
    assert float(jnp.abs(traj.physics.qvel).max()) < 10.0  # the drop does not explode
    assert float(jnp.abs(traj.physics.qvel[-1]).max()) < 0.1  # and it comes to rest
    # all four feet on the ground (only they collide)
    np.testing.assert_array_equal(traj.physics.contacts[-1], np.ones((8, 4)))


def test_random_actions_stay_finite_and_flags_are_exclusive():
    env = envs.make("go1_flat", 16)
    traj = run_actions(env, 60, lambda k, n: jax.random.normal(k, (n, 12)))
    chex.assert_shape(traj.obs, (60, 16, 48))
    chex.assert_tree_all_finite((traj.obs, traj.reward, traj.reward_terms))
    assert not bool((traj.terminated & traj.truncated).any())
    assert float(traj.reward.min()) >= 0.0  # clipped at zero from below


@pytest.mark.parametrize("name", ["go1_rough", "go1_stairs"])
def test_terrain_envs_spawn_above_ground_and_stand_on_every_level(name):
    levels = tuple(range(10))
    env = envs.make(name, 10, task_changes={"initial_levels": levels})
    field = env.task.terrain_map
    qpos, _, info = env.task.reset(jax.random.PRNGKey(0), 10, env.task.initial_info(10))
    np.testing.assert_array_equal(info.level, levels)
    # each robot spawns on its level's strip, above the highest ground within reach
    np.testing.assert_array_equal(field.level_at(qpos[:, :2]), levels)
    x, y = np.asarray(qpos[:, 0]), np.asarray(qpos[:, 1])
    near = [field.grid.height_at(x + dx, y + dy) for dx in (-0.3, 0, 0.3)
            for dy in (-0.3, 0, 0.3)]
    clearance = np.asarray(qpos[:, 2]) - np.max(near, 0)
    # (the spawn reads the interpolated ground at 7 x 7 points, which may pass a peak
    # sample by a few cm; the feet hang ~0.32 m below the trunk, spawned 0.4 m up)
    assert (clearance >= env.task.spawn_height - 0.03).all(), clearance
    # dropped, each lands and stands 0.5 s later: trunk at standing height, not tilted
    # past max_tilt (holding the default pose, a robot on the hardest hills tips over
    # later: keeping it up is the policy's job)
    traj = run_actions(env, 25, zeros)
    assert not bool(traj.terminated.any())
    chex.assert_tree_all_finite(traj.physics)
    final = traj.physics.qpos[-1]
    standing = np.asarray(final[:, 2] - field.grid.ground(final[:, :2]))
    assert ((0.2 < standing) & (standing < 0.36)).all(), standing



def test_terrain_is_deterministic_per_seed_and_graded_by_level():
    a, b = terrain.rough(np.random.default_rng(3)), terrain.rough(np.random.default_rng(3))
    np.testing.assert_array_equal(a.grid.heights, b.grid.heights)
    assert not np.array_equal(a.grid.heights, terrain.rough(np.random.default_rng(4)).grid.heights)
    assert a.grid.heights.min() == 0.0 and len(a.boxes) == 0  # a heightfield
    rx, ry = a.grid.half_size
    x, y = np.meshgrid(np.linspace(-rx, rx, a.grid.heights.shape[1]),
                       np.linspace(-ry, ry, a.grid.heights.shape[0]))
    level = np.asarray(a.level_at(jnp.stack([x.ravel(), y.ravel()], -1))).reshape(x.shape)
    relief = [np.ptp(a.grid.heights[level == k]) for k in range(a.num_levels)]
    assert relief[0] < 1e-9 < relief[1] < relief[5] < relief[9] < 0.7  # flat, then rougher
    s, t = terrain.stairs(np.random.default_rng(0)), terrain.stairs(np.random.default_rng(0))
    np.testing.assert_array_equal(s.boxes, t.boxes)
    # one tread box per step; risers 2 cm at level 0 to 20 cm at level 9 (+-5 %)
    rises = 2 * s.boxes[:, 5]
    treads_y = s.boxes[:, 1]
    for k in (0, 4, 9):
        mine = rises[np.isclose(treads_y, s.strip_centre_y(k))]
        np.testing.assert_allclose(mine, 0.02 * (k + 1), rtol=0.051)
    # the grid the policy scans shows the tread tops
    box = s.boxes[-1]
    top = s.grid.height_at(np.array([box[0]]), np.array([box[1]]))[0]
    assert top == pytest.approx(box[2] + box[5])


def test_a_robot_on_a_stair_tread_rests_on_it():
    """The engines collide with the boxes the policy's height grid shows: the trunk
    settles at the standing height above the top tread of the hardest flight."""
    env = envs.make("go1_stairs", 1)
    box = env.task.terrain_map.boxes[-1]  # level 9's last, top tread
    qpos = jnp.array([[box[0], box[1], box[2] + box[5] + 0.4, 0, 0, 0, 1, *go1.DEFAULT_POSE]])
    view = env.physics.reset(qpos, jnp.zeros((1, 18)))
    ctrl = jnp.asarray([go1.DEFAULT_POSE])
    step = jax.jit(lambda v: env.physics.step(v, ctrl, jnp.zeros(1, bool), qpos,
                                              jnp.zeros((1, 18))))
    for _ in range(75):
        view = step(view)
    height = float(view.qpos[0, 2]) - (box[2] + box[5])
    assert STANDING_BAND[0] < height < STANDING_BAND[1], height


def test_height_scan_reads_the_generated_heights_around_the_robot():
    task = envs.make_task("go1_rough")
    field = task.terrain_map
    grid = field.grid
    rx, ry = grid.half_size
    # trunk over a grid sample of level 7, heading +90 degrees: scan point (px, py) in
    # the heading frame is at world (x - py, y + px)
    row, col = 3 * grid.heights.shape[0] // 4, grid.heights.shape[1] // 2 + 1
    x, y, z = -rx + col * grid.cell, -ry + row * grid.cell, 1.5
    yaw = math.pi / 2
    qpos = jnp.array([[x, y, z, 0, 0, math.sin(yaw / 2), math.cos(yaw / 2), *go1.DEFAULT_POSE]])
    view = PhysicsView(qpos=qpos, qvel=jnp.zeros((1, 18)), contacts=jnp.zeros((1, 4)),
                       tick=jnp.zeros((), jnp.int32))
    scan = np.asarray(task.height_scan(view))[0]
    points = go1.SCAN_POINTS
    expected = z - 0.3 - grid.height_at(x - points[:, 1], y + points[:, 0])
    on_samples = np.all(np.isclose(np.mod(points, grid.cell), 0, atol=1e-6)
                        | np.isclose(np.mod(points, grid.cell), grid.cell, atol=1e-6), -1)
    assert on_samples.sum() >= 9  # the points that fall on samples read them exactly
    np.testing.assert_allclose(scan[on_samples], np.clip(expected, -1, 1)[on_samples],
                               atol=1e-5)
    # between samples: within the neighbouring samples
    assert np.abs(scan - np.clip(expected, -1, 1)).max() < 0.25
    obs = task.observe(view, task.initial_info(1))
    np.testing.assert_allclose(obs[0, -len(points):], scan)  # the last 77 dims
    assert obs.shape == (1, 125)


def view_for(lin_vel=(0.0, 0.0, 0.0), gyro=(0.0, 0.0, 0.0), tilt=0.0, contacts=(1, 1, 1, 1, 0),
             joints=go1.DEFAULT_POSE, height=0.28):
    """A one-env PhysicsView with the trunk `height` m up, pitched by `tilt` rad."""
    quat = [0.0, math.sin(tilt / 2), 0.0, math.cos(tilt / 2)]
    qpos = jnp.array([[0.0, 0.0, height, *quat, *joints]])
    # world-frame linear velocity: rotate the body-frame value by the pitch
    c, s = math.cos(tilt), math.sin(tilt)
    vx, vy, vz = lin_vel
    world = [c * vx + s * vz, vy, -s * vx + c * vz]
    qvel = jnp.array([[*world, *gyro] + [0.0] * 12])
    return PhysicsView(qpos=qpos, qvel=qvel, contacts=jnp.array([contacts], jnp.float32),
                       tick=jnp.zeros((), jnp.int32))


def evaluate(task, view, info=None, action=None):
    info = task.initial_info(1) if info is None else info
    action = jnp.zeros((1, 12)) if action is None else action
    return task.evaluate(jax.random.PRNGKey(0), view, info, action)


def test_reward_terms_on_hand_built_states():
    task = envs.make_task("go1_flat")
    info = task.initial_info(1).replace(command=jnp.array([[1.0, 0.0, 0.5]]))
    terms, failed, _ = evaluate(task, view_for((1.0, 0.0, 0.0), (0.0, 0.0, 0.5)), info)
    np.testing.assert_allclose(terms["tracking_lin_vel"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(terms["tracking_ang_vel"], 1.0, rtol=1e-6)
    assert not bool(failed[0])
    terms, _, _ = evaluate(task, view_for((0.5, 0.0, 0.3), (0.2, 0.1, 0.0)), info)
    np.testing.assert_allclose(terms["tracking_lin_vel"], math.exp(-0.25 / 0.25), rtol=1e-5)
    np.testing.assert_allclose(terms["lin_vel_z"], 0.09, rtol=1e-5)
    np.testing.assert_allclose(terms["ang_vel_xy"], 0.05, rtol=1e-5)
    splayed = list(go1.DEFAULT_POSE)
    splayed[0] = 0.3
    terms, _, _ = evaluate(task, view_for(joints=splayed), info,
                           action=jnp.ones((1, 12)))
    np.testing.assert_allclose(terms["hip_pos"], 0.09, rtol=1e-5)
    np.testing.assert_allclose(terms["action_rate"], 12.0, rtol=1e-6)
    assert float(terms["torques"][0]) > 0.0
    for name, value in terms.items():
        assert np.isfinite(value).all() and float(value[0]) * 0 == 0, name
    # penalty terms carry negative scales, bonuses positive ones
    scales = task.reward_scales
    assert all(scales[k] < 0 for k in ("lin_vel_z", "ang_vel_xy", "torques", "dof_acc",
                                       "action_rate", "hip_pos"))
    assert all(scales[k] > 0 for k in ("tracking_lin_vel", "tracking_ang_vel",
                                       "feet_air_time"))


def test_feet_air_time_rewards_long_swings_at_touchdown():
    task = envs.make_task("go1_flat")
    base = task.initial_info(1).replace(command=jnp.array([[1.0, 0.0, 0.0]]))
    # FR foot was in the air for 0.68 s and touches down now: bonus 0.7 - 0.5 = 0.2
    info = base.replace(air_time=jnp.array([[0.68, 0.0, 0.0, 0.0]]),
                        last_contact=jnp.array([[0.0, 1.0, 1.0, 1.0]]))
    terms, _, after = evaluate(task, view_for(), info)
    np.testing.assert_allclose(terms["feet_air_time"], 0.2, atol=1e-5)
    np.testing.assert_allclose(after.air_time, 0.0)  # cleared after it was read
    # a short swing is penalised; no touchdown, no term; standing command, no term
    terms, _, _ = evaluate(task, view_for(), info.replace(air_time=info.air_time * 0.25))
    assert float(terms["feet_air_time"][0]) < 0
    terms, _, after = evaluate(task, view_for(contacts=(0, 1, 1, 1, 0)), info)
    np.testing.assert_allclose(terms["feet_air_time"], 0.0)
    np.testing.assert_allclose(after.air_time[0, 0], 0.7, atol=1e-6)
    terms, _, _ = evaluate(task, view_for(), info.replace(command=jnp.zeros((1, 3))))
    np.testing.assert_allclose(terms["feet_air_time"], 0.0)


def test_failure_and_reward_clipping():
    task = envs.make_task("go1_flat")
    assert task.collision == "feet" and len(task.contact_pairs) == 4
    _, failed, _ = evaluate(task, view_for(height=task.min_base_height - 0.01))
    assert bool(failed[0])  # feet collisions only: a trunk this low counts as down
    _, failed, _ = evaluate(task, view_for(height=task.min_base_height + 0.01))
    assert not bool(failed[0])
    full = dataclasses.replace(task, collision="full")
    assert full.contact_pairs[4] == ("floor", "trunk")
    _, failed, _ = evaluate(full, view_for(contacts=(1, 1, 1, 1, 1)))
    assert bool(failed[0])  # trunk on the ground
    _, failed, _ = evaluate(full, view_for(height=0.1))
    assert not bool(failed[0])  # with full collisions only the contact counts
    _, failed, _ = evaluate(task, view_for(tilt=task.max_tilt + 0.1))
    assert bool(failed[0])
    _, failed, _ = evaluate(task, view_for(tilt=task.max_tilt - 0.1))
    assert not bool(failed[0])
    terms = {k: jnp.ones(1) for k in task.reward_scales} | {"hip_pos": jnp.array([100.0])}
    assert float(task.reward(terms, jnp.array([False]))[0]) == 0.0  # clipped at zero
    terms["hip_pos"] = jnp.zeros(1)
    assert float(task.reward(terms, jnp.array([False]))[0]) > 0.0
    assert float(task.reward(terms, jnp.array([True]))[0]) == 0.0  # zero on termination


def test_terrain_curriculum_moves_levels_on_episode_outcomes():
    task = envs.make_task("go1_rough")
    # robots ended on levels 0, 3, 3, 3, 9, 5 after: a good walk, a fall, a short walk,
    # a middling one, a good walk at the top, and an episode that asked for no distance
    info = task.initial_info(6).replace(
        level=jnp.array([0, 3, 3, 3, 9, 5]), steps=jnp.full((6,), 1000),
        walked=jnp.array([9.0, 9.0, 2.0, 6.0, 10.0, 0.0]),
        asked=jnp.array([10.0, 10.0, 10.0, 10.0, 10.0, 0.0]),
        fell=jnp.array([False, True, False, False, False, False]))
    expected = [1, 2, 2, 3, 9, 5]
    np.testing.assert_array_equal(go1.terrain_level(info, 0.8, 0.4, 10), expected)
    _, _, reset = task.reset(jax.random.PRNGKey(0), 6, info)
    np.testing.assert_array_equal(reset.level, expected)
    np.testing.assert_array_equal(reset.walked, 0)
    fixed = dataclasses.replace(task, terrain_curriculum=False)
    np.testing.assert_array_equal(fixed.reset(jax.random.PRNGKey(0), 6, info)[2].level,
                                  [0, 3, 3, 3, 9, 5])
    flat = envs.make_task("go1_flat")
    _, _, reset = flat.reset(jax.random.PRNGKey(0), 6, info.replace(level=jnp.zeros(6, int)))
    np.testing.assert_array_equal(reset.level, 0)  # no terrain levels on flat ground


def test_logged_level_is_the_strip_under_the_robot():
    task = envs.make_task("go1_rough")
    field = task.terrain_map
    # spawned on level 2; walked onto level 3's strip, off the terrain, and stayed on 2
    xy = [(0.0, float(field.strip_centre_y(3))), (field.length / 2 + 1.0, 0.0),
          (3.0, float(field.strip_centre_y(2)) + 2.0)]
    qpos = jnp.array([[x, y, 0.6, 0, 0, 0, 1, *go1.DEFAULT_POSE] for x, y in xy])
    view = PhysicsView(qpos=qpos, qvel=jnp.zeros((3, 18)).at[:, 0].set(1.0),
                       contacts=jnp.ones((3, 4)), tick=jnp.zeros((), jnp.int32))
    info = task.initial_info(3).replace(level=jnp.full((3,), 2),
                                        command=jnp.array([[1.0, 0.0, 0.0]] * 3))
    _, failed, after = task.evaluate(jax.random.PRNGKey(0), view, info, jnp.zeros((3, 12)))
    np.testing.assert_array_equal(after.level, [3, 0, 2])  # the border is flat: level 0
    np.testing.assert_allclose(after.walked, task.ctrl_dt)  # 1 m/s along a 1 m/s command
    np.testing.assert_allclose(after.asked, task.ctrl_dt)
    np.testing.assert_array_equal(after.fell, failed)
    metrics = task.metrics(after)
    np.testing.assert_allclose([metrics[f"terrain_level_{k}"].mean() for k in range(4)],
                               [1 / 3, 0, 1 / 3, 1 / 3])


def test_a_rough_tile_holds_an_episode_of_tracked_commands():
    """Robots that track the task's own full-range commands exactly (any heading, a new
    command every `resample_commands_s`) from their tile's spawn points: >= 90 % end the
    20 s episode on the level they spawned on, >= 98 % are still on the field."""
    task = envs.make_task("go1_rough")
    field, n = task.terrain_map, 2000
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    level = jnp.arange(n, dtype=jnp.int32) % field.num_levels
    xy = np.array(field.spawn(keys[0], level)[0])
    yaw = np.array(jax.random.uniform(keys[1], (n,), minval=-math.pi, maxval=math.pi))
    period = round(task.resample_commands_s / task.ctrl_dt)
    full = jnp.full((n,), task.command_levels - 1)
    for k in range(task.episode_length):
        if k % period == 0:
            command = np.array(task.sample_command(jax.random.fold_in(keys[2], k), full))
        c, s = np.cos(yaw), np.sin(yaw)
        xy += task.ctrl_dt * np.stack([c * command[:, 0] - s * command[:, 1],
                                       s * command[:, 0] + c * command[:, 1]], -1)
        yaw += task.ctrl_dt * command[:, 2]
    stayed = np.asarray(field.level_at(jnp.asarray(xy))) == np.asarray(level)
    rx, ry = field.grid.half_size
    on_field = (np.abs(xy[:, 0]) < rx) & (np.abs(xy[:, 1]) < ry)
    assert stayed.mean() >= 0.9 and on_field.mean() >= 0.98, (stayed.mean(), on_field.mean())


def test_command_curriculum_steps_when_the_command_is_resampled():
    task = envs.make_task("go1_flat")
    period = round(task.resample_commands_s / task.ctrl_dt)
    info = task.initial_info(2).replace(
        steps=jnp.full((2,), period - 1), command_steps=jnp.full((2,), period - 1),
        command_tracking=jnp.array([0.9, 0.1]) * (period - 1),
        command_level=jnp.array([1, 1]), command=jnp.zeros((2, 3)))
    view = jax.tree.map(lambda x: jnp.concatenate([x, x]) if x.ndim else x, view_for())
    _, _, after = task.evaluate(jax.random.PRNGKey(0), view, info, jnp.zeros((2, 12)))
    # env 0 tracked well (mean > 0.8 with this standing step's 1.0) and env 1 badly
    np.testing.assert_array_equal(after.command_level, [2, 0])
    np.testing.assert_array_equal(after.command_steps, 0)
    assert float(jnp.abs(after.command[0]).sum()) > 0  # a new command was drawn


def test_commands_in_range_and_small_ones_zeroed():
    task = envs.make_task("go1_flat")
    top = jnp.full((4096,), task.command_levels - 1)
    cmd = np.asarray(task.sample_command(jax.random.PRNGKey(0), top))
    assert (cmd >= np.array(task.command_low) - 1e-6).all()
    assert (cmd <= np.array(task.command_high) + 1e-6).all()
    planar = np.linalg.norm(cmd[:, :2], axis=-1)
    assert ((planar == 0) | (planar >= task.zero_command_below)).all()
    assert 0 < (planar == 0).mean() < 0.05
    assert cmd[:, 0].max() > 0.95 * task.command_high[0]  # the top level spans the ranges
    easy = np.asarray(task.sample_command(jax.random.PRNGKey(0), jnp.zeros(4096, int)))
    assert np.abs(easy[:, 0]).max() <= task.command_high[0] / task.command_levels + 1e-6
    stairs = envs.make_task("go1_stairs").sample_command(jax.random.PRNGKey(0),
                                                         jnp.full((64,), 3))
    assert (stairs[:, 0] > 0).all() and (stairs[:, 1:] == 0).all()


def test_domain_randomization_draws_per_world_parameters():
    # 2 episodes of 30 steps: MotrixSim clears some overrides on reset; they must survive
    env = envs.make("go1_flat", 16,
                    task_changes={"domain_randomization": True, "episode_length": 30})
    traj = run_actions(env, 59, zeros)
    assert bool(traj.truncated[29].all())
    host = env.physics.host
    model, data = host.model, host.data
    kp = np.stack([a.get_kp_override(data) for a in model.actuators])
    assert kp.shape == (12, 16) and 72 <= kp.min() and kp.max() <= 88 and kp.std() > 1
    trunk = model.links[model.link_names.index("trunk")]
    mass = trunk.get_mass_override(data)
    assert 5.204 * 0.9 - 1e-4 <= mass.min() and mass.max() <= 5.204 * 1.1 + 1e-4
    assert mass.std() > 0.05
    floor = model.geoms[model.geom_names.index("floor")]
    assert 0.5 - 1e-6 <= floor.get_friction_override(data)[:, 0].min()
    assert not bool(traj.terminated.any())  # still stands with its own parameters
    height = np.asarray(traj.physics.qpos[-1, :, 2])
    assert STANDING_BAND[0] - 0.02 < height.min() and height.max() < STANDING_BAND[1]
    assert np.ptp(height) > 1e-3  # the worlds differ


def test_task_changes_are_checked():
    with pytest.raises(ValueError, match="did you mean 'domain_randomization'"):
        envs.make("go1_flat", 2, task_changes={"domain_randomisation": True})
    with pytest.raises(ValueError, match="host backends only"):
        envs.make("go1_flat", 2, physics="mjx", task_changes={"domain_randomization": True})


def test_task_changes_parse_from_text():
    changes = envs.parse_task_changes(
        "go1_flat", ["domain_randomization=true", "command_levels=1", "max_tilt=0.8"])
    assert changes == {"domain_randomization": True, "command_levels": 1, "max_tilt": 0.8}
    assert envs.make_task("go1_flat").command_levels == 4  # the registry is not changed


def test_evaluations_hold_the_full_command_ranges_and_the_terrain_levels():
    assert envs.evaluation_changes("go1_rough") == {"command_levels": 1,
                                                    "terrain_curriculum": False}
    assert envs.evaluation_changes("vbot_navigation_section012") == {"course_spawns": 0.0}
    assert envs.evaluation_changes("cartpole") == {}  # nothing to hold
    held = envs.with_task_changes(envs.make_task("go1_rough"),
                                  envs.evaluation_changes("go1_rough"))
    assert held.command_levels == 1 and not held.terrain_curriculum


def test_stairs_command_turns_the_robot_back_up_the_stairs():
    task = envs.make_task("go1_stairs")
    view = view_for()
    yaw = 0.6  # turned left: the yaw-rate command turns it right, back to +x
    view = view.replace(qpos=view.qpos.at[0, 3:7].set(
        jnp.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])))
    info = task.initial_info(1).replace(command=jnp.array([[0.5, 0.0, 0.0]]))
    _, _, after = task.evaluate(jax.random.PRNGKey(0), view, info, jnp.zeros((1, 12)))
    np.testing.assert_allclose(after.command[0], [0.5, 0.0, -0.6], atol=1e-5)


def test_privileged_critic_sees_the_policy_obs_then_contacts_height_and_torques():
    env = envs.make("go1_flat", 4, task_changes={"privileged_critic": True})
    assert envs.make("go1_flat", 4).critic_obs_size is None  # off by default
    state = env.reset(jax.random.PRNGKey(0))
    for _ in range(40):  # dropped from 0.4 m: standing on its feet by now
        state = env.step(state, jnp.zeros((4, 12)))
    assert env.critic_obs_size == env.obs_size + 25 == state.critic_obs.shape[1]
    np.testing.assert_array_equal(state.critic_obs[:, :env.obs_size], state.obs)
    extra = np.asarray(state.critic_obs[:, env.obs_size:])
    np.testing.assert_array_equal(extra[:, :4], 1.0)  # every foot down
    np.testing.assert_allclose(extra[:, 12], 0.0, atol=0.03)  # at its standing height
    assert (np.abs(extra[:, 13:]) <= 1.0).all() and np.abs(extra[:, 13:]).max() > 0.01
