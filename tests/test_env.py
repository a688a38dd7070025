import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import env_rollout, jax_cartpole, motrix_cartpole


def rollout(env, key, actions):
    return env_rollout(env)(key, actions)


def test_contract_shapes_dtypes_and_finite():
    env = motrix_cartpole(16)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    chex.assert_shape(state.obs, (16, 4))
    assert state.obs.dtype == jnp.float32
    actions = jax.random.normal(jax.random.PRNGKey(1), (50, 16, 1))
    traj = rollout(env, jax.random.PRNGKey(0), actions)
    chex.assert_shape([traj.obs, traj.final_obs], (50, 16, 4))
    chex.assert_shape([traj.reward, traj.terminated, traj.truncated], (50, 16))
    assert traj.terminated.dtype == jnp.bool_ and traj.truncated.dtype == jnp.bool_
    chex.assert_tree_all_finite((traj.obs, traj.final_obs, traj.reward))
    assert not bool((traj.terminated & traj.truncated).any())


def test_same_key_same_trajectory_twice():
    env = motrix_cartpole(8)
    actions = jax.random.normal(jax.random.PRNGKey(3), (40, 8, 1))
    first = rollout(env, jax.random.PRNGKey(7), actions)
    second = rollout(env, jax.random.PRNGKey(7), actions)
    np.testing.assert_array_equal(first.final_obs, second.final_obs)
    other = rollout(env, jax.random.PRNGKey(8), actions)
    assert not np.allclose(first.final_obs, other.final_obs)


def test_host_backend_matches_jax_reference_through_resets():
    # Episodes of 5 steps: the MotrixSim host must apply each sampled initial state
    # exactly where the pure-JAX reference physics does.
    actions = jax.random.normal(jax.random.PRNGKey(2), (23, 6, 1)) * 0.5
    host = rollout(motrix_cartpole(6, episode_length=5), jax.random.PRNGKey(4), actions)
    ref = rollout(jax_cartpole(6, episode_length=5), jax.random.PRNGKey(4), actions)
    np.testing.assert_allclose(host.final_obs, ref.final_obs, atol=1e-4)
    np.testing.assert_allclose(host.obs, ref.obs, atol=1e-4)
    np.testing.assert_array_equal(host.truncated, ref.truncated)


def test_auto_reset_keeps_final_obs_and_sets_flags():
    env = motrix_cartpole(4, episode_length=5)
    actions = jnp.zeros((6, 4, 1))
    traj = rollout(env, jax.random.PRNGKey(0), actions)
    assert traj.truncated[4].all() and not traj.terminated[4].any()
    assert not traj.truncated[:4].any()
    # final_obs is the state reached; obs is the next episode's first observation
    assert not np.allclose(traj.final_obs[4], traj.obs[4])
    np.testing.assert_allclose(traj.obs[4], np.concatenate(
        [traj.reset_qpos[4], traj.reset_qvel[4]], -1), atol=1e-7)
    assert (traj.step_count[5] == 1).all() and (np.abs(traj.final_obs[5]) < 0.05).all()
    np.testing.assert_allclose(traj.done_length[4], 5)
    np.testing.assert_allclose(traj.done_return[4], 5.0)


def test_failure_terminates_without_truncation():
    env = motrix_cartpole(4)
    traj = rollout(env, jax.random.PRNGKey(0), jnp.ones((40, 4, 1)))
    first_end = int(np.argmax(np.asarray(traj.terminated[:, 0])))
    assert 5 < first_end < 40
    assert np.abs(traj.final_obs[first_end, 0, 1]) > 0.2  # pole angle past the limit
    assert not traj.truncated.any()


def test_host_steps_once_per_control_step_in_order():
    env = motrix_cartpole(8)
    env.physics.host.tick_log = []
    rollout(env, jax.random.PRNGKey(0), jnp.zeros((25, 8, 1)))
    assert env.physics.host.tick_log == list(range(25))


def test_stepping_a_stale_state_is_an_error():
    env = motrix_cartpole(2)
    step = jax.jit(env.step)
    state = env.reset(jax.random.PRNGKey(0))
    step(state, jnp.zeros((2, 1))).obs.block_until_ready()
    with pytest.raises(Exception, match="control step 0 arrived, expected 1"):
        step(state, jnp.zeros((2, 1))).obs.block_until_ready()
