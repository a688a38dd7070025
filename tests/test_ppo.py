import dataclasses
import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import jax_cartpole, motrix_cartpole

from motrix_jax import envs, symmetry
from motrix_jax.env import Env
from motrix_jax.networks import gaussian_log_prob, make_network
from motrix_jax.ppo import (
    Minibatch,
    Parts,
    check_env,
    loss,
    make_ppo,
    make_train,
    minibatch_orders,
    mirrored,
    seed_keys,
)

SMALL = {"num_envs": 32, "rollouts": 8, "learning_epochs": 2, "mini_batches": 4,
         "policy_hidden_sizes": (16, 16), "value_hidden_sizes": (16, 16)}


def small_cfg(**changes):
    cfg = dataclasses.replace(envs.preset("cartpole"), **SMALL)
    return dataclasses.replace(cfg, max_env_steps=3 * cfg.batch_size, **changes)


def test_make_train_traces_once():
    cfg = small_cfg()
    train = chex.assert_max_traces(make_train(cfg, jax_cartpole(cfg.num_envs)), n=1)
    jitted = jax.jit(train)
    first, metrics = jitted(jax.random.PRNGKey(0))
    jitted(jax.random.PRNGKey(1))  # a new key must not retrace
    chex.assert_shape(metrics["episode_return"], (cfg.num_updates,))
    assert int(first.update) == cfg.num_updates == 3
    assert int(first.env_steps) == 3 * cfg.batch_size


def test_vmapped_seeds_differ_and_each_equals_a_run_alone():
    cfg = small_cfg(num_seeds=2, seed=5)
    train = make_train(cfg, motrix_cartpole(cfg.num_envs))
    together, _ = jax.jit(jax.vmap(train))(seed_keys(cfg))
    params = together.params["params"]
    a, b = (jax.tree.map(lambda x, i=i: x[i], params) for i in range(2))
    assert not np.allclose(a["policy_head"]["kernel"], b["policy_head"]["kernel"])
    alone, _ = jax.jit(train)(jax.random.PRNGKey(6))  # seed 5 + 1
    chex.assert_trees_all_close(b, alone.params["params"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(together.env_state.obs[1], alone.env_state.obs, atol=1e-5)


def test_returns_rise_on_cartpole_within_a_few_updates():
    cfg = dataclasses.replace(envs.preset("cartpole"), num_envs=256,
                              max_env_steps=256 * 32 * 20)
    ppo = make_ppo(cfg, jax_cartpole(cfg.num_envs))
    state, metrics = jax.jit(ppo.run, static_argnums=1)(
        jax.jit(ppo.init)(jax.random.PRNGKey(0)), cfg.num_updates)
    returns = np.asarray(metrics["episode_return"])[np.asarray(metrics["episodes"]) > 0]
    assert returns[:2].mean() < 60, returns
    assert returns[-3:].mean() > 4 * returns[:2].mean(), returns
    chex.assert_tree_all_finite(state.params)


def test_value_statistics_update_preserves_denormalised_values():
    from motrix_jax.normalization import denormalize, init_stats, update_stats
    from motrix_jax.ppo import preserve_value_outputs

    cfg = small_cfg()
    state = jax.jit(make_ppo(cfg, jax_cartpole(cfg.num_envs)).init)(jax.random.PRNGKey(0))
    old = update_stats(init_stats(()), jax.random.normal(jax.random.PRNGKey(1), (100,)))
    new = update_stats(old, 50 + 10 * jax.random.normal(jax.random.PRNGKey(2), (100,)))
    obs = jax.random.normal(jax.random.PRNGKey(3), (7, 4))
    from motrix_jax.networks import make_network

    apply = make_network(cfg, 1).apply
    before = denormalize(old, apply(state.params, obs)[2])
    after = denormalize(new, apply(preserve_value_outputs(state.params, old, new), obs)[2])
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4)


def test_minibatch_orders_are_seeded_permutations_and_vmap_per_seed():
    draw = jax.jit(lambda k: minibatch_orders(k, 3, 1000))
    orders = np.asarray(draw(jax.random.PRNGKey(0)))
    assert orders.shape == (3, 1000) and orders.dtype == np.int32
    np.testing.assert_array_equal(np.sort(orders, axis=1), np.tile(np.arange(1000), (3, 1)))
    assert (orders[0] != orders[1]).mean() > 0.9  # epochs shuffle independently
    np.testing.assert_array_equal(np.asarray(draw(jax.random.PRNGKey(0))), orders)
    assert (np.asarray(draw(jax.random.PRNGKey(1))) != orders).mean() > 0.9
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    batched = np.asarray(jax.jit(jax.vmap(lambda k: minibatch_orders(k, 3, 1000)))(keys))
    for seed, key in enumerate(keys):  # a vmapped seed draws what it draws alone
        np.testing.assert_array_equal(batched[seed], np.asarray(draw(key)))


def test_mirrored_minibatch_is_the_batch_then_its_mirror_image():
    mirrors = symmetry.Mirrors(obs=symmetry.Mirror((1, 0, 2), (1.0, 1.0, -1.0)),
                               action=symmetry.signs(-1), critic_obs=symmetry.grid(1, 2))
    rng = np.random.default_rng(0)
    draw = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)
    batch = Minibatch(obs=draw(4, 3), action=draw(4, 1), log_prob=draw(4), value=draw(4),
                      returns=draw(4), advantage=draw(4), critic_obs=draw(4, 2))
    both = mirrored(batch, mirrors)
    chex.assert_shape([both.obs, both.action, both.critic_obs], [(8, 3), (8, 1), (8, 2)])
    np.testing.assert_array_equal(both.obs[4:], batch.obs[:, [1, 0, 2]] * np.array([1, 1, -1]))
    np.testing.assert_array_equal(both.action[4:], -batch.action)
    np.testing.assert_array_equal(both.critic_obs[4:], batch.critic_obs[:, ::-1])
    for name in ("obs", "action", "log_prob", "value", "returns", "advantage", "critic_obs"):
        np.testing.assert_array_equal(getattr(both, name)[:4], getattr(batch, name))
    for name in ("log_prob", "value", "returns", "advantage"):  # repeated as they were
        np.testing.assert_array_equal(getattr(both, name)[4:], getattr(batch, name))


