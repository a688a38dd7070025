"""Franka Panda tasks: env contract, kinematics against MotrixSim, a scripted grasp that
must hold the cube, reward terms on hand-built states."""


import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import check_rollout_contract, random_rollout

from motrix_jax import envs
from motrix_jax.env import PhysicsView
from motrix_jax.envs import franka, franka_cabinet, panda

STEPS, N = 30, 4
SIZES = {"franka_lift_cube": (36, 8, 250, (16, 15, 9)),
         "franka_open_cabinet": (25, 8, 700, (10, 10, 9))}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_contract(name):
    obs_size, action_size, episode_length, model_sizes = SIZES[name]
    env = envs.make(name, N)
    assert (env.obs_size, env.action_size, env.task.episode_length) == (
        obs_size, action_size, episode_length)
    assert (env.physics.nq, env.physics.nv, env.physics.nu) == model_sizes
    check_rollout_contract(env, STEPS)


def test_names_and_preset():
    assert envs.canonical_name("franka-lift-cube") == "franka_lift_cube"
    assert envs.canonical_name("franka-open-cabinet") == "franka_open_cabinet"
    cfg = envs.preset("franka-lift-cube")
    assert (cfg.num_envs, cfg.rollouts, cfg.learning_epochs, cfg.mini_batches) == (2048, 24, 8, 4)
    assert (cfg.learning_rate, cfg.learning_rate_scheduler_kl_threshold) == (3e-4, 0.01)
    assert (cfg.entropy_loss_scale, cfg.rewards_shaper_scale) == (0.001, 0.01)
    assert cfg.max_env_steps == 204_800_000


def test_tcp_kinematics_match_motrixsim_link_poses():
    env = envs.make("franka_lift_cube", 6)
    host = env.physics.host
    qpos, qvel, _ = env.task.reset(jax.random.PRNGKey(0), 6, env.task.initial_info(6))
    arm = jax.random.uniform(jax.random.PRNGKey(1), (6, 7), minval=jnp.asarray(panda.JOINT_LOW),
                             maxval=jnp.asarray(panda.JOINT_HIGH))
    qpos = qpos.at[:, :7].set(arm)
    host.reset(np.asarray(qpos), np.asarray(qvel))
    poses = host.model.get_link_poses(host.data)  # [N, links, 7]: position, xyzw
    hand = poses[:, host.model.link_names.index("hand")]
    pos, rot = panda.hand_pose(arm)
    np.testing.assert_allclose(pos, hand[:, :3], atol=1e-5)
    x, y, z, w = hand[:, 3], hand[:, 4], hand[:, 5], hand[:, 6]
    hand_z = np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], -1)
    np.testing.assert_allclose(rot[..., 2], hand_z, atol=1e-5)
    # the TCP sits midway between the finger pads
    left = poses[:, host.model.link_names.index("left_finger"), :3]
    right = poses[:, host.model.link_names.index("right_finger"), :3]
    midway = (left + right) / 2 + (panda.TCP - panda.FINGER_BASE) * hand_z
    np.testing.assert_allclose(panda.tcp_position(arm), midway, atol=1e-5)


FACING_DOWN = panda.hand_pose(jnp.asarray(panda.HOME))[1]  # hand rotation, ready pose
# pointing down, turned so the fingers close along x (the drawer task's home)
FINGERS_ALONG_X = panda.hand_pose(jnp.asarray(franka_cabinet.CABINET_HOME))[1]


def _tcp_error(q, tcp, rot_goal):
    """TCP position error [3] and hand orientation error [3] for arm joints q [7]."""
    pos, rot = panda.hand_pose(q)
    turn = 0.5 * sum(jnp.cross(rot[:, i], rot_goal[:, i]) for i in range(3))
    return jnp.concatenate([tcp - (pos + panda.TCP * rot[:, 2]), turn])


@jax.jit
def _ik_step(q, tcp, rot_goal):
    e, jac = _tcp_error(q, tcp, rot_goal), jax.jacobian(_tcp_error)(q, tcp, rot_goal)
    return q - jac.T @ jnp.linalg.solve(jac @ jac.T + 1e-4 * jnp.eye(6), e)


