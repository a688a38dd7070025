"""The MJX backend: agreement with MotrixSim, conventions, contacts, env contract.

MJX compiles slowly on CPU (10-30 s per program), so each program is compiled once
per module (module-scoped fixtures) with small batches.
"""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from conftest import env_rollout, jit_for

from motrix_jax import envs
from motrix_jax.physics.mjx import MjxPhysics, geom_pair_ids, quaternion_permutation
from motrix_jax.physics.motrixsim import MotrixSimPhysics
from motrix_jax.physics.mujoco import MujocoPhysics


def physics_rollout(physics, qpos, qvel, ctrl):
    """Jitted scan of physics.step from reset(qpos, qvel) over ctrl [T, N, nu], no resets;
    returns (qpos [T, N, nq], qvel [T, N, nv], contacts [T, N, P])."""
    n = qpos.shape[0]

    def body(view, c):
        view = physics.step(view, c, jnp.zeros((n,), bool), qpos, qvel)
        return view, (view.qpos, view.qvel, view.contacts)

    return jit_for(physics, lambda: jax.lax.scan(body, physics.reset(qpos, qvel), ctrl)[1])()


def both_backends(mjcf, sim_dt, ctrl_dt, pairs, qpos, qvel, ctrl):
    """{backend name: physics_rollout} for MJX, MotrixSim and MuJoCo C from the same
    inputs."""
    return {backend.name: physics_rollout(backend(mjcf, sim_dt, ctrl_dt, pairs), qpos, qvel,
                                          ctrl)
            for backend in (MjxPhysics, MotrixSimPhysics, MujocoPhysics)}


# --- cartpole: 2 s of open-loop control -------------------------------------------------

@pytest.fixture(scope="module")
def cartpole_trajectories():
    task = envs.make_task("cartpole")
    n, steps = 4, 200  # 200 control steps of 0.01 s = 2 s simulated
    qpos, qvel, _ = task.reset(jax.random.PRNGKey(0), n, {})
    qpos = qpos * 5  # tilt the pole up to 0.05 rad so it swings far
    # small enough that the cart stays inside its rail limits (the engines' joint-limit
    # constraints differ), large enough that the pole swings through large angles
    t = jnp.arange(steps)[:, None, None]
    ctrl = 0.15 * jnp.sin(0.05 * t + jnp.arange(n)[None, :, None])
    return both_backends(task.mjcf(), task.sim_dt, task.ctrl_dt, (), qpos, qvel, ctrl)


def test_cartpole_mjx_agrees_with_motrixsim_over_2s(cartpole_trajectories):
    mjx_run, host_run = cartpole_trajectories["mjx"], cartpole_trajectories["motrixsim"]
    # Same integrator (semi-implicit Euler) and dynamics; float32 round-off only.
    # Measured: max error 6e-6 in qpos and 2e-5 in qvel after 2 s.
    np.testing.assert_allclose(mjx_run[0], host_run[0], atol=1e-4)
    np.testing.assert_allclose(mjx_run[1], host_run[1], atol=2e-4)
    # the test means something: the pole really swung (|angle| > 1 rad at some point)
    assert np.abs(host_run[0][..., 1]).max() > 1.0
    assert np.abs(host_run[0][..., 0]).max() < 0.95  # cart inside its +-1 m rail


# --- floating bases, contacts and a heightfield -----------------------------------------

def _plateau_hfield() -> str:
    """9 x 9 elevations: a flat 1 m x 1 m plateau (height 1 * size_z) in a 2 m x 2 m field."""
    rows = [[1.0 if 2 <= i <= 6 and 2 <= j <= 6 else 0.0 for j in range(9)] for i in range(9)]
    return " ".join(str(x) for row in rows for x in row)


def floating_scene(terrain: bool) -> str:
    """A hinge first (so free joints do not start at qpos 0), then free bodies: a sphere
    dropped on the floor and a box thrown up spinning. With `terrain` the box collides
    too, and a third sphere drops on a heightfield plateau 0.2 m high; without, the box
    flies through everything (a cheaper program: 3x faster to compile on CPU). Only
    moving-vs-static geoms collide, as for a robot's feet and trunk against terrain."""
    box_collides = 'conaffinity="1"' if terrain else 'conaffinity="0"'
    asset = (f'<asset><hfield name="terrain" nrow="9" ncol="9" size="1 1 0.2 0.1" '
             f'elevation="{_plateau_hfield()}"/></asset>') if terrain else ""
    terrain_geom = ('<geom name="terrain" type="hfield" hfield="terrain" pos="3 0 0" '
                    'contype="1" conaffinity="0"/>') if terrain else ""
    bump = ('<body name="bump"><freejoint/><inertial pos="0 0 0" mass="1" '
            'diaginertia="0.004 0.004 0.004"/><geom name="bump" type="sphere" size="0.1"/>'
            '</body>') if terrain else ""
    return f"""<mujoco model="floating">
<option timestep="0.002"/>
{asset}
<default><geom contype="0" conaffinity="1"/></default>
<worldbody>
  <geom name="floor" type="plane" size="5 5 0.1" contype="1" conaffinity="0"/>
  {terrain_geom}
  <body name="arm" pos="-2 0 1"><joint name="hinge" type="hinge" axis="0 1 0"/>
    <inertial pos="0 0 -0.2" mass="0.5" diaginertia="0.01 0.01 0.001"/></body>
  <body name="ball"><freejoint/><inertial pos="0 0 0" mass="1" diaginertia="0.004 0.004 0.004"/>
    <geom name="ball" type="sphere" size="0.1"/></body>
  <body name="box"><freejoint/><inertial pos="0 0 0" mass="2" diaginertia="0.006 0.008 0.011"/>
    <geom name="box" type="box" size="0.1 0.1 0.1" {box_collides}/></body>
  {bump}
</worldbody>
<actuator><motor joint="hinge" gear="1"/></actuator>
</mujoco>"""


