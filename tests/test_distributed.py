"""Multi-host data parallelism, tested with 2 local processes joined by `jax.distributed`
on CPU (one device each, Gloo collectives): the sharded PPO updates equal the
single-device ones, as with 2 forced devices in one process (test_sharding.py)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def launch(args: list[str], timeout: float = 240) -> list[subprocess.CompletedProcess]:
    """Start `args + [process id]` as processes 0 and 1 (one CPU device each); wait."""
    flags = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split()
                     if "force_host_platform_device_count" not in f)
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(HERE)}
    procs = [subprocess.Popen([*args, str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for i in range(2)]
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
    # the documented launch, on one machine: process 0 prints and writes the run folder
    # (without checkpoints), process 1 steps its half of the envs and writes nothing
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
    assert "checkpoints: off with several processes" in lead
    assert "update" not in other
    (run_dir,) = (tmp_path / "cartpole").iterdir()
    assert json.loads((run_dir / "config.json").read_text())["processes"] == 2
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3
    assert not (run_dir / "checkpoints").exists()  # several processes save none