def inverse_kinematics(tcp, start=franka.LIFT_HOME, rot_goal=FACING_DOWN) -> jax.Array:
    """Arm joints [7] putting the TCP at `tcp` [3] with the hand rotated as `rot_goal`
    (default: pointing down as in the ready pose): damped least squares from `start`."""
    q, tcp = jnp.asarray(start), jnp.asarray(tcp, jnp.float32)
    for _ in range(30):
        q = _ik_step(q, tcp, rot_goal)
    assert float(jnp.abs(_tcp_error(q, tcp, rot_goal)).max()) < 1e-4
    return q


class Script:
    """Drives one MotrixSim world of `env` with arm joint targets and a gripper command,
    bypassing the policy; `hold` returns the qpos and contacts of every control step."""

    def __init__(self, env, qpos):
        self.host, self.task, self.tick = env.physics.host, env.task, 0
        nv = self.host.nv
        self.host.reset(np.asarray(qpos, np.float32)[None], np.zeros((1, nv), np.float32))
        self.no_reset = (np.zeros(1, bool), np.asarray(qpos)[None], np.zeros((1, nv)))

    def hold(self, arm, gripper_action: float, seconds: float):
        action = jnp.concatenate([(jnp.asarray(arm) - jnp.asarray(self.task.home))
                                  / self.task.action_scale, jnp.array([gripper_action])])
        ctrl = np.asarray(self.task.ctrl(action[None], self.task.initial_info(1)))
        trace = []
        for _ in range(round(seconds / self.task.ctrl_dt)):
            qpos, _, contacts, _ = self.host.step(self.tick, ctrl, *self.no_reset)
            self.tick += 1
            trace.append((qpos[0], contacts[0]))
        return trace


def test_closed_gripper_holds_the_lifted_cube_for_two_seconds():
    """Scripted: open hand above the cube, down, close, raise 10 cm, hold for 2 s."""
    env = envs.make("franka_lift_cube", 1)
    cube = np.array([0.55, -0.1, franka.CUBE_HALF])
    above = inverse_kinematics(cube + [0, 0, 0.1])
    at_cube = inverse_kinematics(cube, above)
    script = Script(env, np.concatenate([above, [panda.FINGER_OPEN] * 2, cube, [0, 0, 0, 1]]))
    script.hold(above, 1.0, 0.3)
    script.hold(at_cube, 1.0, 1.0)
    script.hold(at_cube, -1.0, 0.5)
    script.hold(above, -1.0, 1.0)
    trace = script.hold(above, -1.0, 2.0)
    offsets = np.array([q[9:12] - np.asarray(panda.tcp_position(q[:7])) for q, _ in trace])
    heights = np.array([q[11] for q, _ in trace])
    assert heights.min() - cube[2] >= 0.095  # lifted 10 cm (minus the arm's sag)
    assert np.linalg.norm(offsets - offsets[0], axis=-1).max() < 0.005  # no slip
    np.testing.assert_array_equal(trace[-1][1], [1.0, 1.0])  # both pads on the cube


def test_gripper_pulls_the_drawer_open_by_its_handle():
    """Scripted: open hand above the handle, down around it, close, pull back 15 cm."""
    env = envs.make("franka_open_cabinet", 1)
    handle = np.asarray(franka_cabinet.HANDLE)
    home = franka_cabinet.CABINET_HOME
    above = inverse_kinematics(handle + [0, 0, 0.08], home, FINGERS_ALONG_X)
    at_handle = inverse_kinematics(handle, above, FINGERS_ALONG_X)
    pulled = inverse_kinematics(handle - [0.15, 0, 0], at_handle, FINGERS_ALONG_X)
    script = Script(env, np.concatenate([home, [panda.FINGER_OPEN] * 2, [0.0]]))
    script.hold(above, 1.0, 0.8)
    script.hold(at_handle, 1.0, 0.8)
    trace = script.hold(at_handle, -1.0, 0.5)
    np.testing.assert_array_equal(trace[-1][1], [1.0, 1.0])  # both pads on the handle
    assert abs(trace[-1][0][9]) < 0.01  # still closed
    trace = script.hold(pulled, -1.0, 1.5)
    assert trace[-1][0][9] > 0.14  # opened ~15 cm, held by the handle