BALL_Z, BOX_Z, BUMP_Z = 3, 10, 17  # qpos index of each free body's height


def floating_run(terrain: bool):
    """Both backends for 75 control steps of 0.02 s = 1.5 s."""
    s, c = np.sin(0.3), np.cos(0.3)
    # task layout (MotrixSim's): free joint = x, y, z, qx, qy, qz, qw
    qpos = [0.3, 0, 0, 0.4, 0, 0, 0, 1, 1, 0, 0.5, 0.6 * s, 0.8 * s, 0, c]  # box tilted
    qpos += [3.05, 0.05, 0.6, 0, 0, 0, 1] if terrain else []
    qvel = np.zeros((1, 19 if terrain else 13), np.float32)
    qvel[0, 7:13] = [0.3, -0.2, 1.0, 2.0, -1.0, 4.0]  # box thrown up, spinning
    pairs = (("ball", "floor"),)
    if terrain:
        pairs += (("box", "floor"), ("bump", "terrain"), ("bump", "floor"))
    return both_backends(floating_scene(terrain), 0.002, 0.02, pairs,
                         np.array([qpos], np.float32), qvel, jnp.full((75, 1, 1), 0.1))


@pytest.fixture(scope="module")
def flight_trajectories():
    return floating_run(terrain=False)


def test_free_joint_conventions_match_in_flight(flight_trajectories):
    # The box flies 1.5 s without touching anything: rigid-body flight with asymmetric
    # inertia, spinning about all three axes. Agreement checks the quaternion order
    # conversion (xyzw <-> wxyz) and that both engines use world-frame linear and
    # body-frame angular free-joint velocities. Measured: 4e-6 after 1.5 s.
    mjx_run, host_run = flight_trajectories["mjx"], flight_trajectories["motrixsim"]
    box = slice(8, 15)
    np.testing.assert_allclose(mjx_run[0][..., box], host_run[0][..., box], atol=1e-4)
    np.testing.assert_allclose(mjx_run[1][..., 6:12], host_run[1][..., 6:12], atol=1e-4)
    quat = np.asarray(mjx_run[0][:, 0, 11:15])
    np.testing.assert_allclose(np.linalg.norm(quat, axis=-1), 1, atol=1e-5)
    assert np.abs(quat[:, 3]).min() < 0.5  # it turned a long way
    # The ball lands on the floor in both engines at the same step and rests at r = 0.1.
    contact = np.asarray(mjx_run[2][:, 0, 0])
    np.testing.assert_array_equal(contact, host_run[2][:, 0, 0])
    assert 5 < np.argmax(contact) < 30 and contact[-1] == 1
    np.testing.assert_allclose([mjx_run[0][-1, 0, BALL_Z], host_run[0][-1, 0, BALL_Z]], 0.1,
                               atol=1e-3)
    # MuJoCo's C engine on the host sees the same conventions, and the same ball contact
    c_run = flight_trajectories["mujoco"]
    np.testing.assert_allclose(c_run[0][..., box], host_run[0][..., box], atol=1e-4)
    np.testing.assert_allclose(c_run[1][..., 6:12], host_run[1][..., 6:12], atol=1e-4)
    np.testing.assert_array_equal(c_run[2][:, 0, 0], contact)


@pytest.mark.slow
def test_contacts_on_floor_and_heightfield_agree():
    runs = floating_run(terrain=True)
    mjx_run, host_run = runs["mjx"], runs["motrixsim"]
    # After 1.5 s everything rests: sphere (r 0.1) and box (half-size 0.1) on the floor,
    # the other sphere on the plateau 0.2 m high. Contact models differ (MuJoCo's soft
    # contacts vs MotrixSim's solver): measured heights differ by 0.35 mm at most.
    for run in (mjx_run, host_run):
        np.testing.assert_allclose(run[0][-1, 0, [BALL_Z, BOX_Z, BUMP_Z]], [0.1, 0.1, 0.3],
                                   atol=2e-3)
    np.testing.assert_allclose(mjx_run[0][-1, 0, [BALL_Z, BOX_Z, BUMP_Z]],
                               host_run[0][-1, 0, [BALL_Z, BOX_Z, BUMP_Z]], atol=1e-3)
    np.testing.assert_array_equal(mjx_run[2][-1, 0], [1, 1, 1, 0])  # bump never reaches floor
    np.testing.assert_array_equal(host_run[2][-1, 0], [1, 1, 1, 0])
    # Flags agree at every step except around touchdown (measured: 3 of 300 differ, on
    # the bouncing box, when the two engines' penetration crosses zero a step apart).
    differ = np.asarray(mjx_run[2] != host_run[2])
    assert differ.sum() <= 5, differ.sum()
    first = [int(np.argmax(np.asarray(mjx_run[2])[:, 0, p])) for p in range(3)]
    assert first == [int(np.argmax(np.asarray(host_run[2])[:, 0, p])) for p in range(3)]
    assert all(f > 5 for f in first)  # touchdowns happen during the run, not at reset


