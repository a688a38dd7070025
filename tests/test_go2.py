"""Go2: the model's facts (mass, joints, limits), standing and touchdowns on every engine,
mirrors, the env contract and the export metadata. The task is Go1's (envs/go1.py) with
Go2's robot description; what Go1's tests cover of the shared task is not repeated."""

import dataclasses
import functools
import json

import chex
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
import test_symmetry
from conftest import env_rollout

from motrix_jax import envs, export
from motrix_jax.config import PPOConfig
from motrix_jax.env import LEAN_SOLVER, PhysicsView
from motrix_jax.envs import go1, legged
from motrix_jax.physics.mjx import solver_in_force
from motrix_jax.run_folder import RunInfo

N, STEPS = 2, 100  # 100 control steps of 20 ms = 2 s, dropped from the spawn height
JOINTS = [f"{leg}_{part}_joint" for leg in ("FR", "FL", "RR", "RL")
          for part in ("hip", "thigh", "calf")]


def go2_model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(envs.make_task("go2_flat").mjcf())


def test_model_facts_mass_joints_and_limits():
    model = go2_model()
    # Unitree's published masses: base 6.921, hip 0.678, thigh 1.152, calf 0.154, foot 0.04
    np.testing.assert_allclose(model.body_mass.sum(), 15.017, atol=1e-6)
    assert [model.joint(i).name for i in range(1, model.njnt)] == JOINTS
    assert (model.nq, model.nv, model.nu) == (19, 18, 12)
    ranges = model.jnt_range[1:]
    np.testing.assert_allclose(ranges[0::3], [[-1.0472, 1.0472]] * 4)  # abduction
    np.testing.assert_allclose(ranges[1:6:3], [[-1.5708, 3.4907]] * 2)  # front thighs
    np.testing.assert_allclose(ranges[7::3], [[-0.5236, 4.5379]] * 2)  # rear thighs
    np.testing.assert_allclose(ranges[2::3], [[-2.7227, -0.83776]] * 4)  # calves
    np.testing.assert_allclose(model.actuator_forcerange[:, 1], go1.GO2.torque_limits)
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], go1.GO2.kp)
    # the actuators drive the joints in the task's order
    assert [model.joint(j).name for j in model.actuator_trnid[:, 0]] == JOINTS
    # links: hip 0.1934 m forward, 0.0465 + 0.0955 m out; thigh and calf 0.213 m
    np.testing.assert_allclose(model.body("FL_hip").pos, [0.1934, 0.0465, 0])
    np.testing.assert_allclose(model.body("FL_thigh").pos, [0, 0.0955, 0])
    np.testing.assert_allclose(model.body("FL_calf").pos, [0, 0, -0.213])
    # the model is its own mirror image: right and left bodies mirror in y
    for left, right in [("FL_hip", "FR_hip"), ("FL_thigh", "FR_thigh"), ("RL_calf", "RR_calf")]:
        np.testing.assert_allclose(model.body(left).ipos * [1, -1, 1], model.body(right).ipos)
    assert model.body("base").ipos[1] == 0.0


def test_registry_names_aliases_and_preset():
    assert envs.canonical_name("go2-flat-terrain-walk") == "go2_flat"
    assert envs.canonical_name("go2-rough-terrain-walk") == "go2_rough"
    flat, rough = envs.make_task("go2_flat"), envs.make_task("go2_rough")
    assert (flat.robot, flat.obs_size, rough.obs_size) == ("go2", 48, 48 + 77)
    assert envs.make_task("go1_flat").robot == "go1"
    assert envs.preset("go2_flat") == envs.preset("go1_flat")  # MotrixLab's: the same
    assert envs.preset("go2_rough").max_env_steps == 20_000_000
    with pytest.raises(ValueError, match="robot must be one of go1, go2, got 'go3'"):
        envs.make("go2_flat", 2, task_changes={"robot": "go3"})


@functools.cache
def runner(physics: str):
    """(go2_flat env on `physics`, its jitted rollout (key, actions) -> states), compiled
    once per engine in a session."""
    env = envs.make("go2_flat", N, physics=physics)
    return env, env_rollout(env)


@functools.cache
def rollout(physics: str):
    """The zero-action rollout of go2_flat on `physics` (same initial states everywhere:
    the reset is JAX code shared by all engines)."""
    env, run = runner(physics)
    return env, run(jax.random.PRNGKey(0), jnp.zeros((STEPS, N, 12)))


@pytest.mark.slow(reason="two host engines' Go2 rollouts to compile (9 s); model facts, contract and mirrors stay in the default suite")
def test_go2_stands_and_touches_down_alike_on_motrixsim_and_mujoco_c():
    runs = {physics: rollout(physics)[1] for physics in ("motrixsim", "mujoco")}
    env = rollout("mujoco")[0]
    assert solver_in_force(env.physics.host.model) == LEAN_SOLVER
    for run in runs.values():
        assert not bool(run.done.any())
        assert float(jnp.abs(run.physics.qvel[-1]).max()) < 0.1  # at rest
        np.testing.assert_array_equal(run.physics.contacts[-1], 1.0)  # the four feet
        height = np.asarray(run.physics.qpos[-1, :, 2])
        assert ((0.24 < height) & (height < 0.28)).all(), height  # measured 0.257 m
    z = {k: np.asarray(v.physics.qpos[-1, :, 2]) for k, v in runs.items()}
    np.testing.assert_allclose(z["mujoco"], z["motrixsim"], atol=0.01)
    touch = {k: np.argmax(np.asarray(v.physics.contacts) > 0.5, axis=0)
             for k, v in runs.items()}
    assert np.abs(touch["mujoco"] - touch["motrixsim"]).max() <= 1, touch


