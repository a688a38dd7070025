"""Slow: the cartpole preset on MotrixSim reaches the issue's threshold from seed 0."""

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.slow
def test_cartpole_reaches_950_within_3m_steps():
    path = Path(__file__).parents[1] / "benchmarks" / "learn_cartpole.py"
    spec = importlib.util.spec_from_file_location("learn_cartpole", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.learn(seed=0, max_env_steps=3_000_000)
    assert result["passed_950"] is not None, result["final_return"]
    assert result["passed_950"]["env_steps"] <= 3_000_000
