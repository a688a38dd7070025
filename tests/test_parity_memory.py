"""The recurrent PPO update and the distillation loss against the PyTorch twin
(torch.nn.GRU / nn.LSTM, a Python loop over steps and minibatches of env trajectories):
same weights, same rollout, same numbers. float64 runs JAX inside `jax.enable_x64`."""

import dataclasses
import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="parity tests need the `parity` extra (PyTorch)")

from test_parity import DTYPES, assert_close, precision, random_stats, small_cfg, to_torch, tol

from motrix_jax import distill, recurrent, torch_twin
from motrix_jax.networks import make_network
from motrix_jax.ppo import TrainState, Transition, make_ppo

pytestmark = pytest.mark.parity
OBS, ACT, CRITIC = 3, 2, 5


def recurrent_pair(cfg, seed: int, dtype: str, critic_size=None):
    """Random Flax params of the recurrent network and the twin holding the same."""
    memory = recurrent.zero_memory(cfg, 1)
    critic = None if critic_size is None else jnp.zeros((1, critic_size))
    shapes = jax.eval_shape(make_network(cfg, ACT).init, jax.random.PRNGKey(0),
                            jnp.zeros((1, OBS)), critic, memory)
    rng = np.random.default_rng(seed)
    scale = lambda shape: 1 / np.sqrt(shape[0]) if len(shape) == 2 else 0.3
    params = jax.tree.map(lambda s: jnp.asarray(scale(s.shape) * rng.normal(size=s.shape),
                                                dtype), shapes)
    return rng, params, torch_twin.recurrent_from_flax(params, cfg.policy_memory)


def random_memory(cfg, rng, dtype) -> dict:
    width = 2 * cfg.memory_size if cfg.policy_memory == "lstm" else cfg.memory_size
    return {k: np.asarray(0.5 * rng.normal(size=(cfg.num_envs, width)), dtype)
            for k in ("policy", "value")}


def recurrent_rollout(model, obs_norm, critic_norm, cfg, memory, rng, dtype, critic_size):
    """A rollout [T, B] as the recurrent policy would have collected it (actions sampled
    from it, its log-probs and values along each trajectory, memory reset after episode
    ends), with random rewards and flags and next values near its own."""
    shape = (cfg.rollouts, cfg.num_envs)
    obs = rng.normal(1.0, 2.0, size=(*shape, OBS)).astype(dtype)
    critic_obs = None if critic_size is None else \
        rng.normal(-1.0, 3.0, size=(*shape, critic_size)).astype(dtype)
    terminated = rng.random(shape) < 0.15
    truncated = (rng.random(shape) < 0.1) & ~terminated
    done = terminated | truncated
    starts = np.concatenate([np.zeros_like(done[:1]), done[:-1]])
    with torch.no_grad():
        mean, log_std, value = model.sequence(
            obs_norm.normalize(to_torch(obs)),
            None if critic_obs is None else critic_norm.normalize(to_torch(critic_obs)),
            {k: to_torch(v) for k, v in memory.items()}, to_torch(starts))
        action = mean + log_std.exp() * to_torch(rng.normal(size=mean.shape)).to(mean.dtype)
        log_prob, _ = torch_twin.log_prob_and_entropy(mean, log_std, action)
    value = value.numpy()
    fields = {"obs": obs, "action": action.numpy(), "log_prob": log_prob.numpy(),
              "value": value, "reward": rng.normal(1.0, 1.0, size=shape).astype(dtype),
              "terminated": terminated, "truncated": truncated,
              "next_value": (value + 0.3 * rng.normal(size=shape)).astype(dtype),
              "critic_obs": critic_obs}
    absent = lambda name: None if "critic" in name else np.zeros(shape, dtype)
    return Transition(**{f.name: jax.tree.map(jnp.asarray, fields.get(f.name, absent(f.name)))
                         for f in dataclasses.fields(Transition)})


