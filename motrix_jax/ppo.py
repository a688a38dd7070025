"""PPO as pure functions: `make_train(cfg, env)` returns `train(key)` for `jax.jit`.

One update = a rollout (`lax.scan` of `act` over control steps), GAE with truncation
bootstrapping (`learning_batch`), then `lax.scan` of `epoch` over epochs and, inside,
of `minibatch_step` over minibatches, carrying `Learning` (params, optimiser state,
learning rate). `train` scans `cfg.num_updates` updates; the CLI runs the same
`update` in jitted chunks so it can log and checkpoint in between without changing
the numbers. Every function takes `Parts` (config, env, network, optimiser) first;
`make_ppo` binds it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from motrix_jax import losses, metrics, normalization, recurrent
from motrix_jax.config import PPOConfig
from motrix_jax.env import Env, EnvState
from motrix_jax.networks import ActorCritic, gaussian_entropy, gaussian_log_prob, make_network
from motrix_jax.normalization import RunningStats
from motrix_jax.symmetry import Mirrors


@struct.dataclass
class TrainState:
    params: dict
    opt_state: optax.OptState
    obs_stats: RunningStats
    value_stats: RunningStats
    learning_rate: jax.Array  # scalar, adapted by the KL rule
    env_state: EnvState
    key: jax.Array
    update: jax.Array  # int32 updates done
    env_steps: jax.Array  # int32 env steps collected (per seed)
    # the critic observation's own normaliser; None where the critic reads the policy's
    critic_stats: RunningStats | None = None
    # recurrent policies: {"policy", "value"} memory [num_envs, W] of the envs now
    memory: dict | None = None


@struct.dataclass
class Transition:
    """One control step for the whole batch; stacked by scan into [T, B, ...]."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array  # network output, in normalised value units
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array
    done_return: jax.Array
    done_length: jax.Array
    nonfinite: jax.Array
    env_metrics: dict[str, jax.Array]  # batch means: reward terms, task metrics
    critic_obs: jax.Array | None = None  # None where the critic reads `obs`
    final_critic_obs: jax.Array | None = None
    # recurrent: V(final_obs) in normalised units, from the memory that saw the step
    next_value: jax.Array | None = None


class PPO(NamedTuple):
    init: Callable[[jax.Array], TrainState]
    update: Callable[[TrainState], tuple[TrainState, dict]]
    run: Callable[[TrainState, int], tuple[TrainState, dict]]
    policy: Callable[[dict, RunningStats, jax.Array], jax.Array]
    # The pieces `update` is made of, exposed for the parity tests against the PyTorch twin.
    optimizer: optax.GradientTransformation
    loss: Callable[[dict, RunningStats, Minibatch], tuple[jax.Array, dict]]
    sgd_step: Callable[..., tuple[dict, optax.OptState, dict]]
    learn: Callable[[TrainState, Transition, jax.Array], tuple[TrainState, dict]]
    # (state, key) -> (env_state, traj [T, B, ...]): the acting half of `update`.
    rollout: Callable[[TrainState, jax.Array], tuple[EnvState, Transition]]


