"""End-to-end PPO throughput for a task and its preset, split into rollout and learning,
beside physics-only stepping measured in the same run.

    python benchmarks/train_speed.py --env go1_flat --num-envs 1024 2048 4096 \
        [--physics motrixsim|mjx|mujoco] [--updates 5] [--out benchmarks/results/train_go1_flat]

Per batch size: physics-only env-steps/s (MotrixSim's host loop, MuJoCo C's host, or MJX's step under
jit), our end-to-end training env-steps/s (whole jitted updates back to back), the
seconds of one update and of its two halves timed alone (rollout: policy + env for
`rollouts` steps; learn: GAE, minibatch orders, epochs, statistics), and the ratio
train / physics. Prints a table and writes <out>.json and <out>.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    bar_chart,
    host_physics,
    mjx_physics,
    print_table,
    run_info,
    save_json,
    train_split,
)

from motrix_jax import envs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="go1_flat")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[2048])
    parser.add_argument("--physics", default="motrixsim", choices=["motrixsim", "mjx", "mujoco"])
    parser.add_argument("--updates", type=int, default=5, help="PPO updates timed")
    parser.add_argument("--out", help="write <out>.json and <out>.png")
    args = parser.parse_args()
    name = envs.canonical_name(args.env)
    physics_only = {"motrixsim": host_physics, "mjx": mjx_physics,
                    "mujoco": host_physics}[args.physics]
    result = {**run_info(sys.argv), "env": name, "physics": args.physics, "rows": []}
    for n in args.num_envs:
        cfg = dataclasses.replace(envs.preset(name), num_envs=n)
        env = envs.make(name, n, physics=args.physics)
        row = {"num_envs": n, "physics_only": physics_only(env, cfg.rollouts * args.updates),
               **{f"train_{k}": v for k, v in train_split(env, cfg, args.updates).items()}}
        row["train_over_physics"] = row["train_steps_per_s"] / row["physics_only"]
        result["rows"].append(row)
        result["config"] = {k: v for k, v in dataclasses.asdict(cfg).items()
                            if k != "num_envs"}
        print(row, flush=True)
    print(f"\n{name} on {args.physics}, {result['device']} ({result['cpus']} CPUs)")
    print_table(["num_envs", "physics env-steps/s", "train env-steps/s", "train/physics",
                 "update s", "rollout s", "learn s"],
                [[r["num_envs"], r["physics_only"], r["train_steps_per_s"],
                  r["train_over_physics"], r["train_update_s"], r["train_rollout_s"],
                  r["train_learn_s"]] for r in result["rows"]])
    if args.out:
        save_json(result, f"{args.out}.json")
        rows = result["rows"]
        bar_chart([str(r["num_envs"]) for r in rows],
                  {"physics only": [r["physics_only"] for r in rows],
                   "PPO end to end": [r["train_steps_per_s"] for r in rows]},
                  f"{name} on {args.physics}: physics vs training, {result['device']}",
                  f"{args.out}.png")


if __name__ == "__main__":
    jax.numpy.zeros(())  # initialise the backend before timing
    main()
