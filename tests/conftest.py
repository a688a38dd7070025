import os

# Before JAX initialises: XLA's concurrency-optimised CPU scheduler deadlocked
# jit(vmap(mjx.step)) on 2 cores (../shared/MOTRIXSIM.md); test_mjx.py may not be first.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_cpu_enable_concurrency_optimized_scheduler=false")
# MuJoCo picks its OpenGL backend when first imported (test_mjx.py imports it at
# collection); play's off-screen rendering needs EGL here.
os.environ.setdefault("MUJOCO_GL", "egl")

import dataclasses
import tempfile
from pathlib import Path

import jax
import pytest
from jax_physics import JaxCartpolePhysics

from motrix_jax import envs
from motrix_jax.env import Env

# Programs without host callbacks (the pure-JAX physics) are compiled once and then read
# from disk, here and in later runs; programs calling MotrixSim are never cached.
jax.config.update("jax_compilation_cache_dir",
                  str(Path(tempfile.gettempdir()) / "motrix_jax_test_jax_cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@pytest.fixture
def cartpole_task():
    return envs.make_task("cartpole")


def jax_cartpole(num_envs: int, **task_changes) -> Env:
    """Cartpole on the pure-JAX reference physics (no host callback)."""
    task = dataclasses.replace(envs.make_task("cartpole"), **task_changes)
    return Env(task, JaxCartpolePhysics(), num_envs)


def motrix_cartpole(num_envs: int, **task_changes) -> Env:
    env = envs.make("cartpole", num_envs)
    env.task = dataclasses.replace(env.task, **task_changes)
    return env
