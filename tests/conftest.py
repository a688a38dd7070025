import os

# Before JAX initialises: XLA's concurrency-optimised CPU scheduler deadlocked
# jit(vmap(mjx.step)) on 2 cores (../shared/MOTRIXSIM.md); test_mjx.py may not be first.
# The tests run most programs for a few steps, so compiling is most of their time: LLVM
# without optimisation compiles them faster (measured: test_navigation.py and
# test_go1.py 75 s -> 54 s on 2 cores); training itself keeps XLA's defaults, and so do
# the tests' MJX rollouts (`jit_for`), whose physics runs long enough to want them.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_cpu_enable_concurrency_optimized_scheduler=false"
                           + " --xla_backend_optimization_level=0"
                           + " --xla_llvm_disable_expensive_passes=true")
# MuJoCo picks its OpenGL backend when first imported (test_mjx.py imports it at
# collection); play's off-screen rendering needs EGL here.
os.environ.setdefault("MUJOCO_GL", "egl")

import dataclasses
import functools
import tempfile
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax_physics import JaxCartpolePhysics

from motrix_jax import envs
from motrix_jax.env import Env

# Programs without host callbacks (the pure-JAX physics) are compiled once and then read
# from disk, here and in later runs; programs calling MotrixSim are never cached.
jax.config.update("jax_compilation_cache_dir",
                  str(Path(tempfile.gettempdir()) / "motrix_jax_test_jax_cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


OPTIMISED = {"xla_backend_optimization_level": 2, "xla_llvm_disable_expensive_passes": False}


def jit_for(physics, fn):
    """`jax.jit(fn)`, with XLA's optimised code generation for MJX programs."""
    return jax.jit(fn, compiler_options=OPTIMISED if physics.name == "mjx" else None)


def random_rollout(env, steps: int):
    """A jitted function of a key: scan of `steps` env steps with N(0, 1) actions."""
    def body(state, k):
        state = env.step(state, jax.random.normal(k, (env.num_envs, env.action_size)))
        return state, state

    def run(key):
        key_reset, key_act = jax.random.split(key)
        return jax.lax.scan(body, env.reset(key_reset), jax.random.split(key_act, steps))[1]
    return jit_for(env.physics, run)


def check_rollout_contract(env, steps: int = 30):
    """The env contract over a random rollout with 12-step episodes: shapes, dtypes,
    finite values, exclusive flags, every first episode ended by step 12, each reward
    term logged, bit-identical reruns with a key and different runs with another."""
    env.task = dataclasses.replace(env.task, episode_length=12)
    n, run = env.num_envs, random_rollout(env, steps)
    first = run(jax.random.PRNGKey(0))
    chex.assert_shape([first.obs, first.final_obs], (steps, n, env.obs_size))
    chex.assert_shape([first.reward, first.terminated, first.truncated], (steps, n))
    assert first.obs.dtype == jnp.float32
    chex.assert_tree_all_finite((first.obs, first.final_obs, first.reward, first.reward_terms))
    assert not bool(first.nonfinite.any())
    assert not bool((first.terminated & first.truncated).any())
    # each env's first episode ends by step 12: a failure, or truncation at step 12
    assert bool((first.truncated[11] | first.terminated[:12].any(0)).all())
    assert set(first.reward_terms) == set(env.task.reward_scales)
    # bit-identical: a full reset starts from fresh MotrixSim worlds (no warm starts kept)
    np.testing.assert_array_equal(first.final_obs, run(jax.random.PRNGKey(0)).final_obs)
    assert not np.allclose(first.final_obs, run(jax.random.PRNGKey(1)).final_obs)


@functools.cache
def env_rollout(env):
    """Jitted (key, actions [T, N, act]) -> stacked EnvStates of env.step from
    env.reset(key), compiled once per env object and action shape in a session."""
    def body(state, action):
        state = env.step(state, action)
        return state, state
    return jit_for(env.physics,
                   lambda key, actions: jax.lax.scan(body, env.reset(key), actions)[1])


def run_actions(env, steps: int, action_fn, key: int = 0):
    """Jitted scan of `steps` env steps with actions `action_fn(key, num_envs)`; returns
    the stacked states."""
    def body(state, k):
        state = env.step(state, action_fn(k, env.num_envs))
        return state, state
    keys = jax.random.split(jax.random.PRNGKey(key + 1), steps)
    return jit_for(env.physics, lambda k: jax.lax.scan(body, env.reset(k), keys)[1])(
        jax.random.PRNGKey(key))


@pytest.fixture
def cartpole_task():
    return envs.make_task("cartpole")


@functools.cache
def jax_cartpole(num_envs: int, **task_changes) -> Env:
    """Cartpole on the pure-JAX reference physics (no host callback). One env object per
    argument set in a test session, so the trainer's compiled programs (cached per env
    object) are shared between tests; its physics holds no state."""
    task = dataclasses.replace(envs.make_task("cartpole"), **task_changes)
    return Env(task, JaxCartpolePhysics(), num_envs)


def motrix_cartpole(num_envs: int, **task_changes) -> Env:
    env = envs.make("cartpole", num_envs)
    env.task = dataclasses.replace(env.task, **task_changes)
    return env
