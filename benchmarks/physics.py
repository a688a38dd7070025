"""Raw env stepping throughput per physics backend and batch size; no learning.

    python benchmarks/physics.py --env go1_flat --num-envs 1024 2048 4096 \
        [--backends motrixsim mjx] [--steps 100] [--out benchmarks/results/physics_go1_flat]

For each batch size:
- motrixsim: MotrixSim's host loop alone (set controls, `step_n`, read qpos/qvel; no JAX),
- motrixsim_env: our env on MotrixSim with random actions under `jax.jit(lax.scan)`: task
  code, resets and one `pure_callback` per control step (shows what the callback costs),
- mjx: `MjxPhysics.step` alone under jit (no task code), and mjx_env: our env on MJX.
MJX is skipped unless asked for (it is slow on a CPU). Prints a table and writes
<out>.json (machine, device, versions, commit, figures) and <out>.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    bar_chart,
    env_random_actions,
    mjx_physics,
    motrixsim_physics,
    print_table,
    run_info,
    save_json,
)

from motrix_jax import envs

MEASURES = {  # column: (backend, function)
    "motrixsim": ("motrixsim", motrixsim_physics),
    "motrixsim_env": ("motrixsim", env_random_actions),
    "mjx": ("mjx", mjx_physics),
    "mjx_env": ("mjx", env_random_actions),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="go1_flat")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--backends", nargs="+", default=["motrixsim"],
                        choices=["motrixsim", "mjx"])
    parser.add_argument("--steps", type=int, default=100, help="control steps timed")
    parser.add_argument("--out", help="write <out>.json and <out>.png")
    args = parser.parse_args()
    name = envs.canonical_name(args.env)
    columns = [c for c, (backend, _) in MEASURES.items() if backend in args.backends]
    result = {**run_info(sys.argv), "env": name, "steps": args.steps, "rows": []}
    for n in args.num_envs:
        row = {"num_envs": n}
        for backend in args.backends:
            env = envs.make(name, n, physics=backend)
            for column in columns:
                if MEASURES[column][0] == backend:
                    row[column] = MEASURES[column][1](env, args.steps)
        if "motrixsim" in row:
            row["env_over_physics"] = row["motrixsim_env"] / row["motrixsim"]
        result["rows"].append(row)
        print(f"{n} envs: " + ", ".join(f"{k} {v:,.0f}" for k, v in row.items()
                                         if k in columns), flush=True)
    print(f"\n{name} on {result['device']} ({result['cpus']} CPUs), env-steps/s")
    print_table(["num_envs", *columns],
                [[r["num_envs"], *(r[c] for c in columns)] for r in result["rows"]])
    if args.out:
        save_json(result, f"{args.out}.json")
        bar_chart([str(r["num_envs"]) for r in result["rows"]],
                  {c: [r[c] for r in result["rows"]] for c in columns},
                  f"{name}: physics-only stepping, {result['device']}", f"{args.out}.png")


if __name__ == "__main__":
    jax.numpy.zeros(())  # initialise the backend before timing
    main()
