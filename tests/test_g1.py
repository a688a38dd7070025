"""Unitree G1 humanoid: model facts, feet forward kinematics, standing and touchdowns on
every engine, mirrors, the env contract, reward terms on hand-built states, export
metadata."""

import dataclasses
import json
import math

import chex
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from conftest import check_rollout_contract, env_rollout

from motrix_jax import envs, export
from motrix_jax.config import PPOConfig
from motrix_jax.env import LEAN_SOLVER, PhysicsView, SolverOptions
from motrix_jax.envs import g1
from motrix_jax.ppo import check_env
from motrix_jax.run_folder import RunInfo

N, STAND_STEPS = 2, 25  # 0.5 s after a 2 cm drop: the feet have landed and settled


@pytest.fixture(scope="module")
def model():
    return mujoco.MjModel.from_xml_string(envs.make_task("g1_flat").mjcf())


def test_model_facts_mass_joints_limits_and_gains(model):
    assert (model.nq, model.nv, model.nu) == (30, 29, 23)
    # Unitree's g1_23dof link masses, the head merged into the torso
    assert float(model.body_mass.sum()) == pytest.approx(32.105, abs=0.005)
    names = [model.joint(i).name for i in range(1, model.njnt)]
    assert names == [f"{j}_joint" for j in g1.JOINTS]
    assert [model.actuator(i).name for i in range(model.nu)] == list(g1.JOINTS)
    ranges = dict(zip(g1.JOINTS, model.jnt_range[1:].tolist(), strict=True))
    np.testing.assert_allclose(ranges["left_knee"], [-0.087267, 2.8798])
    np.testing.assert_allclose(ranges["left_hip_roll"], [-0.5236, 2.9671])
    np.testing.assert_allclose(ranges["right_hip_roll"], [-2.9671, 0.5236])
    np.testing.assert_allclose(ranges["left_ankle_roll"], [-0.2618, 0.2618])
    np.testing.assert_allclose(ranges["right_shoulder_roll"], [-2.2515, 1.5882])
    np.testing.assert_allclose(model.jnt_range[1:].T, g1.JOINT_RANGES)
    # the PD the engines run is the one the task's torque terms assume
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], g1.KP)
    np.testing.assert_allclose(-model.actuator_biasprm[:, 2], g1.KD)
    np.testing.assert_allclose(model.actuator_forcerange[:, 1], g1.TORQUE_LIMITS)
    assert max(g1.TORQUE_LIMITS) == 139.0 and g1.TORQUE_LIMITS[3] == 139.0  # knees
    # only the two box feet collide
    colliding = [model.geom(i).name for i in range(model.ngeom) if model.geom_contype[i]]
    assert colliding == list(g1.FEET)
    task = envs.make_task("g1_flat")
    assert task.obs_size == 83 and task.action_size == 23
    assert envs.make_task("g1_rough").obs_size == 83 + 77
    assert envs.preset("g1_flat").policy_hidden_sizes == (256, 128, 64)


def test_feet_forward_kinematics_match_mujoco(model):
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(3):
        quat = rng.normal(size=4)
        data.qpos[:3] = rng.uniform(-1, 1, 3)
        data.qpos[3:7] = quat / np.linalg.norm(quat)
        data.qpos[7:] = np.array(g1.DEFAULT_POSE) + rng.uniform(-0.4, 0.4, 23)
        mujoco.mj_forward(model, data)
        q = data.qpos
        rows.append((np.concatenate([q[:3], q[4:7], q[3:4], q[7:]]),  # xyzw
                     [data.site(f).xpos.copy() for f in g1.FEET]))
    fk = g1.feet_positions(jnp.asarray(np.stack([r[0] for r in rows]), jnp.float32))
    np.testing.assert_allclose(fk, np.stack([r[1] for r in rows]), atol=1e-5)


@pytest.fixture(scope="module")
def rollouts():
    """physics -> (env, its jitted rollout of (key, actions)) for g1_flat, built once."""
    cache = {}

    def build(physics):
        if physics not in cache:
            env = envs.make("g1_flat", N, physics=physics)
            cache[physics] = env, env_rollout(env)
        return cache[physics]
    return build


