"""What a task module registers, beside its task: `ENVS = [EnvSpec(...), ...]`.

Each `EnvSpec` names an env (and MotrixLab's aliases for it), builds its task, builds its
PPO preset, says in one line what it is (`--list`) and holds its `Target`: what the task
is for, as checks on an evaluation of the trained policy, and the learning suite's
training budget (benchmarks/suite.py). `envs/registry.py` collects the entries of every
task module of this package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from motrix_jax.config import PPOConfig

DEFAULT_MINUTES = 10  # the suite's budget where a target names none


class Check(NamedTuple):
    """One check of a target: the value measured under `key` (e.g. "eval/task/speed",
    "eval/fell", "terrain/trained_level_mean") against `goal`."""

    label: str  # what the value is, for the table ("speed (m/s)")
    key: str
    goal: float
    at_least: bool  # met at >= goal, else at <= goal


def at_least(label: str, key: str, goal: float) -> Check:
    return Check(label, key, goal, True)


def at_most(label: str, key: str, goal: float) -> Check:
    return Check(label, key, goal, False)


@dataclass(frozen=True)
class Target:
    """A task's success measure: what it is for, and the checks that say it was met."""

    what: str  # one line: what a met target means ("walking at 1 m/s, upright")
    checks: tuple[Check, ...]
    # a per-step measure (task, EnvState) -> [N] bool or number, averaged over the
    # evaluation as "eval/measure_mean" and read at each env's first end as
    # "eval/measure_final"; None where the checks read the task's own metrics
    measure: Callable[[Any, Any], Any] | None = None
    minutes: float = DEFAULT_MINUTES  # the suite's training budget on a 2-core CPU


@dataclass(frozen=True)
class EnvSpec:
    """One registered env."""

    name: str  # what `--env` takes
    task: Callable[[], Any]  # builds the task (e.g. the class, or a partial of it)
    preset: Callable[[], PPOConfig]  # builds a new PPO config tuned for the task
    target: Target
    aliases: tuple[str, ...] = ()  # other names `--env` takes (MotrixLab's)
    summary: str = ""  # one line for `--list`
