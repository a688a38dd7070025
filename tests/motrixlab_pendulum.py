"""A small MotrixLab 0.4 task of our own, written against
`motrix_env_core.direct.DirectEnv` for the `motrixlab:` adapter's tests: a pole on a
hinge (tests/motrixlab_pendulum.xml) starts within 0.5 rad of upright, the action is a
torque (gear 8: enough to hold the pole anywhere), the reward is cos(angle) - 0.01
torque^2, an episode fails when the pole falls past 1.2 rad and is truncated after 200
steps (2 s at ctrl_dt 0.01). Its documented behaviour: held upright, the whole 200
steps. Registered as `motrix-jax-test-pendulum` on import
(`--env motrixlab:motrix-jax-test-pendulum@motrixlab_pendulum`, with tests/ on the path).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from motrix_env_core import SceneCfg, configclass, registry
from motrix_env_core.array.env import FinalObs, NpObs
from motrix_env_core.direct import DirectEnv, DirectEnvCfg
from motrix_env_core.sim import (
    DofPositionQuery,
    DofVelocityQuery,
    JointPositionWrite,
    JointVelocityWrite,
)
from motrix_env_core.sim.write import CtrlTargetsWrite

NAME = "motrix-jax-test-pendulum"
FALL = 1.2  # rad from upright


@registry.envcfg(NAME)
@configclass
class PendulumCfg(DirectEnvCfg):
    scene: SceneCfg = SceneCfg(file=str(Path(__file__).with_suffix(".xml")))
    max_episode_seconds: float = 2.0
    ctrl_dt: float = 0.01


@registry.env(NAME)
class Pendulum(DirectEnv):
    def __init__(self, cfg: PendulumCfg, num_envs: int = 1, backend: str | None = None):
        super().__init__(cfg, num_envs, backend)
        self.reads = self.sim.compile_reads({"q": DofPositionQuery(), "v": DofVelocityQuery()})
        self.ctrl = self.sim.compile_writes({"ctrl": CtrlTargetsWrite()})
        self.starts = self.sim.compile_writes(
            {"q": JointPositionWrite(joints=("hinge",)),
             "v": JointVelocityWrite(joints=("hinge",))}, reset=True)
        self.rng = np.random.default_rng(0)
        self.torque = np.zeros(num_envs, np.float32)

    @property
    def observation_space(self):
        return gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)

    @property
    def action_space(self):
        return gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def _obs(self, rows=slice(None)) -> np.ndarray:
        q, v = self.reads["q"][rows, 0], self.reads["v"][rows, 0]
        return np.stack([np.cos(q), np.sin(q), v], -1).astype(np.float32)

    def reset(self, env_ids: np.ndarray) -> None:
        n = len(env_ids)
        self.starts.buffer("q")[env_ids] = self.rng.uniform(-0.5, 0.5, (n, 1))
        self.starts.buffer("v")[env_ids] = 0.0
        self.starts.execute(env_ids.astype(np.int64))
        self.reads.execute(env_ids.astype(np.int64))

    def apply_action(self, actions: np.ndarray, state):
        self.torque = np.clip(actions[:, 0], -1.0, 1.0)
        self.ctrl.buffer("ctrl")[:, 0] = self.torque
        self.ctrl.execute()
        return state

    def compute_transition(self, state):
        self.reads.execute()
        q = self.reads["q"][:, 0]
        state.reward[:] = np.cos(q) - 0.01 * self.torque**2
        state.terminated[:] = np.abs(q) > FALL
        state.metrics = {"angle": np.abs(q).copy()}
        return state

    def _capture_final_obs(self, env_ids: np.ndarray) -> FinalObs:
        return FinalObs(env_ids=env_ids, obs=NpObs(policy=self._obs(env_ids)))

    def compute_observation(self, state):
        return state.replace(obs=NpObs(policy=self._obs()))
