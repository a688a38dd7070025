"""rsl_rl's PPO (ETH Zurich's legged-robot trainer, `rsl-rl-lib`) on our MotrixSim envs, for
benchmarks only.

`RslVecEnv` is rsl_rl's `VecEnv` over skrl_adapter's `MotrixVectorEnv`: each `step` is one
jitted `Env.step` on the same physics and task code our trainer uses, the observation is
one group ("policy", read by actor and critic), `dones` are ended episodes and
`extras["time_outs"]` the truncated ones, which rsl_rl bootstraps. The inner env records
every finished episode's return, the start time of every step and the time inside it.

`make_rsl_rl(vec_env, cfg)` builds rsl_rl's OnPolicyRunner with our `PPOConfig`'s settings
mapped one to one: network widths (ELU), separate policy and value networks, initial
std, rollouts (`num_steps_per_env`), epochs, minibatches, discount, GAE lambda, learning
rate with its adaptive KL schedule at our KL threshold, gradient-norm clip, ratio clip
(rsl_rl clips the value by the same 0.2), clipped value loss, entropy and value-loss
scales, time-limit bootstrapping, reward scale, and a running normaliser of the
observations. What differs by design: rsl_rl has no value normaliser (ours and skrl's
scale the value targets), its clipped value loss is the max of the clipped and unclipped
errors (skrl's and ours: the clipped prediction's error), and it keeps its own bounds on
the adaptive learning rate (1e-5 to 1e-2).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from rsl_rl.env import VecEnv
from rsl_rl.runners import OnPolicyRunner
from skrl_adapter import MotrixVectorEnv
from tensordict import TensorDict

from motrix_jax.config import PPOConfig

INSTALL_HINT = "pip install -e '.[bench]'  (installs rsl-rl-lib, gymnasium and torch)"


class RslVecEnv(VecEnv):
    def __init__(self, inner: MotrixVectorEnv, reward_scale: float = 1.0):
        self.inner = inner
        self.num_envs = inner.num_envs
        self.num_actions = inner.env.action_size
        self.max_episode_length = inner.env.task.episode_length
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long)
        self.device = "cpu"
        self.cfg = {}
        self._reward_scale = reward_scale
        self._obs = self._group(inner.reset()[0])

    def _group(self, obs: np.ndarray) -> TensorDict:
        return TensorDict({"policy": torch.from_numpy(np.array(obs))},
                          batch_size=[self.num_envs])

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor):
        obs, reward, terminated, truncated, _ = self.inner.step(actions.numpy())
        self._obs = self._group(obs)
        done = terminated | truncated
        self.episode_length_buf = torch.where(torch.from_numpy(done), 0,
                                              self.episode_length_buf + 1)
        extras = {"time_outs": torch.from_numpy(truncated & ~terminated)}
        rewards = torch.from_numpy(np.array(reward)) * self._reward_scale
        return self._obs, rewards, torch.from_numpy(done).long(), extras


def _model(sizes: tuple[int, ...], normalise: bool, initial_log_std: float | None) -> dict:
    model = {"class_name": "MLPModel", "hidden_dims": list(sizes), "activation": "elu",
             "obs_normalization": normalise}
    if initial_log_std is not None:
        model["distribution_cfg"] = {"class_name": "GaussianDistribution",
                                     "init_std": math.exp(initial_log_std), "std_type": "log"}
    return model


def make_rsl_rl(vec_env: RslVecEnv, cfg: PPOConfig) -> OnPolicyRunner:
    """rsl_rl's OnPolicyRunner with `cfg`'s settings; no log folder (nothing written)."""
    if cfg.share_features:
        raise ValueError("the rsl_rl comparison builds separate policy and value networks; "
                         "use a preset with share_features=False")
    if not cfg.time_limit_bootstrap:
        raise ValueError("rsl_rl always bootstraps time-outs; use a preset that does too")
    kl = cfg.learning_rate_scheduler_kl_threshold
    algorithm = {
        "class_name": "PPO", "num_learning_epochs": cfg.learning_epochs,
        "num_mini_batches": cfg.mini_batches, "clip_param": cfg.ratio_clip,
        "gamma": cfg.discount_factor, "lam": cfg.lambda_param,
        "value_loss_coef": cfg.value_loss_scale, "entropy_coef": cfg.entropy_loss_scale,
        "learning_rate": cfg.learning_rate, "max_grad_norm": cfg.grad_norm_clip,
        "use_clipped_value_loss": cfg.clip_predicted_values,
        "schedule": "adaptive" if kl else "fixed", "desired_kl": kl or None}
    train_cfg = {
        "num_steps_per_env": cfg.rollouts, "save_interval": 10**9,
        "obs_groups": {"actor": ["policy"], "critic": ["policy"]}, "algorithm": algorithm,
        "actor": _model(cfg.policy_hidden_sizes, cfg.state_preprocessor, cfg.initial_log_std),
        "critic": _model(cfg.value_hidden_sizes, cfg.state_preprocessor, None)}
    return OnPolicyRunner(vec_env, train_cfg, log_dir=None, device="cpu")
