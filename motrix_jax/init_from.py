"""`--init-from RUN`: a new run that starts from another run's policy and normalisers.

The new run takes the source's newest intact checkpoint's network parameters (policy
and value), its observation statistics (and the critic's, where the task has them) and
its value statistics (the value head is in their units), and starts everything else
afresh: a new Adam state, the configured learning rate, update and env-step counters at
zero, new envs and RNG keys, recurrent memory at zero. This is the chain teams use on
the MotrixArena course (section 011 -> 012 -> 013 -> the whole course).

Seed i of the new run starts from the source's seed i modulo its seed count (a
one-seed source seeds them all). A policy carries over between envs of one task class
and robot (e.g. two sections of the VBot course) with the same observation and action
sizes and the same network layout; anything else is a `RunFolderError` (one line).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from motrix_jax import envs
from motrix_jax.checkpoint import CHECKPOINT_DIR, _check_compatible, _leaves_by_name, open_run
from motrix_jax.ppo import make_ppo, seed_keys
from motrix_jax.run_folder import CheckpointError, RunFolderError

CARRIED = ("params", "obs_stats", "value_stats", "critic_stats")


@dataclasses.dataclass(frozen=True)
class Start:
    """What a run initialised from `run_dir` takes over (numpy, with the source's seed
    axis first): the fields of TrainState named in CARRIED."""

    run_dir: Path
    step: int
    carried: dict

    def describe(self) -> str:
        return f"initialised from {self.run_dir} (update {self.step}; fresh optimiser)"


def task_kind(env_name: str) -> tuple[str, str | None, str | None]:
    """(task class, robot, name of a host env) of an env: what must match for a policy to
    carry (host envs share one task class, so they must be the same env)."""
    task = envs.make_task(env_name)
    host = env_name if envs.is_host_name(env_name) else None
    return type(task).__qualname__, task.robot, host


def load_start(run_dir: Path, env_name: str, env, cfg) -> Start:
    """The parts of `run_dir`'s newest intact checkpoint a new run of `cfg` on `env`
    (registered as `env_name`) starts from; RunFolderError (one line) if the folder is
    unusable or its policy does not fit."""
    try:
        info, checkpointer = open_run(run_dir)
    except RunFolderError as error:  # CheckpointError stays one
        kind = CheckpointError if isinstance(error, CheckpointError) else RunFolderError
        raise kind(f"--init-from: {error}") from None
    try:
        if task_kind(info.env) != task_kind(env_name):
            raise RunFolderError(
                f"--init-from {run_dir}: it trained {info.env!r}, this run is "
                f"{env_name!r}; a policy carries over only between envs of one task and "
                "robot")
        sizes = {"observation": (info.obs_size, env.obs_size),
                 "action": (info.action_size, env.action_size)}
        for what, (saved, now) in sizes.items():
            if saved != now:
                raise RunFolderError(f"--init-from {run_dir} is incompatible: its {what} "
                                     f"size is {saved}, {env_name!r} has {now}")
        step, raw, damaged = checkpointer._newest(functools.partial(_raw_state, checkpointer))
    finally:
        checkpointer.close()
    for _, message in damaged:
        print(f"warning: {message}; using the newest intact one, update {step}")
    carried = {name: raw.get(name) for name in CARRIED}
    _check_fits(carried, cfg, env, Path(run_dir).absolute() / CHECKPOINT_DIR / str(step))
    return Start(Path(run_dir), step, carried)


def _raw_state(checkpointer, step: int) -> tuple[int, dict]:
    """(step, the saved train state as nested dicts of arrays, no target needed)."""
    from motrix_jax.checkpoint import check_manifest

    check_manifest(checkpointer.directory / str(step), step)
    restored = checkpointer._restore(step, state=ocp.args.StandardRestore())
    return step, jax.tree.map(np.asarray, dict(restored.state))


def _check_fits(carried: dict, cfg, env, where: Path) -> None:
    """CheckpointError unless every carried array has the shape a seed of the new run
    needs (the network layout and the normalisers' sizes)."""
    abstract = jax.eval_shape(make_ppo(cfg, env).init, jax.random.PRNGKey(0))
    for name in CARRIED:
        needed, saved = getattr(abstract, name), carried[name]
        if (needed is None) != (saved is None):
            have = "has no" if saved is None else "has a"
            raise CheckpointError(f"--init-from checkpoint {where} is incompatible: it {have} "
                                  f"{name}, this config needs the opposite")
        if needed is None:
            continue
        per_seed = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), saved)
        _check_compatible(_leaves_by_name({name: per_seed}), _leaves_by_name({name: needed}),
                          where)


def start_from(state, start: Start):
    """The fresh vmapped TrainState `state` with `start`'s parameters and statistics
    (seed i from the source's seed i mod its seed count); optimiser, learning rate,
    counters, env state, keys and memory stay as initialised."""
    num_seeds = jax.tree.leaves(state.params)[0].shape[0]

    def take(fresh, saved):
        rows = np.arange(num_seeds) % saved.shape[0]
        return jnp.asarray(saved[rows], fresh.dtype)

    changes = {}
    for name in CARRIED:
        fresh = getattr(state, name)
        if fresh is None:
            continue
        saved = start.carried[name]
        if dataclasses.is_dataclass(fresh):
            changes[name] = fresh.replace(**{f: take(getattr(fresh, f), saved[f])
                                             for f in saved})
        else:
            changes[name] = jax.tree.map(take, fresh, saved)
    return state.replace(**changes)


def fresh_state(env, cfg, start: Start | None = None):
    """A new run's vmapped TrainState: `init` for every seed, from `start` if given."""
    from motrix_jax.trainer import compiled_init

    state = compiled_init(env, cfg)(seed_keys(cfg))
    return state if start is None else start_from(state, start)
