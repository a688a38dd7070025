"""The registry: env names (and MotrixLab's aliases) mapped to a task and a PPO preset,
and the task changes of `--task-set`. Tasks are built on first use, so listing the
registry imports no task module."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from motrix_jax.adapters import host_task, is_host_name
from motrix_jax.config import PPOConfig, parse_typed
from motrix_jax.envs.presets import (
    arena_preset,
    cartpole_preset,
    classic_preset,
    franka_preset,
    g1_preset,
    go1_preset,
    go2_preset,
    host_preset,
    navigation_preset,
)
from motrix_jax.envs.task_checks import check_settable, check_task
from motrix_jax.names import did_you_mean


@dataclass(frozen=True)
class EnvSpec:
    name: str
    task: Callable[[], object]
    preset: Callable[[], PPOConfig]
    aliases: tuple[str, ...] = ()
    summary: str = ""


def _cartpole_task():
    from motrix_jax.envs.cartpole import Cartpole

    return Cartpole()


def _go1_task(name: str, terrain: str, collision: str = "feet", robot: str = "go1"):
    # On terrain the first episodes start spread over levels 0-4 (legged_gym starts its
    # robots on levels up to 5 of 10), so the curriculum need not climb from 0 alone.
    initial_levels = () if terrain == "flat" else (0, 1, 2, 3, 4)

    def build():
        from motrix_jax.envs.go1 import Go1

        return Go1(name=name, robot=robot, terrain=terrain, collision=collision,
                   initial_levels=initial_levels)
    return build


def _classic_task(module: str, cls: str, **fields):
    """A task of the classic suite (envs/<module>.py), built with `fields`."""
    def build():
        import importlib

        return getattr(importlib.import_module(f"motrix_jax.envs.{module}"), cls)(**fields)
    return build


MANIPULATION = [
    EnvSpec("franka_lift_cube", _classic_task("franka", "FrankaLiftCube"), franka_preset,
            aliases=("franka-lift-cube",),
            summary="Franka Panda grasps a cube and lifts it to a target"),
    EnvSpec("franka_open_cabinet", _classic_task("franka_cabinet", "FrankaOpenCabinet"),
            franka_preset, aliases=("franka-open-cabinet",),
            summary="Franka Panda grasps a drawer's handle and pulls it open"),
]


def _navigation_task(name: str, robot: str, course: str = "flat"):
    def build():
        from motrix_jax.envs import courses
        from motrix_jax.envs.navigation import Navigation

        if course == "flat":
            return Navigation(name=name, robot=robot)
        # walls, bridge and balls must stop the base: trunk and knees collide
        track = courses.build(course, 0)
        if course == "section001":
            return Navigation(name=name, robot=robot, course=course, ctrl_dt=0.02,
                              episode_length=round(track.episode_s / 0.02),
                              collision="full")
        # the MotrixArena course: the kit's 100 Hz, one physics step per control step;
        # the whole course runs 120 s, not the seed's 60 s: our route is 43 m and the
        # command's top speed 0.6 m/s (--task-set episode_length=6000 for 60 s)
        seconds = ARENA_SECONDS.get(course, track.episode_s)
        return Navigation(name=name, robot=robot, course=course, sim_dt=0.01,
                          ctrl_dt=0.01, episode_length=round(seconds / 0.01),
                          collision="full",
                          course_spawns=ARENA_COURSE_SPAWNS.get(course, 0.0))
    return build


ARENA_SECONDS = {"section002": 120.0}  # episode lengths other than the course's own
# a curriculum over the course: this share of training episodes starts at a waypoint of
# its route (evaluations start every robot on the start platform)
ARENA_COURSE_SPAWNS = {"section012": 0.5, "section002": 0.5}
# env steps per run (arena_preset): more than the suite's 2 hours reach on 2 cores
ARENA_ENV_STEPS = {"section011": 40_000_000, "section012": 40_000_000,
                   "section013": 40_000_000, "section002": 40_000_000}


NAVIGATION = [
    EnvSpec("vbot_navigation_flat", _navigation_task("vbot_navigation_flat", "vbot"),
            navigation_preset, aliases=("vbot-navigation-flat",),
            summary="VBot walks to a random target position and heading and stops there"),
    EnvSpec("anymal_c_navigation_flat",
            _navigation_task("anymal_c_navigation_flat", "anymal_c"), navigation_preset,
            aliases=("anymal-c-navigation-flat",),
            summary="ANYmal C walks to a random target position and heading and stops"),
    EnvSpec("vbot_navigation_section001",
            _navigation_task("vbot_navigation_section001", "vbot", "section001"),
            navigation_preset, aliases=("vbot-navigation-section001",),
            summary="VBot reaches the centre of a walled circular arena"),
    *[EnvSpec(f"vbot_navigation_{section}",
              _navigation_task(f"vbot_navigation_{section}", "vbot", section),
              arena_preset(ARENA_ENV_STEPS[section]), aliases=(f"vbot-navigation-{section}",),
              summary=summary)
      for section, summary in [
          ("section011", ("MotrixArena section 1: bumps and a 15 deg ramp to the "
                          "\"2026\" platform, scored")),
          ("section012", ("MotrixArena section 2: stairs, then the walled bridge or the "
                          "riverbed's stones, stairs down to the exit, scored")),
          ("section013", ("MotrixArena section 3: rolling balls, a lip and random terrain "
                          "to the finish, scored")),
          ("section002", ("the whole MotrixArena course, START to finish (35 m), scored, "
                          "120 s"))]],
]

# Go2 runs Go1's task with its own robot description (envs/go1.py: Quadruped). MotrixLab
# registers go2-flat-terrain-walk; go2-rough-terrain-walk is named after Go1's by analogy.
GO2 = [
    EnvSpec("go2_flat", _go1_task("go2_flat", "flat", robot="go2"), go2_preset(),
            aliases=("go2-flat-terrain-walk",),
            summary="Unitree Go2 tracks velocity commands on flat ground"),
    EnvSpec("go2_rough", _go1_task("go2_rough", "rough", robot="go2"),
            go2_preset(max_env_steps=20_000_000), aliases=("go2-rough-terrain-walk",),
            summary="Go2 velocity tracking on generated rough terrain, with a curriculum"),
]

CLASSIC = [
    EnvSpec("dm_cheetah", _classic_task("cheetah", "Cheetah"), classic_preset(),
            aliases=("dm-cheetah",), summary="planar cheetah runs forward"),
    EnvSpec("dm_walker", _classic_task("walker", "Walker", name="dm_walker", move_speed=1.0),
            classic_preset(), aliases=("dm-walker",), summary="planar walker walks at 1 m/s"),
    EnvSpec("dm_stander", _classic_task("walker", "Walker", name="dm_stander", move_speed=0.0),
            classic_preset(), aliases=("dm-stander",), summary="planar walker stands tall"),
    EnvSpec("dm_runner", _classic_task("walker", "Walker", name="dm_runner", move_speed=5.0),
            classic_preset(), aliases=("dm-runner",), summary="planar walker runs at 5 m/s"),
    EnvSpec("dm_hopper_stand", _classic_task("hopper", "Hopper", name="dm_hopper_stand"),
            classic_preset((32, 32, 32), epochs=5), aliases=("dm-hopper-stand",),
            summary="planar hopper stands up"),
    EnvSpec("dm_hopper_hop", _classic_task("hopper", "Hopper", name="dm_hopper_hop",
                                           hopping=True, start_speed=2.0,
                                           min_height=0.3),
            classic_preset((32, 32, 32), epochs=5), aliases=("dm-hopper-hop",),
            summary="planar hopper hops forward at 2 m/s"),
    EnvSpec("dm_reacher", _classic_task("reacher", "Reacher"), classic_preset(),
            aliases=("dm-reacher",), summary="two-link arm reaches a random target"),
    EnvSpec("bounce_ball", _classic_task("bounce_ball", "BounceBall"),
            classic_preset((512, 512, 512), epochs=15, mini_batches=16, num_envs=1024,
                            rollouts=128),
            aliases=("bounce-ball",), summary="6-DOF arm bounces a ball on a paddle"),
]

def _g1_task(name: str, terrain: str):
    # on terrain the first episodes start spread over levels 0-4, as Go1's
    initial_levels = () if terrain == "flat" else (0, 1, 2, 3, 4)

    def build():
        from motrix_jax.envs.g1 import G1

        return G1(name=name, terrain=terrain, initial_levels=initial_levels)
    return build


HUMANOID = [
    EnvSpec("g1_flat", _g1_task("g1_flat", "flat"), g1_preset(),
            summary="Unitree G1 humanoid (23 DoF) tracks velocity commands on flat ground"),
    EnvSpec("g1_rough", _g1_task("g1_rough", "rough"), g1_preset(max_env_steps=200_000_000),
            summary="G1 velocity tracking on generated rough terrain, with a curriculum"),
]

REGISTRY: dict[str, EnvSpec] = {
    spec.name: spec for spec in [
        EnvSpec("cartpole", _cartpole_task, cartpole_preset, aliases=("CartPole",),
                summary="balance a pole on a sliding cart"),
        EnvSpec("go1_flat", _go1_task("go1_flat", "flat"), go1_preset(),
                aliases=("go1-flat-terrain-walk",),
                summary="Unitree Go1 tracks velocity commands on flat ground"),
        EnvSpec("go1_rough", _go1_task("go1_rough", "rough"),
                go1_preset(max_env_steps=20_000_000),
                aliases=("go1-rough-terrain-walk",),
                summary="Go1 velocity tracking on generated rough terrain, with a curriculum"),
        # stair edges must not pass through the shins: trunk and knees collide too
        EnvSpec("go1_stairs", _go1_task("go1_stairs", "stairs", collision="full"),
                go1_preset(max_env_steps=20_000_000),
                aliases=("go1-stairs-terrain-walk",),
                summary="Go1 climbs generated stairs (foot contacts observed)"),
        *GO2,
        *CLASSIC,
        *MANIPULATION,
        *NAVIGATION,
        *HUMANOID,
    ]
}
ALIASES = {alias: spec.name for spec in REGISTRY.values() for alias in spec.aliases}


class UnknownEnvError(ValueError):
    pass


def canonical_name(name: str) -> str:
    """The registered name for `name` or one of its aliases; UnknownEnvError otherwise.
    A host env (`gymnasium:ID`, `envpool:ID`, `motrixlab:NAME`) is its own name, checked
    by building one (ValueError: an unknown prefix or id, or a missing package)."""
    if is_host_name(name):
        host_task(name)
        return name
    if name in REGISTRY:
        return name
    if name in ALIASES:
        return ALIASES[name]
    hint = did_you_mean(name, sorted([*REGISTRY, *ALIASES]), cutoff=0.4)
    raise UnknownEnvError(
        f"unknown env {name!r}{hint}; available: {', '.join(sorted(REGISTRY))}")


def preset(name: str) -> PPOConfig:
    if is_host_name(name):
        return host_preset()
    return REGISTRY[canonical_name(name)].preset()


def make_task(name: str):
    if is_host_name(name):
        return host_task(name)
    return REGISTRY[canonical_name(name)].task()


def evaluation_changes(name: str) -> dict:
    """The task changes an evaluation of env `name` holds: the full command ranges of a
    command curriculum, each robot kept on its starting terrain level, and every robot
    starting at its course's start (the hopper: at rest)."""
    fields = {f.name for f in dataclasses.fields(make_task(name))}
    held = {"command_levels": 1, "terrain_curriculum": False, "course_spawns": 0.0,
            "start_speed": 0.0}
    return {k: v for k, v in held.items() if k in fields}


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