@pytest.fixture(scope="module")
def standing(rollouts):
    """physics -> the zero-action rollout of g1_flat from the same initial states."""
    cache = {}

    def run(physics):
        if physics not in cache:
            cache[physics] = rollouts(physics)[1](jax.random.PRNGKey(0),
                                                  jnp.zeros((STAND_STEPS, N, 23)))
        return cache[physics]
    return run


def check_standing_agrees(a, b):
    """Both land, stand with both feet down and settle at heights within 1 cm; each foot
    first touches down at the same control step."""
    for run in (a, b):
        assert not bool(run.done.any())
        chex.assert_tree_all_finite(run.physics.qpos)
        np.testing.assert_array_equal(run.physics.contacts[-1], 1.0)
        height = np.asarray(run.physics.qpos[-1, :, 2])
        assert (np.abs(height - g1.STANDING_HEIGHT) < 0.02).all(), height
    np.testing.assert_allclose(a.physics.qpos[-1, :, 2], b.physics.qpos[-1, :, 2], atol=0.01)
    touch = [np.argmax(np.asarray(r.physics.contacts) > 0.5, axis=0) for r in (a, b)]
    np.testing.assert_array_equal(touch[0], touch[1])


@pytest.mark.slow(reason="two host engines' humanoid rollouts to compile (15 s); model facts, FK, mirrors and rewards stay in the default suite")
def test_stands_on_motrixsim_as_on_mujoco_c(standing):
    # measured: 0.777 / 0.779 m on MuJoCo C, 0.776 / 0.778 on MotrixSim; both feet
    # first touch at step 2
    check_standing_agrees(standing("mujoco"), standing("motrixsim"))


@pytest.mark.slow(reason="MJX compiles the 23-DoF humanoid's step for ~1 min on 2 cores")
def test_stands_on_mjx_as_on_mujoco_c_and_survives_random_actions(rollouts, standing):
    # measured: 0.777 / 0.779 m on MJX, within 1 mm of MuJoCo C; touchdowns at step 2
    check_standing_agrees(standing("mujoco"), standing("mjx"))
    wild = rollouts("mjx")[1](jax.random.PRNGKey(1), jax.random.normal(
        jax.random.PRNGKey(2), (STAND_STEPS, N, 23)))  # the same program: no recompile
    chex.assert_tree_all_finite((wild.obs, wild.reward, wild.physics.qpos))
    assert not bool(wild.nonfinite.any())


def test_the_mujoco_engines_run_the_lean_solver():
    """Chosen as for Go1: on MuJoCo C the pelvis stands at 0.7776 m with it and 0.7772 m
    with MuJoCo's converged defaults (64 envs, 0.5 s)."""
    from motrix_jax.physics.mjx import solver_in_force

    for physics in ("mjx", "mujoco"):
        backend = envs.make("g1_flat", N, physics=physics).physics
        model = backend.mj_model if physics == "mjx" else backend.host.model
        assert solver_in_force(model) == LEAN_SOLVER
    # MJX allocates 4 contacts per box foot on the plane (4 rows each) and 23 joint limits
    options = envs.make("g1_flat", N, physics="mjx").physics.options
    assert (options["contacts"], options["constraint_rows"]) == (8, 55)


def test_mirrors_are_involutions_of_the_right_sizes():
    for changes in ({}, {"privileged_critic": True}):
        for name in ("g1_flat", "g1_rough"):
            task = envs.with_task_changes(envs.make_task(name), changes)
            mirrors = task.mirrors()
            assert mirrors.obs.size == task.obs_size
            assert mirrors.action.size == 23
            if task.privileged_critic:
                assert mirrors.critic_obs.size == task.critic_obs_size
            for mirror in mirrors.all().values():
                assert mirror.is_involution()
            # PPO accepts them: symmetry augmentation (and the privileged critic's)
            cfg = dataclasses.replace(envs.preset(name), symmetry_augmentation=True)
            check_env(cfg, envs.Env(task, None, cfg.num_envs))
    assert g1.QPOS_MIRROR.is_involution() and g1.QVEL_MIRROR.is_involution()
    # the joint ranges map onto each other: kept angles keep their range, flipped
    # angles take the negated range of their twin
    low, high = g1.JOINT_RANGES
    perm, sign = np.asarray(g1.JOINTS_MIRROR.perm), np.asarray(g1.JOINTS_MIRROR.sign)
    np.testing.assert_allclose(np.where(sign > 0, low[perm], -high[perm]), low)
    np.testing.assert_allclose(g1.KP, np.asarray(g1.KP)[perm])


