"""Brax's PPO (`brax.training.agents.ppo`) on our MJX envs, for benchmarks only.

`MotrixBraxEnv` presents a batched motrix_jax `Env` as an already-wrapped Brax env
(`ppo.train(..., wrap_env=False)`): `reset` takes the batch of keys Brax splits and
starts our batch from the first; `step` is our `Env.step`, which autoresets in the
same step as Brax's AutoResetWrapper does. `info` carries what Brax's PPO collects:
`truncation` and `time_out` (our time-limit flag), `episode_done`, `episode_metrics`.

`brax_kwargs(cfg)` maps our `PPOConfig` to `ppo.train` arguments: one unroll of
`rollouts` steps per env per update (batch_size * num_minibatches == num_envs), the
same epochs, minibatches, widths (ELU), Gaussian policy with a state-independent log
std, learning rate with Brax's adaptive-KL schedule at our KL target, clip, entropy,
value-loss scale, discount, GAE lambda, gradient clip, reward scale, observation
normalisation and time-out bootstrapping.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from brax.envs.base import Env as BraxEnv
from brax.envs.base import State

from motrix_jax.config import PPOConfig
from motrix_jax.env import Env


def _install_device_put_replicated() -> None:
    """Brax 0.14.2's PPO calls `jax.device_put_replicated`, which JAX 0.10 removed: a
    stand-in that stacks one copy per device on a new leading axis (what pmap takes)."""
    def device_put_replicated(x, devices):
        return jax.tree.map(
            lambda a: jax.device_put(jnp.stack([jnp.asarray(a)] * len(devices)),
                                     devices[0] if len(devices) == 1 else None), x)
    try:
        jax.device_put_replicated  # noqa: B018
    except AttributeError:
        jax.device_put_replicated = device_put_replicated


_install_device_put_replicated()


class MotrixBraxEnv(BraxEnv):
    def __init__(self, env: Env):
        self.env = env

    def _state(self, s) -> State:
        done = (s.terminated | s.truncated).astype(jnp.float32)
        truncated = s.truncated.astype(jnp.float32)
        return State(pipeline_state=s, obs=s.obs, reward=s.reward, done=done,
                     metrics={}, info={"truncation": truncated, "time_out": truncated,
                                       "episode_done": done, "episode_metrics": {}})

    def reset(self, rng: jax.Array) -> State:
        return self._state(self.env.reset(rng.reshape(-1, rng.shape[-1])[0]))

    def step(self, state: State, action: jax.Array) -> State:
        return self._state(self.env.step(state.pipeline_state, action))

    @property
    def observation_size(self) -> int:
        return self.env.obs_size

    @property
    def action_size(self) -> int:
        return self.env.action_size

    @property
    def backend(self) -> str:
        return "mjx"


def brax_kwargs(cfg: PPOConfig, episode_length: int) -> dict:
    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import optimizer as ppo_optimizer
    from flax import linen

    if cfg.num_envs % cfg.mini_batches:
        raise ValueError(f"Brax needs num_envs ({cfg.num_envs}) divisible by mini_batches "
                         f"({cfg.mini_batches}) for one unroll per env per update")
    network = functools.partial(
        ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=cfg.policy_hidden_sizes,
        value_hidden_layer_sizes=cfg.value_hidden_sizes, activation=linen.elu,
        distribution_type="normal", noise_std_type="log",
        init_noise_std=float(jnp.exp(cfg.initial_log_std)))
    kl = cfg.learning_rate_scheduler_kl_threshold
    return {
        "wrap_env": False, "num_envs": cfg.num_envs, "unroll_length": cfg.rollouts,
        "batch_size": cfg.num_envs // cfg.mini_batches, "num_minibatches": cfg.mini_batches,
        "num_updates_per_batch": cfg.learning_epochs, "learning_rate": cfg.learning_rate,
        "learning_rate_schedule": ppo_optimizer.LRSchedule.ADAPTIVE_KL if kl else None,
        "desired_kl": kl or 0.01, "entropy_cost": cfg.entropy_loss_scale,
        "discounting": cfg.discount_factor, "gae_lambda": cfg.lambda_param,
        "clipping_epsilon": cfg.ratio_clip, "max_grad_norm": cfg.grad_norm_clip or None,
        "vf_loss_coefficient": cfg.value_loss_scale,
        "reward_scaling": cfg.rewards_shaper_scale,
        "normalize_observations": cfg.state_preprocessor,
        "bootstrap_on_timeout": cfg.time_limit_bootstrap, "network_factory": network,
        "run_evals": False, "episode_length": episode_length, "seed": cfg.seed}
