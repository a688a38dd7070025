"""PPO with a recurrent actor-critic (`policy_memory=gru|lstm`): the pieces that differ
from the feed-forward ones in ppo.py, which dispatches to them.

Acting: the memory (TrainState.memory, `{"policy": [N, W], "value": [N, W]}`) is carried
through the rollout scan and set to zero after a step that ended the env's episode, so
every episode starts from zero memory. The value of the state a step reached (for GAE's
bootstrap) is computed there, from the value memory that saw the step, before a reset.

Learning (rsl_rl's scheme, without its padding): each minibatch is a set of whole env
trajectories of the rollout, [T, envs / mini_batches]; the loss re-runs the recurrent
networks over the T steps from the memory stored at the rollout's start, zeroing it
where an episode ended at the previous step, and back-propagates through all T steps
(truncated BPTT over the rollout length). With the parameters that acted, this re-run
gives the rollout's own log-probabilities and values (tested).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from motrix_jax import losses
from motrix_jax.networks import gaussian_entropy, gaussian_log_prob, memory_width
from motrix_jax.normalization import RunningStats


def is_memory(cfg) -> bool:
    return cfg.policy_memory != "none"


def zero_memory(cfg, num_envs: int) -> dict:
    """Both networks' memory at an episode start: zeros [num_envs, W]."""
    width = memory_width(cfg.policy_memory, cfg.memory_size)
    return {"policy": jnp.zeros((num_envs, width)), "value": jnp.zeros((num_envs, width))}


def reset_where(memory, done: jax.Array):
    """`memory` (any pytree of [N, W]) with the rows of envs whose episode ended zeroed."""
    return jax.tree.map(lambda m: jnp.where(done[:, None], 0.0, m), memory)


