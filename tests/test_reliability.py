"""Runs that cannot be lost or corrupted: the run-folder lock, TensorBoard rebuilt from
metrics.jsonl, symlinks refused, damaged checkpoints found and skipped."""

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import jax_cartpole
from rich.console import Console
from test_checkpoint import metric_records, new_run, small_cfg

from motrix_jax import play, train
from motrix_jax.checkpoint import Checkpointer, load_policy, load_policy_at
from motrix_jax.run_folder import CheckpointError, RunFolderError


def console() -> Console:
    return Console(file=io.StringIO(), width=400)


def half_run(tmp_path, updates=6, stop_after=4):
    """A cartpole run of `updates` stopped at `stop_after`, checkpoints every 2."""
    cfg = small_cfg(updates)
    env = jax_cartpole(cfg.num_envs)
    info, run_dir = new_run(tmp_path, "run", cfg, env)
    assert train.fit(env, info, run_dir, stop_after=stop_after, console=console()) == 0
    return env, info, run_dir


def resume(env, info, run_dir):
    out = console()
    return train.fit(env, info, run_dir, resume=True, console=out), out.file.getvalue()


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_a_second_trainer_on_a_locked_folder_exits_2_and_a_dead_ones_lock_is_taken(
        tmp_path, capsys):
    env, info, run_dir = half_run(tmp_path)
    hold = ("import sys, time; from motrix_jax.run_dir import RunDir; "
            "RunDir(sys.argv[1]).lock(); print('held', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(run_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        code, _ = resume(env, info, run_dir)
        assert code == train.EXIT_USAGE
        message = one_line(capsys.readouterr().err)
        assert f"is in use by process {holder.pid} on " in message
        assert [r["update"] for r in metric_records(run_dir)] == [1, 2, 3, 4]
    finally:
        holder.kill()
        holder.wait()
    code, out = resume(env, info, run_dir)  # the killed holder never released its lock
    assert code == 0
    assert f"took over the lock of process {holder.pid} on " in out
    assert [r["update"] for r in metric_records(run_dir)] == [1, 2, 3, 4, 5, 6]


def tensorboard_steps(run_dir: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    steps = []
    for path in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
        events = EventAccumulator(str(path))
        events.Reload()
        steps += [e.step for e in events.Scalars(tag)] if tag in events.Tags()["scalars"] \
            else []
    return sorted(steps)


def test_tensorboard_is_rebuilt_from_metrics_on_resume(tmp_path):
    env, info, run_dir = half_run(tmp_path)
    # What a SIGKILL right after a checkpoint can leave: events that never reached the
    # disk (tensorboardX's flush does not wait for its queue), a record past the last
    # checkpoint.
    for path in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        path.unlink()
    with open(run_dir / "metrics.jsonl", "a") as file:
        file.write('{"update": 5, "env_steps": 2560}\n')
    assert resume(env, info, run_dir)[0] == 0
    steps = [512 * u for u in range(1, 7)]
    assert tensorboard_steps(run_dir, "loss/policy") == steps
    assert tensorboard_steps(run_dir, "train/learning_rate") == steps
    assert [r["update"] for r in metric_records(run_dir)] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("planted", ["metrics.tmp", "metrics.jsonl", "tensorboard"])
def test_symlinks_in_a_run_folder_are_refused_and_nothing_is_written_outside(
        tmp_path, capsys, planted):
    env, info, run_dir = half_run(tmp_path)
    outside = tmp_path / "outside"
    outside.write_text("precious\n")
    link = run_dir / planted
    if link.is_dir():
        os.rename(link, tmp_path / "moved")
    elif link.exists():
        link.unlink()
    link.symlink_to(outside if planted != "metrics.jsonl" else tmp_path / "dangling")
    capsys.readouterr()
    code, _ = resume(env, info, run_dir)
    assert code == train.EXIT_USAGE
    assert f"{link} is a symlink" in one_line(capsys.readouterr().err)
    assert outside.read_text() == "precious\n"
    assert not (tmp_path / "dangling").exists()


def flip_a_bit(checkpoint: Path) -> Path:
    data = max((p for p in (checkpoint / "state").rglob("*") if p.is_file()),
               key=lambda p: p.stat().st_size)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x04
    data.write_bytes(bytes(raw))
    return data


def test_a_flipped_bit_is_found_and_the_newest_intact_checkpoint_used(tmp_path, capsys):
    env, info, run_dir = half_run(tmp_path)
    flip_a_bit(run_dir / "checkpoints" / "4")
    with pytest.raises(CheckpointError, match="checkpoint at update 4 .* is damaged: state/"):
        load_policy(run_dir, step=4)
    capsys.readouterr()
    load_policy(run_dir)  # the newest intact one, saying so
    assert "using the newest intact one, update 2" in capsys.readouterr().err

    code, out = resume(env, info, run_dir)
    assert code == 0
    assert "checkpoint at update 4" in out and "resumed at update 2" in out
    assert (run_dir / "damaged_checkpoints" / "4").is_dir()
    assert [r["update"] for r in metric_records(run_dir)] == [1, 2, 3, 4, 5, 6]
    assert Checkpointer(run_dir, read_only=True).latest_step() == 6


def test_with_every_checkpoint_damaged_resume_says_so_in_one_line(tmp_path, capsys):
    env, info, run_dir = half_run(tmp_path, updates=4, stop_after=2)
    flip_a_bit(run_dir / "checkpoints" / "2")
    capsys.readouterr()
    assert resume(env, info, run_dir)[0] == train.EXIT_USAGE
    assert "no intact checkpoint (checkpoint at update 2" in one_line(capsys.readouterr().err)


def test_a_damaged_checkpoint_orbax_cannot_even_list_is_named_and_set_aside(
        tmp_path, capsys):
    env, info, run_dir = half_run(tmp_path)
    (run_dir / "checkpoints" / "4" / "metrics" / "metrics").write_text("garbage")
    capsys.readouterr()
    assert play.main(["--run", str(run_dir)]) == train.EXIT_USAGE
    assert f"move {run_dir.absolute() / 'checkpoints' / '4'} out of" in one_line(
        capsys.readouterr().err)
    code, out = resume(env, info, run_dir)
    assert code == 0
    assert "metrics/metrics does not match its checksum; moved it to" in out
    assert [r["update"] for r in metric_records(run_dir)] == [1, 2, 3, 4, 5, 6]


# ---- issue 42: nothing silently wrong ---------------------------------------------------

def test_a_hard_linked_lock_is_refused_and_the_file_outside_kept(tmp_path, capsys):
    env, info, run_dir = half_run(tmp_path)
    outside = tmp_path / "outside"
    outside.write_text("precious\n")
    os.link(outside, run_dir / "lock")
    capsys.readouterr()
    code, _ = resume(env, info, run_dir)
    assert code == train.EXIT_USAGE
    assert "lock has 1 other hard link(s)" in one_line(capsys.readouterr().err)
    assert outside.read_text() == "precious\n"


def test_the_guard_refuses_a_fifo_without_hanging(tmp_path):
    from motrix_jax.run_folder import open_in_run

    fifo = tmp_path / "metrics.jsonl"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            open_in_run(fifo, os.O_RDONLY)
            outcome.append("opened")
        except RunFolderError as error:
            outcome.append(str(error))
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    assert outcome and "is a FIFO, not a regular file" in outcome[0]


def test_damaged_records_do_not_block_resume_and_their_updates_are_named(tmp_path, capsys):
    env, info, run_dir = half_run(tmp_path)
    lines = (run_dir / "metrics.jsonl").read_bytes().splitlines()
    lines[1] = b"[1, 2]"  # update 2: valid JSON, not a record
    lines[2] = lines[2].replace(b'"update": 3', b'"update": "3"')
    lines[3] = b"\xff\xfe not utf-8"
    (run_dir / "metrics.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    code, out = resume(env, info, run_dir)
    assert code == 0, capsys.readouterr().err
    assert "metrics.jsonl has no record of update(s) 2-4" in out
    assert [r["update"] for r in metric_records(run_dir)] == [1, 5, 6]


def test_records_are_fsynced_before_each_checkpoint(tmp_path, monkeypatch):
    from motrix_jax import checkpoint

    events = []
    real_fsync, real_save = os.fsync, checkpoint.Checkpointer.save
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", os.readlink(
        f"/proc/self/fd/{fd}"))) or real_fsync(fd))
    monkeypatch.setattr(checkpoint.Checkpointer, "save", lambda self, state, progress: (
        events.append(("save", progress["update"])), real_save(self, state, progress))[1])
    half_run(tmp_path)
    saves = [i for i, event in enumerate(events) if event[0] == "save"]
    assert [events[i][1] for i in saves] == [2, 4]
    for i in saves:
        assert any(e[0] == "fsync" and e[1].endswith("metrics.jsonl") for e in events[:i])
    assert any(e[1].endswith("sha256.json.tmp") for e in events if e[0] == "fsync")


