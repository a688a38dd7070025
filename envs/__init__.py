"""The task suite: registered env names, MotrixLab aliases and PPO presets.

Installed as `motrix_jax.envs`. `make(name, num_envs)` builds an `Env`;
`preset(name)` returns a new `PPOConfig` tuned for the task. Each task module registers
its envs beside its task (`ENVS`, envs/spec.py); `registry.py` looks them up,
`task_changes.py` applies `--task-set`, `presets.py` holds the shared PPO presets; the
env factory of the core (`motrix_jax.physics.backends.make_env`) builds an env from a
task.
"""

from __future__ import annotations

from motrix_jax.adapters import is_host_name, make_host_env
from motrix_jax.env import Env
from motrix_jax.envs.registry import (
    ALIASES,
    REGISTRY,
    EnvSpec,
    UnknownEnvError,
    canonical_name,
    make_task,
    preset,
    target,
)
from motrix_jax.envs.task_changes import (
    check_task_changes,
    evaluation_changes,
    parse_task_changes,
    with_task_changes,
)
from motrix_jax.physics.backends import PHYSICS, choose_physics, make_env
from motrix_jax.run_folder import CheckpointError, RunInfo, check_env

__all__ = [
    "ALIASES",
    "PHYSICS",
    "REGISTRY",
    "EnvSpec",
    "UnknownEnvError",
    "canonical_name",
    "check_task_changes",
    "choose_physics",
    "evaluation_changes",
    "is_host_name",
    "make",
    "make_for_run",
    "make_task",
    "parse_task_changes",
    "preset",
    "run_task",
    "target",
    "with_task_changes",
]


def make(name: str, num_envs: int, physics: str = "motrixsim",
         task_changes: dict | None = None) -> Env:
    """Build the batched env `name` with `num_envs` worlds on `physics` (see PHYSICS);
    `task_changes` replaces fields of the task (e.g. {"domain_randomization": True}).
    A host env (`gymnasium:ID`, ...) steps its own physics: `physics` must be "host"."""
    if is_host_name(name):
        if physics != "host":
            raise ValueError(f"{name} is a host env, which steps its own physics; it cannot "
                             f"run on {physics}")
        return make_host_env(name, num_envs)
    task = with_task_changes(make_task(name), task_changes or {})
    return make_env(task, num_envs, physics)


def run_task(name: str, task_changes: dict):
    """The task of env `name` with a run's task changes (as its config.json holds them,
    checked like `--task-set`): the one way a run's task is rebuilt, by resume, play,
    export, sim2sim and the benchmarks. ValueError names a bad field or value."""
    return with_task_changes(make_task(name), check_task_changes(name, task_changes))


def make_for_run(run_dir, info: RunInfo, num_envs: int, physics: str | None = None) -> Env:
    """The env run `run_dir` (described by `info`) trained on, with `num_envs` worlds on
    its physics or `physics`; CheckpointError if the run no longer fits the env."""
    physics = physics or info.physics
    try:
        env = (make(info.env, num_envs, physics) if is_host_name(info.env)  # its own physics
               else make_env(run_task(info.env, info.task_changes), num_envs, physics))
    except ValueError as error:
        raise CheckpointError(f"{run_dir} is incompatible: {error}") from None
    if info.ppo.distill_from:  # a distilled student reads the task's student observation
        from motrix_jax.distill import student_env

        env = student_env(env)
    check_env(run_dir, info, env)
    return env
