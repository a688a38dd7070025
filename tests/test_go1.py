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
    assert envs.make_task("go1_stairs").obs_size == 60
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
def test_terrain_envs_spawn_above_ground_and_stand(name):
    env = envs.make(name, 8)
    levels = jnp.arange(8) % env.task.heightfield.num_levels
    qpos, _, _ = env.task.reset(jax.random.PRNGKey(0), 8,
                                env.task.initial_info(8).replace(level=levels))
    hf = env.task.heightfield
    ground = hf.height_at(np.asarray(qpos[:, 0]), np.asarray(qpos[:, 1]))
    # spawn height = highest ground around the spawn point + spawn_height: never inside
    clearance = np.asarray(qpos[:, 2]) - ground
    assert (clearance >= env.task.spawn_height - 1e-5).all()
    assert (clearance <= env.task.spawn_height + 0.35).all()
    traj = run_actions(env, 75, zeros)
    assert not bool(traj.terminated.any())
    chex.assert_tree_all_finite(traj.physics)


def test_terrain_is_deterministic_per_seed_and_bounded():
    a = terrain.rough(np.random.default_rng(3))
    b = terrain.rough(np.random.default_rng(3))
    c = terrain.rough(np.random.default_rng(4))
    np.testing.assert_array_equal(a.heights, b.heights)
    assert not np.array_equal(a.heights, c.heights)
    assert a.heights.min() == 0.0 and a.heights.max() < 0.08 + 0.15 * 4.0 + 1e-9
    # level 0 is flat, the last level is the roughest
    per_tile = round(a.tile / a.cell)
    first = a.heights[:, :per_tile]
    last = a.heights[:, -per_tile - 1:-1]
    assert np.ptp(first) < 1e-9 < np.ptp(last)
    s = terrain.stairs(np.random.default_rng(0))
    rises = np.diff(s.heights[0, :per_tile])
    assert (rises >= -1e-9).all()  # climbing along +x
    last_rises = np.diff(s.heights[0, -per_tile - 1:-1])
    assert 0.12 < last_rises.max() < 0.16  # hardest stairs: ~0.14 m steps
    assert s.spawn_heights.max() < 1e-9  # spawns on the bottom landing


def test_terrain_geometry_matches_simulation():
    # A robot standing on a high tile rests at that tile's height + standing height.
    hf = terrain.stairs(np.random.default_rng(0))
    assert hf.mjcf_asset("terrain").get("nrow") == str(hf.heights.shape[0])
    x, y = hf.tile_centre(9, 0)
    top = hf.height_at(np.array([x + 3.0]), np.array([y]))[0]
    assert top > 1.0  # the top of the hardest flight is high above the landing


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


def test_curriculum_moves_levels_by_tracking():
    task = envs.make_task("go1_rough")
    steps = jnp.array([100, 100, 100, 100])
    tracking = jnp.array([90.0, 30.0, 60.0, 95.0])
    info = task.initial_info(4).replace(level=jnp.array([0, 3, 3, 9]), steps=steps,
                                        tracking=tracking, command_steps=steps,
                                        command_tracking=tracking)
    np.testing.assert_array_equal(go1.next_level(info.level, tracking, steps, 10),
                                  [1, 2, 3, 9])
    _, _, reset = task.reset(jax.random.PRNGKey(0), 4, info)
    np.testing.assert_array_equal(reset.level, [1, 2, 3, 9])
    np.testing.assert_array_equal(reset.command_level, [1, 0, 0, 1])
    flat = envs.make_task("go1_flat")
    _, _, reset = flat.reset(jax.random.PRNGKey(0), 4, info)
    np.testing.assert_array_equal(reset.level, 0)  # no terrain levels on flat ground


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
