"""MJX throughput: physics alone vs end-to-end PPO training, per batch size.

    python benchmarks/mjx_throughput.py --env cartpole --num-envs 1024 4096 [--out f.json]

1. physics: `MjxPhysics.step` under `jax.jit(lax.scan)`, no task code; the controls are the
   task's mapping of random actions N(0, 0.5^2) (for Go1: joint targets near the default
   pose, as a young policy gives), never reset,
2. train: whole PPO updates with the task's preset at that batch size, after compilation
   (skipped with --no-train),
3. with --motrixsim: MotrixSim's host stepping alone at the same batch size, for comparison.
Each figure is world-steps/s; compile times are reported beside them. Results are
written after each batch size, so a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from motrix_jax import envs

sys.path.insert(0, str(Path(__file__).parent))
from throughput import physics_only as motrixsim_only  # benchmarks/ is not a package
from throughput import training


def physics_only(env, steps: int) -> tuple[float, float]:
    """(world-steps/s, compile + first run s) of `steps` control steps of the physics."""
    physics, n = env.physics, env.num_envs

    def run(key):
        key_init, key_ctrl = jax.random.split(key)
        qpos, qvel, _ = env.task.reset(key_init, n, env.task.initial_info(n))
        no_reset = jnp.zeros((n,), bool)

        def body(view, k):
            ctrl = env.task.ctrl(0.5 * jax.random.normal(k, (n, env.action_size)))
            return physics.step(view, ctrl, no_reset, qpos, qvel), ()
        view, _ = jax.lax.scan(body, physics.reset(qpos, qvel), jax.random.split(key_ctrl, steps))
        return view.qpos

    run = jax.jit(run)
    start = time.perf_counter()
    run(jax.random.PRNGKey(0)).block_until_ready()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    run(jax.random.PRNGKey(1)).block_until_ready()
    return n * steps / (time.perf_counter() - start), compile_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="cartpole")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1024])
    parser.add_argument("--steps", type=int, default=200, help="control steps timed (physics)")
    parser.add_argument("--updates", type=int, default=5, help="PPO updates timed")
    parser.add_argument("--no-train", action="store_true", help="physics figures only")
    parser.add_argument("--motrixsim", action="store_true",
                        help="also time MotrixSim's host stepping at each batch size")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    device = jax.devices()[0]
    result = {"env": args.env, "physics": "mjx", "device": f"{device.platform}:"
              f"{device.device_kind}", "host": platform.node(), "jax": jax.__version__,
              "command": " ".join(["python", *sys.argv]), "runs": []}

    def save(run):  # after each figure, so a run cut short keeps what it measured
        print(json.dumps(run), flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2))

    for n in args.num_envs:
        cfg = dataclasses.replace(envs.preset(args.env), num_envs=n)
        env = envs.make(args.env, n, physics="mjx")
        physics_rate, physics_compile_s = physics_only(env, args.steps)
        run = {"num_envs": n, "physics_steps_per_s": round(physics_rate),
               "physics_compile_s": round(physics_compile_s, 1)}
        result["runs"].append(run)
        save(run)
        if not args.no_train:
            start = time.perf_counter()
            run["train_steps_per_s"] = round(training(env, cfg, args.updates))
            run["train_compile_and_timed_s"] = round(time.perf_counter() - start, 1)
            run.update(rollouts=cfg.rollouts, learning_epochs=cfg.learning_epochs,
                       mini_batches=cfg.mini_batches)
        if args.motrixsim:
            host_env = envs.make(args.env, n, physics="motrixsim")
            run["motrixsim_physics_steps_per_s"] = round(motrixsim_only(host_env, args.steps))
        save(run)


if __name__ == "__main__":
    main()
