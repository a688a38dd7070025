"""Data-parallel PPO on 2 forced CPU devices gives the single-device numbers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_check(physics: str) -> dict:
    env = {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")  # conftest's
           + " --xla_force_host_platform_device_count=2",
           "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run([sys.executable, str(Path(__file__).parent / "sharding_check.py"),
                             physics], capture_output=True, text=True, env=env, timeout=280,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def check(figures: dict) -> None:
    # the env batch really is split (8 + 8 envs) and the params really are replicated
    assert figures["devices"] == 2 and figures["obs_devices"] == 2
    assert figures["obs_shard_rows"] == [8, 8] and figures["params_replicated"]
    assert figures["obs_devices_after"] == 2
    assert figures["sharded_traces"] == 1  # later updates reuse the compiled program
    # Same numbers after 3 updates, up to float summation order (measured ~1e-7), while
    # the params moved by far more than that.
    assert figures["param_change"] > 1e-3
    for key in ("params_diff", "obs_stats_diff", "env_obs_diff", "metrics_diff"):
        assert figures[key] < 1e-4, (key, figures)


def test_sharded_update_matches_single_device_on_jax_physics():
    check(run_check("jax"))


@pytest.mark.slow
def test_sharded_update_matches_single_device_on_mjx():
    check(run_check("mjx"))
