"""Legged robots on MJX with the lean contact model and solver settings: the options in
force are the chosen ones (not MuJoCo's defaults), Go1 and VBot settle to the same
height as on MotrixSim with the feet touching down at the same control step, the env
contract holds on MJX, random actions give no non-finite physics, and (slow) go1_rough's and
go1_stairs' robots land and stand on every terrain level on MJX.

One jitted rollout per env and backend, taking the actions as input, serves the standing
(zero actions) and the random-action checks, so each program compiles once (with the
lean solver MJX compiles Go1 in about 15 s on a 2-core CPU).
"""

import functools

import chex
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from conftest import env_rollout

from motrix_jax import envs
from motrix_jax.env import LEAN_SOLVER, SolverOptions
from motrix_jax.physics.mjx import MjxPhysics, solver_in_force

N, STEPS = 2, 100  # 100 control steps of 20 ms = 2 s, dropped from the spawn height
# VBot's MJX program costs as much as Go1's to compile on a 2-core CPU: slow suite
LEGGED = ["go1_flat", pytest.param("vbot_navigation_flat", marks=pytest.mark.slow)]


@pytest.fixture(scope="module")
def runs():
    """(env, physics) -> (env, its jitted rollout), each built on first use (a slow-only
    env is never built in the default suite) and once for this module."""
    @functools.cache
    def build(name, physics):
        env = envs.make(name, N, physics=physics)
        return env, env_rollout(env)
    return build


@pytest.fixture(scope="module")
def standing(runs):
    """(env, physics) -> the zero-action rollout, from the same initial states on both
    backends (the reset is JAX code shared by both: same key, heading and joint noise)."""
    @functools.cache
    def run(name, physics):
        return runs(name, physics)[1](jax.random.PRNGKey(0), jnp.zeros((STEPS, N, 12)))
    return run


@pytest.mark.parametrize("name", ["go1_flat", "go1_rough", "go1_stairs",
                                  "vbot_navigation_flat", "anymal_c_navigation_flat"])
def test_mujoco_solver_options_in_force_are_the_lean_ones(name):
    physics = envs.make(name, N, physics="mjx").physics
    assert solver_in_force(physics.mj_model) == LEAN_SOLVER
    assert physics.model.opt.iterations == 1 and physics.model.opt.ls_iterations == 5
    # not MuJoCo's defaults, which the MJCF alone would give
    bare = mujoco.MjModel.from_xml_string(envs.make_task(name).mjcf())
    assert solver_in_force(bare) == SolverOptions() != LEAN_SOLVER
    assert physics.options["iterations"] == 1 and physics.options["eulerdamp"] is False


def test_lean_contacts_allocate_four_foot_contacts_per_world():
    lean = envs.make("go1_flat", N, physics="mjx").physics.options
    assert (lean["contacts"], lean["constraint_rows"]) == (4, 40)
    full = envs.make("go1_flat", N, physics="mjx", task_changes={"collision": "full"})
    assert (full.physics.options["contacts"], full.physics.options["constraint_rows"]) == (12, 72)
    # a solver setting reaches the MJX model through --task-set's dotted fields
    changes = envs.parse_task_changes("go1_flat", ["mujoco_solver.iterations=4"])
    four = envs.make("go1_flat", N, physics="mjx", task_changes=changes).physics
    assert four.mj_model.opt.iterations == 4 and four.mj_model.opt.ls_iterations == 5
    with pytest.raises(ValueError, match="iterations"):
        envs.parse_task_changes("go1_flat", ["mujoco_solver.iterations=0"])
    with pytest.raises(ValueError, match="did you mean 'iterations'"):
        envs.parse_task_changes("go1_flat", ["mujoco_solver.iteration=4"])


def test_solver_options_apply_to_any_model():
    xml = envs.make_task("cartpole").mjcf()
    physics = MjxPhysics(xml, 0.01, 0.01, solver=SolverOptions(solver="cg", cone="elliptic",
                                                               eulerdamp=False))
    assert solver_in_force(physics.mj_model) == SolverOptions(solver="cg", cone="elliptic",
                                                              eulerdamp=False)
    assert solver_in_force(MjxPhysics(xml, 0.01, 0.01).mj_model) == SolverOptions()