@struct.dataclass
class Minibatch:
    """What the loss needs of M transitions, each [M, ...]."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array  # of the action under the policy that acted
    value: jax.Array  # the value network's output then, in normalised units
    returns: jax.Array  # GAE return targets, in the same units
    advantage: jax.Array  # normalised over the batch
    critic_obs: jax.Array | None = None  # None where the critic reads `obs`
    # recurrent: fields are [T, M, ...] whole trajectories, with the memory [M, W] at
    # their start and where episodes start [T, M] (recurrent.py)
    memory: dict | None = None
    starts: jax.Array | None = None


@struct.dataclass
class Learning:
    """The scan carry of the epochs and minibatches: what an optimiser step changes."""

    params: dict
    opt_state: optax.OptState
    learning_rate: jax.Array


@dataclasses.dataclass(frozen=True)
class Parts:
    """What every PPO function below is built from."""

    cfg: PPOConfig
    env: Env
    network: ActorCritic
    optimizer: optax.GradientTransformation
    # distillation: the teacher's deterministic policy (its observation -> action)
    teacher: Callable[[jax.Array], jax.Array] | None = None


def check_env(cfg: PPOConfig, env: Env) -> None:
    """ValueError where `cfg` cannot train on `env`."""
    critic_size = getattr(env, "critic_obs_size", None)
    if cfg.share_features and critic_size is not None:
        raise ValueError("share_features needs the critic to read the policy's observation, "
                         f"but {env.task.name} gives the critic its own")
    if cfg.symmetry_augmentation:
        check_mirrors(getattr(env, "mirrors", None), env, critic_size)


def check_mirrors(mirrors: Mirrors | None, env: Env, critic_size: int | None) -> None:
    name = getattr(getattr(env, "task", None), "name", "this env")
    if mirrors is None:
        raise ValueError(f"symmetry_augmentation needs a task that declares its left-right "
                         f"mirror (mirrors()); {name} does not")
    sizes = {"obs": env.obs_size, "action": env.action_size, "critic_obs": critic_size}
    for part, size in sizes.items():
        mirror = getattr(mirrors, part)
        if (None if mirror is None else mirror.size) != size:
            raise ValueError(f"{name}'s {part} mirror has size "
                             f"{None if mirror is None else mirror.size}, its {part} {size}")


def make_ppo(cfg: PPOConfig, env: Env) -> PPO:
    """The PPO functions for `cfg` on `env`; all pure, all jit-able and vmap-able."""
    check_env(cfg, env)
    clip = optax.clip_by_global_norm(cfg.grad_norm_clip) if cfg.grad_norm_clip > 0 \
        else optax.identity()
    teacher = None
    if cfg.distill_from:
        from motrix_jax import distill

        teacher = distill.teacher(cfg.distill_from)
    parts = Parts(cfg, env, make_network(cfg, env.action_size),
                  optax.chain(clip, optax.scale_by_adam(eps=1e-8)), teacher)
    bind = lambda fn: functools.partial(fn, parts)
    if is_recurrent(cfg):
        return PPO(init=bind(init), update=bind(update), run=bind(run),
                   policy=functools.partial(recurrent.mean_action, cfg, parts.network),
                   optimizer=parts.optimizer, loss=bind(loss), sgd_step=bind(sgd_step),
                   learn=bind(learn), rollout=bind(recurrent.rollout))
    return PPO(init=bind(init), update=bind(update), run=bind(run),
               policy=functools.partial(mean_action, cfg, parts.network),
               optimizer=parts.optimizer, loss=bind(loss), sgd_step=bind(sgd_step),
               learn=bind(learn), rollout=bind(rollout))


def is_recurrent(cfg: PPOConfig) -> bool:
    return cfg.policy_memory != "none"


def normalized(cfg: PPOConfig, stats: RunningStats | None, obs: jax.Array | None):
    if obs is None or not cfg.state_preprocessor:
        return obs
    return normalization.normalize(stats, obs)


def forward(cfg: PPOConfig, network: ActorCritic, params: dict, obs_stats: RunningStats,
            obs: jax.Array, critic_stats: RunningStats | None = None,
            critic_obs: jax.Array | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(action mean, log std, value in normalised units) for observations [..., obs] (and
    the critic's own [..., critic_obs] with their statistics, where the task has them)."""
    return network.apply(params, normalized(cfg, obs_stats, obs),
                         normalized(cfg, critic_stats, critic_obs))


def mean_action(cfg: PPOConfig, network: ActorCritic, params: dict,
                obs_stats: RunningStats, obs: jax.Array) -> jax.Array:
    """The deterministic action (the Gaussian mean) for observations [..., obs]."""
    return network.apply(params, normalized(cfg, obs_stats, obs), method="policy")[0]


def to_value(cfg: PPOConfig, value_stats: RunningStats, value_n: jax.Array) -> jax.Array:
    return normalization.denormalize(value_stats, value_n) if cfg.value_preprocessor \
        else value_n


