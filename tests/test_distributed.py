"""Multi-host data parallelism, tested with 2 local processes joined by `jax.distributed`
on CPU (one device each, Gloo collectives): the sharded PPO updates equal the
single-device ones, as with 2 forced devices in one process (test_sharding.py)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def start_pair(args: list[str], cwds=(None, None)) -> list[subprocess.Popen]:
    """Start `args + [process id]` as processes 0 and 1 (one CPU device each), in the
    working folders `cwds`."""
    flags = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split()
                     if "force_host_platform_device_count" not in f)
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(HERE)}
    return [subprocess.Popen([*args, str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=cwds[i]) for i in range(2)]


def launch(args: list[str], timeout: float = 240,
           cwds=(None, None)) -> list[subprocess.CompletedProcess]:
    """Start `args + [process id]` as processes 0 and 1 (one CPU device each); wait."""
    procs = start_pair(args, cwds)
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return results


@pytest.mark.slow  # the partitioned update itself: tests/test_sharding.py, default suite
def test_two_processes_shard_the_env_batch_and_match_one_device():
    results = launch([sys.executable, str(HERE / "distributed_check.py"), str(free_port())])
    figures = []
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        figures.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert [f["process"] for f in figures] == [0, 1]
    for f in figures:
        assert f["devices"] == 2 and f["local_devices"] == 1 and f["mesh_devices"] == 2
        assert f["param_change"] > 1e-3
        for key in ("params_diff", "obs_stats_diff", "metrics_diff", "env_obs_diff"):
            assert f[key] < 1e-4, (key, f)
    # each process steps its own half of the 16 envs: rows 0-7 and 8-15
    assert [f["obs_rows_here"] for f in figures] == [[0, 8], [8, 8]]


@pytest.mark.slow
def test_train_cli_on_two_processes(tmp_path):
    # the documented launch, on one machine: process 0 prints and writes the run folder,
    # process 1 steps its half of the envs; both save their shards of the checkpoints
    port = free_port()
    results = launch([sys.executable, "-m", "motrix_jax.train", "--env", "cartpole",
                      "--physics", "mjx", "--num-envs", "16", "--max-env-steps", "1536",
                      "--run-root", str(tmp_path), "--coordinator", f"localhost:{port}",
                      "--num-processes", "2", "--process-id"])
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    lead, other = (r.stdout for r in results)
    assert "jax.distributed: process 0 of 2, 1 of 2 devices here" in lead
    assert "env batch sharded over 2 devices" in lead and "done: update 3/3" in lead
    assert "checkpoints: every process saves its shards" in lead
    assert "update" not in other
    (run_dir,) = (tmp_path / "cartpole").iterdir()
    assert json.loads((run_dir / "config.json").read_text())["processes"] == 2
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["3"]
    assert not (run_dir / ".shared-storage-check").exists()


KILLED_UPDATES = 60  # a two-process run killed after its checkpoint at update 10


def two_process_train(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "motrix_jax.train", *args,
            "--coordinator", f"localhost:{port}", "--num-processes", "2", "--process-id"]


def metric_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_killed_then_resumed_match_an_uninterrupted_run(tmp_path):
    new = ["--env", "cartpole", "--physics", "mjx", "--num-envs", "16",
           "--max-env-steps", str(512 * KILLED_UPDATES), "--set", "check_point_interval=10"]
    whole = launch(two_process_train(free_port(), *new, "--run-root", str(tmp_path / "a")))
    assert [r.returncode for r in whole] == [0, 0], whole[0].stderr[-3000:]
    (uninterrupted,) = (tmp_path / "a" / "cartpole").iterdir()

    pair = start_pair(two_process_train(free_port(), *new, "--run-root", str(tmp_path / "b")))
    deadline, killed = time.monotonic() + 240, False
    while time.monotonic() < deadline and not killed and pair[0].poll() is None:
        found = list((tmp_path / "b").glob("cartpole/*/checkpoints/*/sha256.json"))
        if found:
            for p in pair:
                p.send_signal(signal.SIGKILL)
            killed = True
        time.sleep(0.05)
    for p in pair:
        p.wait(30)
    assert killed, pair[0].stderr.read()[-3000:]
    (run_dir,) = (tmp_path / "b" / "cartpole").iterdir()
    assert len(metric_records(run_dir)) < KILLED_UPDATES

    resumed = launch(two_process_train(free_port(), "--resume", str(run_dir)))
    assert [r.returncode for r in resumed] == [0, 0], resumed[0].stderr[-3000:]
    assert "(resumed at update " in resumed[0].stdout
    records, expected = metric_records(run_dir), metric_records(uninterrupted)
    assert [r["update"] for r in records] == list(range(1, KILLED_UPDATES + 1))
    for got, want in zip(records, expected):
        for key in ("loss_policy", "loss_value", "kl", "episode_return"):
            if want.get(key) is not None:
                np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-6,
                                           err_msg=f"{key} at update {want['update']}")


@pytest.mark.slow  # two CLI processes start JAX (13 s); the one-line errors of one process: test_bad_input
def test_a_run_folder_other_processes_cannot_see_is_one_line_exit_2(tmp_path):
    """A relative --run-root from two working folders: process 1 looks for process 0's run
    folder in its own (as a host without the shared filesystem would). Both stop with one
    line before compiling anything, and process 0 removes its new folder."""
    hosts = [tmp_path / "host0", tmp_path / "host1"]
    for host in hosts:
        host.mkdir()
    results = launch(two_process_train(
        free_port(), "--env", "cartpole", "--physics", "mjx", "--num-envs", "16",
        "--max-env-steps", "1536", "--run-root", "runs"), cwds=hosts)
    for r in results:
        assert r.returncode == 2, r.stderr[-3000:]
        err = r.stderr.strip().splitlines()[-1]
        assert err.startswith("error: run folder ") and \
            "is not visible from process(es) 1" in err, err
    assert not list(tmp_path.rglob("config.json"))