def test_kl_of_a_mirrored_minibatch_is_the_originals_kl():
    # The mirror images keep the originals' old log-probabilities, which an asymmetric
    # policy does not give them; counted in the KL they would drive the KL-adaptive
    # learning rate to its floor (seen on go1_rough). Old = current policy: KL 0.
    cfg = small_cfg(symmetry_augmentation=True, state_preprocessor=False)
    mirrors = symmetry.Mirrors(obs=symmetry.Mirror((1, 0, 3, 2), (1.0, 1.0, 1.0, 1.0)),
                               action=symmetry.signs(-1))
    network = make_network(cfg, 1)
    rng = np.random.default_rng(0)
    obs = jnp.asarray(rng.normal(size=(64, 4)), jnp.float32)
    params = jax.tree.map(lambda w: 5 * w, network.init(jax.random.PRNGKey(0), obs))
    mean, log_std, value = network.apply(params, obs)
    action = mean + jnp.exp(log_std) * jnp.asarray(rng.normal(size=(64, 1)), jnp.float32)
    batch = Minibatch(obs=obs, action=action, log_prob=gaussian_log_prob(mean, log_std, action),
                      value=value, returns=value, advantage=jnp.ones(64))
    parts = Parts(cfg, None, network, None)
    _, terms = loss(parts, params, None, mirrored(batch, mirrors))
    assert abs(float(terms["kl"])) < 1e-6
    _, unmirrored = loss(dataclasses.replace(parts, cfg=small_cfg(state_preprocessor=False)),
                         params, None, mirrored(batch, mirrors))
    assert float(unmirrored["kl"]) > 1e-2  # the images' ratios are far from 1


def test_symmetry_augmentation_needs_a_task_with_mirrors_of_its_sizes():
    cfg = small_cfg(symmetry_augmentation=True)
    with pytest.raises(ValueError, match="declares its left-right mirror.*cartpole"):
        make_ppo(cfg, jax_cartpole(8))
    go1 = envs.make_task("go1_flat")
    env = types.SimpleNamespace(task=go1, obs_size=go1.obs_size, action_size=12,
                                critic_obs_size=None, mirrors=go1.mirrors())
    check_env(cfg, env)  # go1_flat's own mirrors fit
    env.obs_size = 47
    with pytest.raises(ValueError, match="go1_flat's obs mirror has size 48, its obs 47"):
        check_env(cfg, env)


def test_a_critic_reading_the_policys_observation_learns_bit_for_bit_as_without_one():
    # A task that opts in to a critic observation of its own but gives the policy's
    # changes nothing: the value network reads the same numbers through its own
    # normaliser, so a whole run (rollouts, GAE, every epoch) equals today's bit for bit.
    cartpole = envs.make_task("cartpole")

    @dataclasses.dataclass(frozen=True)
    class CriticReadsObs(type(cartpole)):
        critic_obs_size: int = cartpole.obs_size

        def critic_observe(self, view, info):
            return self.observe(view, info)

    cfg = small_cfg()
    plain = jax_cartpole(cfg.num_envs)
    opted_in = Env(CriticReadsObs(), plain.physics, cfg.num_envs)
    assert opted_in.critic_obs_size == cartpole.obs_size and plain.critic_obs_size is None
    (state, metrics), (own, own_metrics) = (
        jax.jit(make_train(cfg, env))(jax.random.PRNGKey(3)) for env in (plain, opted_in))
    assert own.critic_stats is not None and state.critic_stats is None
    chex.assert_trees_all_equal(own.params, state.params)
    chex.assert_trees_all_equal(own.opt_state, state.opt_state)
    chex.assert_trees_all_equal((own.obs_stats, own.value_stats, own.learning_rate),
                                (state.obs_stats, state.value_stats, state.learning_rate))
    chex.assert_trees_all_equal(own.critic_stats, state.obs_stats)
    chex.assert_trees_all_equal(own_metrics, metrics)
    # (that the value network reads the critic's observation and not the policy's is
    # test_probes.py's: there only the critic's observation can tell the values apart)
