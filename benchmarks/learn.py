"""Learning benchmark for any registered env: a fixed seed, a wall-clock budget, a curve.

    python benchmarks/learn.py --env go1_flat --minutes 45 [--seed 0] [--set FIELD=VALUE]
                               [--physics motrixsim|mjx|mujoco]

Trains the env's preset (on MotrixSim unless --physics says otherwise) with the train
CLI's Trainer until the budget (or the preset's env steps) is spent, in a run folder
runs/bench/<env>/<timestamp>/ (config.json, metrics.jsonl, TensorBoard, checkpoints:
`python -m motrix_jax.play --run` reads it), and writes `curve.json` and `curve.png`
there: per update the env steps, wall time,
mean return and length of the episodes that ended (carried forward through updates where
none ended) and the mean of every reward term and task metric. The summary averages the
last 10 updates. For tasks with a command curriculum (Go1) the final deterministic policy
is also evaluated on the full command ranges; on terrain (go1_rough: at the levels the
robots ended training on, held; go1_stairs: on the 10 cm risers of level 4, where
`climbed` is the share reaching the top of the first flight). Final params and normaliser
statistics are saved as final_params.npz (plain arrays). `--min-length-frac` and
`--min-tracking` (the lin-vel tracking term per step), `--min-level`, `--max-fell` and
`--min-climbed` make the exit status report whether a target was reached, and
`targets_first_met` says when the last-10-update means first reached the first two.

    python benchmarks/learn.py --env go1_rough --minutes 60 --min-level 3 --max-fell 0.2
    python benchmarks/learn.py --env go1_stairs --minutes 60 --min-climbed 0.5
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).parent))
from common import run_info

from motrix_jax import envs, metrics
from motrix_jax.config import with_overrides
from motrix_jax.evaluation import run_policy
from motrix_jax.init_from import load_start
from motrix_jax.ppo import make_ppo
from motrix_jax.run_dir import METRICS_FILE, RunDir
from motrix_jax.run_folder import CheckpointError, RunInfo, open_in_run
from motrix_jax.trainer import Trainer, TrainOptions


def evaluate(cfg, env_name: str, params, obs_stats, task_changes: dict, physics: str,
             num_envs: int = 512, steps: int = 1000) -> dict:
    """Deterministic policy on a fresh env (e.g. the full command ranges): the mean of every
    reward term per step and the share of envs that fell within `steps`. On terrain also
    per starting level the share that fell, and the highest ground each robot stood on
    above its spawn before any fall (`climbed_m`, for stairs)."""
    env = envs.make(env_name, num_envs, physics, task_changes=task_changes)
    policy = functools.partial(make_ppo(cfg, env).policy, params, obs_stats)
    field = getattr(env.task, "terrain_map", None)

    def record(state):
        xy = state.physics.qpos[:, :2]
        ground = jnp.zeros(num_envs) if field is None else field.grid.ground(xy)
        return env.metrics(state), state.terminated, ground

    start, (metrics, terminated, ground) = run_policy(env, policy, jax.random.PRNGKey(12345),
                                                      steps, record)
    fell = terminated.any(0)
    before_fall = np.cumsum(terminated, 0) == 0  # steps of each robot's first episode
    climbed = np.where(before_fall, ground - ground[0], 0.0).max(0)
    out = {"task_changes": task_changes, "num_envs": num_envs, "steps": steps,
           "fell": float(fell.mean()),
           **{k: float(np.asarray(v).mean()) for k, v in metrics.items()}}
    if field is not None:
        level = start.level
        out["start_level_mean"] = float(level.mean())
        out["fell_by_start_level"] = {int(k): float(fell[level == k].mean())
                                      for k in np.unique(level)}
        out["climbed_m"] = climbed.tolist()
    return out


def terrain_evaluation(cfg, env_name: str, state, physics: str, held: dict) -> dict:
    """go1_rough: the robots at the levels they ended training on (a sample of 512),
    full command ranges, levels held (`held`: the task changes of the evaluation).
    go1_stairs: every robot on the 10 cm risers (level 4), `climbed` = the share that
    reached the top of the first flight."""
    task = envs.run_task(env_name, held)
    if task.terrain == "stairs":
        field = task.terrain_map
        level = 4
        rise_box = field.boxes[np.isclose(field.boxes[:, 1], field.strip_centre_y(level))]
        top = float((rise_box[:, 2] + rise_box[:, 5]).max())  # top tread of the flights
        out = evaluate(cfg, env_name, state.params, state.obs_stats,
                       {**held, "initial_levels": (level,)}, physics)
        out["flight_top_m"] = top
        out["climbed"] = float((np.array(out["climbed_m"]) >= top - 0.02).mean())
        return out
    levels = np.asarray(state.env_state.info.level)
    sample = np.sort(np.random.default_rng(0).choice(levels, 512))
    out = evaluate(cfg, env_name, state.params, state.obs_stats,
                   {**held, "initial_levels": tuple(int(v) for v in sample)}, physics)
    out["trained_level_mean"] = float(levels.mean())
    out["trained_level_shares"] = {int(k): float((levels == k).mean())
                                   for k in range(task.num_terrain_levels)}
    out.pop("climbed_m")
    return out


def learn(env_name: str, seed: int, minutes: float, overrides: list[str], physics: str,
          run_dir: Path, task_changes: dict | None = None, init_from: Path | None = None
          ) -> dict:
    """Train the preset in `run_dir` with the train CLI's Trainer (checkpoints, metrics,
    TensorBoard) until `minutes` or the preset's env steps are spent; the result.
    `task_changes` (e.g. the privileged critic) hold in training and in the evaluations;
    `init_from`: a run folder whose policy and normalisers the run starts from (a chain
    of runs, e.g. the MotrixArena sections)."""
    task_changes = task_changes or {}
    cfg = with_overrides(envs.preset(env_name), overrides, {"seed": seed})
    env = envs.make(env_name, cfg.num_envs, physics, task_changes=task_changes)
    before = chain_wall_s(init_from)
    start = None if init_from is None else load_start(init_from, env_name, env, cfg)
    info = RunInfo.of(env_name, env, cfg, task_changes)
    run = RunDir(run_dir)
    run.write_info(info)
    trainer = Trainer(env, info, run, options=TrainOptions(
        max_seconds=minutes * 60, log_every=5, init_from=start),
        console=Console(highlight=False, soft_wrap=True))
    trainer.start()
    state = jax.tree.map(lambda x: x[0], trainer.run())  # the one seed
    curve = curve_of(run_dir / METRICS_FILE)
    tail = curve[-10:]
    summary = {k: float(np.mean([c[k] for c in tail])) for k in tail[-1] if k != "update"}
    evaluation = None
    held = {**task_changes, **envs.evaluation_changes(env_name)}
    if getattr(env.task, "terrain_map", None) is not None:
        evaluation = terrain_evaluation(cfg, env_name, state, physics, held)
        print("evaluation on terrain: " + json.dumps(
            {k: v for k, v in evaluation.items() if k != "climbed_m"}), flush=True)
    elif hasattr(env.task, "command_levels"):  # the full command ranges, no curriculum
        evaluation = evaluate(cfg, env_name, state.params, state.obs_stats, held, physics)
        print(f"evaluation on the full command ranges: {evaluation}", flush=True)
    chain = {"init_from": init_from and str(init_from),
             "chain_wall_s": before + curve[-1]["wall_s"]}
    fd = open_in_run(run_dir / CHAIN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w") as file:  # through the run folder's file guard
        file.write(json.dumps(chain))
    params = {"/".join(str(getattr(k, "key", k)) for k in path): np.asarray(leaf)
              for path, leaf in jax.tree_util.tree_leaves_with_path(
                  {"params": state.params, "obs_stats": state.obs_stats})}
    return {"env": env_name, "seed": seed, "budget_minutes": minutes, "physics": physics,
            "task_changes": task_changes, **chain,
            "device": str(jax.devices()[0]),
            "episode_length_max": env.task.episode_length,
            "config": dataclasses.asdict(cfg), "updates": len(curve),
            "env_steps": curve[-1]["env_steps"], "wall_s": curve[-1]["wall_s"],
            "steps_per_s": round(curve[-1]["env_steps"] / curve[-1]["wall_s"]),
            "last_10_updates": summary, "evaluation": evaluation, "curve": curve,
            "final_params": params}


CHAIN_FILE = "chain.json"  # in a run folder: the run it started from, the chain's wall time


def chain_wall_s(run_dir: Path | None) -> float:
    """The training wall time of a finished benchmark run and of the runs it was
    initialised from, one after another (its chain.json; 0 for no run)."""
    if run_dir is None:
        return 0.0
    path = run_dir / CHAIN_FILE
    if not path.exists():
        raise CheckpointError(f"--init-from {run_dir}: no {CHAIN_FILE} (not a finished "
                              "learn.py or suite.py run), so the chain's wall time is unknown")
    with os.fdopen(open_in_run(path, os.O_RDONLY)) as file:
        return float(json.loads(file.read())["chain_wall_s"])


def curve_of(path: Path) -> list[dict]:
    """Per update of `metrics.jsonl`: env steps, wall time, the mean return and length of
    the episodes that ended (carried forward through updates where none ended) and every
    reward term and task metric."""
    curve, last = [], {"return": float("nan"), "length": float("nan")}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record[metrics.EPISODES] > 0:
            last = {"return": record[metrics.EPISODE_RETURN],
                    "length": record[metrics.EPISODE_LENGTH]}
        curve.append({"update": record["update"], "env_steps": record["env_steps"],
                      "wall_s": round(record["wall_time"], 2), **last,
                      **{k: v for k, v in record.items() if k.startswith(metrics.GROUPS)}})
    return curve


def first_met(curve: list[dict], min_length: float, min_tracking: float,
              window: int = 10) -> dict | None:
    """The first point of the curve where the mean over the last `window` updates reached
    both the episode length and the lin-vel tracking targets (None: never)."""
    for i in range(window - 1, len(curve)):
        tail = curve[i - window + 1:i + 1]
        if (np.mean([c["length"] for c in tail]) >= min_length and np.mean(
                [c.get("reward_terms/tracking_lin_vel", 0.0) for c in tail]) >= min_tracking):
            return {k: curve[i][k] for k in ("update", "env_steps", "wall_s")}
    return None


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = result["curve"]
    steps = np.array([c["env_steps"] for c in curve]) / 1e6
    shares = sorted((k for k in curve[-1] if k.startswith("task/terrain_level_")),
                    key=lambda k: int(k.rsplit("_", 1)[1]))
    fig, axes = plt.subplots(1, 4 if shares else 3, figsize=(20 if shares else 15, 4))
    axes[0].plot(steps, [c["return"] for c in curve])
    axes[0].set(title="mean episode return", xlabel="env steps (M)")
    axes[1].plot(steps, [c["length"] for c in curve])
    axes[1].axhline(result["episode_length_max"], ls="--", c="grey")
    axes[1].set(title="mean episode length", xlabel="env steps (M)")
    for key in curve[-1]:
        if key.startswith(("reward_terms/tracking", "task/")) and key not in shares:
            axes[2].plot(steps, [c[key] for c in curve], label=key.split("/")[1])
    axes[2].legend()
    axes[2].set(title="per-step terms", xlabel="env steps (M)")
    if shares:  # the terrain level distribution, stacked
        axes[3].stackplot(steps, *[[c[k] for c in curve] for k in shares],
                          labels=[k.rsplit("_", 1)[1] for k in shares])
        axes[3].legend(title="level", loc="upper left", fontsize=7, ncol=2)
        axes[3].set(title="share of robots per terrain level", xlabel="env steps (M)",
                    ylim=(0, 1))
    fig.suptitle(f"{result['env']} seed {result['seed']}: {result['env_steps']:,} steps "
                 f"in {result['wall_s'] / 60:.1f} min")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=45.0, help="wall-clock budget")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--task-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a task field, e.g. privileged_critic=true")
    parser.add_argument("--physics", choices=["motrixsim", "mjx", "mujoco"], default="motrixsim")
    parser.add_argument("--run-root", type=Path, default=Path("runs/bench"))
    parser.add_argument("--init-from", type=Path, metavar="RUN_DIR",
                        help="start from this learn.py run's policy and normalisers "
                             "(fresh optimiser); chain_wall_s sums the chain's runs")
    parser.add_argument("--min-length-frac", type=float,
                        help="target: mean episode length >= this fraction of the maximum")
    parser.add_argument("--min-tracking", type=float,
                        help="target: lin-vel tracking term per step >= this")
    parser.add_argument("--min-level", type=float,
                        help="target (terrain): mean level at the end of training >= this")
    parser.add_argument("--max-fell", type=float,
                        help="target (terrain): share of robots falling in the final "
                             "evaluation <= this")
    parser.add_argument("--min-climbed", type=float,
                        help="target (stairs): share climbing the 10 cm flight >= this")
    args = parser.parse_args()
    try:
        name = envs.canonical_name(args.env)
        task_changes = envs.parse_task_changes(name, args.task_set)
        chain_wall_s(args.init_from)  # no curve.json: one line, before any training
    except (envs.UnknownEnvError, ValueError, CheckpointError) as err:
        parser.error(str(err))
    out = RunDir.create(args.run_root, name).path
    physics = "host" if envs.is_host_name(name) else args.physics  # a host env's own
    result = {**run_info(sys.argv),  # command, commit, machine, package versions, date
              **learn(name, args.seed, args.minutes, args.set, physics, out, task_changes,
                       args.init_from)}
    last = result["last_10_updates"]
    checks = {}
    if args.min_length_frac is not None:
        checks["length"] = last["length"] >= args.min_length_frac * result["episode_length_max"]
    if args.min_tracking is not None:
        checks["tracking"] = last.get("reward_terms/tracking_lin_vel", 0) >= args.min_tracking
    if result["evaluation"] is not None and args.min_tracking is not None:
        checks["tracking_full_ranges"] = (
            result["evaluation"]["reward_terms/tracking_lin_vel"] >= args.min_tracking)
    evaluation = result["evaluation"] or {}
    if args.min_level is not None:
        checks["level"] = evaluation.get("trained_level_mean", 0.0) >= args.min_level
    if args.max_fell is not None:
        checks["not_falling"] = evaluation.get("fell", 1.0) <= args.max_fell
    if args.min_climbed is not None:
        checks["climbed"] = evaluation.get("climbed", 0.0) >= args.min_climbed
    result["targets_met"] = checks
    if args.min_length_frac is not None and args.min_tracking is not None:
        result["targets_first_met"] = first_met(
            result["curve"], args.min_length_frac * result["episode_length_max"],
            args.min_tracking)
    np.savez(out / "final_params.npz", **result.pop("final_params"))
    (out / "curve.json").write_text(json.dumps(result, indent=1))
    plot(result, out / "curve.png")
    print(json.dumps({k: v for k, v in result.items() if k not in ("curve", "config")},
                     indent=2))
    print(f"curve: {out / 'curve.json'}, {out / 'curve.png'}")
    if not all(checks.values()):
        raise SystemExit(f"targets not met: {checks}")


if __name__ == "__main__":
    main()