@pytest.mark.parametrize("name", LEGGED)
def test_standing_height_and_touchdowns_agree_with_motrixsim(standing, name):
    mjx_run, host_run = standing(name, "mjx"), standing(name, "motrixsim")
    for run in (mjx_run, host_run):
        assert not bool(run.done.any())
        assert float(jnp.abs(run.physics.qvel[-1]).max()) < 0.1  # at rest
        np.testing.assert_array_equal(run.physics.contacts[-1, :, :4], 1.0)  # feet down
    # The criterion: standing heights within 1 cm. The contact models differ
    # (MuJoCo's soft constraints vs MotrixSim's solver), so only the settled height is
    # compared. Measured: go1 0.271 m on MJX vs 0.273 on MotrixSim.
    np.testing.assert_allclose(mjx_run.physics.qpos[-1, :, 2],
                               host_run.physics.qpos[-1, :, 2], atol=0.01)
    # every foot first touches the ground at the same control step on both, or one step
    # apart where the touchdown falls on a step boundary (VBot drops only 4 cm; measured:
    # Go1 all equal, VBot 1 foot of 8 a step apart); the bounces after touchdown differ
    # (3 % of the flags in the next 0.5 s), and over the last second every foot is down
    # at every step on both
    contacts = [np.asarray(run.physics.contacts[:, :, :4]) > 0.5 for run in (mjx_run, host_run)]
    first_touch = [np.argmax(c, axis=0) for c in contacts]
    assert np.abs(first_touch[0] - first_touch[1]).max() <= 1, first_touch
    for c in contacts:
        assert c[STEPS // 2:].all()


def test_go1_stands_on_mujoco_c_as_on_mjx_and_motrixsim(runs, standing):
    # MuJoCo's C engine beside the two above, from the same zero-action rollouts
    runs_ = {physics: standing("go1_flat", physics) for physics in ("mujoco", "mjx", "motrixsim")}
    assert solver_in_force(runs("go1_flat", "mujoco")[0].physics.host.model) == LEAN_SOLVER
    z = {k: np.asarray(v.physics.qpos[-1, :, 2]) for k, v in runs_.items()}
    for run in runs_.values():
        assert not bool(run.done.any())
        np.testing.assert_array_equal(run.physics.contacts[-1], 1.0)  # the four feet
    # same engine and solver settings: MJX (float32, warm-started across control steps)
    # settles within 1 mm of the C engine; MotrixSim within the 1 cm
    np.testing.assert_allclose(z["mujoco"], z["mjx"], atol=1e-3)
    np.testing.assert_allclose(z["mujoco"], z["motrixsim"], atol=0.01)
    touch = {k: np.argmax(np.asarray(v.physics.contacts) > 0.5, axis=0) for k, v in runs_.items()}
    np.testing.assert_array_equal(touch["mujoco"], touch["mjx"])
    np.testing.assert_array_equal(touch["mujoco"], touch["motrixsim"])


@pytest.mark.parametrize("name", LEGGED)
def test_env_contract_and_random_actions_on_mjx(runs, standing, name):
    env, run = runs(name, "mjx")
    traj = standing(name, "mjx")
    chex.assert_shape([traj.obs, traj.final_obs], (STEPS, N, env.obs_size))
    chex.assert_shape([traj.reward, traj.terminated, traj.truncated], (STEPS, N))
    assert traj.obs.dtype == jnp.float32 and traj.terminated.dtype == jnp.bool_
    assert traj.physics.data.qpos.shape == (STEPS, N, 19)  # the mjx.Data rides in the view
    # N(0, 1) actions knock robots over and reset them: no world goes non-finite
    actions = jax.random.normal(jax.random.PRNGKey(1), (STEPS, N, 12))
    wild = run(jax.random.PRNGKey(1), actions)
    chex.assert_tree_all_finite((wild.obs, wild.final_obs, wild.reward, wild.physics.qpos,
                                 wild.physics.qvel))
    assert not bool(wild.nonfinite.any())
    assert not bool((wild.terminated & wild.truncated).any())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["go1_rough", "go1_stairs"])
def test_go1_terrain_spawns_and_stands_on_every_level_on_mjx(name):
    """The MotrixSim test in test_go1.py, on MJX: one robot per level lands on the
    terrain (heightfield or tread boxes) and stands 0.5 s later."""
    levels = tuple(range(10))
    env = envs.make(name, 10, physics="mjx", task_changes={"initial_levels": levels})

    def body(state, _):
        state = env.step(state, jnp.zeros((10, env.action_size)))
        return state, (state.physics.qpos, state.terminated)
    qpos, terminated = jax.jit(lambda key: jax.lax.scan(body, env.reset(key), None, 25)[1])(
        jax.random.PRNGKey(0))
    chex.assert_tree_all_finite(qpos)
    assert not bool(terminated.any())
    field = env.task.terrain_map
    np.testing.assert_array_equal(field.level_at(qpos[-1, :, :2]), levels)
    standing = np.asarray(qpos[-1, :, 2] - field.grid.ground(qpos[-1, :, :2]))
    assert ((0.2 < standing) & (standing < 0.36)).all(), standing