def from_value(cfg: PPOConfig, value_stats: RunningStats, value: jax.Array) -> jax.Array:
    # Unclipped (unlike observations): value targets legitimately move several
    # standard deviations from the running mean while the policy improves.
    return normalization.normalize(value_stats, value, clip=None) \
        if cfg.value_preprocessor else value


def init(parts: Parts, key: jax.Array) -> TrainState:
    cfg, env = parts.cfg, parts.env
    key, key_params, key_env = jax.random.split(key, 3)
    critic_size = env.critic_obs_size
    critic_obs = None if critic_size is None else jnp.zeros((1, critic_size))
    memory = recurrent.zero_memory(cfg, env.num_envs) if is_recurrent(cfg) else None
    if memory is None:
        params = parts.network.init(key_params, jnp.zeros((1, env.obs_size)), critic_obs)
    else:
        params = parts.network.init(key_params, jnp.zeros((1, env.obs_size)), critic_obs,
                                    recurrent.zero_memory(cfg, 1))
    return TrainState(
        params=params, opt_state=parts.optimizer.init(params),
        obs_stats=normalization.init_stats((env.obs_size,)),
        value_stats=normalization.init_stats(()),
        learning_rate=jnp.asarray(cfg.learning_rate, jnp.float32),
        env_state=env.reset(key_env), key=key,
        update=jnp.zeros((), jnp.int32), env_steps=jnp.zeros((), jnp.int32),
        critic_stats=None if critic_size is None else normalization.init_stats((critic_size,)),
        memory=memory)


def act(parts: Parts, state: TrainState, carry: tuple[EnvState, jax.Array],
        _) -> tuple[tuple[EnvState, jax.Array], Transition]:
    """One control step of the rollout scan under `state`'s params and statistics; the
    carry is (env state, key)."""
    env_state, key = carry
    key, key_act = jax.random.split(key)
    mean, log_std, value_n = forward(parts.cfg, parts.network, state.params, state.obs_stats,
                                     env_state.obs, state.critic_stats, env_state.critic_obs)
    action = mean + jnp.exp(log_std) * jax.random.normal(key_act, mean.shape)
    next_state = parts.env.step(env_state, action)
    transition = step_record(parts.env, env_state, next_state, action, mean, log_std,
                             value_n)
    return (next_state, key), transition


def step_record(env, env_state, next_state, action, mean, log_std, value,
                **extra) -> Transition:
    """The rollout's record of one control step from `env_state` to `next_state` under
    `action` [B, A] drawn from the Gaussian (mean, log_std), with V [B] of `env_state`;
    `extra`: the recurrent fields (next_value)."""
    return Transition(
        obs=env_state.obs, action=action,
        log_prob=gaussian_log_prob(mean, log_std, action), value=value,
        reward=next_state.reward, terminated=next_state.terminated,
        truncated=next_state.truncated, final_obs=next_state.final_obs,
        done_return=next_state.done_return, done_length=next_state.done_length,
        nonfinite=next_state.nonfinite, env_metrics=env.metrics(next_state),
        critic_obs=env_state.critic_obs, final_critic_obs=next_state.final_critic_obs,
        **extra)


def rollout(parts: Parts, state: TrainState, key: jax.Array) -> tuple[EnvState, Transition]:
    """`cfg.rollouts` control steps of the whole batch: (env state, traj [T, B, ...])."""
    step = functools.partial(act, parts, state)
    (env_state, _), traj = jax.lax.scan(step, (state.env_state, key), None,
                                        length=parts.cfg.rollouts)
    return env_state, traj


