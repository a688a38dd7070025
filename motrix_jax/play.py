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
from motrix_jax.run_folder import CheckpointError, read_run_info

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
    ctrl_dt: float
    physics: str  # the backend the episodes ran on


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
        return (state.done, state.done_return, state.done_length, terms,
                state.physics.qpos[:video_envs])

    _, (done, done_return, done_length, terms, qpos) = run_policy(
        env, policy, jax.random.PRNGKey(seed),
        env.task.episode_length, record)
    # Truncation ends every episode by episode_length steps, so each env has a first end.
    end = done.argmax(axis=0)
    envs_ = np.arange(episodes)
    first_episode = np.arange(done.shape[0])[:, None] <= end[None, :]
    return Evaluation(
        step=step, returns=done_return[end, envs_], lengths=done_length[end, envs_],
        term_sums={k: (v * first_episode).sum(0) for k, v in terms.items()},
        qpos=qpos, ctrl_dt=env.task.ctrl_dt, physics=env.physics.name)


def mujoco_qpos(model, qpos: np.ndarray) -> np.ndarray:
    """MotrixSim dof positions [..., nq] in MuJoCo's layout: free-joint quaternions
    go from MotrixSim's xyzw to MuJoCo's wxyz; everything else is the same order."""
    # imports mujoco, so not before MUJOCO_GL is set (above)
    from motrix_jax.physics.mujoco import quaternion_permutation

    return np.asarray(qpos, np.float64)[..., quaternion_permutation(model)]


def render(mjcf: str, qpos: np.ndarray, width: int = 512, height: int = 384) -> np.ndarray:
    """Frames [T, height, V * width, 3] uint8 of qpos [T, V, nq], the V envs side by side,
    for the model in the MJCF text `mjcf`."""
    import mujoco

    model = mujoco.MjModel.from_xml_string(mjcf)
    if model.nq != qpos.shape[-1]:
        raise ValueError(f"the MJCF has nq={model.nq}, the recorded states {qpos.shape[-1]}")
    model.vis.headlight.ambient[:] = 0.5
    data = mujoco.MjData(model)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = model.stat.center
    camera.distance = 1.5 * model.stat.extent
    camera.azimuth, camera.elevation = 90.0, -10.0
    qpos = mujoco_qpos(model, qpos)
    frames = np.zeros((qpos.shape[0], height, qpos.shape[1] * width, 3), np.uint8)
    with mujoco.Renderer(model, height, width) as renderer:
        for t in range(qpos.shape[0]):
            for v in range(qpos.shape[1]):
                data.qpos[:] = qpos[t, v]
                mujoco.mj_forward(model, data)
                renderer.update_scene(data, camera=camera)
                frames[t, :, v * width:(v + 1) * width] = renderer.render()
    return frames


VIDEO_SUFFIXES = (".mp4", ".gif")


def write_video(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Write an mp4 (ffmpeg via imageio-ffmpeg) or, for .gif or without ffmpeg, a GIF."""
    import warnings

    import imageio.v2 as imageio

    # imageio starts ffmpeg with fork+exec, which is safe; JAX warns about any fork.
    warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
    if path.suffix.lower() != ".gif":
        try:
            import imageio_ffmpeg

            imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError):
            path = path.with_suffix(".gif")
    if path.suffix.lower() == ".gif":
        imageio.mimwrite(path, list(frames), duration=1000.0 / fps, loop=0)
    else:
        imageio.mimwrite(path, list(frames), fps=fps, macro_block_size=16)
    return path


def episode_frames(evaluation: Evaluation) -> np.ndarray:
    """qpos [L, V, nq] of the recorded envs' first episodes, L = the longest; an env
    whose episode ended earlier holds its last state."""
    lengths = evaluation.lengths[:evaluation.qpos.shape[1]]
    steps = np.minimum(np.arange(lengths.max())[:, None], lengths[None, :] - 1)
    return evaluation.qpos[steps, np.arange(len(lengths))[None, :]]


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
    parser.add_argument("--physics", help="evaluate on this backend (motrixsim, mjx, mujoco; "
                                          "default: the one the run trained on)")
    return parser.parse_args(argv)


def check_video_path(path: Path) -> None:
    """ValueError unless a video can be written at `path` (checked before the episodes
    run, not after)."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"--video {path}: the name must end in "
                         f"{' or '.join(VIDEO_SUFFIXES)}")
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
        result = evaluate(args.run, args.episodes, step, args.seed,
                          args.video_envs if args.video else 0, args.physics)
    except (CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.run}: checkpoint at update {result.step}, {args.episodes} deterministic "
          f"episodes on {result.physics}")
    print(f"return {result.returns.mean():.1f} ± {result.returns.std():.1f}   "
          f"length {result.lengths.mean():.1f} ± {result.lengths.std():.1f}")
    print("reward terms (sum per episode, mean over episodes): " + ", ".join(
        f"{k} {v.mean():.2f}" for k, v in result.term_sums.items()))
    if args.video:
        task = envs.make_task(read_run_info(args.run).env)
        try:
            frames = render(task.mjcf(), episode_frames(result))
        except Exception as error:  # noqa: BLE001 - GL errors come in many types
            print(f"error: off-screen rendering failed (MUJOCO_GL="
                  f"{os.environ.get('MUJOCO_GL')}): {error}", file=sys.stderr)
            return 1
        path = write_video(args.video, frames, 1.0 / result.ctrl_dt)
        print(f"video: {path} ({len(frames)} frames at {1.0 / result.ctrl_dt:g} fps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
