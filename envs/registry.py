"""The registry: env names (and MotrixLab's aliases) looked up in the entries that the
task modules declare.

A task module of this package registers its envs beside its task, as a module-level
`ENVS = [EnvSpec(...), ...]` (envs/spec.py: names, aliases, preset, summary, suite
target). The registry imports every module of the package on first use and collects
their entries, so adding a task is its module and its MJCF. Tasks and presets are built
when asked for. Host envs (`gymnasium:ID`, `envpool:ID`, `motrixlab:NAME`) are found by
their prefix (motrix_jax.adapters).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping

from motrix_jax.adapters import host_task, is_host_name
from motrix_jax.config import PPOConfig
from motrix_jax.envs.presets import host_preset
from motrix_jax.envs.spec import EnvSpec, Target
from motrix_jax.names import did_you_mean

__all__ = ["ALIASES", "REGISTRY", "EnvSpec", "UnknownEnvError", "canonical_name",
           "make_task", "preset", "registered", "target"]

# The modules whose envs `--list` shows first, in this order (the README's task
# families); the envs of any other module follow, in module-name order.
LIST_ORDER = ("cartpole", "go1", "cheetah", "walker", "hopper", "reacher", "bounce_ball",
              "franka", "franka_cabinet", "navigation", "g1")


@functools.cache
def registered() -> dict[str, EnvSpec]:
    """Every registered env by name, in `--list` order: the `ENVS` of each module of this
    package, collected once per process. ValueError for a name or alias registered twice."""
    package = importlib.import_module(__package__)
    found = sorted(module.name for module in pkgutil.iter_modules(package.__path__))
    order = [m for m in LIST_ORDER if m in found] + [m for m in found if m not in LIST_ORDER]
    specs: dict[str, EnvSpec] = {}
    taken: dict[str, str] = {}  # every name and alias -> the module that registered it
    for module in order:
        for spec in vars(importlib.import_module(f"{__package__}.{module}")).get("ENVS", ()):
            for name in (spec.name, *spec.aliases):
                if name in taken:
                    raise ValueError(f"env name {name!r} is registered twice: in "
                                     f"envs/{taken[name]}.py and envs/{module}.py")
                taken[name] = module
            specs[spec.name] = spec
    return specs


def _aliases() -> dict[str, str]:
    return {alias: spec.name for spec in registered().values() for alias in spec.aliases}


class _OnFirstUse(Mapping):
    """A read-only mapping built by `build` when first read (so that importing the
    registry imports no task module)."""

    def __init__(self, build: Callable[[], Mapping]):
        self._build = build

    def __getitem__(self, key):
        return self._build()[key]

    def __iter__(self) -> Iterator:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return repr(dict(self._build()))


REGISTRY: Mapping[str, EnvSpec] = _OnFirstUse(registered)  # name -> its entry
ALIASES: Mapping[str, str] = _OnFirstUse(_aliases)  # alias -> registered name


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


def target(name: str) -> Target:
    """What registered env `name` (or an alias) is for: its learning suite's checks."""
    return REGISTRY[canonical_name(name)].target
