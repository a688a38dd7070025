"""EnvPool's C++ envs as host envs: `--env envpool:HalfCheetah-v5`,
`--env envpool:Go1JoystickFlatTerrain-v1` (its ports of MuJoCo Playground's tasks).

EnvPool's own autoreset is **next-step**: the step after an episode ended resets that
env and ignores its action. The adapter turns it into the protocol's same-step
convention: after a step, the envs whose episode ended are reset at once with
`reset(env_id=...)` (EnvPool's partial reset), their first observations replace the
step's in `obs`, and the step's own become `final_obs`; the next step then steps them
normally (checked in tests/test_host_env.py). EnvPool seeds its envs when it builds
them, so a reset with a new seed rebuilds the pool.

A Dict observation (the Playground tasks: `state` and `privileged_state`) gives the
policy `state` (the critic reads the same; the privileged part is not used). Numeric
per-env `info` entries (the Playground tasks' reward terms) become metrics.
"""

from __future__ import annotations

import envpool
import numpy as np

from motrix_jax.adapters.gymnasium_envs import numeric_info
from motrix_jax.host_env import HostStep, HostTask
from motrix_jax.names import did_you_mean

AUTORESET_NOTE = "same-step (EnvPool's next-step turned by partial reset(env_id))"
POLICY_KEY = "state"


def _check_id(env_id: str) -> None:
    known = envpool.list_all_envs()
    if env_id not in known:
        raise ValueError(f"unknown EnvPool env {env_id!r}"
                         f"{did_you_mean(env_id, known, cutoff=0.5)}")


def _box(space, env_id: str):
    """The Box the policy observes (a Dict's `state`); ValueError otherwise."""
    import gymnasium as gym

    if isinstance(space, gym.spaces.Dict):
        if POLICY_KEY not in space.spaces:
            raise ValueError(f"envpool:{env_id} observes a Dict without {POLICY_KEY!r}: "
                             f"{list(space.spaces)}")
        space = space.spaces[POLICY_KEY]
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"envpool:{env_id} has observation space {space}; a flat Box is "
                         "needed")
    return space


def task(env_id: str) -> HostTask:
    """Sizes, bounds, time limit and metric names of `env_id`, from a one-env pool."""
    _check_id(env_id)
    probe = EnvPoolEnvs(env_id, 1)
    try:
        probe.reset(0)
        step = probe.step(np.clip(np.zeros((1, probe.action_size)), probe.action_low,
                                  probe.action_high))
        config = probe.pool.spec.config
        dt = getattr(config, "ctrl_dt", None) or getattr(config, "frame_skip", 0) * 0.0
        return HostTask(name=f"envpool:{env_id}", obs_size=probe.obs_size,
                        action_size=probe.action_size,
                        episode_length=int(getattr(config, "max_episode_steps", 1000)),
                        ctrl_dt=float(dt) if dt else 0.02,
                        action_low=tuple(map(float, probe.action_low)),
                        action_high=tuple(map(float, probe.action_high)),
                        metric_names=tuple(sorted(step.metrics)), autoreset=AUTORESET_NOTE)
    finally:
        probe.close()


def make(env_id: str, num_envs: int) -> EnvPoolEnvs:
    return EnvPoolEnvs(env_id, num_envs)


class EnvPoolEnvs:
    """An EnvPool pool of `num_envs` envs behind the host-env protocol."""

    def __init__(self, env_id: str, num_envs: int, seed: int = 0):
        self.env_id, self.num_envs, self.seed = env_id, num_envs, seed
        self.pool = envpool.make_gymnasium(env_id, num_envs=num_envs, seed=seed)
        import gymnasium as gym

        space = self.pool.action_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"envpool:{env_id} has action space {space}; motrix_jax trains "
                             "a Gaussian policy over a flat Box of continuous actions")
        self.obs_size = int(_box(self.pool.observation_space, env_id).shape[0])
        self.action_size = int(space.shape[0])
        self.action_low = np.asarray(space.low, np.float32)
        self.action_high = np.asarray(space.high, np.float32)
        self.action_dtype = space.dtype
        self.metric_names: tuple[str, ...] = ()

    @staticmethod
    def _policy(obs) -> np.ndarray:
        return np.asarray(obs[POLICY_KEY] if isinstance(obs, dict) else obs, np.float32)

    def reset(self, seed: int) -> np.ndarray:
        if seed != self.seed:  # EnvPool seeds at construction
            self.pool.close()
            self.__init__(self.env_id, self.num_envs, seed)
        obs, _ = self.pool.reset()
        return self._policy(obs)

    def step(self, actions: np.ndarray) -> HostStep:
        obs, reward, terminated, truncated, info = self.pool.step(
            actions.astype(self.action_dtype))
        final_obs = self._policy(obs)
        obs = final_obs.copy()
        ended = np.flatnonzero(np.asarray(terminated) | np.asarray(truncated))
        if ended.size:
            first, first_info = self.pool.reset(ended.astype(np.int32))
            obs[np.asarray(first_info["env_id"])] = self._policy(first)
        return HostStep(obs=obs, reward=reward, terminated=terminated, truncated=truncated,
                        final_obs=final_obs, metrics=numeric_info(info, self.num_envs))

    def close(self) -> None:
        self.pool.close()
