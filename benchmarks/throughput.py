"""Raw MotrixSim stepping vs end-to-end PPO training throughput, measured in one run.

    python benchmarks/throughput.py --env go1_flat [--num-envs 1024 2048 4096] [--updates 10]

1. physics: the host loop alone (set controls, `step_n`, read qpos/qvel; no JAX),
2. env: our env under `jax.jit(lax.scan)` with random actions (adds the callback),
3. train: whole PPO updates (rollout + GAE + epochs), after compilation.
Prints env-steps/s (control steps; each is `ctrl_dt / sim_dt` physics substeps) for
each batch size and the ratios train/physics and env/physics.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from motrix_jax import envs
from motrix_jax.ppo import make_ppo


def physics_only(env, steps: int) -> float:
    host = env.physics.host
    n = env.num_envs
    qpos, qvel, _ = env.task.reset(jax.random.PRNGKey(0), n, env.task.initial_info(n))
    host.reset(np.asarray(qpos), np.asarray(qvel))
    # the controls the policy's first actions would give (e.g. joint targets near q0)
    actions = 0.5 * jax.random.normal(jax.random.PRNGKey(0), (steps, n, env.action_size))
    ctrl = np.asarray(jax.vmap(env.task.ctrl)(actions), np.float32)
    start = time.perf_counter()
    for t in range(steps):
        host.data.actuator_ctrls = ctrl[t]
        host.model.step_n(host.data, host.substeps)
        host.program.execute(host.data)  # read back, as the env does
    return n * steps / (time.perf_counter() - start)


def env_with_callback(env, steps: int) -> float:
    def run(key):
        def body(state, k):
            return env.step(state, jax.random.normal(k, (env.num_envs, env.action_size))), ()
        state = env.reset(key)
        state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
        return state.obs
    run = jax.jit(run)
    run(jax.random.PRNGKey(0)).block_until_ready()
    start = time.perf_counter()
    run(jax.random.PRNGKey(1)).block_until_ready()
    return env.num_envs * steps / (time.perf_counter() - start)


def training(env, cfg, updates: int) -> float:
    ppo = make_ppo(cfg, env)
    update = jax.jit(ppo.update, donate_argnums=0)
    state = jax.jit(ppo.init)(jax.random.PRNGKey(0))
    state, _ = update(state)
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(updates):
        state, _ = update(state)
    jax.block_until_ready(state)
    return updates * cfg.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="cartpole")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[2048])
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    rows = []
    for num_envs in args.num_envs:
        cfg = dataclasses.replace(envs.preset(args.env), num_envs=num_envs)
        env = envs.make(args.env, cfg.num_envs)
        steps = cfg.rollouts * args.updates
        figures = {"num_envs": num_envs, "physics_only": physics_only(env, steps),
                   "env_with_callback": env_with_callback(env, steps),
                   "train_end_to_end": training(env, cfg, args.updates)}
        figures["train_over_physics"] = figures["train_end_to_end"] / figures["physics_only"]
        figures["env_over_physics"] = figures["env_with_callback"] / figures["physics_only"]
        rows.append(figures)
        print(f"{args.env} {num_envs} envs (env-steps/s)")
        for name, value in figures.items():
            print(f"  {name:<22} {value:>12,.2f}" if "over" in name
                  else f"  {name:<22} {value:>12,.0f}")
    if args.out:
        meta = {"env": args.env, "machine": platform.node(),
                "processor": platform.processor(), "cpus": os.cpu_count(),
                "device": str(jax.devices()[0]), "jax": jax.__version__}
        with open(args.out, "w") as f:
            json.dump({**meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    jnp.zeros(())  # initialise the backend before timing
    main()