# --- construction-time checks (no compilation) -------------------------------------------

def test_quaternion_permutation_moves_w_first_for_free_joints_only():
    model = mujoco.MjModel.from_xml_string(floating_scene(terrain=True))
    perm = quaternion_permutation(model)
    # hinge at 0; free joints at 1, 8, 15: [x y z | w x y z] taken from [x y z | x y z w]
    expected = np.arange(22)
    for adr in (1, 8, 15):
        expected[adr + 3:adr + 7] = [adr + 6, adr + 3, adr + 4, adr + 5]
    np.testing.assert_array_equal(perm, expected)
    task_qpos = np.arange(22.0)
    assert task_qpos[perm][4] == 7.0  # first free joint: w (task index 7) moved to 4
    np.testing.assert_array_equal(task_qpos[perm][np.argsort(perm)], task_qpos)


def test_contact_pair_with_unknown_geom_names_the_geoms():
    model = mujoco.MjModel.from_xml_string(floating_scene(terrain=True))
    np.testing.assert_array_equal(geom_pair_ids(model, (("box", "floor"),)), [[3, 0]])
    with pytest.raises(ValueError, match="no geom named 'foot'; geoms: floor, terrain"):
        geom_pair_ids(model, (("foot", "floor"),))


def test_auto_physics_is_motrixsim_on_cpu_and_unknown_is_an_error():
    assert jax.default_backend() == "cpu"
    backend, why = envs.choose_physics("auto")
    assert backend == "motrixsim" and "cpu" in why
    assert envs.choose_physics("mjx") == ("mjx", "chosen with --physics")
    with pytest.raises(ValueError, match="unknown physics 'bullet'; available: auto, "):
        envs.choose_physics("bullet")


# --- the env contract on MJX (cartpole) ---------------------------------------------------

@pytest.fixture(scope="module")
def mjx_cartpole_runs():
    """Cartpole with 5-step episodes on both backends (so resets happen), 6 envs."""
    def make(physics):
        env = envs.make("cartpole", 6, physics=physics)
        env.task = dataclasses.replace(env.task, episode_length=5)
        return env
    actions = jax.random.normal(jax.random.PRNGKey(2), (23, 6, 1)) * 0.5
    run = env_rollout(make("mjx"))
    return {"mjx": run(jax.random.PRNGKey(4), actions),
            "mjx_again": run(jax.random.PRNGKey(4), actions),
            "mjx_other": run(jax.random.PRNGKey(5), actions),
            "motrixsim": env_rollout(make("motrixsim"))(jax.random.PRNGKey(4), actions)}


def test_mjx_env_contract_shapes_dtypes_finite(mjx_cartpole_runs):
    traj = mjx_cartpole_runs["mjx"]
    chex.assert_shape([traj.obs, traj.final_obs], (23, 6, 4))
    chex.assert_shape([traj.reward, traj.terminated, traj.truncated], (23, 6))
    assert traj.obs.dtype == jnp.float32 and traj.truncated.dtype == jnp.bool_
    chex.assert_tree_all_finite((traj.obs, traj.final_obs, traj.reward))
    np.testing.assert_array_equal(traj.physics.tick, np.arange(1, 24))
    assert traj.physics.data.qpos.shape == (23, 6, 2)  # the mjx.Data rides in the view


def test_mjx_env_is_deterministic_per_key(mjx_cartpole_runs):
    np.testing.assert_array_equal(mjx_cartpole_runs["mjx"].final_obs,
                                  mjx_cartpole_runs["mjx_again"].final_obs)
    assert not np.allclose(mjx_cartpole_runs["mjx"].final_obs,
                           mjx_cartpole_runs["mjx_other"].final_obs)


def test_mjx_env_matches_motrixsim_through_resets(mjx_cartpole_runs):
    # Episodes of 5 steps: MJX must apply each sampled initial state exactly where the
    # host backend does, and the physics in between agrees to float round-off.
    mjx_run, host = mjx_cartpole_runs["mjx"], mjx_cartpole_runs["motrixsim"]
    np.testing.assert_array_equal(mjx_run.truncated, host.truncated)
    assert mjx_run.truncated[4].all() and mjx_run.truncated[9].all()
    np.testing.assert_allclose(mjx_run.final_obs, host.final_obs, atol=1e-5)
    np.testing.assert_allclose(mjx_run.obs, host.obs, atol=1e-5)
