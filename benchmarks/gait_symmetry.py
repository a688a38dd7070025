"""How left-right symmetric a trained legged policy is, and the gait it walks with.

    python benchmarks/gait_symmetry.py --run runs/bench/go1_flat/<ts> [--run ...]
                                       [--num-envs 512] [--steps 1000] [--out results/x]

Per run (newest intact checkpoint, the deterministic policy, the run's task changes plus
the evaluation's: full command ranges, whose vy and yaw-rate ranges are symmetric), on
fresh envs from one key, every step of each env's first episode:
- `mirror_error`: mean |pi(M_obs o) - M_act pi(o)| / mean |pi(o)| over those steps, with
  the task's own mirrors (`mirrors()`, as symmetry augmentation uses them): 0 for a
  policy that acts on the mirror-image state as the mirror image of itself.
- `duty_factor`: the share of steps each foot is on the ground, and `duty_asymmetry`, the
  mean over the front and the rear pair of |left - right|.
- `joint_asymmetry` (rad): the mean joint angles against their mirror image (the legs of
  a pair swapped, abduction flipped), the mean |difference| over the 12 joints: a policy
  that leans on one side's legs stands out here.
- `fell`: the share of envs whose first episode ended in a fall.
Writes <out>.json with every run's figures and prints one table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import print_table, run_info, save_json
from sim2sim import evaluation_setup

from motrix_jax import envs
from motrix_jax.envs import legged
from motrix_jax.evaluation import run_policy
from motrix_jax.run_folder import read_run_info


def gait_of(run_dir: Path, num_envs: int, steps: int) -> dict:
    """The figures of the module docstring for the policy of `run_dir`."""
    info, env, update, policy = evaluation_setup(run_dir, "motrixsim", num_envs)
    mirrors = env.mirrors

    def record(state):
        action = policy(state.obs)
        mirrored = policy(mirrors.obs(state.obs))
        error = jnp.linalg.norm(mirrored - mirrors.action(action), axis=-1)
        return (error, jnp.linalg.norm(action, axis=-1), state.info.last_contact,
                state.physics.qpos[:, 7:], state.done, state.terminated)

    _, recorded = run_policy(env, policy, jax.random.PRNGKey(12345), steps, record)
    return {"run": str(run_dir), "env": info.env, "checkpoint_update": update,
            "task_changes": info.task_changes,
            "symmetry_augmentation": info.ppo.symmetry_augmentation,
            "num_envs": num_envs, "steps": steps, **figures(*recorded)}


def figures(error, norm, contact, joints, done, terminated) -> dict:
    """The docstring's figures from what each step recorded ([steps, N, ...]): the mirror
    error and action norms, foot contacts (FR, FL, RR, RL), joint angles, done and
    terminated flags."""
    # [steps, N]: the steps of each env's first episode (with same-step autoreset the
    # state after its ending step is already the next episode's)
    first = np.cumsum(done, 0) == 0
    fell = done.any(0) & terminated[done.argmax(0), np.arange(done.shape[1])]
    duty = (contact * first[..., None]).sum((0, 1)) / first.sum()
    mean_joints = (joints * first[..., None]).sum((0, 1)) / first.sum()
    # each foot against its mirror-image foot: the mean over the four is the mean over
    # the front and the rear pair of |left - right|
    return {"fell": float(fell.mean()),
            "mirror_error": float(error[first].mean() / norm[first].mean()),
            "duty_factor": dict(zip(("FR", "FL", "RR", "RL"), duty.round(4).tolist())),
            "duty_asymmetry": float(np.abs(duty - legged.FEET_MIRROR(duty)).mean()),
            "joint_asymmetry": float(np.abs(mean_joints - legged.JOINTS_MIRROR(mean_joints)).mean())}


def switches(result: dict) -> str:
    """Which of symmetry augmentation and the privileged critic a result's run used."""
    on = [name for name, value in (
        ("symmetry", result["symmetry_augmentation"]),
        ("privileged", result["task_changes"].get("privileged_critic", False))) if value]
    return "+".join(on) or "neither"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, action="append", required=True)
    parser.add_argument("--num-envs", type=int, default=512)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", help="write <out>.json")
    args = parser.parse_args()
    for run in args.run:  # every run checked before any is evaluated
        if not (run / "config.json").is_file():
            parser.error(f"{run}: not a run folder (no config.json)")
        try:
            info = read_run_info(run)
            task = envs.run_task(info.env, info.task_changes)
        except (envs.CheckpointError, ValueError) as err:
            parser.error(f"{run}: {err}")
        if task.mirrors() is None or not hasattr(task.initial_info(1), "last_contact"):
            parser.error(f"{run}: {task.name} has no mirrors or foot contacts (a Go1 task has)")
    results = [gait_of(run, args.num_envs, args.steps) for run in args.run]
    print_table(["run", "switches", "fell", "mirror error", "duty FR/FL/RR/RL",
                 "duty asym.", "joint asym. (rad)"],
                [[r["run"], switches(r), f"{r['fell']:.3f}", f"{r['mirror_error']:.3f}",
                  "/".join(f"{d:.3f}" for d in r["duty_factor"].values()),
                  f"{r['duty_asymmetry']:.3f}", f"{r['joint_asymmetry']:.4f}"]
                 for r in results])
    if args.out:
        save_json({**run_info(sys.argv), "results": results}, f"{args.out}.json")


if __name__ == "__main__":
    main()
