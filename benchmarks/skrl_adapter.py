"""skrl's PPO (the MotrixLab stack's trainer) on our MotrixSim envs, for benchmarks only.

`MotrixVectorEnv` is a thin gymnasium vector env over a motrix_jax `Env`: each `step` is
one jitted `Env.step` (one MotrixSim host call for the whole batch), so skrl drives
exactly the physics and task code our trainer uses. Episodes autoreset in the same
step, as our env does (the returned observation of an ended env is the next episode's
first). It records every finished episode's return with its wall-clock time and step
count, the start time of every `step` call and the time spent inside them.

`make_skrl(framework, vec_env, cfg)` builds skrl's PPO agent ("torch" or "jax") and its
SequentialTrainer with our `PPOConfig`'s settings mapped one to one: network widths
(ELU), separate policy/value networks, initial log std, rollouts, epochs, minibatches,
discount, GAE lambda, learning rate with skrl's KLAdaptiveLR at our KL threshold,
gradient-norm clip, ratio/value clip, entropy and value-loss scales, time-limit
bootstrapping, reward scale, and RunningStandardScaler for observations and values.
"""

from __future__ import annotations

import time
import typing

import gymnasium
import jax
import numpy as np

from motrix_jax.config import PPOConfig
from motrix_jax.env import Env

INSTALL_HINT = "pip install -e '.[bench]'  (installs skrl and gymnasium)"


class MotrixVectorEnv(gymnasium.vector.VectorEnv):
    metadata: typing.ClassVar[dict] = {
        "autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}

    def __init__(self, env: Env, seed: int = 0):
        self.env = env
        self.num_envs = env.num_envs
        self.single_observation_space = gymnasium.spaces.Box(
            -np.inf, np.inf, (env.obs_size,), np.float32)
        self.single_action_space = gymnasium.spaces.Box(-1.0, 1.0, (env.action_size,),
                                                        np.float32)
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, self.num_envs)
        self.action_space = gymnasium.vector.utils.batch_space(
            self.single_action_space, self.num_envs)
        self._reset = jax.jit(env.reset)
        self._step = jax.jit(env.step, donate_argnums=0)
        self._seed = seed
        self.state = None
        self.step_times: list[float] = []  # perf_counter at the start of each step call
        self.env_seconds: list[float] = []  # time inside each step call
        # per step call that ended episodes: (perf_counter, env steps so far, sum of
        # the ended episodes' returns, how many ended)
        self.episodes: list[tuple[float, int, float, int]] = []

    def reset(self, *, seed: int | None = None, options=None):
        self.state = self._reset(jax.random.PRNGKey(self._seed if seed is None else seed))
        return np.asarray(self.state.obs), {}

    def step(self, actions):
        now = time.perf_counter()
        self.step_times.append(now)
        self.state = self._step(self.state, jax.numpy.asarray(actions, jax.numpy.float32))
        s = self.state
        terminated, truncated = np.asarray(s.terminated), np.asarray(s.truncated)
        done = terminated | truncated  # from the arrays returned anyway: no extra transfer
        if done.any():
            returns = np.asarray(s.done_return)[done]
            steps = len(self.step_times) * self.num_envs
            self.episodes.append((now, steps, float(returns.sum()), int(done.sum())))
        out = (np.asarray(s.obs), np.asarray(s.reward), terminated, truncated, {})
        self.env_seconds.append(time.perf_counter() - now)
        return out


def _network(sizes: tuple[int, ...]) -> list[dict]:
    return [{"name": "net", "input": "OBSERVATIONS", "layers": list(sizes),
             "activations": "elu"}]


