"""Distillation benchmark: a blind student distilled from a trained go1_rough teacher.

    python benchmarks/learn_distill.py --teacher runs/go1_rough/<ts> --minutes 30
        [--seed 0] [--set policy_memory=gru] [--physics motrixsim]
        [--run-root runs/bench] [--out benchmarks/results/distill/go1_rough_student_seed0]

Trains a student with `--distill-from TEACHER` semantics (the task's `student_observe`:
for Go1 proprioception without the height scan) for the wall-clock budget, in a run
folder RUN_ROOT/<env>/<timestamp>/ like any run (play, export, resume read it). Then
both policies (deterministic; the student carrying its memory when recurrent) walk 1000
steps on the same 512 robots' starting terrain levels (a sample of the levels the
teacher ended its training on, held: no curriculum, full command ranges), and the
result compares:
  - the terrain level reached under the curriculum: the student's mean over its last 10
    updates against the teacher's last 10 (from the runs' metrics.jsonl),
  - the share that fell on the held-level evaluation, student against teacher,
  - each term and task metric of that evaluation.
The target: the student keeps >= 80 % of the teacher's terrain level and fall rate
(its share standing >= 80 % of the teacher's). Writes <out>.json and <out>.png (the
student's distillation loss, return and terrain level against env steps).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import jax
import numpy as np
from rich.console import Console

from motrix_jax import distill, envs
from motrix_jax.checkpoint import load_policy, open_run
from motrix_jax.config import with_overrides
from motrix_jax.evaluation import run_policy
from motrix_jax.init_from import _raw_state
from motrix_jax.run_dir import RunDir
from motrix_jax.run_folder import RunInfo, read_run_info
from motrix_jax.trainer import Trainer, TrainOptions


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def last_mean(rows: list[dict], key: str, window: int = 10) -> float | None:
    values = [r[key] for r in rows[-window:] if key in r]
    return float(np.mean(values)) if values else None


def trained_levels(run_dir: Path, num: int = 512) -> tuple[int, ...]:
    """A sample of `num` of the terrain levels the run's robots were on at its newest
    checkpoint (seed 0), sorted."""
    _, checkpointer = open_run(run_dir)
    try:
        _, raw, _ = checkpointer._newest(lambda step: _raw_state(checkpointer, step))
    finally:
        checkpointer.close()
    levels = np.asarray(raw["env_state"]["info"]["level"])[0]
    return tuple(int(v) for v in np.sort(np.random.default_rng(0).choice(levels, num)))


def held_evaluation(run_dir: Path, levels: tuple[int, ...], physics: str,
                    steps: int = 1000) -> dict:
    """The run's deterministic policy on robots started at `levels`, held there (the
    env's evaluation changes): the share that fell and every logged mean."""
    info = read_run_info(run_dir)
    changes = {**info.task_changes, **envs.evaluation_changes(info.env),
               "initial_levels": levels}
    env = envs.make(info.env, len(levels), physics, task_changes=changes)
    if info.ppo.distill_from:
        env = distill.student_env(env)
    _, (logged, terminated) = run_policy(env, load_policy(run_dir), jax.random.PRNGKey(12345),
                                         steps, lambda s: (env.metrics(s), s.terminated))
    return {"fell": float(terminated.any(0).mean()),
            **{k: float(np.asarray(v).mean()) for k, v in logged.items()
               if not k.startswith("task/terrain_level_")}}


def distil(teacher: Path, minutes: float, seed: int, overrides: list[str], physics: str,
           run_root: Path) -> Path:
    """Train the student in a new run folder for `minutes`; its path."""
    teacher_info = read_run_info(teacher)
    name = teacher_info.env
    cfg = with_overrides(envs.preset(name), overrides, {"seed": seed})
    env = envs.make(name, cfg.num_envs, physics, task_changes=teacher_info.task_changes)
    cfg = dataclasses.replace(cfg, distill_from=distill.check_teacher(teacher, name, env))
    env = distill.student_env(env)
    run = RunDir.create(run_root, name)
    info = RunInfo.of(name, env, cfg, teacher_info.task_changes)
    run.write_info(info)
    trainer = Trainer(env, info, run, options=TrainOptions(
        max_seconds=minutes * 60, log_every=5), console=Console(highlight=False, soft_wrap=True))
    trainer.start()
    trainer.run()
    return run.path


def plot(student_rows: list[dict], teacher_level: float | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([r["env_steps"] for r in student_rows]) / 1e6
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, key, title in zip(axes, ("loss_distill", "episode_return", "task/terrain_level"),
                              ("distillation loss", "episode return", "terrain level"),
                              strict=True):
        ax.plot(steps, [r.get(key, np.nan) for r in student_rows])
        ax.set(title=title, xlabel="env steps (M)")
    if teacher_level is not None:
        axes[2].axhline(teacher_level, ls="--", c="grey", label="teacher (last 10)")
        axes[2].axhline(0.8 * teacher_level, ls=":", c="grey", label="80 %")
        axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True, help="a trained run folder")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--physics", default="motrixsim")
    parser.add_argument("--run-root", type=Path, default=Path("runs/bench"))
    parser.add_argument("--eval-envs", type=int, default=512)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    try:
        student = distil(args.teacher, args.minutes, args.seed, args.set, args.physics,
                         args.run_root)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    levels = trained_levels(args.teacher, args.eval_envs)
    teacher_rows, student_rows = records(args.teacher), records(student)
    result = {"teacher": str(args.teacher), "student": str(student), "seed": args.seed,
              "minutes": args.minutes, "overrides": args.set,
              "student_env_steps": student_rows[-1]["env_steps"],
              "teacher_terrain_level": last_mean(teacher_rows, "task/terrain_level"),
              "student_terrain_level": last_mean(student_rows, "task/terrain_level"),
              "evaluation_levels_mean": float(np.mean(levels)),
              "teacher_evaluation": held_evaluation(args.teacher, levels, args.physics),
              "student_evaluation": held_evaluation(student, levels, args.physics)}
    if result["teacher_terrain_level"]:
        result["level_kept"] = round(
            (result["student_terrain_level"] or 0) / result["teacher_terrain_level"], 3)
    stood = [1 - result[f"{who}_evaluation"]["fell"] for who in ("teacher", "student")]
    result["standing_kept"] = round(stood[1] / max(stood[0], 1e-9), 3)
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(
            {**result, "curve": student_rows}, indent=1))
        plot(student_rows, result["teacher_terrain_level"], args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