def mirrored_view(view: PhysicsView) -> PhysicsView:
    return view.replace(qpos=g1.QPOS_MIRROR(view.qpos), qvel=g1.QVEL_MIRROR(view.qvel),
                        contacts=view.contacts[:, ::-1])


def test_the_observation_of_a_mirrored_state_is_the_mirrored_observation():
    task = envs.make_task("g1_flat")  # (the rough scan's columns: symmetry.grid, as Go1)
    key = jax.random.split(jax.random.PRNGKey(0), 4)
    qpos, qvel, info = task.reset(key[0], 3, task.initial_info(3))
    qvel = jax.random.normal(key[1], qvel.shape)
    qpos = qpos.at[:, 7:].add(jax.random.normal(key[2], (3, 23)) * 0.2)
    view = PhysicsView(qpos=qpos, qvel=qvel, contacts=jnp.array([[1.0, 0.0]] * 3),
                       tick=jnp.zeros((), jnp.int32))
    info = info.replace(last_action=jax.random.normal(key[3], (3, 23)), steps=jnp.full(3, 7))
    half = round(g1.GAIT_PERIOD / 2 / task.ctrl_dt)  # the other foot's clock
    twin = info.replace(command=info.command * jnp.array([1.0, -1.0, -1.0]),
                        last_action=g1.JOINTS_MIRROR(info.last_action), steps=info.steps + half)
    mirrors = task.mirrors()
    observe, evaluate = jax.jit(task.observe), jax.jit(task.evaluate)
    obs, obs_twin = observe(view, info), observe(mirrored_view(view), twin)
    np.testing.assert_allclose(mirrors.obs(obs), obs_twin, atol=1e-5)
    terms, _, _ = evaluate(key[0], view, info, info.last_action)
    terms_twin, _, _ = evaluate(key[0], mirrored_view(view), twin, twin.last_action)
    for name in ("tracking_lin_vel", "tracking_ang_vel", "pose", "hip_pos", "joint_limits",
                 "upright", "torques", "feet_phase"):
        np.testing.assert_allclose(terms[name], terms_twin[name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)


def test_a_mirrored_state_stays_mirrored_over_25_steps():
    """World 1 starts as world 0's mirror image and gets the mirrored actions: MuJoCo's
    C engine keeps it the mirror image (the model is left-right symmetric). With MuJoCo's
    converged solver: the lean one's single Newton step depends on the order of the
    contacts, which a mirrored box foot lists in another order (measured after 25 steps:
    2.5e-2 rad apart with it, 1.6e-3 converged)."""
    env = envs.make("g1_flat", 2, physics="mujoco",
                    task_changes={"mujoco_solver": SolverOptions()})
    task = env.task
    qpos0, _, _ = task.reset(jax.random.PRNGKey(3), 1, task.initial_info(1))
    qpos = jnp.concatenate([qpos0, g1.QPOS_MIRROR(qpos0)])
    qvel = jnp.zeros((2, 29))
    view = env.physics.reset(qpos, qvel)
    keys = jax.random.split(jax.random.PRNGKey(4), 25)
    no_reset = jnp.zeros(2, bool)
    step = jax.jit(lambda v, a: env.physics.step(v, a, no_reset, qpos, qvel))
    for k in keys:
        action = 0.3 * jax.random.normal(k, (1, 23))
        ctrl = task.ctrl(jnp.concatenate([action, g1.JOINTS_MIRROR(action)]), None)
        view = step(view, ctrl)
    assert not bool(jnp.allclose(view.qpos[0], qpos[0], atol=0.01))  # it moved
    np.testing.assert_allclose(view.qpos[1], g1.QPOS_MIRROR(view.qpos[:1])[0], atol=5e-3)
    # the base's velocity too (joint velocities under kp 100-150 magnify the rounding)
    np.testing.assert_allclose(view.qvel[1, :6], g1.QVEL_MIRROR(view.qvel[:1])[0, :6], atol=0.05)
    np.testing.assert_array_equal(view.contacts[1], view.contacts[0, ::-1])


@pytest.mark.slow(reason="a second MotrixSim rollout program of the humanoid to compile")
def test_env_contract_on_motrixsim():
    check_rollout_contract(envs.make("g1_flat", 4), steps=20)


def view_for(lin_vel=(0.0, 0.0, 0.0), yaw_rate=0.0, tilt=0.0, height=0.78, joints=None,
             contacts=(1.0, 1.0)):
    """A one-env view: pelvis `height` m up, pitched by `tilt` rad, body-frame velocity."""
    joints = g1.DEFAULT_POSE if joints is None else joints
    quat = [0.0, math.sin(tilt / 2), 0.0, math.cos(tilt / 2)]
    c, s = math.cos(tilt), math.sin(tilt)
    vx, vy, vz = lin_vel
    qvel = [c * vx + s * vz, vy, -s * vx + c * vz, 0.0, 0.0, yaw_rate] + [0.0] * 23
    return PhysicsView(qpos=jnp.array([[0.0, 0.0, height, *quat, *joints]]),
                       qvel=jnp.array([qvel]), contacts=jnp.array([contacts]),
                       tick=jnp.zeros((), jnp.int32))


def test_reward_terms_and_failures_on_hand_built_states():
    task = envs.make_task("g1_flat")
    evaluate = jax.jit(task.evaluate)  # one compile, not op-by-op dispatch
    info = task.initial_info(1).replace(command=jnp.array([[0.5, 0.0, 0.3]]))
    view = view_for((0.5, 0.0, 0.0), 0.3)
    info = info.replace(feet_pos=g1.feet_positions(view.qpos))
    terms, failed, after = evaluate(jax.random.PRNGKey(0), view, info, jnp.zeros((1, 23)))
    for name in ("tracking_lin_vel", "tracking_ang_vel", "alive"):
        np.testing.assert_allclose(terms[name], 1.0, rtol=1e-5)
    for name in ("upright", "joint_limits", "hip_pos", "pose", "foot_slip"):
        np.testing.assert_allclose(terms[name], 0.0, atol=1e-6)
    assert not bool(failed[0]) and int(after.steps[0]) == 1
    # at step 0 the left foot's stance begins and the right's ends (double support):
    # both feet down match the clock
    np.testing.assert_allclose(terms["feet_phase"], 2.0)
    swing = view.replace(contacts=jnp.array([[1.0, 0.0]]))
    terms, _, _ = evaluate(jax.random.PRNGKey(0), swing, info, jnp.zeros((1, 23)))
    np.testing.assert_allclose(terms["feet_phase"], 1.0)
    sole = float(g1.feet_positions(view.qpos)[0, 1, 2])  # the right sole's height
    np.testing.assert_allclose(terms["feet_clearance"], (sole - task.swing_height) ** 2,
                               rtol=1e-4)
    # a knee past 90 % of its range, hip roll and an arm off the pose
    bent = list(g1.DEFAULT_POSE)
    bent[3], bent[1], bent[13] = 2.8, 0.3, 0.2 + 0.5
    terms, _, _ = evaluate(jax.random.PRNGKey(0), view_for(joints=bent), info,
                                jnp.zeros((1, 23)))
    high = g1.JOINT_SOFT_LIMITS[1]
    np.testing.assert_allclose(terms["joint_limits"], 2.8 - high[3], rtol=1e-4)
    np.testing.assert_allclose(terms["hip_pos"], 0.09, rtol=1e-4)
    np.testing.assert_allclose(terms["pose"], 0.25, rtol=1e-4)
    assert float(terms["feet_clearance"][0]) == 0.0  # both feet down
    _, failed, _ = evaluate(jax.random.PRNGKey(0), view_for(height=0.4), info,
                                 jnp.zeros((1, 23)))
    assert bool(failed[0])
    _, failed, _ = evaluate(jax.random.PRNGKey(0), view_for(tilt=task.max_tilt + 0.1),
                                 info, jnp.zeros((1, 23)))
    assert bool(failed[0])
    terms = {k: jnp.ones(1) for k in task.reward_scales} | {"base_height": jnp.array([100.0])}
    assert float(task.reward(terms, jnp.array([False]))[0]) == 0.0  # clipped at zero
    assert float(task.reward(terms | {"base_height": jnp.zeros(1)}, jnp.array([True]))[0]) == 0


def test_rough_spawns_on_its_levels_and_keeps_the_go1_curriculum():
    task = envs.make_task("g1_rough")
    assert task.num_terrain_levels == 10 and task.initial_levels == (0, 1, 2, 3, 4)
    field = task.terrain_map
    first = dataclasses.replace(task, initial_levels=tuple(range(10))).initial_info(10)

    @jax.jit
    def spawn_and_promote(key):
        qpos, _, info = task.reset(key, 10, first)
        feet = g1.feet_positions(qpos)
        clearance = feet[..., 2] - field.grid.ground(feet[..., :2])
        done = info.replace(steps=jnp.full((10,), 1000), walked=jnp.full((10,), 9.0),
                            asked=jnp.full((10,), 10.0))
        return field.level_at(qpos[:, :2]), clearance, task.reset(key, 10, done)[2].level
    spawned, clearance, promoted = spawn_and_promote(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(spawned, np.arange(10))
    assert (np.asarray(clearance) > 0).all()  # the soles start above the ground
    # walked 90 % of what was asked without a fall: a level up
    np.testing.assert_array_equal(promoted, np.minimum(np.arange(10) + 1, 9))


@pytest.mark.slow(reason="compiles a MotrixSim rollout on the heightfield")
def test_rough_lands_and_stands_on_every_level_on_motrixsim():
    """One robot per level dropped onto its strip: 0.5 s later none has fallen and each
    pelvis is at its standing height above the ground (+-5 cm: the bumps under the feet)."""
    env = envs.make("g1_rough", 10, task_changes={"initial_levels": tuple(range(10))})
    run = env_rollout(env)(jax.random.PRNGKey(0), jnp.zeros((STAND_STEPS, 10, 23)))
    assert not bool(run.done.any())
    chex.assert_tree_all_finite(run.physics.qpos)
    final = run.physics.qpos[-1]
    field = env.task.terrain_map
    np.testing.assert_array_equal(field.level_at(final[:, :2]), np.arange(10))
    height = np.asarray(final[:, 2] - field.grid.ground(final[:, :2]))
    assert (np.abs(height - g1.STANDING_HEIGHT) < 0.05).all(), height


def test_export_metadata_gives_joint_order_defaults_and_gains():
    info = RunInfo(env="g1_flat", physics="motrixsim", ppo=PPOConfig(), obs_size=83,
                   action_size=23)
    meta = export.metadata(info, 3, 0, envs.make_task("g1_flat"))
    assert json.loads(meta["joint_order"]) == list(g1.JOINTS)
    assert json.loads(meta["joint_order"])[:2] == ["left_hip_pitch", "left_hip_roll"]
    np.testing.assert_allclose(json.loads(meta["default_joint_pos"]), g1.DEFAULT_POSE)
    gains = json.loads(meta["pd_gains"])
    assert gains["kp"][3] == 150.0 and gains["kd"][3] == 4.0 and len(gains["kp"]) == 23
    assert json.loads(meta["torque_limits"])[3] == 139.0
    assert meta["joint_target"] == '"default_joint_pos + 0.25 * action"'
    assert "Observation (83)" in meta["task_doc"]
