"""Recurrent actor-critic (`policy_memory=gru|lstm`): memory reset where episodes end,
minibatches of whole trajectories, exact resume, load_policy / play / ONNX carrying the
memory, and the combinations it refuses."""

import dataclasses
import types

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from conftest import jax_cartpole
from test_checkpoint import assert_trees_equal, new_run, quiet, saved_state
from test_checkpoint import small_cfg as checkpoint_cfg

from motrix_jax import envs, export, recurrent, train
from motrix_jax.checkpoint import Checkpointer, load_policy
from motrix_jax.config import PPOConfig
from motrix_jax.evaluation import run_policy
from motrix_jax.networks import make_network
from motrix_jax.ppo import learning_batch, make_ppo, seed_keys

SMALL = {"num_envs": 8, "rollouts": 12, "learning_epochs": 2, "mini_batches": 4,
         "policy_hidden_sizes": (16,), "value_hidden_sizes": (16,), "memory_size": 8}


def small_cfg(memory="gru", **changes):
    cfg = dataclasses.replace(envs.preset("cartpole"), **SMALL, policy_memory=memory)
    return dataclasses.replace(cfg, max_env_steps=3 * cfg.batch_size, **changes)


def drawn(tree, seed=0, scale=0.5):
    """Every parameter drawn at random, so that memory visibly changes actions."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda x: jnp.asarray(rng.normal(0.0, scale, x.shape), x.dtype), tree)


def short_episodes_env(cfg, length=5):
    return jax_cartpole(cfg.num_envs, episode_length=length)  # cached: never mutate it


@pytest.mark.parametrize("memory", ["gru", pytest.param("lstm", marks=pytest.mark.slow)])
def test_memory_restarts_from_zero_where_hand_built_episodes_end(memory):
    cfg = small_cfg(memory, state_preprocessor=False)
    network = make_network(cfg, 1)
    parts = types.SimpleNamespace(cfg=cfg, network=network)
    width = 16 if memory == "lstm" else 8
    params = drawn(network.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)), None,
                                recurrent.zero_memory(cfg, 1)))
    steps, n = 7, 3
    obs = jax.random.normal(jax.random.PRNGKey(1), (steps, n, 4))
    done = np.zeros((steps, n), bool)
    done[1, 0] = done[4, 0] = done[3, 1] = True  # env 2 never ends
    traj = types.SimpleNamespace(terminated=jnp.asarray(done), truncated=jnp.zeros_like(done))
    starts = recurrent.episode_starts(traj)
    np.testing.assert_array_equal(starts[:, 0], [0, 0, 1, 0, 0, 1, 0])
    start_memory = drawn(recurrent.zero_memory(cfg, n), seed=2)  # the rollout's start
    mean, _, value = jax.jit(lambda *a: recurrent.sequence(parts, params, None, None, *a))(
        obs, None, start_memory, starts)

    def alone(env, first, last, memory):  # one episode on its own
        got = []
        for t in range(first, last):
            m, _, v, memory = network.apply(params, obs[t, env:env + 1], None, memory)
            got.append((m[0, 0], v[0]))
        return np.array(got)

    zero = recurrent.zero_memory(cfg, 1)
    first = lambda env: jax.tree.map(lambda m: m[env:env + 1], start_memory)
    segments = [(0, 0, 2, first(0)), (0, 2, 5, zero), (0, 5, 7, zero),
                (1, 0, 4, first(1)), (1, 4, 7, zero), (2, 0, 7, first(2))]
    for env, a, b, begin in segments:
        np.testing.assert_allclose(np.stack([mean[a:b, env, 0], value[a:b, env]], -1),
                                   alone(env, a, b, begin), rtol=1e-5, atol=1e-6)
    assert start_memory["policy"].shape == (n, width)
    # without the resets the later episodes would see the earlier ones
    kept, _, _ = recurrent.sequence(parts, params, None, None, obs, None, start_memory,
                                    jnp.zeros_like(starts))
    assert not np.allclose(kept[2:, 0], mean[2:, 0], atol=1e-4)


def test_rollout_zeroes_memory_at_episode_ends_and_the_update_replays_it():
    cfg = small_cfg("gru")
    env = short_episodes_env(cfg)
    ppo = make_ppo(cfg, env)
    state = jax.jit(ppo.init)(jax.random.PRNGKey(0))
    stats = state.obs_stats.replace(mean=jnp.full(4, 0.1), var=jnp.full(4, 0.5))
    state = state.replace(params=drawn(state.params), obs_stats=stats,
                          memory=drawn(state.memory, seed=3))
    (_, memory), traj = jax.jit(ppo.rollout)(state, jax.random.PRNGKey(1))
    done = np.asarray(traj.terminated | traj.truncated)
    assert done.any(axis=0).all()  # every env ended an episode inside the rollout
    ended = done[-1]
    np.testing.assert_array_equal(np.asarray(memory["policy"])[ended], 0.0)
    assert np.abs(np.asarray(memory["policy"])[~ended]).min(initial=1.0) > 0
    # the loss's re-run over whole trajectories gives the acting log-probabilities/values
    parts = types.SimpleNamespace(cfg=cfg, network=make_network(cfg, 1))
    batch, _ = jax.jit(lambda s, t: learning_batch(ppo_parts(ppo, cfg, env), s, t))(state,
                                                                                    traj)
    mean, log_std, value = jax.jit(lambda b: recurrent.sequence(
        parts, state.params, state.obs_stats, None, b.obs, None, b.memory, b.starts))(batch)
    log_prob = jax.scipy.stats.norm.logpdf(traj.action, mean, jnp.exp(log_std)).sum(-1)
    np.testing.assert_allclose(log_prob, traj.log_prob, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(value, traj.value, rtol=1e-5, atol=1e-5)


def ppo_parts(ppo, cfg, env):
    from motrix_jax.ppo import Parts
    return Parts(cfg, env, make_network(cfg, env.action_size), ppo.optimizer)


def test_minibatches_hold_whole_env_trajectories():
    cfg = small_cfg("lstm")
    steps, n = cfg.rollouts, cfg.num_envs
    x = jnp.arange(steps * n, dtype=jnp.float32).reshape(steps, n)
    from motrix_jax.ppo import Minibatch
    batch = Minibatch(obs=x[..., None] * jnp.ones(4), action=x[..., None], log_prob=x,
                      value=x, returns=x, advantage=x,
                      memory={"policy": jnp.arange(n)[:, None] * jnp.ones((n, 16)),
                              "value": -jnp.arange(n)[:, None] * jnp.ones((n, 16))},
                      starts=x > 50)
    order = np.random.default_rng(0).permutation(n)
    parts = recurrent.minibatches(cfg, batch, jnp.asarray(order))
    size = n // cfg.mini_batches
    assert parts.obs.shape == (cfg.mini_batches, steps, size, 4)
    for k in range(cfg.mini_batches):
        envs_k = order[k * size:(k + 1) * size]
        for field in ("obs", "action", "log_prob", "value", "returns", "advantage", "starts"):
            np.testing.assert_array_equal(getattr(parts, field)[k],
                                          getattr(batch, field)[:, envs_k])
        np.testing.assert_array_equal(parts.memory["policy"][k, :, 0], envs_k)
        np.testing.assert_array_equal(parts.memory["value"][k, :, 0], -envs_k)


@pytest.mark.slow  # 2 sessions and a resume: ~8 s idle
def test_resume_with_memory_is_bitwise_exact(tmp_path):
    cfg = checkpoint_cfg(4, policy_memory="lstm", memory_size=8)
    info, a = new_run(tmp_path, "a", cfg, jax_cartpole(cfg.num_envs))
    assert train.fit(jax_cartpole(cfg.num_envs), info, a, chunk=1, console=quiet()) == 0
    info, b = new_run(tmp_path, "b", cfg, jax_cartpole(cfg.num_envs))
    assert train.fit(jax_cartpole(cfg.num_envs), info, b, chunk=1, stop_after=2,
                     console=quiet()) == 0
    assert train.fit(jax_cartpole(cfg.num_envs), info, b, resume=True, chunk=1,
                     console=quiet()) == 0
    env = jax_cartpole(cfg.num_envs)
    state_a, _ = saved_state(env, cfg, a)
    state_b, _ = saved_state(env, cfg, b)
    assert int(state_a.update[0]) == 4
    assert np.abs(np.asarray(state_a.memory["policy"])).max() > 0  # memory is saved
    assert_trees_equal(state_a, state_b)


@pytest.mark.parametrize("memory", [pytest.param("gru", marks=pytest.mark.slow), "lstm"])
def test_load_policy_play_and_onnx_carry_the_memory(tmp_path, memory):
    cfg = small_cfg(memory)
    env = short_episodes_env(cfg)
    _, run_dir = new_run(tmp_path, "run", cfg, env)
    ppo = make_ppo(cfg, env)
    state = jax.jit(jax.vmap(ppo.init))(seed_keys(cfg))
    stats = state.obs_stats.replace(mean=jnp.full((1, 4), 0.1), var=jnp.full((1, 4), 0.5))
    state = state.replace(params=drawn(state.params), obs_stats=stats)
    checkpointer = Checkpointer(run_dir)
    checkpointer.save(state, {"update": 1, "env_steps": 0, "wall_time": 0.0,
                              "last_return": [None]})
    checkpointer.close()
    policy = load_policy(run_dir)
    assert isinstance(policy, recurrent.MemoryPolicy)
    # the loaded policy is the trainer's, memory included
    obs = jax.random.normal(jax.random.PRNGKey(0), (5, 4))
    memory_in = drawn(policy.initial_memory(5), seed=4)
    params, obs_stats = jax.tree.map(lambda x: x[0], (state.params, state.obs_stats))
    live = jax.jit(ppo.policy)(params, obs_stats, obs, memory_in)
    jax.tree.map(np.testing.assert_array_equal, policy(obs, memory_in), live)
    # play's loop carries it, zeroing it where episodes end
    (_, (seen, done)) = run_policy(env, policy, jax.random.PRNGKey(1), 12,
                                   lambda s: (s.obs, s.terminated | s.truncated))
    assert done.any() and np.isfinite(seen).all()
    out = tmp_path / "policy.onnx"
    export.export(run_dir, out)
    model = onnx.load(out)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["memory"] == memory and props["memory_size"] == "8"
    assert [i.name for i in model.graph.input] == ["obs", "memory_in"]
    assert [o.name for o in model.graph.output] == ["action", "memory_out"]
    assert export.largest_memory_difference(out, policy, seen, done) <= 1e-5


def test_unsupported_memory_combinations_are_one_line_errors(capsys, tmp_path):
    with pytest.raises(ValueError, match=r"policy_memory must be one of none, gru, lstm, "
                                         r"got 'lstn' \(did you mean 'lstm'\?\)"):
        PPOConfig(policy_memory="lstn")
    with pytest.raises(ValueError, match="symmetry_augmentation is not supported"):
        PPOConfig(policy_memory="gru", symmetry_augmentation=True)
    with pytest.raises(ValueError, match="share_features is not supported"):
        PPOConfig(policy_memory="lstm", share_features=True)
    with pytest.raises(ValueError, match="num_envs = 6 must be divisible by mini_batches = 4"):
        PPOConfig(policy_memory="gru", num_envs=6, rollouts=2, mini_batches=4,
                  max_env_steps=100)
    root = tmp_path / "runs"
    assert train.main(["--env", "cartpole", "--set", "policy_memory=gru", "--set",
                       "symmetry_augmentation=true", "--run-root", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symmetry_augmentation is not supported" in err[0]
    assert not root.exists()
