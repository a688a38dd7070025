"""The learning suite's bookkeeping (benchmarks/suite.py): every task has a target, a
check is met only by a measured value on the right side, the table says which."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from motrix_jax import envs

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def load_suite():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("suite", BENCHMARKS / "suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_task_has_a_target_and_a_budget():
    suite = load_suite()
    assert set(suite.TARGETS) == set(envs.REGISTRY)
    for name in envs.REGISTRY:
        assert suite.BUDGET_MINUTES.get(name, suite.DEFAULT_MINUTES) > 0


def test_checks_need_a_measured_value_on_the_right_side():
    suite = load_suite()
    most = suite.at_most("fell", "eval/fell", 0.2)
    least = suite.at_least("level", "terrain/trained_level_mean", 3.0)
    assert suite.judge(most, {"eval/fell": 0.2})["met"]
    assert not suite.judge(most, {"eval/fell": 0.21})["met"]
    assert suite.judge(least, {"terrain/trained_level_mean": 3.1})["met"]
    assert not suite.judge(least, {"terrain/trained_level_mean": 2.9})["met"]
    assert not suite.judge(least, {})["met"]  # never measured: not met
    assert not suite.judge(least, {"terrain/trained_level_mean": math.nan})["met"]
    assert suite.judge(least, {})["goal"] == ">= 3"


def test_the_table_marks_each_task_met_or_not():
    suite = load_suite()
    machine = {"machine": "x86_64 box", "cpus": 2, "device": "cpu:cpu"}
    rows = [{"task": name, "physics": "motrixsim", "machine": machine, "env_steps": 2.5e6,
             "wall_s": 600.0, "return": ret, "target": "t", "met": met,
             "checks": [suite.judge(suite.at_least("speed", "s", 1.0), {"s": speed})]}
            for name, ret, met, speed in [("dm_walker", 310.5, True, 1.2),
                                          ("dm_runner", math.nan, False, 0.4)]]
    rows[1]["task_changes"] = {"course_spawns": 0.5}  # trained with a changed task field
    rows[1]["ppo_changes"] = {"learning_epochs": "5"}  # and a changed PPO field
    lines = suite.table(rows, ["dm_walker", "dm_runner", "dm_cheetah"]).splitlines()
    assert sum(line.startswith("| d") for line in lines) == 3
    assert lines[4].startswith("| dm_cheetah | - |")
    assert lines[4].endswith("| not run yet (10 min budget) | not run yet |")
    assert lines[2].endswith("| speed 1.2 (>= 1) | met |") and "| 2.5M | 10 min | 310.5 |" in lines[2]
    assert lines[3].endswith("| speed 0.4 (>= 1) | **not met** |") and "| - |" in lines[3]
    assert lines[3].startswith("| dm_runner (course_spawns=0.5, learning_epochs=5) | motrixsim |")


def test_a_final_measure_is_read_before_the_autoreset():
    """Same-step autoreset: the state after an episode's last step is the next episode's
    first, so "at the end" is the step before each env's first done."""
    load_suite()  # puts benchmarks/ on the path
    from sim2sim import at_first_end

    values = np.arange(12.0).reshape(4, 3)  # [steps, envs]
    done = np.zeros((4, 3), bool)
    done[2, 0] = done[3, 0] = True  # env 0 ends at step 2 (and again later)
    done[3, 2] = True               # env 2 ends at the last step
    np.testing.assert_array_equal(at_first_end(values, done), [3.0, 10.0, 8.0])


def test_ppo_changes_are_checked_against_the_preset_and_kept_as_given():
    suite = load_suite()
    assert suite.ppo_changes("bounce_ball", ["policy_hidden_sizes=256,128,64",
                                             " learning_epochs = 5"]) == {
        "policy_hidden_sizes": "256,128,64", "learning_epochs": "5"}
    assert suite.ppo_changes("cartpole", []) == {}
    with pytest.raises(ValueError, match="unknown config field 'learning_epoch'.*learning_epochs"):
        suite.ppo_changes("cartpole", ["learning_epoch=5"])
    with pytest.raises(ValueError, match="field=value"):
        suite.ppo_changes("cartpole", ["learning_epochs"])
    with pytest.raises(ValueError, match="seed 0 alone"):
        suite.ppo_changes("cartpole", ["seed=3"])
    # checked against the task too, before any training: cartpole has no mirrors, and a
    # critic of its own cannot share the policy's features
    with pytest.raises(ValueError, match="mirror.*cartpole does not"):
        suite.ppo_changes("cartpole", ["symmetry_augmentation=true"])
    with pytest.raises(ValueError, match="share_features"):
        suite.ppo_changes("go1_flat", ["share_features=true"], {"privileged_critic": True})
    assert suite.ppo_changes("go1_flat", ["symmetry_augmentation=true"],
                             {"privileged_critic": True}) == {"symmetry_augmentation": "true"}


def test_a_chained_run_shows_its_chain_and_its_wall_time_adds_up(tmp_path):
    """`--init-from`: the table names the source run and the chain's wall time; a run's
    chain.json carries the sum forward, and a folder without one is one CheckpointError."""
    suite = load_suite()
    from learn import CHAIN_FILE, chain_wall_s

    from motrix_jax.run_folder import CheckpointError

    source = tmp_path / "flat"
    source.mkdir()
    (source / CHAIN_FILE).write_text('{"init_from": null, "chain_wall_s": 720.0}')
    assert chain_wall_s(source) == 720.0 and chain_wall_s(None) == 0.0
    with pytest.raises(CheckpointError, match="no chain.json"):
        chain_wall_s(tmp_path)
    machine = {"machine": "x86_64 box", "cpus": 2, "device": "cpu:cpu"}
    row = {"task": "dm_walker", "physics": "mujoco", "machine": machine, "env_steps": 2.5e6,
           "wall_s": 600.0, "return": 1.0, "target": "t", "met": False, "checks": [],
           "init_from": str(source), "chain_wall_s": 1320.0}
    line = suite.table([row]).splitlines()[2]
    assert f"| dm_walker (init_from={source}) | mujoco |" in line
    assert "| 10 min (chain 22 min) |" in line
