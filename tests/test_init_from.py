"""`--init-from RUN`: a new run starts from another run's policy and normalisers with a
fresh optimiser; unusable or unfitting source runs are one line and exit code 2."""

import dataclasses

import jax
import numpy as np
import pytest
from conftest import jax_cartpole

from motrix_jax import envs, train
from motrix_jax.checkpoint import Checkpointer, load_policy
from motrix_jax.init_from import fresh_state, load_start
from motrix_jax.ppo import make_ppo, seed_keys
from motrix_jax.run_folder import RunInfo, write_run_info

SMALL = {"num_envs": 32, "rollouts": 8, "learning_epochs": 2, "mini_batches": 4,
         "policy_hidden_sizes": (16, 16), "value_hidden_sizes": (16, 16)}


def small_cfg(**changes):
    cfg = dataclasses.replace(envs.preset("cartpole"), **{**SMALL, **changes})
    return dataclasses.replace(cfg, max_env_steps=4 * cfg.batch_size)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A cartpole run folder with a checkpoint after two updates of two seeds."""
    cfg = small_cfg(num_seeds=2)
    env = jax_cartpole(cfg.num_envs)
    run_dir = tmp_path_factory.mktemp("source")
    write_run_info(run_dir, RunInfo(env="cartpole", physics=env.physics.name, ppo=cfg,
                                    obs_size=env.obs_size, action_size=env.action_size))
    ppo = make_ppo(cfg, env)
    state = jax.jit(jax.vmap(ppo.init))(seed_keys(cfg))
    state, _ = jax.jit(jax.vmap(lambda s: ppo.run(s, 2)))(state)
    checkpointer = Checkpointer(run_dir)
    checkpointer.save(state, {"update": 2, "env_steps": 2 * cfg.batch_size, "wall_time": 0.0,
                              "last_return": [None, None], "episode_return": None})
    checkpointer.close()
    return run_dir, state


def test_policy_and_normalisers_carry_over_and_the_optimiser_is_fresh(source):
    run_dir, trained = source
    cfg = small_cfg(num_seeds=3, seed=7, learning_rate=3e-4)
    env = jax_cartpole(cfg.num_envs)
    start = load_start(run_dir, "cartpole", env, cfg)
    state = fresh_state(env, cfg, start)
    plain = fresh_state(env, cfg)
    for seed, source_seed in enumerate([0, 1, 0]):  # seed i takes the source's i mod 2
        for name in ("params", "obs_stats", "value_stats"):
            got = jax.tree.map(lambda x, s=seed: np.asarray(x[s]), getattr(state, name))
            want = jax.tree.map(lambda x, s=source_seed: np.asarray(x[s]),
                                getattr(trained, name))
            jax.tree.map(np.testing.assert_array_equal, got, want)
    # the policy at step 0 is the source's, action for action
    obs = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32) * 2
    params, stats = jax.tree.map(lambda x: x[1], (state.params, state.obs_stats))
    np.testing.assert_array_equal(np.asarray(jax.jit(make_ppo(cfg, env).policy)(params, stats, obs)),
                                  np.asarray(load_policy(run_dir, seed=1)(obs)))
    # a fresh optimiser (Adam moments zero, count 0), the configured rate, zero counters
    jax.tree.map(np.testing.assert_array_equal, state.opt_state, plain.opt_state)
    assert not np.allclose(trained.opt_state[1].mu["params"]["log_std"], 0)
    np.testing.assert_allclose(state.learning_rate, 3e-4)
    assert int(state.update.max()) == 0 and int(state.env_steps.max()) == 0


def one_line_exit_2(capsys, argv, root, expected):
    assert train.main(argv + ["--run-root", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not root.exists()  # nothing written


def test_bad_init_from_folders_are_one_line_and_exit_2(source, tmp_path, capsys):
    run_dir, _ = source
    root = tmp_path / "runs"
    empty = tmp_path / "empty"
    empty.mkdir()
    no_checkpoint = tmp_path / "no_checkpoint"
    no_checkpoint.mkdir()
    (no_checkpoint / "config.json").write_text((run_dir / "config.json").read_text())
    base = ["--env", "cartpole", "--num-envs", "32", "--set", "policy_hidden_sizes=16,16",
            "--set", "value_hidden_sizes=16,16"]
    cases = [(tmp_path / "missing", "no such run folder"), (empty, "not a run folder"),
             (no_checkpoint, "has no checkpoint")]
    for folder, expected in cases:
        one_line_exit_2(capsys, base + ["--init-from", str(folder)], root, expected)
    # another task, incompatible network sizes, --resume with it
    one_line_exit_2(capsys, ["--env", "dm_reacher", "--init-from", str(run_dir)], root,
                    "carries over only between envs of one task and robot")
    one_line_exit_2(capsys, ["--env", "cartpole", "--num-envs", "32", "--init-from",
                             str(run_dir)], root, "is incompatible: params.params")
    one_line_exit_2(capsys, ["--resume", str(run_dir), "--init-from", str(run_dir)], root,
                    "drop --init-from")
