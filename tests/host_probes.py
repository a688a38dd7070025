"""Hand-built host envs (NumPy, the protocol of motrix_jax/host_env.py) whose values are
known in closed form.

`AlternatingClock`: the observation s alternates 0, 1, 0, 1, ... from 0 at reset, the
reward of a step is the s it was taken in, no episode fails and every episode is
truncated after `limit` steps (3: it ends on reaching s = 1, final_obs [1], and restarts
at [0]). Bootstrapping the time limit from V(final_obs), the values are those of the
endless chain: V(1) = 1 + gamma V(0), V(0) = gamma V(1), so V(0) = gamma / (1 - gamma^2)
and V(1) = 1 / (1 - gamma^2). Bootstrapping from the reset observation, or not at all,
gives other values. Envs start `offset` steps apart (env i at step i % limit) so that
episodes end on every step somewhere in the batch.
"""

from __future__ import annotations

import numpy as np

from motrix_jax.host_env import HostStep, HostTask


def values(gamma: float) -> tuple[float, float]:
    """(V(0), V(1)) of the endless alternating chain."""
    return gamma / (1 - gamma**2), 1 / (1 - gamma**2)


class AlternatingClock:
    """The protocol over `num_envs` clocks; `log` records (call, size) of every call."""

    obs_size = 1
    action_size = 1
    action_low = np.array([-1.0], np.float32)
    action_high = np.array([1.0], np.float32)
    metric_names = ("clock", "action")

    def __init__(self, num_envs: int, limit: int = 3, log: list | None = None):
        self.num_envs, self.limit = num_envs, limit
        self.log = log if log is not None else []
        self.log.append(("make", num_envs))
        self.clock = np.zeros(num_envs, np.int64)
        self.seed = None

    def reset(self, seed: int) -> np.ndarray:
        self.log.append(("reset", self.num_envs))
        self.seed = seed
        self.clock = np.arange(self.num_envs) % self.limit
        return self.obs()

    def obs(self) -> np.ndarray:
        return (self.clock % 2).astype(np.float32)[:, None]

    def step(self, actions: np.ndarray) -> HostStep:
        self.log.append(("step", self.num_envs))
        reward = (self.clock % 2).astype(np.float32)
        self.clock = self.clock + 1
        truncated = self.clock >= self.limit
        final_obs = self.obs()
        self.clock = np.where(truncated, 0, self.clock)
        return HostStep(obs=self.obs(), reward=reward, terminated=np.zeros_like(truncated),
                        truncated=truncated, final_obs=final_obs,
                        metrics={"clock": self.clock.astype(np.float32),
                                 "action": actions[:, 0].copy()})

    def close(self) -> None:
        self.log.append(("close", self.num_envs))


TASK = HostTask(name="alternating-clock", obs_size=1, action_size=1, episode_length=3,
                ctrl_dt=0.02, action_low=(-1.0,), action_high=(1.0,),
                metric_names=AlternatingClock.metric_names)
