"""MuJoCo's C engine as a host backend (`--physics mujoco`): the env contract for every
task, the host step order, agreement with MotrixSim (with MJX on Go1 standing, in
tests/test_legged_mjx.py), exact resume with contacts, and domain randomisation per world."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import check_rollout_contract, env_rollout

from motrix_jax import envs
from motrix_jax.env import Randomization
from motrix_jax.physics.mujoco import MujocoWorlds, randomized_models


def rollout(env, key, actions):
    return env_rollout(env)(key, actions)


# the default suite covers each kind of contact (none, feet on a plane and on a
# heightfield, a course with balls, a grasp, a bouncing ball); -m slow runs the other 14
DEFAULT_CONTRACT = ("cartpole", "go1_flat", "go1_rough", "vbot_navigation_section013",
                    "franka_lift_cube", "bounce_ball")


@pytest.mark.parametrize("name", [
    name if name in DEFAULT_CONTRACT else pytest.param(name, marks=pytest.mark.slow)
    for name in sorted(envs.REGISTRY)])
def test_contract_on_mujoco(name):
    env = envs.make(name, 4, physics="mujoco")
    host = envs.make(name, 4)  # MotrixSim: the same model sizes
    assert (env.physics.nq, env.physics.nv, env.physics.nu) == (
        host.physics.nq, host.physics.nv, host.physics.nu)
    check_rollout_contract(env, 30)


def test_host_steps_once_per_control_step_in_order():
    env = envs.make("cartpole", 8, physics="mujoco")
    env.physics.host.tick_log = []
    rollout(env, jax.random.PRNGKey(0), jnp.zeros((25, 8, 1)))
    assert env.physics.host.tick_log == list(range(25))
    state = env.reset(jax.random.PRNGKey(0))
    jax.block_until_ready(env.step(state, jnp.zeros((8, 1))))
    with pytest.raises(Exception, match="control step 0 arrived, expected 1"):
        jax.block_until_ready(env.step(state, jnp.zeros((8, 1))))


def test_cartpole_agrees_with_motrixsim():
    actions = 0.5 * jax.random.normal(jax.random.PRNGKey(3), (200, 4, 1))
    runs = {physics: rollout(envs.make("cartpole", 4, physics=physics), jax.random.PRNGKey(0),
                             actions) for physics in ("mujoco", "motrixsim")}
    # MJX (the same engine in float32) against MotrixSim likewise: tests/test_mjx.py
    np.testing.assert_allclose(runs["mujoco"].final_obs, runs["motrixsim"].final_obs, atol=1e-4)
    np.testing.assert_array_equal(runs["mujoco"].done, runs["motrixsim"].done)


def test_resume_from_the_view_is_bitwise_exact_with_contacts():
    """go1_flat under random actions (falls, contacts, resets): 30 steps, then the view is
    saved and restored into a fresh env, and 20 more steps equal the uninterrupted run's
    bit for bit (MotrixSim cannot do this: its warm starts are not readable)."""
    actions = jax.random.normal(jax.random.PRNGKey(1), (50, 8, 12))
    env = envs.make("go1_flat", 8, physics="mujoco")
    step = jax.jit(env.step)
    state = env.reset(jax.random.PRNGKey(0))
    for t in range(30):
        state = step(state, actions[t])
    saved = jax.tree.map(np.asarray, state)
    later = [state := step(state, actions[t]) for t in range(30, 50)]
    straight = later[-1]
    # N(0, 1) actions knock robots over: the compared stretch includes resets
    assert any(bool(s.done.any()) for s in later)

    fresh = envs.make("go1_flat", 8, physics="mujoco")
    fresh.reset(jax.random.PRNGKey(5))  # other worlds, other tick
    fresh.physics.restore(saved.physics)
    step = jax.jit(fresh.step)
    resumed = jax.tree.map(jnp.asarray, saved)
    for t in range(30, 50):
        resumed = step(resumed, actions[t])
    np.testing.assert_array_equal(resumed.physics.data, straight.physics.data)
    np.testing.assert_array_equal(resumed.obs, straight.obs)
    assert saved.physics.data.shape == (8, env.physics.host.state_width, 2)


def test_domain_randomization_draws_parameters_per_world():
    spec = Randomization(friction=(0.5, 1.25), mass=(0.9, 1.1), com_body="trunk",
                         com_offset=0.02, kp=(0.9, 1.1), kd=(0.9, 1.1), seed=3)
    base = MujocoWorlds(envs.make_task("go1_flat").mjcf(), 0.005, 4).model
    worlds = randomized_models(base, 6, spec)
    friction = np.array([w.geom_friction[0, 0] / base.geom_friction[0, 0] for w in worlds])
    mass = np.array([w.body_mass[1] / base.body_mass[1] for w in worlds])
    kp = np.array([w.actuator_gainprm[0, 0] / base.actuator_gainprm[0, 0] for w in worlds])
    for values, (low, high) in ((friction, spec.friction), (mass, spec.mass), (kp, spec.kp)):
        assert ((low <= values) & (values <= high)).all() and np.ptp(values) > 0.01
    for w in worlds:  # position actuators stay consistent: bias = -kp q - kd qdot
        np.testing.assert_allclose(w.actuator_biasprm[:, 1], -w.actuator_gainprm[:, 0])
        assert np.abs(w.body_ipos[1] - base.body_ipos[1]).max() <= 0.02
    assert base.geom_friction[0, 0] == 1.0  # the base model is not changed
    env = envs.make("go1_flat", 6, physics="mujoco",
                    task_changes={"domain_randomization": True})
    traj = rollout(env, jax.random.PRNGKey(0), jnp.zeros((50, 6, 12)))
    chex.assert_tree_all_finite(traj.physics.qpos)
    assert np.ptp(np.asarray(traj.physics.qpos[-1, :, 2])) > 1e-4  # worlds differ


def test_unknown_contact_geom_is_named():
    task = envs.make_task("go1_flat")
    with pytest.raises(ValueError, match="no geom named 'paw'"):
        MujocoWorlds(task.mjcf(), 0.005, 4, (("floor", "paw"),))
