"""The trainer on the probe environments of tests/probes.py, all five in one batch,
with the default observation and value normalisation: the learned values and actions
match their closed forms."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from probes import KINDS, ClockPhysics, Probes

from motrix_jax.config import PPOConfig
from motrix_jax.env import Env
from motrix_jax.networks import make_network
from motrix_jax.ppo import forward, make_train, seed_keys, to_value

GAMMA = 0.5  # short horizons: the bootstrapped value settles within the run


@functools.cache
def trained():
    """(mean action, value) of a probe's signals, after training all five together.
    A fixed learning rate: with nothing to learn in the policy the KL rule raised it
    to its cap (1e-2), and the values then wandered by 0.2-0.4."""
    cfg = PPOConfig(num_envs=64 * len(KINDS), rollouts=8, learning_epochs=4,
                    mini_batches=4, policy_hidden_sizes=(16, 16),
                    value_hidden_sizes=(16, 16), discount_factor=GAMMA,
                    learning_rate_scheduler_kl_threshold=0.0,
                    max_env_steps=64 * len(KINDS) * 8 * 40)
    env = Env(Probes(), ClockPhysics(), cfg.num_envs)
    state, _ = jax.jit(jax.vmap(make_train(cfg, env)))(seed_keys(cfg))
    state = jax.tree.map(lambda x: x[0], state)  # the one seed
    network = make_network(cfg, env.action_size)

    def policy(kind, signals):
        one_hot = jax.nn.one_hot(KINDS.index(kind), len(KINDS))
        obs = jnp.stack([jnp.concatenate([jnp.array([s]), one_hot]) for s in signals])
        mean, _, value_n = forward(cfg, network, state.params, state.obs_stats, obs)
        value = to_value(cfg, state.value_stats, value_n)
        return np.asarray(mean[:, 0]), np.asarray(value).reshape(-1)
    return policy


EXPECTED = {  # kind: (signals, their values)
    "constant": ([0.0], [1.0]),
    "observation": ([-1.0, 1.0], [-1.0, 1.0]),
    "discount": ([0.0, 1.0], [GAMMA, 1.0]),
    "truncation": ([0.0], [1.0 / (1.0 - GAMMA)]),
}


@pytest.mark.parametrize("kind", KINDS)
def test_probe_values_and_actions_match_their_closed_form(kind):
    if kind == "action":
        mean, _ = trained()(kind, [0.0])
        np.testing.assert_allclose(mean, [0.5], atol=0.1)
        return
    signals, values = EXPECTED[kind]
    _, value = trained()(kind, signals)
    np.testing.assert_allclose(value, values, rtol=0.05, atol=0.05)
