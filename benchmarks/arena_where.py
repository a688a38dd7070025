"""Where a run's policy gets on a MotrixArena section, and why its first episodes end.

    python benchmarks/arena_where.py --run RUN [--env vbot_navigation_section011]
                                     [--physics mujoco] [--num-envs 64] [--steps 1500]
                                     [--bump-scale 1.0]

Runs the run's deterministic policy from the section's start platform (evaluation
settings: no starts along the course) and prints, for each robot's first episode, how
far along the course (+y) it got, the ground's slope there, whether it ended and how
(the base touching the course, tilt, or neither: out of the course or exploded), and
the mean forward speed commanded and reached over the last 200 steps. `--bump-scale`
scales section 1's bump field (0: flat), to tell the bumps from the rest of the course
apart. A policy trained on another env of the same task (e.g. flat ground) runs too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import jax
import numpy as np

from motrix_jax import envs
from motrix_jax.checkpoint import load_policy_at
from motrix_jax.envs import courses, legged
from motrix_jax.envs.navigation import robot_view
from motrix_jax.evaluation import run_policy


def scaled_bumps(scale: float):
    """courses._section1 with the bump field's heights times `scale`."""
    section1 = courses._section1

    def build():
        return [dataclasses.replace(part, grid=dataclasses.replace(
                    part.grid, heights=part.grid.heights * scale))
                if getattr(part, "name", "") == "course_bumps" else part
                for part in section1()]
    return build


def where(run: str, env_name: str, physics: str, num_envs: int, steps: int) -> dict:
    env = envs.make(env_name, num_envs, physics, task_changes=envs.evaluation_changes(env_name))
    _, policy = load_policy_at(run)
    task = env.task

    def record(state):
        _, base, _ = task.contact_groups(state.physics.contacts)
        view = robot_view(state.physics)
        lin_vel, _, gravity = legged.base_state(view)
        return (view.qpos[:, :3], base, legged.tilted(gravity, task.max_tilt),
                state.terminated, state.info.command[:, 0], lin_vel[:, 0])

    _, (pos, base, tilt, ended, command, speed) = run_policy(
        env, policy, jax.random.PRNGKey(1), steps, record)
    first = np.where(ended.any(0), ended.argmax(0), steps - 1)
    rows = np.arange(num_envs)
    furthest = np.array([pos[:first[i] + 1, i, 1].max() for i in rows])
    did_end = ended.any(0)
    tail = slice(max(0, steps - 200), steps)
    return {"run": run, "env": env_name, "physics": physics, "num_envs": num_envs,
            "steps": steps, "ended": float(did_end.mean()),
            "ended_base_down": float((did_end & (base[first, rows] > 0.5)).mean()),
            "ended_tilted": float((did_end & tilt[first, rows]).mean()),
            "furthest_y_quantiles": np.round(np.quantile(furthest, [0.1, 0.5, 0.9, 1.0]),
                                             2).tolist(),
            "command_vx_last_200": round(float(command[tail].mean()), 3),
            "speed_vx_last_200": round(float(speed[tail].mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--env", default="vbot_navigation_section011")
    parser.add_argument("--physics", choices=["motrixsim", "mjx", "mujoco"], default="mujoco")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--bump-scale", type=float, default=1.0)
    args = parser.parse_args()
    if args.bump_scale != 1.0:
        courses._section1 = scaled_bumps(args.bump_scale)  # this process only
    result = where(args.run, envs.canonical_name(args.env), args.physics, args.num_envs,
                   args.steps)
    print(json.dumps({**result, "bump_scale": args.bump_scale}))


if __name__ == "__main__":
    main()
