"""Flax actor-critic: ELU MLPs, Gaussian policy with a state-independent log-std."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
    hidden_sizes: Sequence[int]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, width in enumerate(self.hidden_sizes):
            x = nn.elu(nn.Dense(width, name=f"dense_{i}")(x))
        return x


class ActorCritic(nn.Module):
    """Maps normalised observations [..., obs] to (action mean [..., act], log_std [act], value [...]).

    With `share_features`, one trunk (policy_hidden_sizes) feeds both heads.
    """

    action_size: int
    policy_hidden_sizes: Sequence[int]
    value_hidden_sizes: Sequence[int]
    share_features: bool = False
    initial_log_std: float = 0.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        policy_features = MLP(self.policy_hidden_sizes, name="policy_trunk")(obs)
        if self.share_features:
            value_features = policy_features
        else:
            value_features = MLP(self.value_hidden_sizes, name="value_trunk")(obs)
        # A near-zero initial mean keeps the first policy close to pure exploration
        # noise instead of a random feedback law, which often destabilises the robot
        # (Andrychowicz et al. 2021, "What matters in on-policy RL").
        mean = nn.Dense(self.action_size, name="policy_head",
                        kernel_init=nn.initializers.variance_scaling(
                            1e-4, "fan_in", "truncated_normal"))(policy_features)
        value = nn.Dense(1, name="value_head")(value_features)[..., 0]
        log_std = self.param("log_std", nn.initializers.constant(self.initial_log_std),
                             (self.action_size,))
        return mean, log_std, value


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    """Log-density of a diagonal Gaussian, summed over the last axis."""
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    return jnp.sum(log_std + 0.5 * (1.0 + jnp.log(2 * jnp.pi)), axis=-1)


def make_network(cfg, action_size: int) -> ActorCritic:
    return ActorCritic(action_size=action_size,
                       policy_hidden_sizes=tuple(cfg.policy_hidden_sizes),
                       value_hidden_sizes=tuple(cfg.value_hidden_sizes),
                       share_features=cfg.share_features,
                       initial_log_std=cfg.initial_log_std)
