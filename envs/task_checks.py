"""The one validation of a task's fields, run on every task built with changes
(`registry.with_task_changes`: the `--task-set` flags, a run's config.json, play,
export, resume and the benchmarks all pass through it).

Rules, by field name and kind, for every task:
- structural fields (the task's name, its observation and action sizes, model paths and
  contact pairs) are fixed by the task's code and model: never set;
- every number is finite (nested dataclass fields and reward scales included);
- lengths of time, scales, widths and limits (`*_dt`, `*_std`, `*_radius`, `*_scale`,
  `*_tolerance`, `*_target`, `max_*`) are > 0; noises, ranges, speeds, warm-ups and
  seeds are >= 0;
- `episode_length` in 1 .. MAX_EPISODE_STEPS, `command_levels` >= 1, `ctrl_dt` a whole
  multiple of `sim_dt`, each `*_low` <= its `*_high`, `initial_levels` within the
  task's terrain levels, shares (`promote`, `demote`, `course_spawns`) in [0, 1].
A task's own `__post_init__` checks the rest (choices such as `terrain`).
"""

from __future__ import annotations

import dataclasses
import math
import re

from motrix_jax.env import substeps

STRUCTURAL = frozenset({"name", "obs_size", "action_size", "xml_path", "contact_pairs"})
POSITIVE = re.compile(r"(_dt|_std|_radius|_scale|_tolerance|_target)$|^max_")
NON_NEGATIVE = re.compile(r"(_noise|_range|_spawns|_warmup|_seed|_below|_speed)$")
SHARES = frozenset({"promote", "demote", "course_spawns"})
MAX_EPISODE_STEPS = 10**7  # int32 step counters, and far beyond any task's episodes
MAX_SEED = 2**31 - 1


def check_settable(task, key: str) -> None:
    """ValueError if task field `key` ("field" or "field.sub") is structural."""
    if key.partition(".")[0] in STRUCTURAL:
        raise ValueError(f"{task.name} task field {key!r} is fixed by the task's code and "
                         f"model and cannot be set (structural: "
                         f"{', '.join(sorted(STRUCTURAL))})")


def check_task(task) -> None:
    """ValueError naming the first field of `task` outside what the task can run."""
    for field in dataclasses.fields(task):
        check_value(task.name, field.name, getattr(task, field.name))
    sim_dt, ctrl_dt = getattr(task, "sim_dt", None), getattr(task, "ctrl_dt", None)
    if sim_dt and ctrl_dt:
        try:
            substeps(sim_dt, ctrl_dt)  # its message lists sim_dt values that would divide
        except ValueError as error:
            raise ValueError(f"{task.name}: {error}") from None
    for name in [f.name for f in dataclasses.fields(task) if f.name.endswith("_low")]:
        high = name[:-4] + "_high"
        low_value, high_value = getattr(task, name), getattr(task, high, None)
        if isinstance(low_value, tuple) and isinstance(high_value, tuple) and (
                len(low_value) != len(high_value)
                or any(a > b for a, b in zip(low_value, high_value, strict=False))):
            raise ValueError(f"{task.name}: {name} = {low_value} must be <= {high} = "
                             f"{high_value}, element by element")
    levels = getattr(task, "initial_levels", ())
    if levels and hasattr(task, "num_terrain_levels"):
        count = task.num_terrain_levels
        if any(not 0 <= level < count for level in levels):
            raise ValueError(f"{task.name}: initial_levels = {levels} must be terrain "
                             f"levels in 0 .. {count - 1}")


def check_value(owner: str, name: str, value) -> None:
    """ValueError unless field `name`'s value keeps to the rules above."""
    where = f"{owner} task field {name!r}"
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            check_value(owner, f"{name}.{field.name}", getattr(value, field.name))
        return
    if isinstance(value, dict):
        for key, item in value.items():
            check_value(owner, f"{name}.{key}", item)
        return
    if isinstance(value, tuple):
        for item in value:
            check_number(where, name, item, "each element ")
        return
    check_number(where, name, value)


def check_number(where: str, name: str, value, each: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    leaf = name.rpartition(".")[2]
    if not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value}")
    if POSITIVE.search(leaf) and not value > 0:
        raise ValueError(f"{where}: {each}must be > 0, got {value}")
    if (NON_NEGATIVE.search(leaf) or leaf in SHARES) and value < 0:
        raise ValueError(f"{where}: {each}must be >= 0, got {value}")
    if leaf in SHARES and value > 1:
        raise ValueError(f"{where} is a share in [0, 1], got {value}")
    if leaf.endswith("_seed") and value > MAX_SEED:
        raise ValueError(f"{where} must be in 0 .. {MAX_SEED}, got {value}")
    if leaf == "episode_length" and not 1 <= value <= MAX_EPISODE_STEPS:
        raise ValueError(f"{where} must be in 1 .. {MAX_EPISODE_STEPS:,} control steps, "
                         f"got {value:,}")
    if leaf == "command_levels" and value < 1:
        raise ValueError(f"{where} must be >= 1 (1: no curriculum), got {value}")
