"""Measurements and output shared by the benchmark scripts (benchmarks/ is not a package:
the scripts put this folder on sys.path).

Every rate is env-steps/s: control steps of one world per second (each is
`ctrl_dt / sim_dt` physics substeps). Timed regions start after compilation and
end with `block_until_ready`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from motrix_jax.ppo import make_ppo, minibatch_orders


def host_physics(env, steps: int) -> float:
    """A host engine alone (`HostPhysics.host_step`: controls in, the physics substeps,
    qpos/qvel/contacts out; no JAX, no resets): for MotrixSim `step_n` and a read-back,
    for MuJoCo's C engine one `mujoco.rollout` over every world's substeps. The controls
    are the task's mapping of N(0, 0.5^2) actions (for Go1: joint targets near the
    standing pose, as a young policy gives)."""
    n = env.num_envs
    qpos, qvel, info = env.task.reset(jax.random.PRNGKey(0), n, env.task.initial_info(n))
    env.physics.host_reset(np.asarray(qpos), np.asarray(qvel))
    actions = 0.5 * jax.random.normal(jax.random.PRNGKey(0), (steps, n, env.action_size))
    ctrl = np.asarray(jax.vmap(lambda a: env.task.ctrl(a, info))(actions), np.float32)
    start = time.perf_counter()
    for t in range(steps):
        env.physics.host_step(ctrl[t])
    return n * steps / (time.perf_counter() - start)



def env_random_actions(env, steps: int) -> float:
    """Our env (task + physics; for MotrixSim through the callback) under
    `jax.jit(lax.scan)` with N(0, 0.5^2) actions and automatic resets."""
    def run(key):
        def body(state, k):
            action = 0.5 * jax.random.normal(k, (env.num_envs, env.action_size))
            return env.step(state, action), ()
        state, _ = jax.lax.scan(body, env.reset(key), jax.random.split(key, steps))
        return state.obs
    run = jax.jit(run)
    run(jax.random.PRNGKey(0)).block_until_ready()
    start = time.perf_counter()
    run(jax.random.PRNGKey(1)).block_until_ready()
    return env.num_envs * steps / (time.perf_counter() - start)


def mjx_physics(env, steps: int) -> float:
    """`MjxPhysics.step` alone under `jax.jit(lax.scan)`: no task code, no resets."""
    physics, n = env.physics, env.num_envs

    def run(key):
        key_init, key_ctrl = jax.random.split(key)
        qpos, qvel, info = env.task.reset(key_init, n, env.task.initial_info(n))
        no_reset = jnp.zeros((n,), bool)

        def body(view, k):
            ctrl = env.task.ctrl(0.5 * jax.random.normal(k, (n, env.action_size)), info)
            return physics.step(view, ctrl, no_reset, qpos, qvel), ()
        view, _ = jax.lax.scan(body, physics.reset(qpos, qvel),
                               jax.random.split(key_ctrl, steps))
        return view.qpos
    run = jax.jit(run)
    run(jax.random.PRNGKey(0)).block_until_ready()
    start = time.perf_counter()
    run(jax.random.PRNGKey(1)).block_until_ready()
    return n * steps / (time.perf_counter() - start)


def train_split(env, cfg, updates: int, split: bool = True) -> dict:
    """End-to-end PPO: whole jitted updates timed back to back, and (if `split`; two more
    programs to compile) the two halves of an update timed alone: the rollout (policy +
    env for `rollouts` steps) and the learning (GAE + minibatch orders + epochs +
    statistics). Seconds are per update."""
    ppo = make_ppo(cfg, env)
    update = jax.jit(ppo.update, donate_argnums=0)
    rollout = jax.jit(ppo.rollout)
    orders = jax.jit(lambda k: minibatch_orders(k, cfg.learning_epochs, cfg.batch_size))
    learn = jax.jit(ppo.learn)
    state = jax.jit(ppo.init)(jax.random.PRNGKey(0))
    state, _ = update(state)  # compile
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(updates):
        state, _ = update(state)
    jax.block_until_ready(state)
    update_s = (time.perf_counter() - start) / updates
    if not split:
        return {"steps_per_s": cfg.batch_size / update_s, "update_s": update_s}

    env_state, traj = rollout(state, jax.random.PRNGKey(1))  # compile both halves
    jax.block_until_ready(learn(state.replace(env_state=env_state), traj,
                                orders(jax.random.PRNGKey(2))))
    rollout_s = learn_s = 0.0
    for i in range(updates):
        start = time.perf_counter()
        env_state, traj = rollout(state.replace(env_state=env_state), jax.random.PRNGKey(i))
        jax.block_until_ready(traj)
        middle = time.perf_counter()
        jax.block_until_ready(learn(state, traj, orders(jax.random.PRNGKey(i))))
        rollout_s += middle - start
        learn_s += time.perf_counter() - middle
    return {"steps_per_s": cfg.batch_size / update_s, "update_s": update_s,
            "rollout_s": rollout_s / updates, "learn_s": learn_s / updates}


def run_info(argv: list[str]) -> dict:
    """Where and with what a result was measured."""
    device = jax.devices()[0]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                check=False, text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = ""
    versions = {}
    for package in ("jax", "flax", "optax", "motrixsim", "mujoco", "mujoco-mjx", "skrl",
                    "rsl-rl-lib", "torch", "brax", "playground"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {"command": " ".join(["python", *argv]), "commit": commit,
            "machine": f"{platform.machine()} {platform.node()}", "cpus": os.cpu_count(),
            "device": f"{device.platform}:{device.device_kind}", "python": sys.version.split()[0],
            "versions": versions, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}


def save_json(result: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))


def bar_chart(groups: list[str], series: dict[str, list[float]], title: str, path,
              ylabel: str = "env-steps/s") -> None:
    """Grouped bars: one group per entry of `groups`, one bar per series (NaN: none)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2.2 + 1.6 * len(groups) * max(1, len(series)) / 3, 4))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = np.arange(len(groups)) + (i - (len(series) - 1) / 2) * width
        bars = ax.bar(xs, values, width, label=name)
        ax.bar_label(bars, labels=[f"{v / 1e3:.1f}k" if np.isfinite(v) else "" for v in values],
                     fontsize=7)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def print_table(header: list[str], rows: list[list]) -> None:
    """A plain aligned table; floats >= 100 printed as integers with separators."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
        return str(v)
    text = [[cell(v) for v in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in text) for i in range(len(header))]
    for j, row in enumerate(text):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))
