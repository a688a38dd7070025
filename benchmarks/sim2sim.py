"""Sim-to-sim: one trained policy on several physics engines, same seeds, same initial
states (the task draws them in JAX, the same on every backend), one table.

    python benchmarks/sim2sim.py --run runs/bench/go1_flat/<ts> [--physics motrixsim mujoco mjx]
                                 [--num-envs 512] [--steps 1000] [--out results/x.json]

Per engine: the deterministic policy (newest intact checkpoint) runs `--steps` control
steps on `--num-envs` envs with the run's task changes; tasks with a command
curriculum get their full command ranges (`command_levels=1`) and terrain levels are
held, as the learning benchmark evaluates them. Printed: the mean return and length of the first episode of
each env, the share of envs whose first episode ended in failure (`fell`) and the mean
per step of every reward term and task metric; where the task records how an episode
ended (`episode_*` metrics, e.g. navigation's `episode_reached`), also its value for each
env's first episode (`first_episode_*`: the reach rate).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import jax
import numpy as np

from motrix_jax import envs
from motrix_jax.checkpoint import load_policy_at
from motrix_jax.evaluation import run_policy
from motrix_jax.run_folder import read_run_info


def at_first_end(values: np.ndarray, done: np.ndarray) -> np.ndarray:
    """[N]: `values` [steps, N] at the last state of each env's first episode, the step
    before its first `done` (with same-step autoreset the state after the ending step is
    already the next episode's); at the last step where no episode ended."""
    first = np.where(done.any(0), done.argmax(0), done.shape[0])
    return values[np.maximum(first - 1, 0), np.arange(done.shape[1])]


def evaluation_setup(run_dir: Path, physics: str, num_envs: int):
    """(the run's info with the evaluation's task changes, its env of `num_envs` on
    `physics`, the newest intact checkpoint's update, its deterministic policy)."""
    info = read_run_info(run_dir)
    info = dataclasses.replace(info, task_changes={**info.task_changes,
                                                   **envs.evaluation_changes(info.env)})
    env = envs.make_for_run(run_dir, info, num_envs, physics)
    step, policy = load_policy_at(run_dir)
    return info, env, step, policy


def on_engine(run_dir: Path, physics: str, num_envs: int, steps: int,
              measure=None) -> dict:
    """The run's policy on `physics` (see the module docstring). `measure(task, state)`
    [N], where given, is also reported as its mean over steps and envs (`measure_mean`)
    and over envs at the last state of their first episode (`measure_final`)."""
    _, env, step, policy = evaluation_setup(run_dir, physics, num_envs)

    def record(state):
        # per env: the task's record of the episode that just ended (e.g. navigation's
        # episode_reached), read at each env's first end below
        ended_episode = {k: v for k, v in env.task.metrics(state.info).items()
                         if k.startswith("episode_")}
        measured = 0.0 if measure is None else measure(env.task, state)
        return (env.metrics(state), ended_episode, state.done, state.terminated,
                state.done_return, state.done_length, measured)

    start = time.perf_counter()
    _, (task_metrics, ended_episode, done, terminated, done_return, done_length,
        measured) = run_policy(env, policy, jax.random.PRNGKey(12345), steps, record)
    first = np.where(done.any(0), done.argmax(0), steps - 1)  # each env's first end
    rows = np.arange(num_envs)
    ended = done.any(0)
    return {"physics": physics, "checkpoint_update": step, "num_envs": num_envs,
            "steps": steps, "wall_s": round(time.perf_counter() - start, 1),
            "episodes_ended": float(ended.mean()),
            "return": float(done_return[first, rows][ended].mean()) if ended.any() else None,
            "length": float(done_length[first, rows][ended].mean()) if ended.any() else None,
            "fell": float(terminated.any(0).mean()),
            **{f"first_{k}": float(np.asarray(v)[first, rows][ended].mean()) if ended.any()
               else None for k, v in ended_episode.items()},
            **{k: float(np.asarray(v).mean()) for k, v in task_metrics.items()},
            **({} if measure is None else {"measure_mean": float(np.mean(measured)),
                                           "measure_final": float(np.mean(at_first_end(measured, done)))})}


def table(results: list[dict]) -> str:
    keys = [k for k in results[0] if k not in ("physics", "num_envs", "steps")]
    width = max(len(k) for k in keys)
    lines = [f"{'':<{width}}  " + "  ".join(f"{r['physics']:>12}" for r in results)]
    for key in keys:
        cells = [r.get(key) for r in results]
        shown = ["-" if v is None else f"{v:12.4g}" if isinstance(v, float) else f"{v:>12}"
                 for v in cells]
        lines.append(f"{key:<{width}}  " + "  ".join(shown))
    return "\n".join(lines)


def command_line(args: argparse.Namespace) -> str:
    words = ["python benchmarks/sim2sim.py"]
    for key, value in vars(args).items():
        if value is not None:
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            words.append(f"--{key.replace('_', '-')} {shown}")
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path)
    parser.add_argument("--physics", nargs="+", default=["motrixsim", "mujoco", "mjx"])
    parser.add_argument("--num-envs", type=int, default=512)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    results = [on_engine(args.run, p, args.num_envs, args.steps) for p in args.physics]
    info = read_run_info(args.run)
    print(f"{args.run} ({info.env}, trained on {info.physics}); {args.num_envs} envs x "
          f"{args.steps} steps per engine, one key for all, {platform.node()} "
          f"({jax.devices()[0].platform})")
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps({"run": str(args.run), "env": info.env,
                                        "trained_on": info.physics,
                                        "command": command_line(args),
                                        "results": results}, indent=2))


if __name__ == "__main__":
    main()
