"""PyTorch twin of the PPO maths, used only by the parity tests (`pytest -m parity`).

Written the way a PyTorch user of rsl_rl or skrl writes PPO (`nn.Sequential`
MLPs, `torch.distributions.Normal`, a Python loop for GAE, `loss.backward()` and
`torch.optim.Adam`), not by translating the JAX code, so that the two agreeing
is evidence that both compute PPO as specified. Training never imports this
module; it needs the `parity` extra (`pip install -e '.[parity]'`).

Where a common PyTorch habit differs from motrix_jax's definition, the twin
follows motrix_jax and says so at that line: advantages are normalised by the
population standard deviation, and gradients are clipped by the exact global
norm (`clip_grad_norm_` divides by norm + 1e-6).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

from motrix_jax.config import PPOConfig

Tensor = torch.Tensor


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear + ELU for each consecutive pair of widths in `sizes`."""
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ELU()]
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Gaussian policy with a state-independent log-std, and a value function that reads
    the critic's own observation where there is one (`critic_obs_size`)."""

    def __init__(self, obs_size: int, action_size: int, policy_hidden_sizes: Sequence[int],
                 value_hidden_sizes: Sequence[int], share_features: bool = False,
                 critic_obs_size: int | None = None):
        super().__init__()
        self.policy_trunk = mlp([obs_size, *policy_hidden_sizes])
        value_in = obs_size if critic_obs_size is None else critic_obs_size
        self.value_trunk = None if share_features else mlp([value_in, *value_hidden_sizes])
        value_width = policy_hidden_sizes[-1] if share_features else value_hidden_sizes[-1]
        self.policy_head = nn.Linear(policy_hidden_sizes[-1], action_size)
        self.value_head = nn.Linear(value_width, 1)
        self.log_std = nn.Parameter(torch.zeros(action_size))

    def forward(self, obs: Tensor, critic_obs: Tensor | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        """obs [..., obs] (and critic_obs [..., critic_obs]) -> (action mean [..., act],
        log_std [act], value [...])."""
        features = self.policy_trunk(obs)
        if self.value_trunk is None:
            value_features = features
        else:
            value_features = self.value_trunk(obs if critic_obs is None else critic_obs)
        value = self.value_head(value_features).squeeze(-1)
        return self.policy_head(features), self.log_std, value

    def distribution(self, obs: Tensor, critic_obs: Tensor | None = None
                     ) -> tuple[Normal, Tensor]:
        """The action distribution and the value for obs [..., obs]."""
        mean, log_std, value = self(obs, critic_obs)
        return Normal(mean, log_std.exp()), value

    def flax_paths(self) -> dict[tuple[str, ...], nn.Parameter]:
        """Every parameter under its path in the Flax params (kernels there are weight.T)."""
        paths: dict[tuple[str, ...], nn.Parameter] = {("log_std",): self.log_std}
        layers = {"policy_head": self.policy_head, "value_head": self.value_head}
        for trunk_name in ("policy_trunk", "value_trunk"):
            trunk = getattr(self, trunk_name)
            linears = [] if trunk is None else [m for m in trunk if isinstance(m, nn.Linear)]
            layers |= {(trunk_name, f"dense_{i}"): layer for i, layer in enumerate(linears)}
        for name, layer in layers.items():
            prefix = name if isinstance(name, tuple) else (name,)
            paths[(*prefix, "kernel")] = layer.weight
            paths[(*prefix, "bias")] = layer.bias
        return paths


def from_flax(params: dict) -> ActorCritic:
    """An ActorCritic with the layer sizes, weights and dtype of Flax `params`."""
    p = params["params"]

    def widths(trunk: str) -> list[int]:
        return [p[trunk][f"dense_{i}"]["kernel"].shape[1] for i in range(len(p[trunk]))]

    share = "value_trunk" not in p
    obs_size = p["policy_trunk"]["dense_0"]["kernel"].shape[0]
    value_in = obs_size if share else p["value_trunk"]["dense_0"]["kernel"].shape[0]
    model = ActorCritic(obs_size, p["log_std"].shape[0], widths("policy_trunk"),
                        [] if share else widths("value_trunk"), share,
                        None if value_in == obs_size else value_in)
    model = model.to(torch.from_numpy(np.array(p["log_std"])).dtype)
    with torch.no_grad():
        for path, param in model.flax_paths().items():
            value = p
            for key in path:
                value = value[key]
            value = torch.from_numpy(np.array(value))
            param.copy_(value.T if path[-1] == "kernel" else value)
    return model


def to_flax(model: ActorCritic,
            tensor_of: Callable[[nn.Parameter], Tensor] = lambda p: p) -> dict:
    """Numpy arrays in the Flax params layout: the parameters, or `tensor_of` each one
    (e.g. `lambda p: p.grad`, or an optimiser state entry)."""
    tree: dict = {}
    for path, param in model.flax_paths().items():
        value = tensor_of(param).detach().numpy()
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value.T if path[-1] == "kernel" else value
    return {"params": tree}


def log_prob_and_entropy(mean: Tensor, log_std: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
    """Diagonal-Gaussian log-probability and entropy, each summed over actions: [...]."""
    dist = Normal(mean, log_std.exp())
    return dist.log_prob(action).sum(-1), dist.entropy().sum(-1)


def compute_gae(rewards: Tensor, values: Tensor, next_values: Tensor, terminated: Tensor,
                truncated: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """Advantages and returns [T, B]; next_values[t] = V(observation after step t, pre-reset).

    A time-out is treated as rsl_rl does: an episode end whose reward also
    carries gamma * V(final observation).
    """
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        timed_out = (truncated[t] & ~terminated[t]).to(rewards.dtype)
        reward = rewards[t] + gamma * next_values[t] * timed_out
        not_done = 1.0 - (terminated[t] | truncated[t]).to(rewards.dtype)
        delta = reward + gamma * next_values[t] * not_done - values[t]
        next_advantage = delta + gamma * lam * not_done * next_advantage
        advantages[t] = next_advantage
    return advantages, advantages + values


class RunningMeanStd:
    """Running mean and population variance of all samples seen, one batch at a time."""

    def __init__(self, shape: tuple[int, ...] = (), dtype: torch.dtype = torch.float32):
        self.mean = torch.zeros(shape, dtype=dtype)
        self.var = torch.ones(shape, dtype=dtype)  # a placeholder until the first batch
        self.count = 0

    @property
    def std(self) -> Tensor:
        return torch.sqrt(self.var + 1e-8)

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        """Fold in x [..., *shape]; every leading axis is a sample axis."""
        x = x.reshape(-1, *self.mean.shape)
        n = x.shape[0]
        batch_mean, batch_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        # Sum of squared deviations: each part's own, plus the gap between their means.
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.var = m2 / total
        self.count = total

    def normalize(self, x: Tensor, clip: float | None = 5.0) -> Tensor:
        z = (x - self.mean) / self.std
        return z if clip is None else z.clamp(-clip, clip)

    def denormalize(self, x: Tensor) -> Tensor:
        return x * self.std + self.mean


def ppo_loss(log_prob: Tensor, old_log_prob: Tensor, advantages: Tensor, values: Tensor,
             old_values: Tensor, returns: Tensor, entropy: Tensor,
             cfg: PPOConfig, kl_rows: int | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """skrl-style PPO loss on a minibatch [M]; (total, terms) with terms policy, value,
    entropy (each as added to the total) and kl (k3 estimate, no gradient, over the first
    `kl_rows` samples: the originals of a mirrored minibatch)."""
    ratio = torch.exp(log_prob - old_log_prob)
    surrogate = advantages * ratio
    surrogate_clipped = advantages * torch.clamp(ratio, 1.0 - cfg.ratio_clip, 1.0 + cfg.ratio_clip)
    policy_loss = -torch.min(surrogate, surrogate_clipped).mean()

    if cfg.clip_predicted_values:
        values = old_values + torch.clamp(values - old_values, -cfg.value_clip, cfg.value_clip)
    value_loss = cfg.value_loss_scale * nn.functional.mse_loss(values, returns)
    entropy_loss = -cfg.entropy_loss_scale * entropy.mean()

    with torch.no_grad():
        log_ratio = log_prob - old_log_prob
        kl = ((torch.exp(log_ratio) - 1.0) - log_ratio)[:kl_rows].mean()
    terms = {"policy": policy_loss, "value": value_loss, "entropy": entropy_loss, "kl": kl}
    return policy_loss + value_loss + entropy_loss, terms


def minibatch_loss(model: ActorCritic, obs_norm: RunningMeanStd, batch: dict[str, Tensor],
                   cfg: PPOConfig, critic_norm: RunningMeanStd | None = None
                   ) -> tuple[Tensor, dict[str, Tensor]]:
    """The PPO loss of `model` on a minibatch dict (obs, action, log_prob, value, return,
    advantage, and critic_obs where the critic has its own), each [M, ...]; values and
    returns in the network's (normalised) units."""
    obs, critic_obs = batch["obs"], batch.get("critic_obs")
    if cfg.state_preprocessor:
        obs = obs_norm.normalize(obs)
        critic_obs = None if critic_obs is None else critic_norm.normalize(critic_obs)
    dist, values = model.distribution(obs, critic_obs)
    log_prob = dist.log_prob(batch["action"]).sum(-1)
    return ppo_loss(log_prob, batch["log_prob"], batch["advantage"], values, batch["value"],
                    batch["return"], dist.entropy().sum(-1), cfg,
                    len(obs) // 2 if cfg.symmetry_augmentation else None)


def make_optimizer(model: ActorCritic, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)


@torch.no_grad()
def clip_grad_norm(model: nn.Module, max_norm: float) -> None:
    """Scale all gradients together so their global norm is at most `max_norm`.

    Like `nn.utils.clip_grad_norm_`, except that it divides by the norm itself
    (as optax does), not norm + 1e-6, so that float64 parity can be tight.
    """
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if norm > max_norm:
        for g in grads:
            g.mul_(max_norm / norm)


def sgd_step(model: ActorCritic, optimizer: torch.optim.Optimizer, obs_norm: RunningMeanStd,
             batch: dict[str, Tensor], cfg: PPOConfig,
             critic_norm: RunningMeanStd | None = None) -> dict[str, Tensor]:
    """One optimiser step on one minibatch; returns the loss terms before the step."""
    loss, terms = minibatch_loss(model, obs_norm, batch, cfg, critic_norm)
    optimizer.zero_grad()
    loss.backward()
    if cfg.grad_norm_clip > 0:
        clip_grad_norm(model, cfg.grad_norm_clip)
    optimizer.step()
    return terms


def mirrored(batch: dict[str, Tensor], mirrors) -> dict[str, Tensor]:
    """A minibatch followed by its left-right mirror image (`mirrors`: a task's
    `symmetry.Mirrors`): observations and actions mirrored (x[:, perm] * sign), the other
    entries repeated."""
    by_key = {"obs": mirrors.obs, "action": mirrors.action, "critic_obs": mirrors.critic_obs}
    out = {}
    for key, x in batch.items():
        mirror = by_key.get(key)
        image = x if mirror is None else \
            x[:, list(mirror.perm)] * torch.tensor(mirror.sign, dtype=x.dtype)
        out[key] = torch.cat([x, image])
    return out


def kl_adaptive_lr(lr: float, kl: float, threshold: float, kl_factor: float = 2.0,
                   lr_factor: float = 1.5, min_lr: float = 1e-6, max_lr: float = 1e-2) -> float:
    """The KL-adaptive rule: divide the rate by lr_factor when KL is well above the
    threshold, multiply it when well below, within [min_lr, max_lr]."""
    if kl > threshold * kl_factor:
        return max(lr / lr_factor, min_lr)
    if kl < threshold / kl_factor:
        return min(lr * lr_factor, max_lr)
    return lr


@torch.no_grad()
def preserve_value_outputs(model: ActorCritic, old_mean: Tensor, old_std: Tensor,
                           new: RunningMeanStd) -> None:
    """PopArt: rescale the value head so denormalised values stay where they were."""
    head = model.value_head
    head.weight.mul_(old_std / new.std)
    head.bias.copy_((head.bias * old_std + old_mean - new.mean) / new.std)


def advantages_and_targets(model: ActorCritic, obs_norm: RunningMeanStd,
                           value_norm: RunningMeanStd, rollout: dict[str, Tensor],
                           cfg: PPOConfig, critic_norm: RunningMeanStd | None
                           ) -> tuple[Tensor, Tensor, Tensor]:
    """GAE on `rollout` bootstrapped from its final observations: the standardised
    advantages, the returns and the value targets (in network units)."""
    def observe(obs: Tensor, norm: RunningMeanStd) -> Tensor:
        return norm.normalize(obs) if cfg.state_preprocessor else obs

    def to_value(value: Tensor) -> Tensor:
        return value_norm.denormalize(value) if cfg.value_preprocessor else value

    with torch.no_grad():
        values = to_value(rollout["value"])
        final_critic_obs = observe(rollout["final_critic_obs"], critic_norm) \
            if "critic_obs" in rollout else None
        next_values = to_value(model(observe(rollout["final_obs"], obs_norm),
                                     final_critic_obs)[2])
        terminated = rollout["terminated"]
        if not cfg.time_limit_bootstrap:
            terminated = terminated | rollout["truncated"]
        advantages, returns = compute_gae(
            rollout["reward"] * cfg.rewards_shaper_scale, values, next_values, terminated,
            rollout["truncated"], cfg.discount_factor, cfg.lambda_param)
        # Population std, as motrix_jax defines it (torch's .std() is the unbiased one).
        advantages = (advantages - advantages.mean()) / (advantages.std(correction=0) + 1e-8)
        targets = value_norm.normalize(returns, clip=None) if cfg.value_preprocessor else returns
    return advantages, returns, targets


def learn(model: ActorCritic, optimizer: torch.optim.Optimizer, obs_norm: RunningMeanStd,
          value_norm: RunningMeanStd, rollout: dict[str, Tensor], orders: Tensor,
          cfg: PPOConfig, critic_norm: RunningMeanStd | None = None, mirrors=None
          ) -> list[dict[str, Tensor]]:
    """One PPO update on a rollout (obs, action, log_prob, value, reward, terminated,
    truncated, final_obs, and critic_obs and final_critic_obs with `critic_norm` where the
    critic has its own; each [T, B, ...], values in network units), one epoch per row of
    `orders` [epochs, T * B]; with `cfg.symmetry_augmentation` each minibatch gains its
    mirror image under `mirrors`. Updates model, optimizer (and its learning rate) and the
    normalisers in place; returns the loss terms of every minibatch."""
    num_steps, num_envs = rollout["reward"].shape
    privileged = "critic_obs" in rollout
    advantages, returns, targets = advantages_and_targets(model, obs_norm, value_norm,
                                                          rollout, cfg, critic_norm)
    batch = {"obs": rollout["obs"], "action": rollout["action"],
             "log_prob": rollout["log_prob"], "value": rollout["value"], "return": targets,
             "advantage": advantages}
    if privileged:
        batch["critic_obs"] = rollout["critic_obs"]
    batch = {k: v.reshape(num_steps * num_envs, *v.shape[2:]) for k, v in batch.items()}
    all_terms = []
    for order in orders:
        kls = []
        for indices in order.reshape(cfg.mini_batches, cfg.minibatch_size):
            minibatch = {k: v[indices] for k, v in batch.items()}
            if cfg.symmetry_augmentation:
                minibatch = mirrored(minibatch, mirrors)
            terms = sgd_step(model, optimizer, obs_norm, minibatch, cfg, critic_norm)
            kls.append(terms["kl"])
            all_terms.append(terms)
        if cfg.learning_rate_scheduler_kl_threshold > 0:
            kl = torch.stack(kls).mean().item()
            for group in optimizer.param_groups:
                group["lr"] = kl_adaptive_lr(group["lr"], kl,
                                             cfg.learning_rate_scheduler_kl_threshold)

    # The statistics used above are updated once, after all epochs.
    if cfg.state_preprocessor:
        obs_norm.update(rollout["obs"])
        if privileged:
            critic_norm.update(rollout["critic_obs"])
    if cfg.value_preprocessor:
        old_mean, old_std = value_norm.mean.clone(), value_norm.std
        value_norm.update(returns)
        preserve_value_outputs(model, old_mean, old_std, value_norm)
    return all_terms


# --- recurrent actor-critic (policy_memory=gru|lstm) and distillation --------------------

class RecurrentActorCritic(nn.Module):
    """rsl_rl's ActorCriticRecurrent layout: one `nn.GRU` or `nn.LSTM` layer over each
    network's observation, then that network's MLP and head. Memories are exchanged in
    motrix_jax's layout, [B, H] (GRU) or [B, 2H] = (cell, hidden) (LSTM)."""

    def __init__(self, kind: str, obs_size: int, action_size: int,
                 policy_hidden_sizes: Sequence[int], value_hidden_sizes: Sequence[int],
                 memory_size: int, critic_obs_size: int | None = None):
        super().__init__()
        rnn = nn.GRU if kind == "gru" else nn.LSTM
        self.kind, self.memory_size = kind, memory_size
        self.policy_rnn = rnn(obs_size, memory_size)
        self.value_rnn = rnn(critic_obs_size or obs_size, memory_size)
        self.policy_trunk = mlp([memory_size, *policy_hidden_sizes])
        self.value_trunk = mlp([memory_size, *value_hidden_sizes])
        self.policy_head = nn.Linear(policy_hidden_sizes[-1], action_size)
        self.value_head = nn.Linear(value_hidden_sizes[-1], 1)
        self.log_std = nn.Parameter(torch.zeros(action_size))

    def _hidden(self, memory: Tensor):
        if self.kind == "gru":
            return memory.unsqueeze(0)
        cell, hidden = memory.chunk(2, -1)
        return hidden.unsqueeze(0).contiguous(), cell.unsqueeze(0).contiguous()

    def run(self, rnn: nn.Module, x: Tensor, memory: Tensor, starts: Tensor) -> Tensor:
        """The layer's outputs [T, B, H] over x [T, B, in] from `memory` [B, W], the
        memory zeroed before each step where `starts` [T, B] (an episode begins)."""
        hidden, outputs = self._hidden(memory), []
        for t in range(x.shape[0]):
            keep = (~starts[t]).to(x.dtype)[None, :, None]
            hidden = hidden * keep if self.kind == "gru" else tuple(h * keep for h in hidden)
            out, hidden = rnn(x[t:t + 1], hidden)
            outputs.append(out[0])
        return torch.stack(outputs)

    def sequence(self, obs: Tensor, critic_obs: Tensor | None, memory: dict[str, Tensor],
                 starts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(action mean [T, B, act], log_std, value [T, B]) over trajectories."""
        features = self.run(self.policy_rnn, obs, memory["policy"], starts)
        mean = self.policy_head(self.policy_trunk(features))
        value_in = obs if critic_obs is None else critic_obs
        value_features = self.run(self.value_rnn, value_in, memory["value"], starts)
        value = self.value_head(self.value_trunk(value_features)).squeeze(-1)
        return mean, self.log_std, value

    def flax_paths(self) -> dict[tuple[str, ...], nn.Parameter]:
        """Every parameter under its path in motrix_jax's RecurrentActorCritic params."""
        paths: dict[tuple[str, ...], nn.Parameter] = {("log_std",): self.log_std}
        for part in ("policy", "value"):
            rnn = getattr(self, f"{part}_rnn")
            for flax_name, torch_name in (("input", "ih"), ("hidden", "hh")):
                layer = (f"{part}_memory", flax_name)
                paths[(*layer, "kernel")] = getattr(rnn, f"weight_{torch_name}_l0")
                paths[(*layer, "bias")] = getattr(rnn, f"bias_{torch_name}_l0")
            linears = [m for m in getattr(self, f"{part}_trunk") if isinstance(m, nn.Linear)]
            for i, layer in enumerate(linears):
                paths[(f"{part}_trunk", f"dense_{i}", "kernel")] = layer.weight
                paths[(f"{part}_trunk", f"dense_{i}", "bias")] = layer.bias
            head = getattr(self, f"{part}_head")
            paths[(f"{part}_head", "kernel")], paths[(f"{part}_head", "bias")] = \
                head.weight, head.bias
        return paths


def recurrent_from_flax(params: dict, kind: str) -> RecurrentActorCritic:
    """A RecurrentActorCritic with the sizes, weights and dtype of Flax `params`."""
    p = params["params"]
    def widths(trunk: str) -> list[int]:
        return [p[trunk][f"dense_{i}"]["kernel"].shape[1] for i in range(len(p[trunk]))]

    obs_size = p["policy_memory"]["input"]["kernel"].shape[0]
    value_in = p["value_memory"]["input"]["kernel"].shape[0]
    memory_size = p["policy_memory"]["hidden"]["kernel"].shape[0]
    model = RecurrentActorCritic(kind, obs_size, p["log_std"].shape[0], widths("policy_trunk"),
                                 widths("value_trunk"), memory_size, value_in)
    model = model.to(torch.from_numpy(np.array(p["log_std"])).dtype)
    with torch.no_grad():
        for path, param in model.flax_paths().items():
            value = p
            for key in path:
                value = value[key]
            value = torch.from_numpy(np.array(value))
            param.copy_(value.T if path[-1] == "kernel" else value)
    return model


def learn_recurrent(model: RecurrentActorCritic, optimizer: torch.optim.Optimizer,
                    obs_norm: RunningMeanStd, value_norm: RunningMeanStd,
                    rollout: dict[str, Tensor], memory: dict[str, Tensor], orders: Tensor,
                    cfg: PPOConfig, critic_norm: RunningMeanStd | None = None
                    ) -> list[dict[str, Tensor]]:
    """One recurrent PPO update, rsl_rl's way: GAE over the rollout (its `next_value`
    [T, B] is V(final_obs) from the acting pass), then per epoch a permutation of the envs
    (`orders` [epochs, B]) cut into `mini_batches` sets of whole trajectories, each re-run
    from the rollout's start `memory` ({"policy", "value"} [B, W]) with the memory zeroed
    after episode ends, one optimiser step per set. Normalisers after the epochs."""
    def observe(obs: Tensor, norm: RunningMeanStd) -> Tensor:
        return norm.normalize(obs) if cfg.state_preprocessor else obs

    def to_value(value: Tensor) -> Tensor:
        return value_norm.denormalize(value) if cfg.value_preprocessor else value

    num_envs = rollout["reward"].shape[1]
    terminated = rollout["terminated"]
    if not cfg.time_limit_bootstrap:
        terminated = terminated | rollout["truncated"]
    advantages, returns = compute_gae(
        rollout["reward"] * cfg.rewards_shaper_scale, to_value(rollout["value"]),
        to_value(rollout["next_value"]), terminated, rollout["truncated"],
        cfg.discount_factor, cfg.lambda_param)
    advantages = (advantages - advantages.mean()) / (advantages.std(correction=0) + 1e-8)
    targets = value_norm.normalize(returns, clip=None) if cfg.value_preprocessor else returns
    done = rollout["terminated"] | rollout["truncated"]
    starts = torch.cat([torch.zeros_like(done[:1]), done[:-1]])
    privileged = "critic_obs" in rollout
    all_terms = []
    for order in orders:
        kls = []
        for envs in order.reshape(cfg.mini_batches, num_envs // cfg.mini_batches):
            obs = observe(rollout["obs"][:, envs], obs_norm)
            critic_obs = observe(rollout["critic_obs"][:, envs], critic_norm) if privileged \
                else None
            mean, log_std, values = model.sequence(
                obs, critic_obs, {k: v[envs] for k, v in memory.items()}, starts[:, envs])
            log_prob, entropy = log_prob_and_entropy(mean, log_std.expand_as(mean),
                                                     rollout["action"][:, envs])
            loss, terms = ppo_loss(log_prob.flatten(), rollout["log_prob"][:, envs].flatten(),
                                   advantages[:, envs].flatten(), values.flatten(),
                                   rollout["value"][:, envs].flatten(),
                                   targets[:, envs].flatten(), entropy.flatten(), cfg)
            optimizer.zero_grad()
            loss.backward()
            if cfg.grad_norm_clip > 0:
                clip_grad_norm(model, cfg.grad_norm_clip)
            optimizer.step()
            kls.append(terms["kl"])
            all_terms.append(terms)
        if cfg.learning_rate_scheduler_kl_threshold > 0:
            kl = torch.stack(kls).mean().item()
            for group in optimizer.param_groups:
                group["lr"] = kl_adaptive_lr(group["lr"], kl,
                                             cfg.learning_rate_scheduler_kl_threshold)
    if cfg.state_preprocessor:
        obs_norm.update(rollout["obs"])
        if privileged:
            critic_norm.update(rollout["critic_obs"])
    if cfg.value_preprocessor:
        old_mean, old_std = value_norm.mean.clone(), value_norm.std
        value_norm.update(returns)
        preserve_value_outputs(model, old_mean, old_std, value_norm)
    return all_terms


def distillation_loss(model: nn.Module, obs_norm: RunningMeanStd, obs: Tensor,
                      teacher_action: Tensor, cfg: PPOConfig,
                      memory: Tensor | None = None, starts: Tensor | None = None) -> Tensor:
    """Behaviour cloning: the squared distance of the student's mean action to the
    teacher's, summed over actions, averaged over samples (and steps: with a recurrent
    student `obs` [T, B, obs] are trajectories from its policy `memory` [B, W])."""
    x = obs_norm.normalize(obs) if cfg.state_preprocessor else obs
    if isinstance(model, RecurrentActorCritic):
        mean = model.policy_head(model.policy_trunk(
            model.run(model.policy_rnn, x, memory, starts)))
    else:
        mean = model.policy_head(model.policy_trunk(x))
    return ((mean - teacher_action) ** 2).sum(-1).mean()
