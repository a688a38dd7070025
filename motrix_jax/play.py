"""Evaluate a trained policy: `python -m motrix_jax.play --run runs/<env>/<ts>
[--episodes N] [--step K|best] [--video out.mp4]`.

Runs N deterministic episodes (the policy's mean action; one episode per env,
all envs in parallel on the run's physics backend) and prints the mean ± std
return and length and the per-term reward sums. With `--video`, the first
episode of env 0 (or of the first `--video-envs` envs, side by side) is
rendered off-screen by MuJoCo from the recorded joint positions, one frame per
control step, at 1/ctrl_dt frames per second.

Rendering needs an OpenGL backend: `MUJOCO_GL=egl` (the default here: libEGL
with a GPU driver or Mesa's software EGL) or `MUJOCO_GL=osmesa` (libOSMesa).
`.mp4` is encoded with the ffmpeg bundled by imageio-ffmpeg; `.gif` (or an
mp4 request when that ffmpeg is missing) is written by Pillow.

Bad input (a missing run, no checkpoint, a corrupt or incompatible one)
prints one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import jax
import numpy as np

from motrix_jax import envs
from motrix_jax.checkpoint import load_policy_at, open_run, parse_step
from motrix_jax.evaluation import run_policy
from motrix_jax.run_folder import CheckpointError, StorageError, one_line, read_run_info

# MuJoCo reads this when first imported: a program that imports mujoco before this
# module must set MUJOCO_GL itself.
os.environ.setdefault("MUJOCO_GL", "egl")

EXIT_USAGE = 2


@dataclasses.dataclass(frozen=True)
class Evaluation:
    step: int  # checkpoint update the policy came from
    returns: np.ndarray  # [episodes] undiscounted return of each env's first episode
    lengths: np.ndarray  # [episodes] int
    term_sums: dict[str, np.ndarray]  # [episodes] per-episode sum of each scaled term
    qpos: np.ndarray  # [episode_length, video_envs, nq] physics after every step
    marks: dict[str, np.ndarray]  # each [episode_length, video_envs, k]: env.video_marks
    ctrl_dt: float
    physics: str  # the backend the episodes ran on
    # [episodes] each task `episode_*` metric (e.g. navigation's episode_score) of the
    # first episode, read where it ended
    episode_metrics: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def evaluate(run_dir: str | Path, episodes: int, step: int | str | None = None,
             seed: int = 0, video_envs: int = 0, physics: str | None = None) -> Evaluation:
    """Run `episodes` deterministic episodes of the run's policy (one per env), on the
    run's physics backend or on `physics` (any of envs.PHYSICS: a policy trained on one
    engine evaluated on another)."""
    info, checkpointer = open_run(run_dir)
    checkpointer.close()
    env = envs.make_for_run(run_dir, info, episodes, physics)
    step, policy = load_policy_at(run_dir, step)
    scales = env.task.reward_scales

    def record(state):
        terms = {k: scales[k] * state.reward_terms[k] for k in scales}
        marks = env.task.video_marks(state.physics, state.info)
        ended = {k: v for k, v in env.task.metrics(state.info).items()
                 if k.startswith("episode_")}
        return (state.done, state.done_return, state.done_length, terms,
                state.physics.qpos[:video_envs], {k: v[:video_envs] for k, v in marks.items()},
                ended)

    _, (done, done_return, done_length, terms, qpos, marks, ended) = run_policy(
        env, policy, jax.random.PRNGKey(seed),
        env.task.episode_length, record)
    # Truncation ends every episode by episode_length steps, so each env has a first end.
    end = done.argmax(axis=0)
    envs_ = np.arange(episodes)
    first_episode = np.arange(done.shape[0])[:, None] <= end[None, :]
    return Evaluation(
        step=step, returns=done_return[end, envs_], lengths=done_length[end, envs_],
        term_sums={k: (v * first_episode).sum(0) for k, v in terms.items()},
        qpos=qpos, marks=marks, ctrl_dt=env.task.ctrl_dt, physics=env.physics.name,
        episode_metrics={k: np.asarray(v)[end, envs_] for k, v in ended.items()})


def first_episodes(evaluation: Evaluation, recorded: np.ndarray) -> np.ndarray:
    """`recorded` [T, V, ...] (qpos or a mark) cut to the recorded envs' first episodes,
    [L, V, ...] with L the longest; an env whose episode ended earlier holds its last
    step."""
    lengths = evaluation.lengths[:recorded.shape[1]]
    steps = np.minimum(np.arange(lengths.max())[:, None], lengths[None, :] - 1)
    return recorded[steps, np.arange(len(lengths))[None, :]]


def episode_frames(evaluation: Evaluation) -> np.ndarray:
    """qpos [L, V, nq] of the recorded envs' first episodes."""
    return first_episodes(evaluation, evaluation.qpos)