def make_skrl(framework: str, vec_env: MotrixVectorEnv, cfg: PPOConfig, timesteps: int):
    """(agent, trainer) of skrl's PPO for `framework` in ("torch", "jax")."""
    if framework == "torch":
        import torch  # noqa: F401
        from skrl.agents.torch.ppo import PPO, PPO_CFG
        from skrl.envs.wrappers.torch import wrap_env
        from skrl.memories.torch import RandomMemory
        from skrl.resources.preprocessors.torch import RunningStandardScaler
        from skrl.resources.schedulers.torch import KLAdaptiveLR
        from skrl.trainers.torch import SequentialTrainer
        from skrl.utils.model_instantiators.torch import deterministic_model, gaussian_model
    elif framework == "jax":
        from skrl import config as skrl_config
        skrl_config.jax.backend = "jax"
        from skrl.agents.jax.ppo import PPO, PPO_CFG
        from skrl.envs.wrappers.jax import wrap_env
        from skrl.memories.jax import RandomMemory
        from skrl.resources.preprocessors.jax import RunningStandardScaler
        from skrl.resources.schedulers.jax import KLAdaptiveLR
        from skrl.trainers.jax import SequentialTrainer
        from skrl.utils.model_instantiators.jax import deterministic_model, gaussian_model
    else:
        raise ValueError(f"unknown skrl framework {framework!r}; use torch or jax")
    if cfg.share_features:
        raise ValueError("the skrl comparison builds separate policy and value networks; "
                         "use a preset with share_features=False")

    env = wrap_env(vec_env, wrapper="gymnasium")
    spaces = {"observation_space": env.observation_space,
              "action_space": env.action_space, "device": env.device}
    models = {
        "policy": gaussian_model(**spaces, clip_actions=False, clip_log_std=True,
                                 min_log_std=-20.0, max_log_std=2.0,
                                 initial_log_std=cfg.initial_log_std,
                                 network=_network(cfg.policy_hidden_sizes), output="ACTIONS"),
        "value": deterministic_model(**spaces, clip_actions=False,
                                     network=_network(cfg.value_hidden_sizes), output="ONE"),
    }
    if framework == "jax":
        for model in models.values():
            model.init_state_dict(role="")
    scale = cfg.rewards_shaper_scale
    agent_cfg = PPO_CFG(
        rollouts=cfg.rollouts, learning_epochs=cfg.learning_epochs,
        mini_batches=cfg.mini_batches, discount_factor=cfg.discount_factor,
        gae_lambda=cfg.lambda_param, learning_rate=cfg.learning_rate,
        learning_rate_scheduler=KLAdaptiveLR if cfg.learning_rate_scheduler_kl_threshold else None,
        learning_rate_scheduler_kwargs={"kl_threshold": cfg.learning_rate_scheduler_kl_threshold}
        if cfg.learning_rate_scheduler_kl_threshold else {},
        observation_preprocessor=RunningStandardScaler if cfg.state_preprocessor else None,
        observation_preprocessor_kwargs={"size": env.observation_space, "device": env.device},
        value_preprocessor=RunningStandardScaler if cfg.value_preprocessor else None,
        value_preprocessor_kwargs={"size": 1, "device": env.device},
        grad_norm_clip=cfg.grad_norm_clip, ratio_clip=cfg.ratio_clip,
        value_clip=cfg.value_clip if cfg.clip_predicted_values else 0.0,
        entropy_loss_scale=cfg.entropy_loss_scale, value_loss_scale=cfg.value_loss_scale,
        time_limit_bootstrap=cfg.time_limit_bootstrap,
        rewards_shaper=(lambda r, *_: r * scale) if scale != 1.0 else None,
    )
    agent_cfg.experiment.write_interval = 0
    agent_cfg.experiment.checkpoint_interval = 0
    memory = RandomMemory(memory_size=cfg.rollouts, num_envs=env.num_envs, device=env.device)
    agent = PPO(models=models, memory=memory, cfg=agent_cfg, **spaces)
    trainer = SequentialTrainer(env=env, agents=agent,
                                cfg={"timesteps": timesteps, "headless": True,
                                     "disable_progressbar": True,
                                     "close_environment_at_exit": False})
    return agent, trainer