VARIANTS = {"gru": ("gru", None), "lstm": ("lstm", None),
            "gru_privileged_critic": ("gru", CRITIC)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_whole_recurrent_ppo_update(dtype, variant):
    # Same rollout, start memory, env orders and weights: after one update (3 epochs x 4
    # minibatches of 2 whole trajectories of 6 steps) params, Adam moments, learning rate
    # and statistics agree. float32: rtol 1e-4, atol 1e-5; float64: rtol 1e-9, atol 1e-11.
    kind, critic_size = VARIANTS[variant]
    cfg = small_cfg(policy_memory=kind, memory_size=4, learning_rate=3e-3,
                    learning_rate_scheduler_kl_threshold=0.002)
    tolerance = tol(dtype, (1e-4, 1e-5), (1e-9, 1e-11))
    with precision(dtype):
        rng, params, model = recurrent_pair(cfg, 3, dtype, critic_size)
        obs_stats, obs_norm = random_stats(rng, (OBS,), dtype)
        value_stats, value_norm = random_stats(rng, (), dtype)
        critic_stats, critic_norm = (None, None) if critic_size is None else \
            random_stats(rng, (critic_size,), dtype)
        memory = random_memory(cfg, rng, dtype)
        traj = recurrent_rollout(model, obs_norm, critic_norm, cfg, memory, rng, dtype,
                                 critic_size)
        orders = np.stack([rng.permutation(cfg.num_envs) for _ in range(cfg.learning_epochs)])
        ppo = make_ppo(cfg, types.SimpleNamespace(obs_size=OBS, action_size=ACT,
                                                  critic_obs_size=critic_size, mirrors=None))
        state = TrainState(
            params=params, opt_state=ppo.optimizer.init(params), obs_stats=obs_stats,
            value_stats=value_stats, learning_rate=jnp.asarray(cfg.learning_rate, dtype),
            env_state=None, key=None, update=0, env_steps=0, critic_stats=critic_stats,
            memory=jax.tree.map(jnp.asarray, memory))
        state, terms = jax.jit(ppo.learn)(state, traj, jnp.asarray(orders))

    optimizer = torch_twin.make_optimizer(model, cfg.learning_rate)
    names = ["obs", "action", "log_prob", "value", "reward", "terminated", "truncated",
             "next_value"] + ([] if critic_size is None else ["critic_obs"])
    rollout = {name: to_torch(getattr(traj, name)) for name in names}
    twin_terms = torch_twin.learn_recurrent(
        model, optimizer, obs_norm, value_norm, rollout,
        {k: to_torch(v) for k, v in memory.items()}, torch.from_numpy(orders), cfg,
        critic_norm)
    for name in terms:
        assert_close(terms[name].reshape(-1), torch.stack([t[name] for t in twin_terms]),
                     err_msg=name, **tolerance)
    assert float(state.learning_rate) != cfg.learning_rate  # the KL rule acted
    assert_close(state.learning_rate, optimizer.param_groups[0]["lr"], **tolerance)
    chex.assert_trees_all_close(state.params, torch_twin.to_flax(model), **tolerance)
    moment = lambda name: torch_twin.to_flax(model, lambda p: optimizer.state[p][name])
    chex.assert_trees_all_close(state.opt_state[1].mu, moment("exp_avg"), **tolerance)
    for stats, twin in [(state.obs_stats, obs_norm), (state.value_stats, value_norm)]:
        assert_close(stats.mean, twin.mean, **tolerance)
        assert_close(stats.var, twin.var, **tolerance)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", ["none", "gru", "lstm"])
def test_distillation_loss_and_its_gradients(dtype, memory):
    # The behaviour-cloning loss of a student (feed-forward, or recurrent over 6-step
    # trajectories with episode starts) and the gradient of every parameter.
    # float32: rtol 1e-4, atol 1e-6; float64: rtol 1e-10, atol 1e-12.
    cfg = small_cfg(policy_memory=memory, memory_size=4)
    tolerance = tol(dtype, (1e-4, 1e-6), (1e-10, 1e-12))
    with precision(dtype):
        if memory == "none":
            from test_parity import setup_pair
            rng, params, obs_stats, model, obs_norm = setup_pair(cfg, OBS, ACT, 5, dtype)
            shape = (16,)
        else:
            rng, params, model = recurrent_pair(cfg, 5, dtype)
            obs_stats, obs_norm = random_stats(rng, (OBS,), dtype)
            shape = (cfg.rollouts, cfg.num_envs)
        obs = rng.normal(1.0, 2.0, size=(*shape, OBS)).astype(dtype)
        target = rng.normal(size=(*shape, ACT)).astype(dtype)
        batch = distill.Imitation(obs=jnp.asarray(obs), target=jnp.asarray(target))
        twin_args = {}
        if memory != "none":
            start = random_memory(cfg, rng, dtype)["policy"]
            starts = rng.random(shape) < 0.2
            batch = batch.replace(memory={"policy": jnp.asarray(start)},
                                  starts=jnp.asarray(starts))
            twin_args = {"memory": to_torch(start), "starts": to_torch(starts)}
        parts = types.SimpleNamespace(cfg=cfg, network=make_network(cfg, ACT))
        grads, terms = jax.jit(jax.grad(lambda p: distill.distill_loss(
            parts, p, obs_stats, batch), has_aux=True))(params)
    loss = torch_twin.distillation_loss(model, obs_norm, to_torch(obs), to_torch(target), cfg,
                                        **twin_args)
    loss.backward()
    assert_close(terms["distill"], loss, **tolerance)
    twin_grads = torch_twin.to_flax(model, lambda p: torch.zeros_like(p) if p.grad is None
                                    else p.grad)
    chex.assert_trees_all_close(grads, twin_grads, **tolerance)
