"""The trainer on the probe environments of tests/probes.py, all five in one batch,
with the default observation and value normalisation: the learned values and actions
match their closed forms; and the same with the observation probe's sign hidden from the
policy and shown only to a privileged critic (its own observation and normaliser)."""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from probes import KINDS, ClockPhysics, HiddenSignProbes, Probes

from motrix_jax.checkpoint import Checkpointer, load_policy
from motrix_jax.config import PPOConfig
from motrix_jax.env import Env
from motrix_jax.networks import make_network
from motrix_jax.ppo import forward, make_ppo, make_train, seed_keys, to_value
from motrix_jax.run_folder import RunInfo, write_run_info

GAMMA = 0.5  # short horizons: the bootstrapped value settles within the run


CFG = PPOConfig(num_envs=64 * len(KINDS), rollouts=8, learning_epochs=4, mini_batches=4,
                policy_hidden_sizes=(16, 16), value_hidden_sizes=(16, 16),
                discount_factor=GAMMA, learning_rate_scheduler_kl_threshold=0.0,
                max_env_steps=64 * len(KINDS) * 8 * 40)


def probe_obs(kind, signals, hide_sign=False):
    """Observations [len(signals), 6] of probe `kind` with these signals."""
    one_hot = jax.nn.one_hot(KINDS.index(kind), len(KINDS))
    if hide_sign and kind == "observation":
        signals = [0.0] * len(signals)
    return jnp.stack([jnp.concatenate([jnp.array([s]), one_hot]) for s in signals])


@functools.cache
def trained(privileged=False):
    """(state, env, policy) after training all five together; `policy(kind, signals)`
    gives (mean action, value). A fixed learning rate: with nothing to learn in the
    policy the KL rule raised it to its cap (1e-2), and the values then wandered by
    0.2-0.4."""
    env = Env(HiddenSignProbes() if privileged else Probes(), ClockPhysics(), CFG.num_envs)
    state, _ = jax.jit(jax.vmap(make_train(CFG, env)))(seed_keys(CFG))
    state = jax.tree.map(lambda x: x[0], state)  # the one seed
    network = make_network(CFG, env.action_size)

    def policy(kind, signals):
        critic_obs = probe_obs(kind, signals) if privileged else None
        mean, _, value_n = forward(CFG, network, state.params, state.obs_stats,
                                   probe_obs(kind, signals, privileged),
                                   state.critic_stats, critic_obs)
        value = to_value(CFG, state.value_stats, value_n)
        return np.asarray(mean[:, 0]), np.asarray(value).reshape(-1)
    return state, env, policy


EXPECTED = {  # kind: (signals, their values)
    "constant": ([0.0], [1.0]),
    "observation": ([-1.0, 1.0], [-1.0, 1.0]),
    "discount": ([0.0, 1.0], [GAMMA, 1.0]),
    "truncation": ([0.0], [1.0 / (1.0 - GAMMA)]),
}


@pytest.mark.parametrize("privileged", [False, True], ids=["critic_reads_obs", "privileged"])
@pytest.mark.parametrize("kind", KINDS)
def test_probe_values_and_actions_match_their_closed_form(kind, privileged):
    policy = trained(privileged)[2]
    if kind == "action":
        mean, _ = policy(kind, [0.0])
        np.testing.assert_allclose(mean, [0.5], atol=0.1)
        return
    signals, values = EXPECTED[kind]
    # privileged: the policy's observations of the two signs are the same, so only the
    # critic's own observation can tell the values apart
    _, value = policy(kind, signals)
    np.testing.assert_allclose(value, values, rtol=0.05, atol=0.05)


def test_a_privileged_critic_has_its_own_statistics_and_the_policy_needs_none_of_it(tmp_path):
    state, env, _ = trained(privileged=True)
    # the critic's normaliser saw the hidden sign, the policy's did not
    assert float(state.critic_stats.count) == float(state.obs_stats.count) > 0
    # (a fifth of the envs show +-1 there: 0.2 more variance)
    assert float(state.critic_stats.var[0]) > float(state.obs_stats.var[0]) + 0.15
    kernel = state.params["params"]["value_trunk"]["dense_0"]["kernel"]
    assert kernel.shape == (env.critic_obs_size, 16)
    # a checkpoint restores the critic's statistics, and load_policy acts on the
    # policy's observation alone, as the trainer's policy does
    write_run_info(tmp_path, RunInfo(env="probes", physics="probe-clock", ppo=CFG,
                                     obs_size=env.obs_size, action_size=env.action_size))
    batched = jax.tree.map(lambda x: x[None], state)
    checkpointer = Checkpointer(tmp_path)
    checkpointer.save(batched, {"update": 40, "env_steps": 0, "wall_time": 0.0,
                                "last_return": [None], "episode_return": None})
    checkpointer.close()
    abstract = jax.eval_shape(jax.vmap(make_ppo(CFG, env).init), seed_keys(CFG))
    reader = Checkpointer(tmp_path, read_only=True)
    restored, _ = reader.restore(abstract)
    reader.close()
    np.testing.assert_array_equal(restored.critic_stats.var[0], state.critic_stats.var)
    obs = probe_obs("action", [0.0, 0.0])
    live = jax.jit(make_ppo(CFG, env).policy)(state.params, state.obs_stats, obs)
    np.testing.assert_array_equal(np.asarray(load_policy(tmp_path)(obs)), np.asarray(live))


@dataclass(frozen=True)
class ConstantProbes(Probes):
    """Every env the constant probe: the returns have zero variance."""

    def reset(self, key, n, info):
        return jnp.zeros((n, 3)), jnp.zeros((n, 3)), {}


@pytest.mark.slow  # a training run of its own: 17 s under load
def test_the_value_normaliser_learns_a_constant_return():
    env = Env(ConstantProbes(), ClockPhysics(), CFG.num_envs)
    state, _ = jax.jit(jax.vmap(make_train(CFG, env)))(seed_keys(CFG))
    state = jax.tree.map(lambda x: x[0], state)
    _, _, value_n = forward(CFG, make_network(CFG, 1), state.params, state.obs_stats,
                            probe_obs("constant", [0.0]), state.critic_stats, None)
    np.testing.assert_allclose(to_value(CFG, state.value_stats, value_n), [1.0], atol=0.01)
