"""motrix_jax vs Brax's PPO on the same MJX task and batch settings: env-steps/s.

    python benchmarks/vs_brax.py --env go1_flat --num-envs 4096 8192 [--updates 10] \
        [--set mini_batches=4] [--rounds 1] [--out benchmarks/results/vs_brax_h200]

Per batch size: MJX physics alone, ours end to end (whole jitted updates, after
compilation) and Brax's `ppo.train` on the same env through `brax_adapter.py`, with
the same PPO settings (`--set FIELD=VALUE` changes the preset for both; Brax needs
num_envs divisible by mini_batches). Brax's figure is its own `training/sps` of the
third of three training epochs of `--updates` updates (the first compiles and, with
our env state, so does the second). Made for a GPU; on a CPU it runs, slowly.
Brax is benchmark-only: pip install brax (see the [bench] extra); missing, it is skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import bar_chart, mjx_physics, print_table, run_info, save_json, train_split

from motrix_jax import envs
from motrix_jax.config import with_overrides


def brax_speed(env, cfg, updates: int) -> float:
    from brax.training.agents.ppo import train as ppo
    from brax_adapter import MotrixBraxEnv, brax_kwargs

    rates = []
    # num_evals=4: Brax runs three training epochs of num_timesteps / 3 env steps each
    # and reports each one's env-steps/s to progress_fn.
    ppo.train(MotrixBraxEnv(env), num_timesteps=3 * updates * cfg.batch_size, num_evals=4,
              progress_fn=lambda step, m: rates.append(float(m["training/sps"]))
              if "training/sps" in m else None, **brax_kwargs(cfg, env.task.episode_length))
    print("brax training/sps per epoch:", [round(r) for r in rates], flush=True)
    return rates[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="go1_flat")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[4096, 8192])
    parser.add_argument("--updates", type=int, default=10, help="PPO updates timed")
    parser.add_argument("--steps", type=int, default=200, help="physics steps timed")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--out", help="write <out>.json and <out>.png")
    args = parser.parse_args()
    name = envs.canonical_name(args.env)
    have_brax = importlib.util.find_spec("brax") is not None
    if not have_brax:
        print("skipping Brax: not installed (pip install brax, or pip install -e '.[bench]')")
    result = {**run_info(sys.argv), "env": name, "physics": "mjx", "rows": []}
    for n in args.num_envs:
        cfg = with_overrides(dataclasses.replace(envs.preset(name), num_envs=n), args.set)
        env = envs.make(name, n, physics="mjx")
        runs = {"physics": [], "ours": [], **({"brax": []} if have_brax else {})}
        for r in range(args.rounds):
            runs["physics"].append(mjx_physics(env, args.steps))
            runs["ours"].append(train_split(env, cfg, args.updates, split=False)["steps_per_s"])
            if have_brax:
                runs["brax"].append(brax_speed(env, cfg, args.updates))
            print(n, {k: round(v[-1]) for k, v in runs.items()}, flush=True)
        row = {"num_envs": n, "runs": runs,
               **{k: statistics.median(v) for k, v in runs.items()}}
        if have_brax:
            row["ours_over_brax"] = row["ours"] / row["brax"]
        result["rows"].append(row)
        result["config"] = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "num_envs"}
        if args.out:  # after each row, so a run cut short keeps what it measured
            save_json(result, f"{args.out}.json")
    columns = ["physics", "ours", *(["brax", "ours_over_brax"] if have_brax else [])]
    print(f"\n{name} on MJX, {result['device']}, env-steps/s")
    print_table(["num_envs", *columns], [[r["num_envs"], *(r[c] for c in columns)]
                                        for r in result["rows"]])
    if args.out:
        save_json(result, f"{args.out}.json")
        bar_chart([str(r["num_envs"]) for r in result["rows"]],
                  {c: [r[c] for r in result["rows"]] for c in columns if "over" not in c},
                  f"{name} on MJX: PPO end to end, {result['device']}", f"{args.out}.png")


if __name__ == "__main__":
    main()
