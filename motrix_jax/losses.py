"""GAE and the PPO loss (clipped surrogate, clipped value loss, entropy bonus)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def compute_gae(rewards: jax.Array, values: jax.Array, next_values: jax.Array,
                terminated: jax.Array, truncated: jax.Array, discount: float,
                lambda_: float) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation over a time-major rollout.

    Args, all [T, B]:
      rewards: r_t.
      values: V(s_t).
      next_values: V of the state reached by step t before any reset, i.e.
        V(final_obs_t). Used for every step that did not terminate.
      terminated: step t ended in failure: no bootstrap.
      truncated: step t hit the time limit: bootstrap from next_values, then
        cut the advantage recursion (the next row belongs to a new episode).
    Returns:
      advantages [T, B] and returns = advantages + values [T, B].
    """
    delta = rewards + discount * jnp.where(terminated, 0.0, next_values) - values
    episode_continues = ~(terminated | truncated)

    def backward(carry, xs):
        delta_t, continues_t = xs
        advantage = delta_t + discount * lambda_ * jnp.where(continues_t, carry, 0.0)
        return advantage, advantage

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(delta[0]),
                                 (delta, episode_continues), reverse=True)
    return advantages, advantages + values


def ppo_loss(log_prob: jax.Array, old_log_prob: jax.Array, advantages: jax.Array,
             values: jax.Array, old_values: jax.Array, returns: jax.Array,
             entropy: jax.Array, *, ratio_clip: float, value_clip: float,
             clip_predicted_values: bool, value_loss_scale: float,
             entropy_loss_scale: float, kl_rows: int | None = None
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """PPO loss on a minibatch; every array argument is [M] except `entropy` (scalar or [M]).

    Returns (total loss, terms): `policy` is the negated clipped surrogate,
    `value` the scaled squared error, `entropy` the negated scaled entropy, and
    `kl` the (k3) estimate of KL(old || new), which is not differentiated, over the
    first `kl_rows` samples (all by default; the originals of a mirrored minibatch,
    whose mirror images' old log-probabilities are not the old policy's).
    """
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    surrogate = advantages * ratio
    clipped = advantages * jnp.clip(ratio, 1.0 - ratio_clip, 1.0 + ratio_clip)
    policy_loss = -jnp.minimum(surrogate, clipped).mean()

    if clip_predicted_values:
        values = old_values + jnp.clip(values - old_values, -value_clip, value_clip)
    value_loss = value_loss_scale * jnp.mean((returns - values) ** 2)
    entropy_loss = -entropy_loss_scale * jnp.mean(entropy)
    kl = jax.lax.stop_gradient(jnp.mean(((ratio - 1.0) - log_ratio)[:kl_rows]))
    total = policy_loss + value_loss + entropy_loss
    return total, {"policy": policy_loss, "value": value_loss, "entropy": entropy_loss,
                   "kl": kl}


def kl_adaptive_lr(lr: jax.Array, kl: jax.Array, threshold: float, kl_factor: float = 2.0,
                   lr_factor: float = 1.5, min_lr: float = 1e-6,
                   max_lr: float = 1e-2) -> jax.Array:
    """skrl's KLAdaptiveLR rule: shrink the rate when KL is high, grow it when low."""
    lr = jnp.where(kl > threshold * kl_factor, jnp.maximum(lr / lr_factor, min_lr), lr)
    return jnp.where(kl < threshold / kl_factor, jnp.minimum(lr * lr_factor, max_lr), lr)
