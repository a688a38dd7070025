"""Adapters from other batched env libraries to the host-env protocol (`host_env.py`),
named `<prefix>:<id>` on the command line: `gymnasium:HalfCheetah-v5`,
`envpool:Go1JoystickFlatTerrain-v1`, `motrixlab:<name>` (or `motrixlab:<name>@<module>`,
importing the module that registers the env first).

Each adapter module has `task(env_id) -> HostTask` (the env's sizes, found by building
one env once; ValueError naming an unknown id and the nearest) and
`make(env_id, num_envs) -> HostEnvProtocol`. Each library is an optional extra: a
missing package is `MissingPackage`, one line naming what to install.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

from motrix_jax.host_env import HostEnv, HostEnvProtocol, HostTask
from motrix_jax.names import did_you_mean

# prefix -> (adapter module, the package it needs, the pip line that installs it)
ADAPTERS = {
    "gymnasium": ("motrix_jax.adapters.gymnasium_envs", "gymnasium",
                  "pip install 'motrix_jax[gymnasium]'"),
    "envpool": ("motrix_jax.adapters.envpool_envs", "envpool",
                "pip install 'motrix_jax[envpool]'"),
    "motrixlab": ("motrix_jax.adapters.motrixlab_envs", "motrix_env_core",
                  "pip install 'motrix_jax[motrixlab]'"),
}


class MissingPackage(ValueError):
    """The package an adapter needs is not installed; the message is one line."""


def is_host_name(name: str) -> bool:
    """Whether `name` names a host env (`<prefix>:<id>`) rather than a registered task."""
    return ":" in name


def split(name: str) -> tuple[str, str]:
    """(prefix, id) of `name`; ValueError naming an unknown prefix and the nearest."""
    prefix, _, env_id = name.partition(":")
    if prefix not in ADAPTERS:
        raise ValueError(f"unknown host-env prefix {prefix!r} in {name!r}"
                         f"{did_you_mean(prefix, ADAPTERS, cutoff=0.4)}; available: "
                         f"{', '.join(f'{p}:ID' for p in ADAPTERS)}")
    if not env_id:
        raise ValueError(f"{name!r} names no env: write {prefix}:ID")
    return prefix, env_id


def adapter(prefix: str):
    """The adapter module of `prefix`; MissingPackage if its library is not installed."""
    module, package, install = ADAPTERS[prefix]
    try:
        importlib.import_module(package)
    except ImportError as error:
        raise MissingPackage(f"{prefix}: envs need the {package} package, which is not "
                             f"installed ({error}); {install}") from None
    return importlib.import_module(module)


@functools.cache
def host_task(name: str) -> HostTask:
    """The HostTask of host env `name` (built once per process)."""
    prefix, env_id = split(name)
    task = adapter(prefix).task(env_id)
    return task if task.name == name else _renamed(task, name)


def _renamed(task: HostTask, name: str) -> HostTask:
    import dataclasses

    return dataclasses.replace(task, name=name)


def factory(name: str) -> Callable[[int], HostEnvProtocol]:
    """`make(num_envs)` of host env `name`."""
    prefix, env_id = split(name)
    return functools.partial(adapter(prefix).make, env_id)


def render_frames(name: str, policy, steps: int, seed: int = 0):
    """Frames [T, H, W, 3] of one episode of host env `name` under `policy`; ValueError
    where its adapter cannot render (only gymnasium's can)."""
    prefix, env_id = split(name)
    render = getattr(adapter(prefix), "render_frames", None)
    if render is None:
        raise ValueError(f"--video: {prefix} envs cannot be rendered by play (gymnasium's can)")
    return render(env_id, policy, steps, seed)


def can_render(name: str) -> bool:
    """Whether play can write a video of host env `name`."""
    return hasattr(adapter(split(name)[0]), "render_frames")


def make_host_env(name: str, num_envs: int) -> HostEnv:
    """The callback env of host env `name` with `num_envs` envs per seed."""
    return HostEnv(host_task(name), factory(name), num_envs)
