"""Host envs (motrix_jax/host_env.py): the protocol's same-step autoreset and final_obs,
the time-limit bootstrap from V(final_obs) learned on a hand-built env, vmapped seeds
through one callback, a resumed run restarting its envs and going on, one-line errors
for bad names and missing packages, and a smoke test per adapter (train, play, export)."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from host_probes import TASK, AlternatingClock, values

from motrix_jax import adapters, export, play, train
from motrix_jax.config import PPOConfig
from motrix_jax.host_env import HostEnv
from motrix_jax.networks import make_network
from motrix_jax.ppo import forward, to_value
from motrix_jax.run_folder import RunInfo, make_run_dir, write_run_info
from motrix_jax.trainer import Trainer

GAMMA = 0.5


def clock_env(num_envs: int, log: list | None = None) -> HostEnv:
    return HostEnv(TASK, functools.partial(AlternatingClock, log=log), num_envs)


def rollout(env: HostEnv, steps: int):
    """The env states after each of `steps` steps with zero actions, stacked [T, ...]."""
    return jax.jit(lambda k: rollout_body(env, k, steps))(jax.random.PRNGKey(0))


def test_same_step_autoreset_keeps_the_final_observation_and_logs_metrics():
    env = clock_env(3)
    states = rollout(env, 4)
    # env 0 starts at step 0 of its episode, env 1 at step 1, env 2 at step 2
    np.testing.assert_array_equal(states.truncated, [[0, 0, 1], [0, 1, 0], [1, 0, 0],
                                                     [0, 0, 1]])
    assert not states.terminated.any()
    # where an episode ended: obs is the next episode's first ([0]), final_obs the [1]
    # the step reached; elsewhere they are equal
    np.testing.assert_array_equal(states.final_obs[..., 0], [[1, 0, 1], [0, 1, 1],
                                                            [1, 1, 0], [1, 0, 1]])
    np.testing.assert_array_equal(states.obs[..., 0], [[1, 0, 0], [0, 0, 1], [0, 1, 0],
                                                      [1, 0, 0]])
    np.testing.assert_array_equal(states.done_length[2], [3, 0, 0])
    np.testing.assert_array_equal(states.done_return[2], [1, 0, 0])
    assert set(env.metrics(jax.tree.map(lambda x: x[0], states))) == {"task/clock",
                                                                      "task/action"}
    # ticks count the host calls: a dropped or repeated step would raise on the host
    np.testing.assert_array_equal(states.physics.tick, [1, 2, 3, 4])


def test_actions_reach_the_host_clipped_to_the_bounds():
    env = clock_env(2)
    state = env.reset(jax.random.PRNGKey(0))
    state = jax.jit(env.step)(state, jnp.array([[5.0], [-0.25]]))
    np.testing.assert_allclose(state.info["action"], [1.0, -0.25])


CFG = PPOConfig(num_envs=48, rollouts=6, learning_epochs=4, mini_batches=4,
                policy_hidden_sizes=(16,), value_hidden_sizes=(16,), discount_factor=GAMMA,
                learning_rate_scheduler_kl_threshold=0.0, learning_rate=3e-3,
                max_env_steps=48 * 6 * 60, check_point_interval=5)
CLOCK_LOG: list = []
# One env object for the training tests: the trainer's compiled programs are cached per
# env and config, so they compile once for both.
CLOCK = clock_env(CFG.num_envs, CLOCK_LOG)


def test_truncation_bootstraps_from_the_value_of_the_final_observation():
    """V(0) and V(1) of the endless chain (0.667, 1.333 at gamma 0.5); bootstrapped from
    the reset observation they would be 0.40 and 1.20, without a bootstrap 0.29 and 1.14."""
    trainer = Trainer(CLOCK, RunInfo.of(TASK.name, CLOCK, CFG), None)
    first = len(CLOCK_LOG)
    trainer.start()
    state = jax.tree.map(lambda x: x[0], trainer.run())
    network = make_network(CFG, CLOCK.action_size)
    _, _, value_n = forward(CFG, network, state.params, state.obs_stats,
                            jnp.array([[0.0], [1.0]]))
    value = np.asarray(to_value(CFG, state.value_stats, value_n)).reshape(-1)
    np.testing.assert_allclose(value, values(GAMMA), atol=0.1)
    steps = [c for c, _ in CLOCK_LOG[first:]].count("step")
    assert steps == CFG.num_updates * CFG.rollouts


def test_a_resumed_host_env_run_restarts_its_envs_and_continues(tmp_path, capsys):
    cfg = dataclasses.replace(CFG, max_env_steps=CFG.batch_size * 4, check_point_interval=2)
    info = RunInfo.of(TASK.name, CLOCK, cfg)
    run_dir = make_run_dir(tmp_path, "clock")
    write_run_info(run_dir, info)
    first = len(CLOCK_LOG)
    assert train.fit(CLOCK, info, run_dir, stop_after=2) == 0
    # the same env object (its compiled programs are cached), its host envs restarted
    assert train.fit(CLOCK, info, run_dir, resume=True) == 0
    assert "its envs restart" in capsys.readouterr().out
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    assert [r["update"] for r in records] == [1, 2, 3, 4]
    assert all("task/clock" in r for r in records)  # the host env's metrics are logged
    assert any((run_dir / "tensorboard").iterdir())
    log = CLOCK_LOG[first:]
    resets = [i for i, (call, _) in enumerate(log) if call == "reset"]
    assert len(resets) == 2  # the first session's envs, then the resumed one's
    assert [c for c, _ in log[resets[1]:]].count("step") == 2 * cfg.rollouts


def test_vmapped_seeds_are_one_host_env_stepped_once_per_control_step():
    log = []
    env = clock_env(4, log)
    keys = jnp.stack([jax.random.PRNGKey(s) for s in range(3)])
    states = jax.jit(jax.vmap(lambda k: rollout_body(env, k, 5)))(keys)
    assert log[:2] == [("make", 12), ("reset", 12)]
    assert log[2:] == [("step", 12)] * 5  # one host call per step for all 3 seeds
    assert states.obs.shape == (3, 5, 4, 1)
    np.testing.assert_array_equal(states.physics.tick, np.tile(np.arange(1, 6), (3, 1)))


def rollout_body(env, key, steps):
    def body(state, _):
        state = env.step(state, jnp.zeros((env.num_envs, 1)))
        return state, state
    return jax.lax.scan(body, env.reset(key), None, length=steps)[1]


@pytest.mark.parametrize("name, message", [
    ("gymnasum:HalfCheetah-v5", "unknown host-env prefix 'gymnasum'"),
    ("envpol:HalfCheetah-v5", "did you mean 'envpool'?"),
    ("gymnasium:", "names no env"),
])
def test_a_bad_host_env_prefix_is_one_line_exit_2(tmp_path, capsys, name, message):
    assert train.main(["--env", name, "--run-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not any(tmp_path.iterdir())


def test_a_missing_adapter_package_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    module, _, install = adapters.ADAPTERS["envpool"]
    monkeypatch.setitem(adapters.ADAPTERS, "envpool", (module, "no_such_pkg_xyz", install))
    assert train.main(["--env", "envpool:Ant-v5", "--run-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "need the no_such_pkg_xyz package" in err and "pip install" in err
    assert "\n" not in err


gymnasium = pytest.mark.skipif(importlib.util.find_spec("gymnasium") is None,
                               reason="gymnasium is not installed (the gymnasium extra)")


@gymnasium
@pytest.mark.parametrize("name, message", [
    ("gymnasium:HalfCheeta-v5", "did you mean 'HalfCheetah-v5'?"),
    ("gymnasium:CartPole-v1", "discrete actions are not supported"),
])
def test_bad_gymnasium_envs_are_one_line_exit_2(tmp_path, capsys, name, message):
    assert train.main(["--env", name, "--run-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def smoke(tmp_path, capsys, name: str, video: bool = False) -> None:
    """Train 2 small updates of host env `name`, play 2 episodes (and a video, or one line
    saying it cannot be made), export to ONNX."""
    args = ["--env", name, "--run-root", str(tmp_path), "--num-envs", "4",
            "--max-env-steps", "64", "--set", "rollouts=8", "--set", "learning_epochs=1",
            "--set", "mini_batches=2", "--set", "policy_hidden_sizes=8",
            "--set", "value_hidden_sizes=8"]
    assert train.main(args) == 0
    run_dir = next((tmp_path / name).iterdir())
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2
    assert json.loads((run_dir / "config.json").read_text())["physics"] == "host"
    assert play.main(["--run", str(run_dir), "--episodes", "2"]) == 0
    assert "2 deterministic episodes on host" in capsys.readouterr().out
    code = play.main(["--run", str(run_dir), "--episodes", "2", "--video",
                      str(tmp_path / "v.gif")])
    if video:
        assert code == 0 and (tmp_path / "v.gif").stat().st_size > 1000
        assert "frames at" in capsys.readouterr().out
    else:
        assert code == 2 and "play renders only gymnasium's" in capsys.readouterr().err
    assert export.main(["--run", str(run_dir), "--out", str(tmp_path / "p.onnx")]) == 0
    assert "max |difference|" in capsys.readouterr().out


@pytest.mark.slow
@gymnasium
def test_gymnasium_smoke_train_play_export(tmp_path, capsys):
    smoke(tmp_path, capsys, "gymnasium:InvertedPendulum-v5", video=True)


envpool = pytest.mark.skipif(importlib.util.find_spec("envpool") is None,
                             reason="envpool is not installed (the envpool extra; no wheel "
                                    "for every Python)")


@envpool
def test_envpool_next_step_autoreset_becomes_same_step():
    from motrix_jax.adapters.envpool_envs import EnvPoolEnvs

    envs = EnvPoolEnvs("HalfCheetah-v5", 3)
    envs.pool = __import__("envpool").make_gymnasium("HalfCheetah-v5", num_envs=3, seed=0,
                                                      max_episode_steps=4)
    envs.reset(0)
    zeros = np.zeros((3, envs.action_size), np.float32)
    steps = [envs.step(zeros) for _ in range(5)]
    assert [s.truncated.tolist() for s in steps] == [[False] * 3] * 3 + [[True] * 3] + \
        [[False] * 3]
    ended = steps[3]
    assert not np.allclose(ended.obs, ended.final_obs)  # the next episode's first obs
    # the step after the reset is a real step of the new episode, not an ignored one
    assert not np.allclose(steps[4].obs, ended.obs)
    envs.close()


@pytest.mark.slow
@envpool
def test_envpool_smoke_train_play_export(tmp_path, capsys):
    smoke(tmp_path, capsys, "envpool:HalfCheetah-v5")


motrixlab = pytest.mark.skipif(importlib.util.find_spec("motrix_env_core") is None,
                               reason="motrix-env-core is not installed (the motrixlab extra)")
PENDULUM = "motrixlab:motrix-jax-test-pendulum@motrixlab_pendulum"


@motrixlab
def test_motrixlab_truncations_carry_their_final_observation():
    from motrix_jax.adapters.motrixlab_envs import make

    envs = make(PENDULUM.split(":", 1)[1], 3)
    envs.env.cfg.max_episode_seconds = 0.05  # 5 steps: before the pole falls
    first = envs.reset(0)
    steps = [envs.step(np.zeros((3, 1), np.float32)) for _ in range(5)]
    assert [s.truncated.all() for s in steps] == [False] * 4 + [True]
    end = steps[-1]
    # the pole fell a little from rest in 5 steps: final_obs is there, obs starts anew
    assert (end.final_obs[:, 2] != 0).all() and (end.obs[:, 2] == 0).all()
    assert not np.allclose(end.final_obs, first)
    assert set(end.metrics) == {"angle"}


@pytest.mark.slow
@motrixlab
def test_motrixlab_smoke_train_play_export(tmp_path, capsys):
    smoke(tmp_path, capsys, PENDULUM)
