"""The learning suite: every registered task (or a named subset) trained from seed 0 for
a stated budget, its deterministic policy evaluated by the task's own success measure,
one table.

    python benchmarks/suite.py [--tasks cartpole dm_walker ...] [--minutes M]
                               [--physics motrixsim|mjx|mujoco] [--out benchmarks/results/suite]
                               [--task-set FIELD=VALUE ...] [--set FIELD=VALUE ...]

Each task trains its preset with `benchmarks/learn.py`'s loop (a run folder under
runs/suite/) for its target's budget (or `--minutes`), then its deterministic policy
runs one episode on fresh envs (`sim2sim.on_engine`: full command ranges, terrain levels
held; Go1 on terrain is judged by learn.py's terrain evaluation). A task's result is
written to OUT/<task>.json as soon as it is done, and a later run skips every task whose
result is there for the same backend, budget, task and PPO changes (`--redo` retrains;
`--reevaluate` runs the evaluation of done tasks again from their run folders), so the
suite runs in pieces, on several machines, and the table fills up: OUT/suite.md (the
table, also printed), OUT/suite.json and OUT/suite.png (every task's return curve).
`--task-set` changes a task field in training (a trial of a task option, best with its
own `--out`; evaluations still hold `envs.evaluation_changes`) and `--set` a field of
the preset's PPO config (e.g. a network sized for this CPU); the table names both
beside the task.

What each task is for (its target: checks on the evaluation, each met or not) and its
budget are declared beside the task, in its registry entry (envs/spec.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import run_info
from learn import chain_wall_s, learn
from sim2sim import on_engine

from motrix_jax import envs
from motrix_jax.config import with_overrides
from motrix_jax.envs.spec import DEFAULT_MINUTES, at_least, at_most  # noqa: F401
from motrix_jax.ppo import check_env
from motrix_jax.run_folder import CheckpointError, make_run_dir

# Each task's target (what it is for, as checks on the evaluation) and its budget
# (minutes of training on a 2-core CPU) are declared beside the task, in its registry
# entry (envs/spec.py: Target); these are every registered task's.
TARGETS = {name: (spec.target.what, list(spec.target.checks), spec.target.measure)
           for name, spec in envs.REGISTRY.items()}
BUDGET_MINUTES = {name: spec.target.minutes for name, spec in envs.REGISTRY.items()}


def ppo_changes(name: str, assignments: list[str], task_changes: dict | None = None
                ) -> dict[str, str]:
    """`--set field=value` strings as {field: value text}, checked against the preset of
    `name` and its task with `task_changes` (ValueError naming a bad field, value or
    config, e.g. symmetry augmentation on a task without mirrors), before any training."""
    cfg = with_overrides(envs.preset(name), assignments)
    changes = {k.strip(): v.strip() for k, v in (item.split("=", 1) for item in assignments)}
    if {"seed", "num_seeds"} & set(changes):
        raise ValueError("the suite trains seed 0 alone: --set seed or num_seeds is not for it")
    task = envs.with_task_changes(envs.make_task(name), task_changes or {})
    check_env(cfg, envs.Env(task, None, cfg.num_envs))
    return changes


def run_task(name: str, minutes: float, physics: str, run_root: Path,
             task_changes: dict, ppo: dict[str, str], init_from: Path | None = None) -> dict:
    """Train `name` for `minutes` (its preset with the `ppo` changes; from `init_from`'s
    policy where given), evaluate its deterministic policy for one episode; the task's
    result (curve in short, evaluations, checks)."""
    run_dir = make_run_dir(run_root, name)
    result = learn(name, 0, minutes, [f"{k}={v}" for k, v in ppo.items()], physics,
                   run_dir, task_changes, init_from)
    curve = result["curve"]
    trained = {"task": name, "physics": physics, "budget_minutes": minutes,
               "task_changes": task_changes, "ppo_changes": ppo,
               "init_from": result["init_from"], "chain_wall_s": result["chain_wall_s"],
               "machine": run_info(sys.argv), "run_dir": str(run_dir),
               "env_steps": result["env_steps"], "wall_s": result["wall_s"],
               "steps_per_s": result["steps_per_s"],
               "return": result["last_10_updates"]["return"],
               "length_frac": (result["last_10_updates"]["length"]
                               / result["episode_length_max"]),
               "terrain_evaluation": result["evaluation"],
               "curve": [[c["env_steps"], c["return"]] for c in curve]}
    return evaluated(trained)


def evaluated(trained: dict) -> dict:
    """`trained` (a task's training record) with the one-episode evaluation of its run's
    deterministic policy and the checks of its target."""
    name, run_dir = trained["task"], Path(trained["run_dir"])
    steps = envs.make_task(name).episode_length
    what, checks, measure = TARGETS[name]
    evaluation = on_engine(run_dir, trained["physics"], max(32, min(512, 500_000 // steps)),
                           steps, measure)
    measured = {f"eval/{k}": v for k, v in evaluation.items()}
    measured |= {f"terrain/{k}": v for k, v in (trained["terrain_evaluation"] or {}).items()
                 if not isinstance(v, (list, dict))}
    measured["train/length_frac"] = trained.get("length_frac")
    judged = [judge(check, measured) for check in checks]
    return trained | {"target": what, "checks": judged, "met": all(c["met"] for c in judged),
                      "evaluation": evaluation, "evaluated_by": run_info(sys.argv)}


def judge(check: tuple, measured: dict) -> dict:
    label, key, goal, at_least_goal = check
    value = measured.get(key)
    met = value is not None and not math.isnan(value) and (
        value >= goal if at_least_goal else value <= goal)
    return {"label": label, "key": key, "value": value,
            "goal": f"{'>=' if at_least_goal else '<='} {goal:g}", "met": bool(met)}


def table(results: list[dict], names: list[str] = ()) -> str:
    """The Markdown table of `results`, then a "not run yet" row for each of `names`
    without a result."""
    lines = ["| task | backend | machine | env steps | wall | return | target | measured | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        measured = "; ".join(
            f"{c['label']} {'-' if c['value'] is None else format(c['value'], '.3g')} "
            f"({c['goal']})" for c in r["checks"])
        machine = r["machine"]
        ret = "-" if math.isnan(r["return"]) else f"{r['return']:.1f}"
        changes = describe_changes(r)
        task = f"{r['task']} ({changes})" if changes else r["task"]
        wall = f"{r['wall_s'] / 60:.0f} min"
        if r.get("init_from"):  # a chain: this run's time, then the chain's
            wall += f" (chain {r['chain_wall_s'] / 60:.0f} min)"
        lines.append(
            f"| {task} | {r['physics']} | {machine['machine']}, {machine['cpus']} cpus, "
            f"{machine['device']} | {r['env_steps'] / 1e6:.1f}M | {wall} | "
            f"{ret} | {r['target']} | {measured} | {'met' if r['met'] else '**not met**'} |")
    done = {r["task"] for r in results}
    for name in names:
        if name not in done:
            minutes = BUDGET_MINUTES.get(name, DEFAULT_MINUTES)
            lines.append(f"| {name} | - | - | - | - | - | {TARGETS[name][0]} | "
                         f"not run yet ({minutes:g} min budget) | not run yet |")
    return "\n".join(lines) + "\n\nSeed 0; the deterministic policy, one episode per env.\n"


def describe_changes(result: dict) -> str:
    """The task and PPO changes a result was trained with, `field=value, ...`."""
    changes = {**result.get("task_changes", {}), **result.get("ppo_changes", {})}
    if result.get("init_from"):
        changes["init_from"] = result["init_from"]
    return ", ".join(f"{k}={v}" for k, v in changes.items())


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(results))
    rows = math.ceil(len(results) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax in axes.flat[len(results):]:
        ax.axis("off")
    for ax, r in zip(axes.flat, results):
        curve = np.array(r["curve"], dtype=float)
        ax.plot(curve[:, 0] / 1e6, curve[:, 1])
        ax.set_title(f"{r['task']}: {'met' if r['met'] else 'not met'}", fontsize=9)
        ax.set_xlabel("env steps (M)", fontsize=8)
    fig.suptitle("mean episode return, seed 0")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", help="registered names (default: all)")
    parser.add_argument("--minutes", type=float, help="the same budget for every task")
    parser.add_argument("--physics", choices=["motrixsim", "mjx", "mujoco"], default="motrixsim")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/suite"))
    parser.add_argument("--run-root", type=Path, default=Path("runs/suite"))
    parser.add_argument("--redo", action="store_true", help="retrain tasks already done")
    parser.add_argument("--reevaluate", action="store_true",
                        help="evaluate tasks already done again from their runs, no training")
    parser.add_argument("--task-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a task field in training, e.g. course_spawns=0.5")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a PPO config field in training, e.g. learning_epochs=5")
    parser.add_argument("--init-from", type=Path, metavar="RUN_DIR",
                        help="one task only: start from this learn.py/suite run's policy "
                             "(a chain, e.g. section011 from flat ground; its wall time "
                             "counts in chain_wall_s)")
    args = parser.parse_args()
    try:
        names = [envs.canonical_name(n) for n in args.tasks or envs.REGISTRY]
        changes = {n: envs.parse_task_changes(n, args.task_set) for n in names}
        ppo = {n: ppo_changes(n, args.set, changes[n]) for n in names}
        if args.init_from is not None:
            if len(names) != 1:
                raise ValueError(f"--init-from starts one task's run from another; got "
                                 f"{len(names)} tasks")
            chain_wall_s(args.init_from)  # a learn.py run folder, checked before training
    except (envs.UnknownEnvError, ValueError, CheckpointError) as err:
        parser.error(str(err))
    if importlib.util.find_spec("matplotlib") is None:  # before hours of training, not after
        parser.error("suite.png needs matplotlib: pip install -e '.[bench]'")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        minutes = args.minutes or BUDGET_MINUTES.get(name, DEFAULT_MINUTES)
        path = args.out / f"{name}.json"
        done = json.loads(path.read_text()) if path.exists() else None
        if done and args.reevaluate:
            print(f"{name}: evaluating {done['run_dir']} again", flush=True)
            result = evaluated(done)
        elif (done and not args.redo
              and (done["physics"], done["budget_minutes"], done.get("task_changes", {}),
                   done.get("ppo_changes", {}), done.get("init_from"))
              == (args.physics, minutes, changes[name], ppo[name],
                  args.init_from and str(args.init_from))):
            print(f"{name}: done ({'met' if done['met'] else 'not met'}), skipped")
            continue
        elif args.reevaluate:
            continue  # nothing to evaluate again
        else:
            described = describe_changes({"task_changes": changes[name],
                                          "ppo_changes": ppo[name]})
            print(f"{name}: training {minutes:g} min on {args.physics}"
                  + (f" with {described}" if described else ""), flush=True)
            result = run_task(name, minutes, args.physics, args.run_root, changes[name],
                              ppo[name], args.init_from)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        tmp.replace(path)  # a result is there whole or not at all
    order = list(envs.REGISTRY)
    # the results of registered tasks only: OUT may hold other benchmarks' JSON too
    results = [json.loads(p.read_text()) for p in (args.out / f"{n}.json" for n in order)
               if p.exists()]
    results.sort(key=lambda r: order.index(r["task"]))
    text = table(results, order)
    (args.out / "suite.md").write_text(text)
    (args.out / "suite.json").write_text(json.dumps(
        [{k: v for k, v in r.items() if k != "curve"} for r in results], indent=1))
    print(text)
    plot(results, args.out / "suite.png")


if __name__ == "__main__":
    main()
