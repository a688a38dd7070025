"""MotrixLab 0.4 envs as host envs: `--env motrixlab:NAME`, a name of
`motrix_env_core.registry` (envs a MotrixLab checkout or package registers through its
entry points), or `--env motrixlab:NAME@MODULE`, which imports MODULE first (a module of
your own that registers NAME with `@registry.envcfg` / `@registry.env`).

MotrixLab's NumPy envs (`ArrayEnv`: `DirectEnv` and the manager envs) autoreset
**same-step**, the protocol's own convention: `step(actions)` returns the state after
resetting the envs that ended, and `state.final_obs` (a `FinalObs`: `env_ids` and their
pre-reset observations) for the truncated rows, which become `final_obs`. An env that
does not capture them (`_capture_final_obs` returns None, the `ArrayEnv` default) has
its truncated rows bootstrapped from the next episode's first observation; the adapter
says so once. The policy observes `obs.policy` (an `ObsSpace`'s value observation is not
used). Each step's per-env `metrics` and `reward_terms` become metrics. `reset(seed)`
starts every env anew (`init_state`); the envs draw their initial states from their own
random generators (MotrixLab's envs take no seed at reset), so the seed is not used.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np

from motrix_jax.host_env import HostStep, HostTask
from motrix_jax.names import did_you_mean

AUTORESET_NOTE = "same-step (MotrixLab ArrayEnv: reset inside step, FinalObs of truncations)"


def _split(env_id: str) -> tuple[str, str | None]:
    name, _, module = env_id.partition("@")
    return name, module or None


def _registry(env_id: str):
    """motrix_env_core's registry with `env_id`'s module imported; ValueError naming an
    unknown module or env."""
    from motrix_env_core import registry

    name, module = _split(env_id)
    if module is not None:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(f"motrixlab:{env_id}: cannot import {module!r} ({error})") from None
    if not registry.contains(name):
        known = list(registry.list_registered_envs())
        raise ValueError(f"unknown MotrixLab env {name!r}{did_you_mean(name, known, 0.5)}; "
                         f"registered: {', '.join(sorted(known)) or 'none'}")
    return registry, name


def _box(space, what: str):
    import gymnasium as gym
    from motrix_env_core.base import ObsSpace

    if isinstance(space, ObsSpace):
        space = space.policy
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"{what} is {space}; a flat Box is needed (a Gaussian policy over "
                         "continuous actions)")
    return space


def task(env_id: str) -> HostTask:
    probe = make(env_id, 1)
    try:
        probe.reset(0)
        step = probe.step(np.clip(np.zeros((1, probe.action_size)), probe.action_low,
                                  probe.action_high))
        cfg = probe.env.cfg
        return HostTask(name=f"motrixlab:{env_id}", obs_size=probe.obs_size,
                        action_size=probe.action_size,
                        episode_length=int(cfg.max_episode_steps or 1000),
                        ctrl_dt=float(cfg.ctrl_dt),
                        action_low=tuple(map(float, probe.action_low)),
                        action_high=tuple(map(float, probe.action_high)),
                        metric_names=tuple(sorted(step.metrics)), autoreset=AUTORESET_NOTE)
    finally:
        probe.close()


def make(env_id: str, num_envs: int, seed: int = 0) -> MotrixLabEnvs:
    registry, name = _registry(env_id)
    spec = registry.resolve(name)
    from motrix_env_core.direct import DirectEnv

    if issubclass(spec.env_cls, DirectEnv):  # built here: the registry's own builder
        spec.env_cfg.validate()               # imports numba for the manager envs
        return MotrixLabEnvs(spec.env_cls(spec.env_cfg, num_envs=num_envs), env_id)
    return MotrixLabEnvs(spec.make(num_envs=num_envs, seed=seed), env_id)


class MotrixLabEnvs:
    """A MotrixLab `ArrayEnv` behind the host-env protocol."""

    def __init__(self, env, env_id: str):
        self.env, self.env_id = env, env_id
        self.num_envs = env.num_envs
        self.obs_size = int(_box(env.observation_space, f"motrixlab:{env_id}'s "
                                 "observation space").shape[0])
        action = _box(env.action_space, f"motrixlab:{env_id}'s action space")
        self.action_size = int(action.shape[0])
        self.action_low = np.asarray(action.low, np.float32)
        self.action_high = np.asarray(action.high, np.float32)
        self.metric_names: tuple[str, ...] = ()
        self.warned = False

    def reset(self, seed: int) -> np.ndarray:
        return np.asarray(self.env.init_state().obs.policy, np.float32).copy()

    def step(self, actions: np.ndarray) -> HostStep:
        state = self.env.step(actions.astype(np.float32))
        obs = np.asarray(state.obs.policy, np.float32).copy()
        final_obs = obs.copy()
        truncated = np.asarray(state.truncated, bool).copy()
        if state.final_obs is not None:
            final_obs[state.final_obs.env_ids] = state.final_obs.obs.policy
        elif truncated.any() and not self.warned:
            self.warned = True
            print(f"motrixlab:{self.env_id} captures no final observations: truncated "
                  "episodes bootstrap from the next episode's first", file=sys.stderr)
        n = self.num_envs
        metrics = {k: np.asarray(v, np.float32) for k, v in
                   {**state.metrics, **{f"reward/{k}": v for k, v in
                                        state.reward_terms.items()}}.items()
                   if np.ndim(v) == 0 or np.shape(v) == (n,)}
        return HostStep(obs=obs, reward=np.asarray(state.reward, np.float32).copy(),
                        terminated=np.asarray(state.terminated, bool).copy(),
                        truncated=truncated, final_obs=final_obs,
                        metrics={k: np.broadcast_to(v, (n,)).copy() for k, v in metrics.items()})

    def close(self) -> None:
        pass