def mean_action(cfg, network, params: dict, obs_stats: RunningStats, obs: jax.Array,
                memory: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(the deterministic action, the policy's next memory) for observations [N, obs] and
    the policy's memory [N, W]; the caller zeroes the memory where episodes end."""
    from motrix_jax.ppo import normalized

    mean, _, memory = network.apply(params, normalized(cfg, obs_stats, obs), memory,
                                    method="policy")
    return mean, memory


def act(parts, state, carry, _):
    """One control step of the rollout scan; the carry is (env state, key, memory)."""
    from motrix_jax.ppo import normalized, step_record

    cfg, network = parts.cfg, parts.network
    env_state, key, memory = carry
    key, key_act = jax.random.split(key)
    mean, log_std, value_n, memory = network.apply(
        state.params, normalized(cfg, state.obs_stats, env_state.obs),
        normalized(cfg, state.critic_stats, env_state.critic_obs), memory)
    action = mean + jnp.exp(log_std) * jax.random.normal(key_act, mean.shape)
    next_state = parts.env.step(env_state, action)
    if next_state.final_critic_obs is None:
        final_critic = normalized(cfg, state.obs_stats, next_state.final_obs)
    else:
        final_critic = normalized(cfg, state.critic_stats, next_state.final_critic_obs)
    next_value, _ = network.apply(state.params, final_critic, memory["value"], method="value")
    transition = step_record(parts.env, env_state, next_state, action, mean, log_std,
                             value_n, next_value=next_value)
    memory = reset_where(memory, next_state.terminated | next_state.truncated)
    return (next_state, key, memory), transition


def rollout(parts, state, key: jax.Array):
    """`cfg.rollouts` control steps: ((env state, memory after them), traj [T, B, ...])."""
    import functools

    step = functools.partial(act, parts, state)
    (env_state, _, memory), traj = jax.lax.scan(
        step, (state.env_state, key, state.memory), None, length=parts.cfg.rollouts)
    return (env_state, memory), traj


def episode_starts(traj) -> jax.Array:
    """[T, B] bool: step t is the first of an episode that began inside the rollout (the
    previous step ended one), where the memory restarts from zero."""
    done = traj.terminated | traj.truncated
    return jnp.concatenate([jnp.zeros_like(done[:1]), done[:-1]])


def sequence(parts, params: dict, obs_stats: RunningStats, critic_stats, obs: jax.Array,
             critic_obs, memory: dict, starts: jax.Array, which=("policy", "value")):
    """The networks `which` over trajectories [T, B, ...] from `memory` [B, W] at their
    start: (mean [T, B, act], log_std, value [T, B] or None). The inputs' gate shares
    and the MLPs run on all steps at once; only the memory update is scanned."""
    from motrix_jax.ppo import normalized

    cfg, network = parts.cfg, parts.network
    obs_n = normalized(cfg, obs_stats, obs)
    inputs = {"policy": obs_n,
              "value": obs_n if critic_obs is None else normalized(cfg, critic_stats,
                                                                   critic_obs)}
    projected = network.apply(params, {k: inputs[k] for k in which}, method="project")

    def step(memory, xs):
        projected_t, start_t = xs
        memory = network.apply(params, projected_t, reset_where(memory, start_t),
                               method="advance")
        return memory, memory

    _, memories = jax.lax.scan(step, {k: memory[k] for k in which}, (projected, starts))
    out = network.apply(params, memories, method="heads")
    mean, log_std = out["policy"]
    return mean, log_std, out.get("value")


def policy_sequence(parts, params: dict, obs_stats: RunningStats, obs: jax.Array,
                    memory: jax.Array, starts: jax.Array) -> jax.Array:
    """The policy alone over trajectories [T, B, obs] from its memory [B, W]: the action
    means [T, B, act] (what distillation fits)."""
    return sequence(parts, params, obs_stats, None, obs, None, {"policy": memory}, starts,
                    which=("policy",))[0]


def loss(parts, params: dict, obs_stats: RunningStats, batch, critic_stats=None):
    """The PPO loss on a minibatch of whole trajectories (fields [T, M, ...], `memory`
    [M, W] at their start, `starts` [T, M]); every step weighs the same."""
    cfg = parts.cfg
    mean, log_std, value_n = sequence(parts, params, obs_stats, critic_stats, batch.obs,
                                      batch.critic_obs, batch.memory, batch.starts)
    flat = lambda x: x.reshape(-1, *x.shape[2:])
    log_prob = gaussian_log_prob(flat(mean), log_std, flat(batch.action))
    return losses.ppo_loss(
        log_prob, flat(batch.log_prob), flat(batch.advantage), flat(value_n),
        flat(batch.value), flat(batch.returns), gaussian_entropy(log_std),
        ratio_clip=cfg.ratio_clip, value_clip=cfg.value_clip,
        clip_predicted_values=cfg.clip_predicted_values,
        value_loss_scale=cfg.value_loss_scale, entropy_loss_scale=cfg.entropy_loss_scale)


def learning_batch(parts, state, traj):
    """The rollout as trajectories [T, B, ...] with GAE advantages and return targets,
    the memory at its start and the episode starts; and the returns in env units."""
    from motrix_jax.ppo import Minibatch, from_value, to_value

    cfg = parts.cfg
    values = to_value(cfg, state.value_stats, traj.value)
    next_values = to_value(cfg, state.value_stats, traj.next_value)
    terminated = traj.terminated if cfg.time_limit_bootstrap \
        else traj.terminated | traj.truncated
    advantages, returns = losses.compute_gae(
        traj.reward * cfg.rewards_shaper_scale, values, next_values, terminated,
        traj.truncated, cfg.discount_factor, cfg.lambda_param)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    batch = Minibatch(obs=traj.obs, action=traj.action, log_prob=traj.log_prob,
                      value=traj.value, returns=from_value(cfg, state.value_stats, returns),
                      advantage=advantages, critic_obs=traj.critic_obs,
                      memory=state.memory, starts=episode_starts(traj))
    return batch, returns


def minibatches(cfg, batch, order: jax.Array):
    """`batch` split by env in the permutation `order` [B] into `mini_batches` sets of
    whole trajectories: fields [mini_batches, T, B / mini_batches, ...], memory
    [mini_batches, B / mini_batches, W]."""
    size = cfg.num_envs // cfg.mini_batches

    def by_env(x):  # [T, B, ...] -> [mini_batches, T, size, ...]
        x = x[:, order].reshape(x.shape[0], cfg.mini_batches, size, *x.shape[2:])
        return jnp.moveaxis(x, 1, 0)

    memory = jax.tree.map(lambda m: m[order].reshape(cfg.mini_batches, size, *m.shape[1:]),
                          batch.memory)
    return jax.tree.map(by_env, batch.replace(memory=None)).replace(memory=memory)


class MemoryPolicy:
    """A recurrent run's deterministic policy (what `load_policy` returns for one):
    `policy(obs [N, obs], memory [N, W]) -> (action [N, act], memory [N, W])`. Start from
    `initial_memory(N)`, and zero an env's memory with `reset(memory, done)` after a step
    that ended its episode, as training does."""

    def __init__(self, step, width: int):
        self.step, self.width = step, width

    def __call__(self, obs: jax.Array, memory: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.step(obs, memory)

    def initial_memory(self, num_envs: int) -> jax.Array:
        return jnp.zeros((num_envs, self.width), jnp.float32)

    @staticmethod
    def reset(memory: jax.Array, done: jax.Array) -> jax.Array:
        return reset_where(memory, done)
