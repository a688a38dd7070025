"""Task changes: the `--task-set field=value` flags, and a run's recorded `task_changes`,
checked against the task's fields and applied to it (the one way a task's fields are
changed: resume, play, export, sim2sim and the benchmarks all pass through
`with_task_changes`, which runs the one validation of `task_checks`)."""

from __future__ import annotations

import dataclasses

from motrix_jax.adapters import is_host_name
from motrix_jax.config import parse_typed
from motrix_jax.envs.registry import make_task
from motrix_jax.envs.task_checks import check_settable, check_task
from motrix_jax.names import did_you_mean


def evaluation_changes(name: str) -> dict:
    """The task changes an evaluation of env `name` holds (`Task.evaluation_changes`: the
    full command ranges of a command curriculum, each robot kept on its starting terrain
    level, every robot starting at its course's start, the hopper at rest); none for a
    host env."""
    return {} if is_host_name(name) else make_task(name).evaluation_changes()


def parse_task_changes(name: str, assignments: list[str]) -> dict:
    """`field=value` strings for the task of env `name`, typed like the field's default
    (bool, int, float, str, a tuple of integers); `field.sub=value` reaches a field of a
    dataclass-valued field (e.g. `mujoco_solver.iterations=4`). ValueError names a bad
    field or value."""
    task = make_task(name)
    if assignments and is_host_name(name):
        raise ValueError(f"--task-set: {name} is a host env, which has no task fields")
    changes = {}
    for item in assignments:
        if "=" not in item:
            raise ValueError(f"--task-set expects field=value, got {item!r}")
        key, text = (part.strip() for part in item.split("=", 1))
        kind = _settable_kind(task, key)
        if kind is tuple and _float_tuple(task, key):
            kind = tuple[float, ...]
        changes[key] = parse_typed(key, kind, text, example="0,3,5")
    with_task_changes(task, changes)  # the changed task validates itself
    return changes


KIND_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
              tuple: "a list of integers"}


def check_task_changes(name: str, changes: dict) -> dict:
    """Task changes as read back from a run's config.json (JSON lists for tuples),
    held to the rules of `parse_task_changes`; ValueError names a bad field or value."""
    task = make_task(name)
    checked = {}
    for key, value in dict(changes).items():
        kind = _settable_kind(task, key)
        value = tuple(value) if kind is tuple and isinstance(value, list) else value
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        element = float if kind is tuple and _float_tuple(task, key) else int
        if element is float and isinstance(value, tuple):
            value = tuple(float(v) if type(v) is int else v for v in value)
        if type(value) is not kind or (kind is tuple and not all(
                type(v) is element for v in value)):
            raise ValueError(f"task field {key!r} must be {KIND_WORDS[kind]}, got {value!r}")
        checked[key] = value
    with_task_changes(task, checked)
    return checked


def _settable_kind(task, key: str) -> type:
    """The type of task field `key` if it can be set as a plain value; ValueError naming
    an unknown field, or one (a dict, a path) that cannot."""
    with_task_changes(task, {key: None})  # checks the field name
    kind = type(_task_field(task, key))
    if isinstance(_task_field(task, key.partition(".")[0]), dict) and kind is int:
        kind = float  # a reward scale written as a whole number
    if kind not in (bool, int, float, str, tuple):  # a tuple of integers (levels)
        raise ValueError(f"{task.name} task field {key!r} ({kind.__name__}) cannot be set "
                         "from the command line")
    return kind


def _task_field(task, key: str):
    """The value of `key` ("field" or "field.sub") on `task`."""
    value = task
    for part in key.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def _float_tuple(task, key: str) -> bool:
    """Whether task field `key` is a tuple holding floats (command ranges), not levels."""
    return any(isinstance(v, float) for v in _task_field(task, key))


def _check_field(obj, key: str, owner: str) -> None:
    """ValueError naming `key`, unknown on dataclass `obj`, and the nearest field."""
    if isinstance(obj, dict):  # e.g. reward_scales: its entries
        if key not in obj:
            raise ValueError(f"{owner} has no entry {key!r}{did_you_mean(key, list(obj))}; "
                             f"entries: {', '.join(sorted(obj))}")
        return
    fields = [f.name for f in dataclasses.fields(obj)] if dataclasses.is_dataclass(obj) else []
    if not fields:
        raise ValueError(f"{owner} is not a dataclass: {key!r} cannot be set in it")
    if key not in fields:
        raise ValueError(f"{owner} has no task field {key!r}{did_you_mean(key, fields)}; "
                         f"fields: {', '.join(sorted(fields))}")


def with_task_changes(task, changes: dict):
    """`task` with fields replaced (keys "field" or "field.sub" for a field of a
    dataclass-valued field); ValueError naming an unknown field and the nearest."""
    for key, value in changes.items():
        head, _, sub = key.partition(".")
        _check_field(task, head, task.name)
        check_settable(task, key)
        if sub:
            inner = getattr(task, head)
            _check_field(inner, sub, f"{task.name}.{head}")
            if value is not None:
                inner = {**inner, sub: value} if isinstance(inner, dict) else \
                    dataclasses.replace(inner, **{sub: value})
                task = dataclasses.replace(task, **{head: inner})
        elif value is not None:
            task = dataclasses.replace(task, **{head: value})
    if any(value is not None for value in changes.values()):
        check_task(task)  # the one validation of a task's fields (task_checks)
    return task
