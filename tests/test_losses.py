import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from motrix_jax.losses import compute_gae, kl_adaptive_lr, ppo_loss


def random_rollout(seed, t=6, b=3):
    rng = np.random.default_rng(seed)
    f = lambda: jnp.asarray(rng.normal(size=(t, b)), jnp.float32)
    terminated = jnp.asarray(rng.random((t, b)) < 0.2)
    truncated = jnp.asarray(rng.random((t, b)) < 0.2) & ~terminated
    return f(), f(), f(), terminated, truncated


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), gamma=st.floats(0.5, 1.0))
def test_lambda_zero_gives_one_step_td_error(seed, gamma):
    rewards, values, next_values, terminated, truncated = random_rollout(seed)
    adv, ret = compute_gae(rewards, values, next_values, terminated, truncated, gamma, 0.0)
    td = rewards + gamma * jnp.where(terminated, 0.0, next_values) - values
    np.testing.assert_allclose(adv, td, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ret, adv + values, rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), gamma=st.floats(0.5, 1.0), lam=st.floats(0.0, 1.0))
def test_matches_a_plain_python_loop(seed, gamma, lam):
    rewards, values, next_values, terminated, truncated = map(
        np.asarray, random_rollout(seed))
    expected = np.zeros_like(rewards)
    carry = np.zeros(rewards.shape[1])
    for t in reversed(range(len(rewards))):
        boot = np.where(terminated[t], 0.0, next_values[t])
        delta = rewards[t] + gamma * boot - values[t]
        carry = delta + gamma * lam * np.where(terminated[t] | truncated[t], 0.0, carry)
        expected[t] = carry
    adv, _ = compute_gae(*map(jnp.asarray, (rewards, values, next_values, terminated,
                                             truncated)), gamma, lam)
    np.testing.assert_allclose(adv, expected, rtol=1e-4, atol=1e-5)


def test_gamma_lambda_one_without_dones_is_reward_to_go_minus_value():
    rewards = jnp.arange(1.0, 6.0)[:, None]
    values = jnp.full((5, 1), 0.5)
    # V of the next state: the next row's value, and 2.0 after the last step.
    next_values = jnp.array([0.5, 0.5, 0.5, 0.5, 2.0])[:, None]
    no = jnp.zeros((5, 1), bool)
    adv, _ = compute_gae(rewards, values, next_values, no, no, 1.0, 1.0)
    reward_to_go = jnp.cumsum(rewards[::-1], 0)[::-1] + 2.0
    np.testing.assert_allclose(adv, reward_to_go - values, rtol=1e-6)


def test_truncation_bootstraps_from_final_obs_value_and_termination_does_not():
    rewards = jnp.ones((2, 2))
    values = jnp.zeros((2, 2))
    next_values = jnp.array([[10.0, 10.0], [3.0, 3.0]])  # row 0: V(final_obs)
    terminated = jnp.array([[True, False], [False, False]])
    truncated = jnp.array([[False, True], [False, False]])
    adv, _ = compute_gae(rewards, values, next_values, terminated, truncated, 0.5, 1.0)
    # env 0 terminated at t=0: reward only; env 1 truncated: 1 + 0.5 * V(final_obs) = 6,
    # and neither carries the next episode's advantage (1 + 0.5 * 3 = 2.5) back.
    np.testing.assert_allclose(adv[0], [1.0, 6.0])
    np.testing.assert_allclose(adv[1], [2.5, 2.5])


def test_ppo_loss_hand_computed():
    # Two samples; ratio = e^{+0.5} for the first (clipped at 1.2), e^{-0.1} for the second.
    log_prob = jnp.array([0.5, -0.1])
    old_log_prob = jnp.zeros(2)
    advantages = jnp.array([1.0, -2.0])
    values = jnp.array([1.0, 0.0])
    old_values = jnp.array([0.5, 0.0])
    returns = jnp.array([2.0, 1.0])
    total, terms = ppo_loss(log_prob, old_log_prob, advantages, values, old_values, returns,
                            jnp.array(1.5), ratio_clip=0.2, value_clip=0.2,
                            clip_predicted_values=True, value_loss_scale=2.0,
                            entropy_loss_scale=0.01)
    r2 = np.exp(-0.1)
    # sample 1: min(1*e^.5, 1*1.2) = 1.2; sample 2: min(-2*r2, -2*max(r2, 0.8)) = -2*r2
    policy = -np.mean([1.2, -2.0 * r2])
    # predicted values clipped to old +- 0.2: [0.7, 0.0]
    value = 2.0 * np.mean([(2.0 - 0.7) ** 2, (1.0 - 0.0) ** 2])
    entropy = -0.01 * 1.5
    kl = np.mean([np.exp(0.5) - 1 - 0.5, r2 - 1 + 0.1])
    np.testing.assert_allclose(terms["policy"], policy, rtol=1e-6)
    np.testing.assert_allclose(terms["value"], value, rtol=1e-6)
    np.testing.assert_allclose(terms["entropy"], entropy, rtol=1e-6)
    np.testing.assert_allclose(terms["kl"], kl, rtol=1e-6)
    np.testing.assert_allclose(total, policy + value + entropy, rtol=1e-6)
    _, first = ppo_loss(log_prob, old_log_prob, advantages, values, old_values, returns,
                        jnp.array(1.5), ratio_clip=0.2, value_clip=0.2,
                        clip_predicted_values=True, value_loss_scale=2.0,
                        entropy_loss_scale=0.01, kl_rows=1)  # the first sample's KL only
    np.testing.assert_allclose(first["kl"], np.exp(0.5) - 1 - 0.5, rtol=1e-6)
    np.testing.assert_allclose(first["policy"], policy, rtol=1e-6)


def test_ppo_loss_gradient_is_zero_outside_the_clip_region():
    grad = jax.grad(lambda lp: ppo_loss(lp, jnp.zeros(1), jnp.ones(1), jnp.zeros(1),
                                        jnp.zeros(1), jnp.zeros(1), jnp.zeros(()),
                                        ratio_clip=0.2, value_clip=0.2,
                                        clip_predicted_values=True, value_loss_scale=1.0,
                                        entropy_loss_scale=0.0)[0])
    assert float(grad(jnp.array([0.5]))[0]) == 0.0  # ratio 1.65 > 1.2 with A > 0
    assert float(grad(jnp.array([0.0]))[0]) < 0.0


def test_kl_adaptive_rule_follows_skrl():
    lr = jnp.asarray(1e-3)
    assert np.isclose(kl_adaptive_lr(lr, jnp.asarray(0.02), 0.008), 1e-3 / 1.5)
    assert np.isclose(kl_adaptive_lr(lr, jnp.asarray(0.001), 0.008), 1.5e-3)
    assert np.isclose(kl_adaptive_lr(lr, jnp.asarray(0.008), 0.008), 1e-3)
    assert np.isclose(kl_adaptive_lr(jnp.asarray(9e-3), jnp.asarray(0.0), 0.008), 1e-2)
    assert np.isclose(kl_adaptive_lr(jnp.asarray(1.2e-6), jnp.asarray(1.0), 0.008), 1e-6)
