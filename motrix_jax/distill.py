"""Teacher-student distillation (`--distill-from RUN`): a student policy learns to give a
trained teacher's deterministic actions on the states it visits itself (DAgger: the
student acts, the teacher labels), with a behaviour-cloning (mean squared error) loss.

The student reads the task's `student_observe` (e.g. Go1's proprioception without the
height scan: a blind student), or the task's own observation where the task declares
none (distilling into another network, e.g. a recurrent or smaller one). The teacher
reads the task's observation: `StudentTask` swaps the two, so the env carries the
student's observation as `obs` and the teacher's in the critic's slot (`critic_obs`),
and the rollout, run folder, checkpoints, resume, `load_policy`, play and export work
as for PPO. The student acts with its Gaussian (its log-std is not trained: set
`initial_log_std` for the exploration noise), feed-forward or recurrent (the loss then
runs over whole env trajectories as PPO's does, recurrent.py). The teacher is loaded
from its run folder's newest intact checkpoint whenever the program is built, so a
resume needs it where it was; it must be a feed-forward run of the same env.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from motrix_jax import normalization, recurrent
from motrix_jax.run_folder import CheckpointError, RunFolderError, read_run_info


@dataclasses.dataclass(frozen=True)
class StudentTask:
    """`inner` (a `Task`) as its student sees it: the observation is `student_observe`
    (`Task`'s default: the task's own), the critic's slot holds the teacher's (the task's
    observation); every other member is the task's."""

    inner: Any

    def __getattr__(self, name: str):  # everything else is the task's
        if name == "inner":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def obs_size(self) -> int:
        return self.inner.student_obs_size

    def observe(self, view, info) -> jax.Array:
        return self.inner.student_observe(view, info)

    @property
    def critic_obs_size(self) -> int:
        return self.inner.obs_size

    def critic_observe(self, view, info) -> jax.Array:
        return self.inner.observe(view, info)

    def mirrors(self) -> None:
        return None  # the student's observation has no declared mirror


def student_env(env):
    """`env` (same physics, same worlds) as a student sees it."""
    from motrix_jax.env import Env

    return Env(StudentTask(env.task), env.physics, env.num_envs)


def check_teacher(run_dir: str | Path, env_name: str, env) -> str:
    """The teacher run's absolute path, after checking it can teach `env` (registered as
    `env_name`, before `student_env`); RunFolderError (one line) otherwise."""
    try:
        info = read_run_info(run_dir)
    except RunFolderError as error:
        raise RunFolderError(f"--distill-from: {error}") from None
    if info.env != env_name:
        raise RunFolderError(f"--distill-from {run_dir}: the teacher trained {info.env!r}, "
                             f"this run is {env_name!r}; a teacher labels its own env")
    if info.ppo.policy_memory != "none" or info.ppo.distill_from:
        raise RunFolderError(f"--distill-from {run_dir}: the teacher must be a "
                             "feed-forward PPO run")
    if (info.obs_size, info.action_size) != (env.obs_size, env.action_size):
        raise RunFolderError(
            f"--distill-from {run_dir} is incompatible: the teacher's observation/action "
            f"sizes are {(info.obs_size, info.action_size)}, {env_name!r} now has "
            f"{(env.obs_size, env.action_size)}")
    teacher(str(Path(run_dir).absolute()))  # its checkpoint loads
    return str(Path(run_dir).absolute())


@functools.cache
def teacher(run_dir: str):
    """The teacher's deterministic policy (obs [..., obs] -> action), seed 0 of its newest
    intact checkpoint; loaded once per process."""
    from motrix_jax.checkpoint import load_policy

    try:
        return load_policy(run_dir)
    except RunFolderError as error:  # CheckpointError stays one
        kind = CheckpointError if isinstance(error, CheckpointError) else RunFolderError
        raise kind(f"--distill-from: {error}") from None


@struct.dataclass
class Imitation:
    """What the loss needs: student observations and the teacher's actions, [M, ...]
    (recurrent: [T, M, ...] whole trajectories, the memory at their start and where
    episodes start)."""

    obs: jax.Array
    target: jax.Array
    memory: dict | None = None
    starts: jax.Array | None = None


def distill_loss(parts, params: dict, obs_stats, batch: Imitation):
    """Mean squared error between the student's mean action and the teacher's; (loss,
    terms)."""
    from motrix_jax.ppo import normalized

    cfg = parts.cfg
    if recurrent.is_memory(cfg):
        mean = recurrent.policy_sequence(parts, params, obs_stats, batch.obs,
                                         batch.memory["policy"], batch.starts)
    else:
        mean = parts.network.apply(params, normalized(cfg, obs_stats, batch.obs),
                                   method="policy")[0]
    loss = jnp.mean(jnp.sum((mean - batch.target) ** 2, axis=-1))
    return loss, {"distill": loss, "kl": jnp.zeros(())}


def imitation_batch(parts, state, traj) -> Imitation:
    """The rollout with the teacher's labels: flat [T * B] (trajectories [T, B] with
    memory)."""
    labels = parts.teacher(traj.critic_obs)
    if recurrent.is_memory(parts.cfg):
        return Imitation(obs=traj.obs, target=labels, memory=state.memory,
                         starts=recurrent.episode_starts(traj))
    flat = lambda x: x.reshape(parts.cfg.batch_size, *x.shape[2:])
    return Imitation(obs=flat(traj.obs), target=flat(labels))


def learn(parts, state, traj, orders: jax.Array):
    """ppo.learn's counterpart: epochs of minibatch steps on the behaviour-cloning loss
    (the learning rate stays fixed), then the student's observation statistics."""
    from motrix_jax.ppo import Learning

    cfg = parts.cfg
    batch = imitation_batch(parts, state, traj)

    def epoch(carry, order):
        if recurrent.is_memory(cfg):
            minibatches = recurrent.minibatches(cfg, batch, order)
        else:
            minibatches = jax.tree.map(lambda x: x[order].reshape(
                cfg.mini_batches, cfg.minibatch_size, *x.shape[1:]), batch)
        return jax.lax.scan(step, carry, minibatches)

    def step(carry, minibatch):
        grads, terms = jax.grad(functools.partial(distill_loss, parts), has_aux=True)(
            carry.params, state.obs_stats, minibatch)
        updates, opt_state = parts.optimizer.update(grads, carry.opt_state, carry.params)
        params = jax.tree.map(lambda p, u: p - carry.learning_rate * u, carry.params, updates)
        return carry.replace(params=params, opt_state=opt_state), terms

    start = Learning(params=state.params, opt_state=state.opt_state,
                     learning_rate=state.learning_rate)
    learned, terms = jax.lax.scan(epoch, start, orders)
    obs_stats = normalization.update_stats(state.obs_stats, traj.obs) \
        if cfg.state_preprocessor else state.obs_stats
    return state.replace(params=learned.params, opt_state=learned.opt_state,
                         obs_stats=obs_stats), terms