def loss(parts: Parts, params: dict, obs_stats: RunningStats, batch: Minibatch,
         critic_stats: RunningStats | None = None) -> tuple[jax.Array, dict]:
    """PPO loss on a minibatch; (total, terms)."""
    if is_recurrent(parts.cfg):
        return recurrent.loss(parts, params, obs_stats, batch, critic_stats)
    cfg = parts.cfg
    mean, log_std, value_n = forward(cfg, parts.network, params, obs_stats, batch.obs,
                                     critic_stats, batch.critic_obs)
    log_prob = gaussian_log_prob(mean, log_std, batch.action)
    return losses.ppo_loss(
        log_prob, batch.log_prob, batch.advantage, value_n, batch.value, batch.returns,
        gaussian_entropy(log_std), ratio_clip=cfg.ratio_clip, value_clip=cfg.value_clip,
        clip_predicted_values=cfg.clip_predicted_values,
        value_loss_scale=cfg.value_loss_scale, entropy_loss_scale=cfg.entropy_loss_scale,
        kl_rows=len(batch.obs) // 2 if cfg.symmetry_augmentation else None)


def sgd_step(parts: Parts, params: dict, opt_state: optax.OptState, lr: jax.Array,
             obs_stats: RunningStats, batch: Minibatch,
             critic_stats: RunningStats | None = None):
    """One optimiser step on one minibatch: (params, opt_state, loss terms)."""
    grads, terms = jax.grad(functools.partial(loss, parts), has_aux=True)(
        params, obs_stats, batch, critic_stats)
    updates, opt_state = parts.optimizer.update(grads, opt_state, params)
    params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
    return params, opt_state, terms


def mirrored(batch: Minibatch, mirrors: Mirrors) -> Minibatch:
    """`batch` followed by its left-right mirror image [2M, ...]: mirrored observations and
    actions, the same old log-probabilities, values, returns and advantages (a symmetric
    task's mirrored transition is as likely and as good; rsl_rl's augmentation)."""
    def both(x, mirror=None):
        return None if x is None else jnp.concatenate([x, x if mirror is None else mirror(x)])
    return Minibatch(obs=both(batch.obs, mirrors.obs), action=both(batch.action, mirrors.action),
                     log_prob=both(batch.log_prob), value=both(batch.value),
                     returns=both(batch.returns), advantage=both(batch.advantage),
                     critic_obs=both(batch.critic_obs, mirrors.critic_obs))


def minibatch_step(parts: Parts, state: TrainState, carry: Learning,
                   batch: Minibatch) -> tuple[Learning, dict]:
    if parts.cfg.symmetry_augmentation:
        batch = mirrored(batch, parts.env.mirrors)
    params, opt_state, terms = sgd_step(parts, carry.params, carry.opt_state,
                                        carry.learning_rate, state.obs_stats, batch,
                                        state.critic_stats)
    return carry.replace(params=params, opt_state=opt_state), terms


def epoch(parts: Parts, state: TrainState, batch: Minibatch, carry: Learning,
          order: jax.Array) -> tuple[Learning, dict]:
    """One pass over `batch` in the permutation `order`, minibatch by minibatch, then
    the KL-adaptive learning rate step; observations are normalised with `state`'s
    statistics, which the epochs do not change."""
    cfg = parts.cfg
    if is_recurrent(cfg):
        minibatches = recurrent.minibatches(cfg, batch, order)
    else:
        minibatches = jax.tree.map(
            lambda x: x[order].reshape(cfg.mini_batches, cfg.minibatch_size, *x.shape[1:]),
            batch)
    carry, terms = jax.lax.scan(functools.partial(minibatch_step, parts, state),
                                carry, minibatches)
    if cfg.learning_rate_scheduler_kl_threshold > 0:
        carry = carry.replace(learning_rate=losses.kl_adaptive_lr(
            carry.learning_rate, terms["kl"].mean(), cfg.learning_rate_scheduler_kl_threshold))
    return carry, terms


def learning_batch(parts: Parts, state: TrainState,
                   traj: Transition) -> tuple[Minibatch, jax.Array]:
    """The rollout `traj` [T, B, ...] as one flat batch with GAE advantages and return
    targets, and the returns in env units (for the value statistics)."""
    if is_recurrent(parts.cfg):
        return recurrent.learning_batch(parts, state, traj)
    cfg = parts.cfg
    _, _, next_value_n = forward(cfg, parts.network, state.params, state.obs_stats,
                                 traj.final_obs, state.critic_stats, traj.final_critic_obs)
    values = to_value(cfg, state.value_stats, traj.value)
    next_values = to_value(cfg, state.value_stats, next_value_n)
    terminated = traj.terminated if cfg.time_limit_bootstrap \
        else traj.terminated | traj.truncated
    advantages, returns = losses.compute_gae(
        traj.reward * cfg.rewards_shaper_scale, values, next_values, terminated,
        traj.truncated, cfg.discount_factor, cfg.lambda_param)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    # Targets are expressed in the units the value network was trained in (the
    # current statistics), and the clip window is centred on its own outputs.
    # Updating the statistics first moved every target, and most predictions,
    # outside the +-value_clip window, where the clipped loss has no gradient:
    # the value function froze and returns collapsed.
    flat = lambda x: x.reshape(cfg.batch_size, *x.shape[2:])
    batch = Minibatch(obs=flat(traj.obs), action=flat(traj.action),
                      log_prob=flat(traj.log_prob), value=flat(traj.value),
                      returns=flat(from_value(cfg, state.value_stats, returns)),
                      advantage=flat(advantages),
                      critic_obs=jax.tree.map(flat, traj.critic_obs))
    return batch, returns


def learn(parts: Parts, state: TrainState, traj: Transition,
          orders: jax.Array) -> tuple[TrainState, dict]:
    """The learning half of an update on a rollout `traj` [T, B, ...]: GAE, one epoch
    per row of `orders` [epochs, T * B] (the minibatch permutation; recurrent: [epochs,
    B], of whole env trajectories), then the
    statistics. Returns the state with new params, opt_state, learning_rate and
    statistics, and the loss terms [epochs, mini_batches]."""
    cfg = parts.cfg
    if cfg.distill_from:
        from motrix_jax import distill

        return distill.learn(parts, state, traj, orders)
    batch, returns = learning_batch(parts, state, traj)
    start = Learning(params=state.params, opt_state=state.opt_state,
                     learning_rate=state.learning_rate)
    learned, terms = jax.lax.scan(functools.partial(epoch, parts, state, batch),
                                  start, orders)
    # Statistics are written once per update, after the epochs that used them.
    obs_stats, critic_stats = state.obs_stats, state.critic_stats
    if cfg.state_preprocessor:
        obs_stats = normalization.update_stats(obs_stats, traj.obs)
        if critic_stats is not None:
            critic_stats = normalization.update_stats(critic_stats, traj.critic_obs)
    params, value_stats = learned.params, state.value_stats
    if cfg.value_preprocessor:
        value_stats = normalization.update_stats(state.value_stats, returns)
        params = preserve_value_outputs(params, state.value_stats, value_stats)
    return state.replace(params=params, opt_state=learned.opt_state,
                         learning_rate=learned.learning_rate, obs_stats=obs_stats,
                         critic_stats=critic_stats, value_stats=value_stats), terms


def update(parts: Parts, state: TrainState) -> tuple[TrainState, dict]:
    """One PPO update: a rollout, then `learn`; (state, the metrics of `metrics.py`)."""
    cfg = parts.cfg
    key, key_rollout, key_epochs = jax.random.split(state.key, 3)
    if is_recurrent(cfg):
        (env_state, memory), traj = recurrent.rollout(parts, state, key_rollout)
        orders = minibatch_orders(key_epochs, cfg.learning_epochs, cfg.num_envs)
    else:
        env_state, traj = rollout(parts, state, key_rollout)
        memory = None
        orders = minibatch_orders(key_epochs, cfg.learning_epochs, cfg.batch_size)
    learned, terms = learn(parts, state, traj, orders)
    new_state = learned.replace(env_state=env_state, key=key, update=state.update + 1,
                                memory=memory,
                                env_steps=state.env_steps + cfg.batch_size)
    return new_state, update_metrics(traj, terms, learned)


def update_metrics(traj: Transition, terms: dict, learned: TrainState) -> dict:
    episodes = (traj.terminated | traj.truncated).sum()
    return {
        metrics.EPISODES: episodes,
        metrics.EPISODE_RETURN: traj.done_return.sum() / jnp.maximum(episodes, 1),
        metrics.EPISODE_LENGTH: traj.done_length.sum() / jnp.maximum(episodes, 1),
        metrics.REWARD: traj.reward.mean(),
        metrics.NONFINITE_RESETS: traj.nonfinite.sum(),
        metrics.LEARNING_RATE: learned.learning_rate,
        **{f"{metrics.LOSS_PREFIX}{k}": v.mean() for k, v in terms.items() if k != "kl"},
        metrics.KL: terms["kl"].mean(),
        metrics.POLICY_STD: jnp.exp(learned.params["params"]["log_std"]).mean(),
        **{k: v.mean() for k, v in traj.env_metrics.items()},
    }


def run(parts: Parts, state: TrainState, num_updates: int) -> tuple[TrainState, dict]:
    """`num_updates` updates; metrics stacked [num_updates]."""
    return jax.lax.scan(lambda s, _: update(parts, s), state, None, length=num_updates)


def minibatch_orders(key: jax.Array, epochs: int, batch_size: int) -> jax.Array:
    """One random permutation of the batch per epoch, [epochs, batch_size] int32.

    On a CPU backend they are drawn by NumPy on the host (seeded from `key`, so still a
    pure function of it): XLA's CPU sort made `jax.random.permutation` cost 135 ms of
    cartpole's 500 ms update (5 x 65,536 indices, measured on 2 cores) against 7 ms
    in NumPy. Accelerators sort fast and keep `jax.random.permutation`."""
    if jax.default_backend() != "cpu":
        return jax.vmap(lambda k: jax.random.permutation(k, batch_size))(
            jax.random.split(key, epochs))

    def host(key_data):  # [..., 2] uint32: one key per vmapped seed
        seeds = key_data.reshape(-1, key_data.shape[-1])
        rows = np.broadcast_to(np.arange(batch_size, dtype=np.int32), (epochs, batch_size))
        orders = [np.random.default_rng(seed.tolist()).permuted(rows, axis=1)
                  for seed in seeds]
        return np.stack(orders).reshape(*key_data.shape[:-1], epochs, batch_size)

    return jax.pure_callback(host, jax.ShapeDtypeStruct((epochs, batch_size), jnp.int32),
                             jax.random.key_data(key), vmap_method="broadcast_all")


def preserve_value_outputs(params: dict, old: RunningStats, new: RunningStats) -> dict:
    """Rescale the value head so denormalised values are unchanged by a statistics update
    (the output-preserving step of PopArt, van Hasselt et al. 2016). Not from the
    placeholder statistics before the first batch (count 0): the untrained head's values
    mean nothing, and keeping them under returns of zero variance (a constant reward)
    scaled the head by 1/sqrt(1e-8) and left V at 0.96 where it is 1."""
    old_std, new_std = jnp.sqrt(old.var + 1e-8), jnp.sqrt(new.var + 1e-8)
    head = params["params"]["value_head"]
    seen = old.count > 0
    head = {"kernel": jnp.where(seen, head["kernel"] * old_std / new_std, head["kernel"]),
            "bias": jnp.where(seen, (head["bias"] * old_std + old.mean - new.mean) / new_std,
                              head["bias"])}
    return {**params, "params": {**params["params"], "value_head": head}}


def make_train(cfg: PPOConfig, env: Env) -> Callable[[jax.Array], tuple[TrainState, dict]]:
    """`train(key) -> (final TrainState, metrics [num_updates])`, jit- and vmap-able."""
    ppo = make_ppo(cfg, env)

    def train(key: jax.Array) -> tuple[TrainState, dict]:
        return ppo.run(ppo.init(key), cfg.num_updates)

    return train


def seed_keys(cfg: PPOConfig) -> jax.Array:
    """One key per seed: seed i of a vmapped run equals a run alone with seed cfg.seed + i."""
    return jnp.stack([jax.random.PRNGKey(cfg.seed + i) for i in range(cfg.num_seeds)])
