"""A short CLI run on MotrixSim: TensorBoard events, play with video, bad run folders."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

import imageio_ffmpeg
import numpy as np
import pytest

from motrix_jax import play, train

UPDATES = 4


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    code = train.main(["--env", "cartpole", "--num-envs", "32", "--max-env-steps",
                       str(32 * 32 * UPDATES), "--set", "mini_batches=4",
                       "--set", "check_point_interval=2", "--set", "policy_hidden_sizes=16,16",
                       "--set", "value_hidden_sizes=16,16", "--run-root", str(root)])
    assert code == 0
    (run,) = (root / "cartpole").iterdir()
    return run


def test_run_folder_holds_config_network_layout_and_checkpoints(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["env"] == "cartpole" and config["physics"] == "motrixsim"
    assert config["network"]["obs_size"] == 4 and config["network"]["action_size"] == 1
    assert config["network"]["policy_hidden_sizes"] == [16, 16]
    steps = sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [2, 4]
    assert not list(run_dir.rglob("*.pkl")) and not list(run_dir.rglob("*.pickle"))


def test_resuming_a_finished_run_restores_it_and_changes_nothing(run_dir, capsys):
    before = snapshot(run_dir)
    assert train.main(["--resume", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"resumed at update {UPDATES}" in out and "nothing to do" in out
    assert snapshot(run_dir) == before


def test_tensorboard_events_have_every_tag(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    expected = {"episode/return", "episode/length", "reward_terms/alive", "reward/total",
                "loss/policy", "loss/value", "loss/entropy", "train/kl",
                "train/learning_rate", "train/policy_std", "perf/steps_per_s",
                "perf/compile_s", "metrics/nonfinite_resets"}
    assert expected <= tags, expected - tags
    lr = events.Scalars("train/learning_rate")
    assert [e.step for e in lr] == [1024 * u for u in range(1, UPDATES + 1)]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    np.testing.assert_allclose([e.value for e in lr], [r["learning_rate"] for r in records],
                               rtol=1e-6)
    assert all(e.value == 1.0 for e in events.Scalars("reward_terms/alive"))


def test_play_prints_returns_and_writes_a_video_of_the_episode(run_dir, tmp_path, capsys):
    video = tmp_path / "episode.mp4"
    assert play.main(["--run", str(run_dir), "--episodes", "1", "--video", str(video)]) == 0
    out = capsys.readouterr().out
    assert f"checkpoint at update {UPDATES}, 1 deterministic episodes" in out
    length = float(out.split("length ")[1].split(" ±")[0])
    # reward is +1 per step, so the return and the alive term's sum equal the length
    assert f"return {length:.1f} ± 0.0   length {length:.1f} ± 0.0" in out
    assert f"alive {length:.2f}" in out
    assert f"({int(length)} frames at 100 fps)" in out
    assert video.stat().st_size > 1000
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(video))
    assert frames == length >= 10
    assert seconds == pytest.approx(length / 100, abs=0.02)


def test_evaluate_reports_each_episode(run_dir):
    result = play.evaluate(run_dir, episodes=3, video_envs=2)
    assert result.step == UPDATES and result.lengths.shape == (3,)
    np.testing.assert_allclose(result.returns, result.lengths)
    np.testing.assert_allclose(result.term_sums["alive"], result.lengths)
    assert result.qpos.shape == (1000, 2, 2)
    frames = play.episode_frames(result)
    assert frames.shape == (result.lengths[:2].max(), 2, 2)
    # the shorter episode holds its last state
    short = int(np.argmin(result.lengths[:2]))
    np.testing.assert_array_equal(frames[-1, short], result.qpos[result.lengths[short] - 1, short])


def test_play_on_another_physics_backend(run_dir, capsys):
    # trained on MotrixSim, evaluated on MuJoCo's C engine: the same deterministic policy
    host = play.evaluate(run_dir, episodes=3)
    other = play.evaluate(run_dir, episodes=3, physics="mujoco")
    assert (host.physics, other.physics) == ("motrixsim", "mujoco")
    np.testing.assert_allclose(other.returns, other.lengths)  # cartpole: 1 per step alive
    assert np.abs(other.lengths - host.lengths).max() <= 0.1 * host.lengths.max()
    assert play.main(["--run", str(run_dir), "--episodes", "2", "--physics", "mujoco"]) == 0
    assert "deterministic episodes on mujoco" in capsys.readouterr().out
    assert play.main(["--run", str(run_dir), "--physics", "bullet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: unknown physics 'bullet'; available: auto, motrixsim, mjx, "
                   "mujoco"), err


@pytest.fixture
def virtual_display():
    """A display number served by a fresh Xvfb (Debian's xvfb; `make test` installs it)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "800x600x24",
                               "-nolisten", "tcp"], pass_fds=(write,),
                              stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        assert select.select([pipe], [], [], 30)[0], "Xvfb did not start"
        display = f":{pipe.readline().strip()}"
    yield display
    server.terminate()
    server.wait(10)


def line_starting(process, prefix: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 1.0)[0]:
            line = process.stdout.readline()
            if line.startswith(prefix) or not line:
                return line
    return ""


