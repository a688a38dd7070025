"""A CleanRL-style PyTorch PPO for gymnasium's MuJoCo tasks, written here from the
published algorithm (CleanRL's `ppo_continuous_action.py` settings: one env, 2048 steps
per update, 10 epochs of 32 minibatches, lr 3e-4 annealed linearly to 0, gamma 0.99,
GAE lambda 0.95, clip 0.2 on ratios and values, value coefficient 0.5, no entropy bonus,
gradient norm 0.5, (64, 64) tanh networks with orthogonal initialisation, a
state-independent log std; observations normalised and clipped to +-10, rewards scaled
by the running std of the discounted return and clipped to +-10, actions clipped to the
bounds). Like CleanRL it treats a time limit as the end of the episode (no bootstrap).

It is the baseline `host_envs.py` runs on the same CPU in the same run: env-steps/s and
the returns of its training episodes. `train(env_id, steps, seed) -> dict`.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import torch
from torch import nn


def make_env(env_id: str, gamma: float) -> gym.vector.VectorEnv:
    def thunk():
        env = gym.make(env_id)
        env = gym.wrappers.RecordEpisodeStatistics(env)
        env = gym.wrappers.ClipAction(env)
        env = gym.wrappers.NormalizeObservation(env)
        env = gym.wrappers.TransformObservation(env, lambda o: np.clip(o, -10, 10),
                                                env.observation_space)
        env = gym.wrappers.NormalizeReward(env, gamma=gamma)
        return gym.wrappers.TransformReward(env, lambda r: float(np.clip(r, -10, 10)))
    return gym.vector.SyncVectorEnv(
        [thunk], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def layer(n_in: int, n_out: int, std: float = np.sqrt(2)) -> nn.Linear:
    linear = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(linear.weight, std)
    nn.init.constant_(linear.bias, 0.0)
    return linear


class Agent(nn.Module):
    def __init__(self, obs_size: int, action_size: int):
        super().__init__()
        self.critic = nn.Sequential(layer(obs_size, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                                    layer(64, 1, 1.0))
        self.actor = nn.Sequential(layer(obs_size, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                                   layer(64, action_size, 0.01))
        self.log_std = nn.Parameter(torch.zeros(1, action_size))

    def act(self, obs, action=None):
        mean = self.actor(obs)
        dist = torch.distributions.Normal(mean, self.log_std.expand_as(mean).exp())
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action).sum(-1), self.critic(obs).squeeze(-1)


def gae(rewards, values, dones, next_value, gamma=0.99, lam=0.95):
    """Advantages [T] of one env's rollout; dones[t]: step t ended its episode."""
    advantages = torch.zeros_like(rewards)
    last = 0.0
    for t in reversed(range(len(rewards))):
        following = next_value if t == len(rewards) - 1 else values[t + 1]
        keep = 1.0 - dones[t]
        delta = rewards[t] + gamma * following * keep - values[t]
        last = delta + gamma * lam * keep * last
        advantages[t] = last
    return advantages


def learn(agent, optimizer, batch, epochs=10, minibatches=32, clip=0.2):
    obs, actions, log_probs, advantages, returns, values = batch
    size = len(obs)
    for _ in range(epochs):
        order = torch.randperm(size)
        for idx in order.split(size // minibatches):
            _, new_log_prob, new_value = agent.act(obs[idx], actions[idx])
            ratio = (new_log_prob - log_probs[idx]).exp()
            adv = advantages[idx]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy_loss = torch.max(-adv * ratio,
                                    -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
            clipped = values[idx] + (new_value - values[idx]).clamp(-clip, clip)
            value_loss = 0.5 * torch.max((new_value - returns[idx]) ** 2,
                                         (clipped - returns[idx]) ** 2).mean()
            optimizer.zero_grad()
            (policy_loss + 0.5 * value_loss).backward()
            nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            optimizer.step()


def train(env_id: str, steps: int, seed: int = 0, rollout: int = 2048) -> dict:
    """Train for `steps` env steps; env-steps/s and the training episodes' returns."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    envs = make_env(env_id, 0.99)
    obs_size = envs.single_observation_space.shape[0]
    agent = Agent(obs_size, envs.single_action_space.shape[0])
    optimizer = torch.optim.Adam(agent.parameters(), lr=3e-4, eps=1e-5)
    obs = torch.tensor(envs.reset(seed=seed)[0], dtype=torch.float32)
    returns, start, updates = [], time.perf_counter(), max(1, steps // rollout)
    for update in range(updates):
        optimizer.param_groups[0]["lr"] = 3e-4 * (1.0 - update / updates)
        buffer = []
        for _ in range(rollout):
            with torch.no_grad():
                action, log_prob, value = agent.act(obs)
            next_obs, reward, term, trunc, info = envs.step(action.numpy())
            ended = info.get("final_info", info)  # same-step autoreset: the ended
            if "episode" in ended and ended["_episode"][0]:  # episode's info is there
                returns.append(float(ended["episode"]["r"][0]))
            buffer.append((obs[0], action[0], log_prob[0], value[0], float(reward[0]),
                           float(term[0] or trunc[0])))
            obs = torch.tensor(next_obs, dtype=torch.float32)
        b_obs, b_act, b_logp, b_val, b_rew, b_done = (
            torch.stack([b[i] for b in buffer]) if i < 4 else
            torch.tensor([b[i] for b in buffer]) for i in range(6))
        with torch.no_grad():
            next_value = agent.act(obs)[2][0]
        advantages = gae(b_rew, b_val, b_done, next_value)
        learn(agent, optimizer, (b_obs, b_act, b_logp, advantages, advantages + b_val, b_val))
    seconds = time.perf_counter() - start
    envs.close()
    return {"env_steps": updates * rollout, "seconds": seconds,
            "env_steps_per_s": updates * rollout / seconds, "episode_returns": returns}
