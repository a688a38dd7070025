"""The learning suite: every registered task (or a named subset) trained from seed 0 for
a stated budget, its deterministic policy evaluated by the task's own success measure,
one table.

    python benchmarks/suite.py [--tasks cartpole dm_walker ...] [--minutes M]
                               [--physics motrixsim|mjx|mujoco] [--out benchmarks/results/suite]
                               [--task-set FIELD=VALUE ...] [--set FIELD=VALUE ...]

Each task trains its preset with `benchmarks/learn.py`'s loop (a run folder under
runs/suite/) for BUDGET_MINUTES[task] (or `--minutes`), then its deterministic policy
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

TARGETS holds what each task is for, as checks on the evaluation, each met or not.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import run_info
from learn import chain_wall_s, learn
from sim2sim import on_engine

from motrix_jax import envs
from motrix_jax.config import with_overrides
from motrix_jax.ppo import check_env
from motrix_jax.run_folder import CheckpointError, make_run_dir

SECTIONS = ("section001", "section011", "section012", "section013", "section002")
# minutes of training on a 2-core CPU (MotrixSim)
BUDGET_MINUTES = {"cartpole": 3, "go1_flat": 45, "go1_rough": 60, "go1_stairs": 60,
                  "franka_lift_cube": 30, "franka_open_cabinet": 30, "bounce_ball": 20,
                  "vbot_navigation_section001": 30,
                  # the budget for the MotrixArena course: 2 hours per run
                  **{f"vbot_navigation_{s}": 120 for s in SECTIONS[1:]},
                  "g1_flat": 60, "g1_rough": 120,
                  # issue 41's targets: go2_flat walks within 15 minutes; go2_rough gets
                  # go1_rough's hour (the same task, preset and terrain)
                  "go2_flat": 15, "go2_rough": 60}
DEFAULT_MINUTES = 10  # the DeepMind-control tasks and the flat navigation tasks


def at_least(label: str, key: str, goal: float) -> tuple:
    return label, key, goal, True


def at_most(label: str, key: str, goal: float) -> tuple:
    return label, key, goal, False


def _reach(label: str, goal: float) -> tuple:
    return "the goal reached", [at_least(label, "eval/first_episode_reached", goal)], None


def _arena(what: str, label: str, goal: float) -> tuple:
    """A MotrixArena course: the share of first episodes that reached the goal without
    a fall (arena_score.reached), and their mean competition score, shown beside it (a
    check every result meets: the table's place for the score)."""
    return what, [at_least(f"first episodes {label}", "eval/first_episode_reached", goal),
                  at_least("their mean score (shown)", "eval/first_episode_score", 0.0)], None


def _cube_within_5cm(task, state):
    return jnp.linalg.norm(state.info.target - state.physics.qpos[:, 9:12], axis=-1) < 0.05


def _at_reacher_target(task, state):
    return task.metrics(state.info)["distance"] <= task.target_radius + task.finger_radius


# task: (what it is for, checks (label, key, goal, at least?), per-step measure or None)
TARGETS = {
    "cartpole": ("upright for the whole episode",
                 [at_most("envs that failed", "eval/fell", 0.05)], None),
    "dm_cheetah": ("running forward (5 m/s: dm_control's run reward is 0.5 there)",
                   [at_least("speed (m/s)", "eval/task/speed", 5.0)], None),
    "dm_walker": ("walking at 1 m/s, upright",
                  [at_least("speed (m/s)", "eval/task/speed", 0.9),
                   at_least("steps with the torso >= 1 m", "eval/task/tall", 0.8)], None),
    "dm_stander": ("standing: torso >= 1.0 m (dm_control's stand)",
                   [at_least("steps with the torso >= 1 m", "eval/task/tall", 0.8)], None),
    "dm_runner": ("running >= 4 m/s, upright",
                  [at_least("speed (m/s)", "eval/task/speed", 4.0),
                   at_least("steps with the torso >= 1 m", "eval/task/tall", 0.8)], None),
    "dm_hopper_stand": ("standing: torso >= 0.6 m (dm_control's hopper)",
                        [at_least("torso height (m)", "eval/task/torso_height", 0.6)], None),
    "dm_hopper_hop": ("hopping forward >= 1 m/s",
                      [at_least("speed (m/s)", "eval/task/speed", 1.0)], None),
    "dm_reacher": ("at the target (within its radius) most of the episode",
                   [at_least("steps at the target", "eval/measure_mean", 0.5)],
                   _at_reacher_target),
    "bounce_ball": ("the ball kept bouncing for the whole episode",
                    [at_most("envs that dropped the ball", "eval/fell", 0.1)], None),
    "franka_lift_cube": ("the cube at the target within 5 cm",
                         [at_least("envs with the cube there at the end",
                                   "eval/measure_final", 0.8)], _cube_within_5cm),
    "franka_open_cabinet": ("the drawer opened >= 0.2 m",
                            [at_least("first episodes that opened it",
                                      "eval/first_episode_opened", 0.8)], None),
    "go1_flat": ("walking on the full command ranges",
                 [at_least("episode length / maximum", "train/length_frac", 0.9),
                  at_least("lin-vel tracking", "eval/reward_terms/tracking_lin_vel", 0.7)],
                 None),
    "go1_rough": ("terrain level >= 3 of 9, >= 80 % not falling",
                  [at_least("mean terrain level", "terrain/trained_level_mean", 3.0),
                   at_most("robots that fell", "terrain/fell", 0.2)], None),
    "go2_flat": ("walking on the full command ranges",
                 [at_least("episode length / maximum", "train/length_frac", 0.9),
                  at_least("lin-vel tracking", "eval/reward_terms/tracking_lin_vel", 0.7)],
                 None),
    "go2_rough": ("terrain level >= 3 of 9, >= 80 % not falling",
                  [at_least("mean terrain level", "terrain/trained_level_mean", 3.0),
                   at_most("robots that fell", "terrain/fell", 0.2)], None),
    "go1_stairs": (">= 50 % climb a flight of 10 cm risers",
                   [at_least("robots that climbed", "terrain/climbed", 0.5)], None),
    "g1_flat": ("walking on the full command ranges, <= 10 % falls in 20 s",
                [at_least("episode length / maximum", "train/length_frac", 0.9),
                 at_least("lin-vel tracking", "eval/reward_terms/tracking_lin_vel", 0.7),
                 at_most("robots that fell", "eval/fell", 0.1)], None),
    "g1_rough": ("terrain level >= 3 of 9, >= 80 % not falling",
                 [at_least("mean terrain level", "terrain/trained_level_mean", 3.0),
                  at_most("robots that fell", "terrain/fell", 0.2)], None),
    "vbot_navigation_flat": _reach("first episodes reaching the goal", 0.9),
    "anymal_c_navigation_flat": _reach("first episodes reaching the goal", 0.9),
    "vbot_navigation_section001": _reach("first episodes reaching the finish", 0.8),
    **{f"vbot_navigation_{s}": _arena(what, label, goal) for s, what, label, goal in [
        ("section011", 'the "2026" platform reached, scored', "reached the platform", 0.9),
        ("section012", "the exit platform reached, scored", "reached the exit", 0.6),
        ("section013", "the finish reached with the balls rolling, scored",
         "reached the finish", 0.8),
        ("section002", "the whole course's finish reached, scored", "reached the finish",
         0.5)]},
}


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
