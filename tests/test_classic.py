"""The classic suite: env contract for every task, models, kinematics, reward terms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import check_rollout_contract

from motrix_jax import envs
from motrix_jax.env import PhysicsView
from motrix_jax.envs import hopper, planar, reacher, walker

SIZES = {"dm_cheetah": (17, 6, 400), "dm_walker": (22, 6, 1000), "dm_stander": (22, 6, 1000),
         "dm_runner": (22, 6, 1000), "dm_hopper_stand": (15, 4, 1000),
         "dm_hopper_hop": (15, 4, 1000), "dm_reacher": (10, 2, 240),
         "bounce_ball": (25, 6, 2000)}
STEPS, N = 30, 4


@pytest.mark.parametrize("name", sorted(SIZES))
def test_contract(name):
    obs_size, action_size, episode_length = SIZES[name]
    env = envs.make(name, N)
    assert (env.obs_size, env.action_size, env.task.episode_length) == (
        obs_size, action_size, episode_length)
    assert env.physics.nu == action_size
    check_rollout_contract(env, STEPS)


def test_motrixlab_aliases_and_presets():
    for alias, name in [("dm-cheetah", "dm_cheetah"), ("dm-walker", "dm_walker"),
                        ("dm-stander", "dm_stander"), ("dm-runner", "dm_runner"),
                        ("dm-hopper-stand", "dm_hopper_stand"), ("dm-hopper-hop", "dm_hopper_hop"),
                        ("dm-reacher", "dm_reacher"), ("bounce-ball", "bounce_ball")]:
        assert envs.canonical_name(alias) == name
    cheetah = envs.preset("dm_cheetah")
    assert (cheetah.num_envs, cheetah.rollouts, cheetah.learning_rate, cheetah.max_env_steps,
            cheetah.policy_hidden_sizes, cheetah.learning_epochs, cheetah.mini_batches) == (
        2048, 24, 2e-4, 40_960_000, (256, 128, 64), 4, 32)
    hop = envs.preset("dm-hopper-hop")
    assert (hop.policy_hidden_sizes, hop.learning_epochs, hop.mini_batches) == ((32, 32, 32), 5, 32)
    ball = envs.preset("bounce_ball")
    assert (ball.num_envs, ball.rollouts, ball.learning_epochs, ball.mini_batches,
            ball.policy_hidden_sizes) == (1024, 128, 15, 16, (512, 512, 512))
    assert envs.make_task("dm_runner").move_speed == 5.0
    assert envs.make_task("dm_stander").move_speed == 0.0


@pytest.mark.parametrize("name, xml", [("dm_cheetah", "cheetah"), ("dm_walker", "walker"),
                                       ("dm_hopper_stand", "hopper")])
def test_planar_kinematics_match_motrixsim_link_poses(name, xml):
    env = envs.make(name, 6)
    host = env.physics.host
    bodies = planar.PlanarBodies.from_mjcf(env.task.mjcf())
    assert bodies.names == tuple(host.model.link_names)
    rng = np.random.default_rng(0)
    qpos = rng.uniform(-0.8, 0.8, (6, host.nq)).astype(np.float32)
    host.reset(qpos, np.zeros((6, host.nv), np.float32))
    poses = host.model.get_link_poses(host.data)  # [N, B, 7]: xyz, quaternion xyzw
    positions, angles = bodies.poses(jnp.asarray(qpos))
    np.testing.assert_allclose(positions, poses[..., [0, 2]], atol=1e-5)
    np.testing.assert_allclose(angles, 2 * np.arctan2(poses[..., 4], poses[..., 6]), atol=1e-5)
    np.testing.assert_allclose(poses[..., 1], np.asarray(poses[..., 1]) * 0 + poses[0, :, 1],
                               atol=1e-6)  # y never changes: planar


def test_com_velocity_is_the_finite_difference_of_the_com():
    bodies = planar.load(walker.XML_PATH)[1]
    rng = np.random.default_rng(1)
    qpos, qvel = (jnp.asarray(rng.normal(size=(3, 9)), jnp.float32) for _ in range(2))
    eps = 1e-3
    numeric = (bodies.com(qpos + eps * qvel) - bodies.com(qpos - eps * qvel)) / (2 * eps)
    np.testing.assert_allclose(bodies.com_velocity(qpos, qvel), numeric, atol=2e-3)
    # a pure rootx velocity moves the centre of mass at that speed
    np.testing.assert_allclose(
        bodies.com_velocity(qpos, jnp.zeros((3, 9)).at[:, 0].set(2.0)), [[2.0, 0.0]] * 3,
        atol=1e-5)
    assert sum(bodies.masses) == pytest.approx(10.67 + 2 * (4.058 + 2.781 + 2.094))


def view(qpos, qvel, contacts):
    qpos = jnp.asarray(qpos, jnp.float32)
    return PhysicsView(qpos=qpos, qvel=jnp.asarray(qvel, jnp.float32),
                       contacts=jnp.asarray(contacts, jnp.float32), tick=jnp.int32(0))


def test_walker_reward_on_hand_built_states():
    task = envs.make_task("dm_walker")
    zeros = np.zeros((2, 9))
    upright = view(zeros, zeros.copy(), np.zeros((2, 3)))
    qvel = zeros.copy()
    qvel[1, 0] = 1.0  # the whole walker translates at 1 m/s
    moving = view(zeros, qvel, np.zeros((2, 3)))
    terms, failed, info = task.evaluate(None, moving, task.initial_info(2), jnp.zeros((2, 6)))
    np.testing.assert_allclose(info.height, 1.3)  # torso origin as built
    np.testing.assert_allclose(terms["standing"], 1.0)
    np.testing.assert_allclose(terms["upright"], 1.0)
    np.testing.assert_allclose(terms["move"], [0.0, 1.0], atol=1e-6)  # 0 m/s: two margins off
    np.testing.assert_allclose(task.reward(terms, failed), [1 / 6, 1.0], atol=1e-6)
    # lying on its back: pitch 90 deg, torso at 0.1 m, touching the floor
    fallen = np.zeros((1, 9))
    fallen[0, 1], fallen[0, 2] = -1.2, math.pi / 2
    terms, failed, _ = task.evaluate(None, view(fallen, np.zeros((1, 9)), [[1, 0, 0]]),
                                     task.initial_info(1), jnp.zeros((1, 6)))
    np.testing.assert_allclose(terms["upright"], 0.5, atol=1e-6)
    np.testing.assert_allclose(terms["standing"], 0.1 ** ((1.1 / 0.6) ** 2), rtol=1e-4)
    assert bool(failed[0])
    obs = task.observe(upright, task.initial_info(2))
    np.testing.assert_allclose(obs[0, :2], [1.0, 0.0])  # cos, sin of the torso pitch
    np.testing.assert_allclose(obs[0, 8], 1.3)  # torso height
    np.testing.assert_allclose(obs[0, 18:20], [0.05, 0.05], atol=1e-6)  # foot capsules on the floor


def test_hopper_height_and_rewards():
    stand, hop = envs.make_task("dm_hopper_stand"), envs.make_task("dm_hopper_hop")
    qpos = np.zeros((1, 7))
    # straight leg: torso COM (z 1 + 0.0789) above the foot COM (z 1 - 0.9)
    np.testing.assert_allclose(stand.height(jnp.asarray(qpos)), 0.07889 + 0.9, atol=1e-5)
    v = view(qpos, np.zeros((1, 7)), np.zeros((1, 3)))
    terms, _, _ = stand.evaluate(None, v, stand.initial_info(1), jnp.full((1, 4), 0.5))
    np.testing.assert_allclose(terms["standing"], 1.0)
    np.testing.assert_allclose(terms["small_control"], (0.75 + 4) / 5, atol=1e-6)
    np.testing.assert_allclose(stand.reward(terms, None), 0.95, atol=1e-6)
    np.testing.assert_allclose(hop.reward(terms, None), 0.0)  # standing still: no hop
    qvel = np.zeros((1, 7))
    qvel[0, 0] = 2.0
    terms, _, _ = hop.evaluate(None, view(qpos, qvel, np.zeros((1, 3))), hop.initial_info(1),
                               jnp.zeros((1, 4)))
    np.testing.assert_allclose(hop.reward(terms, None), 1.0, atol=1e-6)
    assert hopper.Hopper().contact_pairs[:2] == (("floor", "toe"), ("floor", "heel"))


def test_reacher_fingertip_matches_motrixsim_and_reward():
    env = envs.make("dm_reacher", 5)
    host = env.physics.host
    qpos, _, _ = env.task.reset(jax.random.PRNGKey(0), 5, env.task.initial_info(5))
    host.reset(np.asarray(qpos), np.zeros((5, 4), np.float32))
    poses = host.model.get_link_poses(host.data)
    finger = host.model.link_names.index("finger")
    np.testing.assert_allclose(reacher.fingertip(qpos), poses[:, finger, :2], atol=1e-5)
    distance = np.linalg.norm(qpos[:, 2:4], axis=-1)
    assert (distance >= 0.05 - 1e-6).all() and (distance <= 0.2 + 1e-6).all()
    on_target = jnp.array([[0.0, 0.0, 0.24, 0.0], [0.0, 0.0, 0.24 + 0.035, 0.0]])
    terms, _, info = env.task.evaluate(None, view(on_target, np.zeros((2, 4)), np.zeros((2, 0))),
                                       env.task.initial_info(2), jnp.zeros((2, 2)))
    np.testing.assert_allclose(terms["reach"], [1.0, 0.0])
    np.testing.assert_allclose(info.distance, [0.0, 0.035], atol=1e-6)


def test_bounce_ball_paddle_catches_the_dropped_ball_then_loses_it():
    env = envs.make("bounce_ball", 4)

    def body(state, _):
        state = env.step(state, jnp.zeros((4, 6)))
        return state, state
    traj = jax.jit(lambda k: jax.lax.scan(body, env.reset(k), None, length=160)[1])(
        jax.random.PRNGKey(0))
    ball_z = np.asarray(traj.physics.qpos[:, :, 8])
    # dropped from 0.8 m onto the paddle (top at ~0.46 m): it lands and rests on it
    assert ball_z[:60].min() > 0.45
    assert 0.46 < ball_z[60:100].min() and ball_z[60:100].max() < 0.5
    assert bool(traj.physics.contacts[60:100, :, 0].any(0).all())
    # resting: flight height ~0.48 m, far below the 0.75-0.85 m band
    assert float(traj.reward_terms["height"][60:100].max()) < 0.3
    # with the arm idle the ball rolls off the (slightly sagging) paddle: a failure
    ended = np.asarray(traj.terminated)
    assert ended.sum() >= 2 and not bool(traj.truncated.any())
    assert (np.asarray(traj.final_obs[..., 8])[ended] < env.task.min_height).all()
