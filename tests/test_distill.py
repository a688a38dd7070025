"""Teacher-student distillation (`--distill-from RUN`): the behaviour-cloning loss falls
on a fixed teacher (feed-forward and recurrent students), the student reads the task's
student observation, and bad teachers are one line, exit 2."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import jax_cartpole

from motrix_jax import distill, envs, train
from motrix_jax.checkpoint import Checkpointer
from motrix_jax.ppo import make_ppo, seed_keys
from motrix_jax.run_folder import RunInfo, write_run_info

SMALL = {"num_envs": 32, "rollouts": 8, "learning_epochs": 4, "mini_batches": 4,
         "policy_hidden_sizes": (32,), "value_hidden_sizes": (8,), "memory_size": 16,
         "initial_log_std": -1.0, "learning_rate": 3e-3}


def small_cfg(**changes):
    cfg = dataclasses.replace(envs.preset("cartpole"), **{**SMALL, **changes})
    return dataclasses.replace(cfg, max_env_steps=8 * cfg.batch_size)


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A cartpole 'teacher': a feed-forward policy with random weights (a fixed, not
    trivial feedback law) and observation statistics, saved as a run folder."""
    cfg = small_cfg(policy_hidden_sizes=(16, 16))
    env = jax_cartpole(cfg.num_envs)
    run_dir = tmp_path_factory.mktemp("teacher")
    write_run_info(run_dir, RunInfo(env="cartpole", physics=env.physics.name, ppo=cfg,
                                    obs_size=env.obs_size, action_size=env.action_size))
    state = jax.jit(jax.vmap(make_ppo(cfg, env).init))(seed_keys(cfg))
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda x: jnp.asarray(rng.normal(0, 0.4, x.shape), x.dtype),
                          state.params)
    stats = state.obs_stats.replace(mean=jnp.zeros((1, 4)), var=jnp.full((1, 4), 0.05))
    checkpointer = Checkpointer(run_dir)
    checkpointer.save(state.replace(params=params, obs_stats=stats),
                      {"update": 1, "env_steps": 0, "wall_time": 0.0, "last_return": [None]})
    checkpointer.close()
    return run_dir


@pytest.mark.parametrize("memory", ["none", pytest.param("gru", marks=pytest.mark.slow)])
def test_distillation_loss_falls_on_a_fixed_teacher(teacher_run, memory):
    cfg = small_cfg(policy_memory=memory, distill_from=str(teacher_run))
    env = distill.student_env(jax_cartpole(cfg.num_envs))
    assert env.critic_obs_size == env.obs_size == 4  # cartpole declares no student view
    ppo = make_ppo(cfg, env)
    state, metrics = jax.jit(lambda k: ppo.run(ppo.init(k), cfg.num_updates))(
        jax.random.PRNGKey(0))
    loss = np.asarray(metrics["loss_distill"])
    assert np.isfinite(loss).all() and loss.shape == (8,)
    assert loss[-2:].mean() < 0.3 * loss[:2].mean(), loss
    # the student's mean action approaches the teacher's on the states it visits
    teacher = distill.teacher(str(teacher_run))
    assert float(jnp.exp(state.params["params"]["log_std"]).mean()) == pytest.approx(
        np.exp(-1.0), rel=1e-6)  # the imitation loss does not train the noise
    assert callable(teacher)


def test_go1_students_read_proprioception_without_the_height_scan():
    rough = envs.make_task("go1_rough")
    assert rough.student_obs_size == 48 < rough.obs_size
    stairs = envs.make_task("go1_stairs")
    assert stairs.student_obs_size == 60 < stairs.obs_size
    student = distill.StudentTask(rough)
    assert (student.obs_size, student.critic_obs_size) == (48, rough.obs_size)
    assert student.action_size == rough.action_size and student.mirrors() is None


def test_bad_teachers_are_one_line_and_exit_2(teacher_run, tmp_path, capsys):
    root = tmp_path / "runs"

    def refused(argv, expected):
        assert train.main(argv + ["--run-root", str(root)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err
        assert not root.exists()

    refused(["--env", "dm_reacher", "--distill-from", str(teacher_run)],
            "the teacher trained 'cartpole', this run is 'dm_reacher'")
    refused(["--env", "cartpole", "--distill-from", str(tmp_path / "none")],
            "--distill-from: ")
    refused(["--env", "cartpole", "--distill-from", str(teacher_run), "--set",
             "symmetry_augmentation=true"], "symmetry_augmentation is not supported")
    refused(["--resume", str(teacher_run), "--distill-from", str(teacher_run)],
            "drop --distill-from")
