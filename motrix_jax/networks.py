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
    """Maps normalised observations [..., obs] to (action mean [..., act], log_std [act],
    value [...]).

    The value trunk reads `critic_obs` [..., critic_obs] where the task gives its critic
    its own observation (an asymmetric actor-critic), else the policy's; `policy` needs
    the policy's observation alone (what play, export and `load_policy` call). With
    `share_features`, one trunk (policy_hidden_sizes) feeds both heads.
    """

    action_size: int
    policy_hidden_sizes: Sequence[int]
    value_hidden_sizes: Sequence[int]
    share_features: bool = False
    initial_log_std: float = 0.0

    def setup(self):
        self.policy_trunk = MLP(self.policy_hidden_sizes)
        if not self.share_features:
            self.value_trunk = MLP(self.value_hidden_sizes)
        # A near-zero initial mean keeps the first policy close to pure exploration
        # noise instead of a random feedback law, which often destabilises the robot
        # (Andrychowicz et al. 2021, "What matters in on-policy RL").
        self.policy_head = nn.Dense(self.action_size, kernel_init=nn.initializers.
                                    variance_scaling(1e-4, "fan_in", "truncated_normal"))
        self.value_head = nn.Dense(1)
        self.log_std = self.param("log_std", nn.initializers.constant(self.initial_log_std),
                                  (self.action_size,))

    def policy(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(action mean, log_std) from the policy's observation alone."""
        return self.policy_head(self.policy_trunk(obs)), self.log_std

    def value(self, obs: jax.Array, critic_obs: jax.Array | None = None) -> jax.Array:
        """The value from `critic_obs` where given, else from `obs` (shared features read
        the policy's observation; `ppo.check_env` refuses a critic observation there)."""
        if self.share_features:
            return self.value_head(self.policy_trunk(obs))[..., 0]
        return self.value_head(self.value_trunk(obs if critic_obs is None
                                                else critic_obs))[..., 0]

    def __call__(self, obs: jax.Array, critic_obs: jax.Array | None = None
                 ) -> tuple[jax.Array, jax.Array, jax.Array]:
        mean, log_std = self.policy(obs)
        return mean, log_std, self.value(obs, critic_obs)


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