def view(qpos, qvel=None, contacts=None) -> PhysicsView:
    n = qpos.shape[0]
    return PhysicsView(qpos=jnp.asarray(qpos, jnp.float32),
                       qvel=jnp.zeros((n, 15)) if qvel is None else jnp.asarray(qvel),
                       contacts=jnp.zeros((n, 2)) if contacts is None else contacts,
                       tick=jnp.zeros((), jnp.int32))


def test_lift_reward_terms_on_hand_built_states():
    task = envs.make_task("franka_lift_cube")
    cube, target = np.array([0.5, 0.0, franka.CUBE_HALF]), np.array([0.5, 0.0, 0.3])
    at_cube = np.asarray(inverse_kinematics(cube))
    at_target = np.asarray(inverse_kinematics(target))
    rows = [  # (arm, cube position): resting with the TCP on it; home; carried to target
        (at_cube, cube), (np.asarray(task.home), cube), (at_target, target)]
    qpos = np.stack([np.concatenate([arm, [0.02, 0.02], c, [0, 0, 0, 1]]) for arm, c in rows])
    info = task.initial_info(3).replace(target=jnp.tile(jnp.asarray(target), (3, 1)))
    terms, failed, info = task.evaluate(None, view(qpos), info, jnp.zeros((3, 8)))
    np.testing.assert_allclose(np.asarray(terms["reach"])[[0, 2]], 1.0, atol=1e-4)
    home_distance = np.linalg.norm(np.asarray(panda.tcp_position(jnp.asarray(task.home))) - cube)
    np.testing.assert_allclose(terms["reach"][1], 1 - np.tanh(home_distance / task.reach_std),
                               rtol=1e-4)
    np.testing.assert_allclose(terms["lift"], [0, 0, 1])
    np.testing.assert_allclose(terms["track"], [0, 0, 1], atol=1e-4)
    np.testing.assert_allclose(terms["track_fine"], [0, 0, 1], atol=1e-3)
    np.testing.assert_allclose(info.reached, [1, 0, 1])
    np.testing.assert_allclose(info.ever_lifted, [0, 0, 1])
    assert not bool(failed.any())
    # penalties: |a - a_prev|^2 and |qvel|^2, x1 during warm-up, x1000 after
    action = jnp.ones((3, 8))
    qvel = np.zeros((3, 15))
    qvel[:, 0] = 2.0
    steps = jnp.array([0, task.penalty_warmup * 3 // 2, task.penalty_warmup * 5])
    terms, _, _ = task.evaluate(None, view(qpos, qvel), info.replace(train_steps=steps), action)
    growth = np.array([1.0, 1.0 + 999.0 / 2, 1000.0])
    np.testing.assert_allclose(terms["action_rate"], 8.0 * growth, rtol=1e-5)
    np.testing.assert_allclose(terms["joint_vel"], 4.0 * growth, rtol=1e-5)
    assert all(task.reward_scales[k] < 0 for k in ("action_rate", "joint_vel"))
    assert all(task.reward_scales[k] > 0 for k in ("reach", "lift", "track", "track_fine"))


def test_failure_when_the_cube_leaves_the_table_or_joints_explode():
    task = envs.make_task("franka_lift_cube")
    qpos = np.tile(np.concatenate([task.home, [0.04, 0.04], [0.5, 0, 0.02, 0, 0, 0, 1]]),
                   (3, 1))
    qpos[1, 9:12] = [1.2, 0.0, -0.1]  # fell past the table's far edge
    qvel = np.zeros((3, 15))
    qvel[2, 3] = 30.0
    _, failed, _ = task.evaluate(None, view(qpos, qvel), task.initial_info(3), jnp.zeros((3, 8)))
    np.testing.assert_array_equal(failed, [False, True, True])


def test_reset_draws_cube_and_target_per_env_and_keeps_training_steps():
    task = envs.make_task("franka_lift_cube")
    ended = task.initial_info(64).replace(train_steps=jnp.full((64,), 7, jnp.int32),
                                          ever_reached=jnp.ones((64,)))
    qpos, _, info = task.reset(jax.random.PRNGKey(0), 64, ended)
    cube = np.asarray(qpos[:, 9:11])
    assert len(np.unique(cube[:, 0])) == 64 and len(np.unique(cube[:, 1])) == 64
    assert (cube[:, 0] >= 0.4).all() and (cube[:, 0] <= 0.6).all()
    assert (np.abs(cube[:, 1]) <= 0.25).all()
    assert (np.asarray(info.target[:, 2]) >= 0.25).all()
    np.testing.assert_array_equal(info.train_steps, 7)  # the penalty schedule continues
    np.testing.assert_array_equal(info.episode_reached, 1.0)  # the ended episode's flag
    np.testing.assert_array_equal(info.ever_reached, 0.0)
    assert np.abs(np.asarray(qpos[:, :7]) - np.asarray(task.home)).max() <= 0.05 + 1e-6


def test_cabinet_terms_at_home_and_with_the_drawer_open():
    task = envs.make_task("franka_open_cabinet")
    qpos = np.tile(np.concatenate([task.home, [0.04, 0.04], [0.0]]), (2, 1))
    qpos[1, 9] = 0.3 * task.open_goal
    contacts = jnp.array([[0.0, 0.0], [1.0, 1.0]])
    terms, failed, info = task.evaluate(None, view(qpos, np.zeros((2, 10)), contacts),
                                        task.initial_info(2), jnp.zeros((2, 8)))
    np.testing.assert_allclose(terms["align"], 1.0, atol=1e-3)  # down, fingers along x
    # home TCP is 0.1 m short of and 0.15 m above the closed drawer's handle
    handle_minus_tcp = np.array([[0.1, 0.0, -0.15], [0.1 - 0.3 * task.open_goal, 0.0, -0.15]])
    distance = np.linalg.norm(handle_minus_tcp, axis=-1)
    np.testing.assert_allclose(terms["approach"], 1 - np.tanh(distance / task.approach_std),
                               atol=2e-3)
    np.testing.assert_allclose(terms["open"], [0.0, 0.3], atol=1e-6)
    hooked = task.evaluate(None, view(qpos, np.zeros((2, 10)), contacts.at[:, 0].set(0.0)),
                           task.initial_info(2), jnp.zeros((2, 8)))[0]
    np.testing.assert_allclose(hooked["open"], 0.0)  # opening counts only while grasped
    np.testing.assert_allclose(terms["grasp"], [0.0, 1.0])
    np.testing.assert_allclose(info.max_opening, [0.0, 0.3 * task.open_goal], atol=1e-6)
    assert not bool(failed.any())
    obs = task.observe(view(qpos, np.zeros((2, 10))), info)
    np.testing.assert_allclose(obs[:, 18:21], handle_minus_tcp, atol=2e-3)
    np.testing.assert_allclose(obs[:, 23:], 1.0, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SIZES))
def test_steps_on_mjx(name):
    env = envs.make(name, 2, physics="mjx")
    traj = random_rollout(env, 10)(jax.random.PRNGKey(0))
    chex.assert_tree_all_finite((traj.obs, traj.reward))
    assert not bool(traj.nonfinite.any())


def test_privileged_critic_sees_tcp_cube_velocity_contacts_and_penalty_growth():
    env = envs.make("franka_lift_cube", 4, task_changes={"privileged_critic": True})
    assert envs.make("franka_lift_cube", 4).critic_obs_size is None  # off by default
    state = env.reset(jax.random.PRNGKey(0))
    for _ in range(10):
        state = env.step(state, jnp.zeros((4, 8)))
    assert env.critic_obs_size == env.obs_size + 15 == state.critic_obs.shape[1]
    np.testing.assert_array_equal(state.critic_obs[:, :env.obs_size], state.obs)
    extra = np.asarray(state.critic_obs[:, env.obs_size:])
    qpos = state.physics.qpos
    tcp = panda.tcp_position(qpos[:, :7])
    np.testing.assert_allclose(extra[:, :3], tcp, atol=1e-6)
    np.testing.assert_allclose(extra[:, 3:6], qpos[:, 9:12] - tcp, atol=1e-6)
    np.testing.assert_allclose(extra[:, 6:12], state.physics.qvel[:, 9:15], atol=1e-6)
    np.testing.assert_array_equal(extra[:, 12:14], 0.0)  # the pads are far from the cube
    np.testing.assert_array_equal(extra[:, 14], 0.0)  # log10 of growth 1 before warm-up
    late = state.info.replace(train_steps=jnp.full((4,), 10 ** 6, jnp.int32))
    growth = env.task.critic_observe(state.physics, late)[:, -1]
    np.testing.assert_allclose(growth, 3.0, rtol=1e-6)  # 1000 after the ramp
