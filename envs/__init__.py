"""The task suite: registered env names, MotrixLab aliases and PPO presets.

Installed as `motrix_jax.envs`. `make(name, num_envs)` builds an `Env`;
`preset(name)` returns a new `PPOConfig` tuned for the task. The registry is in
`registry.py`, the presets in `presets.py`; the env factory of the core
(`motrix_jax.physics.backends.make_env`) builds an env from a task.
"""

from __future__ import annotations

from motrix_jax.env import Env
from motrix_jax.envs.registry import (
    ALIASES,
    REGISTRY,
    EnvSpec,
    UnknownEnvError,
    canonical_name,
    make_task,
    parse_task_changes,
    preset,
    with_task_changes,
)
from motrix_jax.physics.backends import PHYSICS, choose_physics, make_env

__all__ = ["ALIASES", "PHYSICS", "REGISTRY", "EnvSpec", "UnknownEnvError", "canonical_name",
           "choose_physics", "make", "make_task", "parse_task_changes", "preset",
           "with_task_changes"]


def make(name: str, num_envs: int, physics: str = "motrixsim",
         task_changes: dict | None = None) -> Env:
    """Build the batched env `name` with `num_envs` worlds on `physics` (see PHYSICS);
    `task_changes` replaces fields of the task (e.g. {"domain_randomization": True})."""
    task = with_task_changes(make_task(name), task_changes or {})
    return make_env(task, num_envs, physics)