@pytest.mark.slow  # an X server and MuJoCo's window (15 s); without a display: the one-line test below
def test_viewer_shows_the_played_robot_in_a_window(run_dir, virtual_display):
    from PIL import ImageGrab

    viewer = subprocess.Popen(
        [sys.executable, "-m", "motrix_jax.play", "--run", str(run_dir), "--episodes", "1",
         "--viewer"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DISPLAY": virtual_display})
    try:
        line = line_starting(viewer, "viewer:", timeout=180)
        assert line.startswith("viewer: "), viewer.stderr.read() if not line else line
        time.sleep(2.0)  # a few frames at 100 fps, even on a software renderer
        screen = np.asarray(ImageGrab.grab(xdisplay=virtual_display)).astype(int)
        viewer.send_signal(signal.SIGINT)
        assert viewer.wait(30) == 0
    finally:
        viewer.kill()
    r, g, b = screen[..., 0], screen[..., 1], screen[..., 2]
    pole = (r > 150) & (g > 80) & (g < 200) & (b < 100) & (r - b > 80)  # rgba 0.9 0.6 0.2
    cart = (b > 150) & (r < 120)  # rgba 0.2 0.5 0.8
    assert pole.sum() > 200 and cart.sum() > 200, (pole.sum(), cart.sum())


@pytest.mark.parametrize("display,message", [
    (None, "--viewer needs a display and DISPLAY is not set"),
    (":4321", "--viewer could not open a window on display ':4321'"),
])
def test_viewer_without_a_display_is_one_line_exit_2(run_dir, monkeypatch, capsys,
                                                      display, message):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display is None:
        monkeypatch.delenv("DISPLAY", raising=False)
    else:
        monkeypatch.setenv("DISPLAY", display)
    assert play.main(["--run", str(run_dir), "--viewer"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {message}") and captured.err.count("\n") == 1
    assert captured.out == ""  # refused before any episode ran


def missing(run):
    return run.parent / "missing"


def no_checkpoints(run):
    shutil.rmtree(run / "checkpoints")
    return run


def bad_config_json(run):
    (run / "config.json").write_text("{not json")
    return run


def garbage_arrays(run):
    for path in (run / "checkpoints").glob("*/*/**/*"):  # every checkpoint's arrays
        if path.is_file() and path.stat().st_size > 0:
            path.write_bytes(b"garbage")
    return run


def edit_config(run, **sections):
    config = json.loads((run / "config.json").read_text())
    for section, changes in sections.items():
        config[section].update(changes)
    (run / "config.json").write_text(json.dumps(config))
    return run


@pytest.mark.parametrize("damage,message", [
    (missing, "missing: no such run folder"),
    (no_checkpoints, "has no checkpoint"),
    (bad_config_json, "config.json is corrupt"),
    (garbage_arrays, "no intact checkpoint (checkpoint at update 4"),
    (lambda run: edit_config(run, network={"obs_size": 5}),
     "observation/action sizes (5, 1), env 'cartpole' now has (4, 1)"),
    (lambda run: edit_config(run, ppo={"policy_hidden_sizes": [8, 8]}),
     "checkpoints/4 is incompatible: params."),
])
def test_bad_resume_or_play_is_one_line_exit_2_and_changes_nothing(
        run_dir, tmp_path, capfd, damage, message):
    shutil.copytree(run_dir, tmp_path / "run")
    run = damage(tmp_path / "run")
    before = snapshot(tmp_path)
    for main, flag in ((train.main, "--resume"), (play.main, "--run")):
        assert main([flag, str(run)]) == 2
        err = capfd.readouterr().err.strip()
        assert message in err, err
        assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert snapshot(tmp_path) == before


def snapshot(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_trained_cartpole_plays_above_the_threshold_with_a_full_video(tmp_path, capsys):
    assert train.main(["--env", "cartpole", "--run-root", str(tmp_path)]) == 0
    (run,) = (tmp_path / "cartpole").iterdir()
    capsys.readouterr()
    video = tmp_path / "cartpole.mp4"
    assert play.main(["--run", str(run), "--episodes", "10", "--video", str(video)]) == 0
    out = capsys.readouterr().out
    mean_return = float(out.split("return ")[1].split(" ±")[0])
    assert mean_return >= 950, out
    result = play.evaluate(run, episodes=10)
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(video))
    assert frames == result.lengths[0] >= 950


def test_play_renders_the_runs_task_with_its_task_changes(run_dir, tmp_path, monkeypatch):
    """The video's model is the run's task with its --task-set changes (here one that
    shows in the MJCF), not the registered default."""
    from motrix_jax.envs.cartpole import Cartpole

    plain = Cartpole.mjcf
    monkeypatch.setattr(Cartpole, "mjcf",
                        lambda self: f"<!-- max_angle {self.max_angle} -->" + plain(self))
    shutil.copytree(run_dir, tmp_path / "run")
    edit_config(tmp_path / "run", task_changes={"max_angle": 0.3})
    seen = []
    monkeypatch.setattr(play, "write_episode_video",
                        lambda path, mjcf, result: seen.append(mjcf) or 0)
    assert play.main(["--run", str(tmp_path / "run"), "--episodes", "2",
                      "--video", str(tmp_path / "out.mp4")]) == 0
    assert seen and seen[0].startswith("<!-- max_angle 0.3 -->")
