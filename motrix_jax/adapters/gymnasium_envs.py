"""gymnasium's vector envs as host envs: `--env gymnasium:HalfCheetah-v5`.

The envs run in one `SyncVectorEnv` (`gymnasium.make_vec(..., vectorization_mode="sync")`)
with `autoreset_mode=SAME_STEP`, the protocol's own convention: the step that ends an
episode returns the next one's first observation and puts the observation it reached in
`info["final_obs"]` (an object array, filled only where an episode ended), which becomes
`final_obs`. (gymnasium's default, NEXT_STEP, would spend one extra step per episode
whose action is ignored.) `reset(seed)` seeds env i with seed + i.

Box observations and Box actions only (flat, one axis): a Discrete action space
(CartPole-v1) is refused with one line, since the policy is a Gaussian over continuous
actions. Actions are clipped to the action space's bounds (as CleanRL's `ClipAction`).
Numeric per-env entries of `info` (e.g. HalfCheetah's `x_velocity`, `reward_forward`)
become metrics, named by one step of a probe env.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from motrix_jax.host_env import HostStep, HostTask
from motrix_jax.names import did_you_mean

AUTORESET_NOTE = "same-step (gymnasium AutoresetMode.SAME_STEP, final_obs from info)"


def _check_id(env_id: str) -> None:
    if env_id not in gym.registry:
        import contextlib

        with contextlib.suppress(Exception):  # MuJoCo tasks register on import
            import gymnasium.envs.mujoco  # noqa: F401
        if env_id not in gym.registry:
            raise ValueError(f"unknown gymnasium env {env_id!r}"
                             f"{did_you_mean(env_id, gym.registry, cutoff=0.5)}")


def _spaces(env_id: str, observation_space, action_space) -> None:
    """ValueError unless both spaces are flat Boxes."""
    if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
        raise ValueError(f"gymnasium:{env_id} has action space {action_space}; motrix_jax "
                         "trains a Gaussian policy over a flat Box of continuous actions "
                         "(discrete actions are not supported)")
    if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(f"gymnasium:{env_id} has observation space {observation_space}; "
                         "a flat Box is needed")


def numeric_info(info: dict, n: int) -> dict[str, np.ndarray]:
    """The entries of a vector env's `info` that are numbers per env ([n])."""
    return {k: np.asarray(v, np.float32) for k, v in info.items()
            if not k.startswith("_") and not k.startswith("final_")
            and isinstance(v, np.ndarray) and v.shape == (n,)
            and (np.issubdtype(v.dtype, np.number) or v.dtype == bool)}


def task(env_id: str) -> HostTask:
    """Sizes, bounds, time limit and metric names of `env_id`, from one probe env."""
    _check_id(env_id)
    try:
        probe = GymnasiumEnvs(env_id, 1, check=False)
    except gym.error.Error as error:  # e.g. DependencyNotInstalled (box2d, mujoco)
        raise ValueError(f"gymnasium:{env_id} cannot be built: {error}".splitlines()[0]) \
            from None
    try:
        _spaces(env_id, probe.single_observation_space, probe.single_action_space)
        probe.reset(0)
        low, high = probe.action_low, probe.action_high
        step = probe.step(np.clip(np.zeros((1, len(low))), low, high))
        spec = gym.spec(env_id)
        dt = getattr(probe.vec.envs[0].unwrapped, "dt", None)
        return HostTask(name=f"gymnasium:{env_id}", obs_size=probe.obs_size,
                        action_size=probe.action_size,
                        episode_length=int(spec.max_episode_steps or 1000),
                        ctrl_dt=float(dt) if dt else 0.02,
                        action_low=tuple(map(float, low)), action_high=tuple(map(float, high)),
                        metric_names=tuple(sorted(step.metrics)), autoreset=AUTORESET_NOTE)
    finally:
        probe.close()


def make(env_id: str, num_envs: int) -> GymnasiumEnvs:
    return GymnasiumEnvs(env_id, num_envs)


class GymnasiumEnvs:
    """`num_envs` copies of `env_id` behind the host-env protocol."""

    def __init__(self, env_id: str, num_envs: int, check: bool = True):
        self.vec = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
        self.single_observation_space = self.vec.single_observation_space
        self.single_action_space = self.vec.single_action_space
        if check:
            _spaces(env_id, self.single_observation_space, self.single_action_space)
        self.num_envs = num_envs
        self.obs_size = int(np.prod(self.single_observation_space.shape))
        self.action_size = int(np.prod(self.single_action_space.shape))
        self.action_low = np.asarray(getattr(self.single_action_space, "low", []), np.float32)
        self.action_high = np.asarray(getattr(self.single_action_space, "high", []),
                                      np.float32)
        self.metric_names: tuple[str, ...] = ()

    def reset(self, seed: int) -> np.ndarray:
        obs, _ = self.vec.reset(seed=int(seed))
        return obs

    def step(self, actions: np.ndarray) -> HostStep:
        obs, reward, terminated, truncated, info = self.vec.step(
            actions.astype(self.single_action_space.dtype))
        final_obs = np.array(obs, copy=True)
        if "final_obs" in info:
            for i in np.flatnonzero(info["_final_obs"]):
                final_obs[i] = info["final_obs"][i]
        return HostStep(obs=obs, reward=reward, terminated=terminated, truncated=truncated,
                        final_obs=final_obs, metrics=numeric_info(info, self.num_envs))

    def close(self) -> None:
        self.vec.close()


def render_frames(env_id: str, policy, steps: int, seed: int = 0) -> np.ndarray:
    """Frames [T, H, W, 3] of one episode of `env_id` under `policy(obs [1, obs]) ->
    action [1, act]` (gymnasium's `render_mode="rgb_array"`), up to `steps` steps."""
    env = gym.make(env_id, render_mode="rgb_array")
    try:
        low, high = env.action_space.low, env.action_space.high
        obs, _ = env.reset(seed=seed)
        frames = [env.render()]
        for _ in range(steps):
            action = np.clip(np.asarray(policy(np.asarray(obs, np.float32)[None]))[0],
                             low, high)
            obs, _, terminated, truncated, _ = env.step(action.astype(env.action_space.dtype))
            frames.append(env.render())
            if terminated or truncated:
                break
    finally:
        env.close()
    return np.stack(frames)