def episode_marks(evaluation: Evaluation) -> dict[str, np.ndarray]:
    return {k: first_episodes(evaluation, v) for k, v in evaluation.marks.items()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m motrix_jax.play",
                                     description="Evaluate and render a trained policy.")
    parser.add_argument("--run", required=True, type=Path, help="a run folder runs/<env>/<ts>")
    parser.add_argument("--episodes", type=int, default=10, help="episodes (parallel envs)")
    parser.add_argument("--step", default=None,
                        help="checkpoint update to load, or 'best' (default: latest)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial states")
    parser.add_argument("--video", type=Path, help="write a video here (.mp4 or .gif)")
    parser.add_argument("--video-envs", type=int, default=1, help="envs shown side by side")
    parser.add_argument("--viewer", action="store_true",
                        help="replay env 0's episode in MuJoCo's interactive window (needs "
                             "a display)")
    parser.add_argument("--physics", help="evaluate on this backend (motrixsim, mjx, mujoco; "
                                          "default: the one the run trained on)")
    return parser.parse_args(argv)


def check_video_path(path: Path) -> None:
    """ValueError unless a video can be written at `path` (checked before the episodes
    run, not after)."""
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"--video {path}: the name must end in .mp4 or .gif")
    if path.is_dir():
        raise ValueError(f"--video {path}: is a folder")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"--video {path}: no such folder {folder}")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--video {path}: folder {folder} is not writable")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.episodes < 1 or not 1 <= args.video_envs <= args.episodes:
            raise ValueError(f"need --episodes >= 1 and 1 <= --video-envs <= --episodes, got "
                             f"{args.episodes} and {args.video_envs}")
        if args.physics:
            envs.choose_physics(args.physics)  # an unknown name: one line, exit 2
        step = parse_step(args.step)
        if args.video:
            check_video_path(args.video)
        if args.viewer:
            from motrix_jax import viewer

            viewer.check_display()
        recorded = args.video_envs if args.video else 1 if args.viewer else 0
        host = envs.is_host_name(read_run_info(args.run).env) if recorded else False
        if host:
            check_host_video(read_run_info(args.run).env, args.viewer)
            recorded = 0
        result = evaluate(args.run, args.episodes, step, args.seed, recorded, args.physics)
    except (CheckpointError, ValueError, StorageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.run}: checkpoint at update {result.step}, {args.episodes} deterministic "
          f"episodes on {result.physics}")
    print(f"return {result.returns.mean():.1f} ± {result.returns.std():.1f}   "
          f"length {result.lengths.mean():.1f} ± {result.lengths.std():.1f}")
    if result.term_sums:  # a host env has one reward, no terms
        print("reward terms (sum per episode, mean over episodes): " + ", ".join(
            f"{k} {v.mean():.2f}" for k, v in result.term_sums.items()))
    if "episode_score" in result.episode_metrics:  # the MotrixArena competition's score
        score = result.episode_metrics["episode_score"]
        print(f"competition score {score.mean():.1f} ± {score.std():.1f} (first episodes; "
              f"reached the goal: {result.episode_metrics['episode_reached'].mean():.0%})")
    if not (args.video or args.viewer):
        return 0
    if host:
        return write_host_video(args, result)
    info = read_run_info(args.run)
    mjcf = envs.run_task(info.env, info.task_changes).mjcf()  # with its --task-set changes
    if args.video and (code := write_episode_video(args.video, mjcf, result)):
        return code
    if args.viewer:
        return show_in_viewer(mjcf, result)
    return 0


def check_host_video(name: str, viewer: bool) -> None:
    """ValueError unless play can show host env `name` as asked (a video, by the env's own
    renderer: gymnasium's)."""
    from motrix_jax import adapters

    if viewer or not adapters.can_render(name):
        raise ValueError(f"--video/--viewer: {name} is a host env; play renders only "
                         "gymnasium's, with --video")


def write_host_video(args: argparse.Namespace, result: Evaluation) -> int:
    """Env 0's first episode of a host env, rendered by the env itself."""
    from motrix_jax import adapters, render
    from motrix_jax.checkpoint import load_policy

    name = read_run_info(args.run).env
    policy = load_policy(args.run, result.step)
    frames = adapters.render_frames(name, policy, envs.make_task(name).episode_length,
                                    args.seed)
    path = render.write_video(args.video, frames, 1.0 / result.ctrl_dt)
    print(f"video: {path} ({len(frames)} frames at {1.0 / result.ctrl_dt:g} fps)")
    return 0


def write_episode_video(path: Path, mjcf: str, result: Evaluation) -> int:
    try:
        from motrix_jax import render

        frames = render.render(mjcf, episode_frames(result), episode_marks(result),
                               result.ctrl_dt)
    except Exception as error:  # noqa: BLE001 - GL errors come in many types
        print(f"error: off-screen rendering failed (MUJOCO_GL="
              f"{os.environ.get('MUJOCO_GL')}): {one_line(error)}", file=sys.stderr)
        return 1
    try:
        path = render.write_video(path, frames, 1.0 / result.ctrl_dt)
    except OSError as error:
        print(f"error: cannot write {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"video: {path} ({len(frames)} frames at {1.0 / result.ctrl_dt:g} fps)")
    return 0


def show_in_viewer(mjcf: str, result: Evaluation) -> int:
    from motrix_jax import viewer

    marks = {k: v[:, 0] for k, v in episode_marks(result).items()}
    try:
        viewer.show(mjcf, episode_frames(result)[:, 0], marks, result.ctrl_dt)
    except viewer.NoDisplay as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
