"""Slow: the cartpole preset reaches the issue's threshold from seed 0, on each backend."""

import importlib.util
from pathlib import Path

import pytest


def load_benchmark():
    path = Path(__file__).parents[1] / "benchmarks" / "learn_cartpole.py"
    spec = importlib.util.spec_from_file_location("learn_cartpole", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_cartpole_reaches_950_within_5m_steps():
    result = load_benchmark().learn(seed=0, max_env_steps=5_000_000)
    assert result["passed_950"] is not None, result["final_return"]
    assert result["passed_950"]["env_steps"] <= 5_000_000


@pytest.mark.slow
def test_cartpole_on_mjx_reaches_950_within_5m_steps():
    # Preset (2048 envs). Measured on the 2-core CPU (shared with another job): passed
    # 950 at 2.69M env steps, 90 s wall including a 51 s compile; whole test ~95 s.
    result = load_benchmark().learn(seed=0, max_env_steps=5_000_000, physics="mjx")
    assert result["passed_950"] is not None, result["final_return"]
    assert result["passed_950"]["env_steps"] <= 5_000_000