@pytest.mark.slow
def test_go2_stands_on_mjx_as_on_mujoco_c_and_motrixsim():
    """MJX beside the two host engines (its program compiles for about 15 s)."""
    mjx, host = rollout("mjx")[1], rollout("mujoco")[1]
    assert solver_in_force(rollout("mjx")[0].physics.mj_model) == LEAN_SOLVER
    assert not bool(mjx.done.any())
    np.testing.assert_array_equal(mjx.physics.contacts[-1], 1.0)
    np.testing.assert_allclose(mjx.physics.qpos[-1, :, 2], host.physics.qpos[-1, :, 2],
                               atol=1e-3)
    np.testing.assert_allclose(mjx.physics.qpos[-1, :, 2],
                               rollout("motrixsim")[1].physics.qpos[-1, :, 2], atol=0.01)
    touch = [np.argmax(np.asarray(r.physics.contacts) > 0.5, axis=0) for r in (mjx, host)]
    assert np.abs(touch[0] - touch[1]).max() <= 1, touch


def test_env_contract_and_random_actions():
    env, run = runner("motrixsim")
    # N(0, 1) actions knock robots over and reset them
    traj = run(jax.random.PRNGKey(1), jax.random.normal(jax.random.PRNGKey(1), (STEPS, N, 12)))
    chex.assert_shape([traj.obs, traj.final_obs], (STEPS, N, 48))
    chex.assert_shape([traj.reward, traj.terminated, traj.truncated], (STEPS, N))
    chex.assert_tree_all_finite((traj.obs, traj.reward, traj.physics.qpos))
    assert not bool((traj.terminated & traj.truncated).any())
    assert float(traj.reward.min()) >= 0.0
    # the observation's joint offsets are from Go2's default pose (abduction +-0.1)
    task = env.task
    qpos = jnp.asarray([[0, 0, 0.3, 0, 0, 0, 1, *go1.GO2.default_pose]])
    view = PhysicsView(qpos=qpos, qvel=jnp.zeros((1, 18)),
                                     contacts=jnp.ones((1, 4)), tick=jnp.int32(0))
    obs = task.observe(view, task.initial_info(1))
    np.testing.assert_allclose(obs[0, 9:21], 0.0, atol=1e-7)
    terms, failed, _ = task.evaluate(jax.random.PRNGKey(0), view, task.initial_info(1),
                                     jnp.zeros((1, 12)))
    assert float(terms["hip_pos"][0]) == 0.0 and not bool(failed[0])


@pytest.mark.parametrize("name", ["go2_flat", "go2_rough"])
def test_mirrors_are_involutions_of_the_task_sizes(name):
    for task in (envs.make_task(name),
                 dataclasses.replace(envs.make_task(name), privileged_critic=True)):
        mirrors = task.mirrors()
        assert (mirrors.obs.size, mirrors.action.size) == (task.obs_size, 12)
        assert (mirrors.critic_obs and mirrors.critic_obs.size) == task.critic_obs_size
        assert all(m.is_involution() for m in mirrors.all().values())
    # the default pose is its own mirror image
    pose = jnp.asarray(go1.GO2.default_pose)
    np.testing.assert_array_equal(legged.JOINTS_MIRROR(pose), pose)


@pytest.mark.parametrize("backend", ["motrixsim",
                                     pytest.param("mujoco", marks=pytest.mark.slow)])
def test_a_mirrored_state_steps_into_the_mirrored_trajectory(backend, monkeypatch):
    """test_symmetry's check (a hand-built state and its mirror image, mirrored random
    actions, 25 steps) on Go2: its model is symmetric as written, and its pose is Go2's."""
    monkeypatch.setattr(test_symmetry, "symmetric_mjcf", lambda task: task.mjcf())
    monkeypatch.setattr(test_symmetry, "robot_pieces", lambda task: (
        task.spec.default_pose, task.action_scale,
        task.initial_info(2).replace(command=jnp.array([[0.8, 0.3, 0.5]]))))
    test_symmetry.check_mirror_images("go2_flat", backend)


def test_export_metadata_names_go2_joints_gains_and_limits():
    info = RunInfo(env="go2_flat", physics="motrixsim", ppo=PPOConfig(), obs_size=48,
                   action_size=12)
    meta = export.metadata(info, 7, 0, envs.make_task("go2_flat"))
    assert meta["joint_target"] == '"default_joint_pos + 0.25 * action"'
    assert json.loads(meta["default_joint_pos"]) == [-0.1, 0.9, -1.8, 0.1, 0.9, -1.8] * 2
    assert json.loads(meta["pd_gains"]) == {"kp": 80.0, "kd": 1.0}
    assert json.loads(meta["torque_limits"]) == [23.7, 23.7, 45.43] * 4
    assert json.loads(meta["velocity_limits"]) == [30.1, 30.1, 20.07] * 4
    assert json.loads(meta["robot"]) == "go2"
    assert "FR, FL, RR, RL" in json.loads(meta["joint_order"])
    assert json.loads(meta["task_fields"])["robot"] == "go2"