def test_a_missing_manifest_is_a_warning(tmp_path, capsys):
    _, _, run_dir = half_run(tmp_path)
    (run_dir / "checkpoints" / "4" / "sha256.json").unlink()
    capsys.readouterr()
    load_policy(run_dir)
    err = capsys.readouterr().err
    assert "checkpoint at update 4" in err and "has no sha256.json: its files cannot be " \
        "checked" in err


def test_swapped_checkpoint_folders_are_not_loaded_under_the_wrong_update(tmp_path):
    _, _, run_dir = half_run(tmp_path)
    folder = run_dir / "checkpoints"
    os.rename(folder / "2", folder / "x")
    os.rename(folder / "4", folder / "2")
    os.rename(folder / "x", folder / "4")
    for step in (2, 4):
        with pytest.raises(CheckpointError, match=f"checkpoint at update {step} .* holds "
                           f"update {6 - step} .*renamed or swapped"):
            load_policy(run_dir, step=step)


@pytest.fixture
def tmpfs(tmp_path):
    """A 200 KiB tmpfs (a real full disk: TensorStore reports ENOSPC its own way), or a
    skip saying why there is none."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
                          check=False, capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_real_full_disk_is_one_line_and_a_read_only_one_too(tmpfs, capfd):
    cfg = small_cfg(6)
    env = jax_cartpole(cfg.num_envs)
    info, run_dir = new_run(tmpfs, "run", cfg, env)
    capfd.readouterr()
    assert train.fit(env, info, run_dir, console=console()) == 1
    err = capfd.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: cannot write the checkpoint of update 2 in ") and \
        err.endswith(": No space left on device")
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code = train.main(["--env", "cartpole", "--run-root", str(tmpfs)])
    err = "\n".join(line for line in capfd.readouterr().err.strip().splitlines()
                    if "profiler initialized" not in line)  # MotrixSim's, on import
    assert code == train.EXIT_USAGE and len(err.splitlines()) == 1, err
    assert "Read-only file system" in err


def test_jax_platforms_cuda_on_a_cpu_machine_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "motrix_jax.train", "--env", "cartpole",
                           "--run-root", str(tmp_path)], check=False, capture_output=True,
                          text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cuda"}, timeout=300)
    err = "\n".join(line for line in done.stderr.splitlines() if "profiler" not in line)
    assert done.returncode == train.EXIT_USAGE, err
    assert "JAX cannot start the backend JAX_PLATFORMS='cuda' asks for" in one_line(err)
    assert not (tmp_path / "cartpole").exists() or not os.listdir(tmp_path / "cartpole")


def test_a_second_signal_aborts_at_once_whatever_the_phase():
    script = ("import os, signal, time; from motrix_jax import trainer\n"
              "with trainer.StartSignals():\n"
              "    with trainer.StopRequest() as stop:\n"  # the training loop takes it over
              "        os.kill(os.getpid(), signal.SIGINT); time.sleep(0.02)\n"
              "        assert stop.requested\n"
              "        os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\n"
              "print('saved normally')\n")
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 130, done.stderr
    assert "saved normally" not in done.stdout and "Traceback" not in done.stderr
    assert "aborted by a second SIGINT" in done.stderr


def test_a_checkpoint_rotated_away_while_play_reads_it_is_not_called_damaged(
        tmp_path, capsys, monkeypatch):
    _, _, run_dir = half_run(tmp_path)
    real = Checkpointer._restore
    rotated = []

    def restore(self, step, **items):  # the trainer removes checkpoint 4 meanwhile
        if step == 4 and not rotated:
            rotated.append(step)
            os.rename(run_dir / "checkpoints" / "4", tmp_path / "rotated")
        return real(self, step, **items)
    monkeypatch.setattr(Checkpointer, "_restore", restore)
    capsys.readouterr()
    assert load_policy_at(run_dir)[0] == 2
    assert rotated and "warning" not in capsys.readouterr().err


def test_a_first_checkpoint_cut_short_is_named(tmp_path, capsys):
    cfg = small_cfg(4)
    _, run_dir = new_run(tmp_path, "run", cfg, jax_cartpole(cfg.num_envs))
    (run_dir / "checkpoints" / "2.orbax-checkpoint-tmp-1733").mkdir(parents=True)
    assert train.main(["--resume", str(run_dir)]) == train.EXIT_USAGE
    assert "its first one (update 2) was cut short" in one_line(capsys.readouterr().err)


def test_importing_the_motrixsim_backend_prints_nothing():
    # MotrixSim's native library announces its profiler on stderr when loaded; that line
    # preceded every one-line error of a command that had imported the backend
    done = subprocess.run([sys.executable, "-c", "import motrix_jax.physics.motrixsim"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")
