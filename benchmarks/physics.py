"""Raw env stepping throughput per physics backend and batch size; no learning.

    python benchmarks/physics.py --env go1_flat --num-envs 1024 2048 4096 \
        [--backends motrixsim mjx] [--steps 100] [--out benchmarks/results/physics_go1_flat]
    python benchmarks/physics.py --env go1_flat go1_rough go1_stairs --num-envs 2048 \
        --backends motrixsim mujoco --task-set "initial_levels=0 1 2 3 4 5 6 7 8 9"
    python benchmarks/physics.py --env go1_flat --backends mjx --num-envs 64 256 \
        --variant "full, MuJoCo solver=collision=full,mujoco_solver.iterations=100,\
mujoco_solver.ls_iterations=50,mujoco_solver.eulerdamp=true" --variant "lean="

For each env, variant (a set of `--task-set` changes, e.g. the contact model or the
MJX solver settings; compared side by side in one run) and batch size:
- motrixsim: MotrixSim's host loop alone (set controls, `step_n`, read qpos/qvel; no JAX),
- motrixsim_env: our env on MotrixSim with random actions under `jax.jit(lax.scan)`: task
  code, resets and one `pure_callback` per control step (shows what the callback costs),
- mujoco: MuJoCo's C engine alone through its host (one `mujoco.rollout` per control
  step, on every core), and mujoco_env: our env on it, through the callback,
- mjx: `MjxPhysics.step` alone under jit (no task code), and mjx_env: our env on MJX;
  with MJX, the per-world contacts and constraint rows MJX allocates and the
  microseconds one physics substep of the whole batch takes (from the mjx column).
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
    host_physics,
    mjx_physics,
    print_table,
    run_info,
    save_json,
)

from motrix_jax import envs

MEASURES = {  # column: (backend, function)
    "motrixsim": ("motrixsim", host_physics),
    "motrixsim_env": ("motrixsim", env_random_actions),
    "mjx": ("mjx", mjx_physics),
    "mjx_env": ("mjx", env_random_actions),
    "mujoco": ("mujoco", host_physics),
    "mujoco_env": ("mujoco", env_random_actions),
}


def parse_variant(text: str) -> tuple[str, list[str]]:
    """"label=field=value,field=value" -> (label, ["field=value", ...])."""
    label, _, changes = text.partition("=")
    return label, [c for c in changes.split(",") if c]


def measure(name: str, changes: dict, n: int, backends: list[str], steps: int) -> dict:
    """One row: every column of `backends` for env `name` with task `changes`, n envs."""
    row = {"num_envs": n}
    for backend in backends:
        env = envs.make(name, n, physics=backend, task_changes=changes)
        for column, (owner, function) in MEASURES.items():
            if owner == backend:
                row[column] = function(env, steps)
        if backend == "mjx":
            options = env.physics.options
            row["contacts"], row["constraint_rows"] = (options["contacts"],
                                                       options["constraint_rows"])
            row["us_per_substep"] = 1e6 * n / (row["mjx"] * options["substeps"])
            row["mjx_options"] = options
    if "motrixsim" in row:
        row["env_over_physics"] = row["motrixsim_env"] / row["motrixsim"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", nargs="+", default=["go1_flat"])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--backends", nargs="+", default=["motrixsim"],
                        choices=["motrixsim", "mjx", "mujoco"])
    parser.add_argument("--steps", type=int, default=100, help="control steps timed")
    parser.add_argument("--task-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="task field for every variant (repeatable)")
    parser.add_argument("--variant", action="append", default=[],
                        metavar="LABEL=FIELD=VALUE,...",
                        help="a named set of task changes, measured beside the others")
    parser.add_argument("--out", help="write <out>.json and <out>.png")
    args = parser.parse_args()
    try:
        names = [envs.canonical_name(name) for name in args.env]
        variants = [parse_variant(v) for v in args.variant] or [("", [])]
        changes = {(name, label): envs.parse_task_changes(name, args.task_set + items)
                   for name in names for label, items in variants}
    except ValueError as error:
        parser.exit(2, f"physics.py: {error}\n")
    if "mjx" in args.backends:
        import motrix_jax.physics.mjx  # noqa: F401  (sets its XLA flag before JAX starts)
    jax.numpy.zeros(())  # initialise the backend before timing
    columns = [c for c, (backend, _) in MEASURES.items() if backend in args.backends]
    if "mjx" in args.backends:
        columns += ["contacts", "constraint_rows", "us_per_substep"]
    result = {**run_info(sys.argv), "env": names, "steps": args.steps, "rows": []}
    for (name, label), change in changes.items():
        for n in args.num_envs:
            row = {"env": name, "variant": label, "task_changes": change,
                   **measure(name, change, n, args.backends, args.steps)}
            result["rows"].append(row)
            print(f"{name} {label} {n} envs: " + ", ".join(
                f"{k} {row[k]:,.0f}" for k in columns), flush=True)
    print(f"\n{result['device']} ({result['cpus']} CPUs), env-steps/s")
    print_table(["env", "variant", "num_envs", *columns],
                [[r["env"], r["variant"], r["num_envs"], *(r[c] for c in columns)]
                 for r in result["rows"]])
    if args.out:
        save_json(result, f"{args.out}.json")
        rates = [c for c in columns if c in MEASURES]
        bar_chart([f"{r['env']} {r['variant']} {r['num_envs']}".strip() for r in result["rows"]],
                  {c: [r[c] for r in result["rows"]] for c in rates},
                  f"physics-only stepping, {result['device']}", f"{args.out}.png")


if __name__ == "__main__":
    main()
