import dataclasses

import chex
import jax
import numpy as np
from conftest import jax_cartpole, motrix_cartpole

from motrix_jax import envs
from motrix_jax.ppo import make_ppo, make_train, minibatch_orders, seed_keys

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
