"""benchmarks/gait_symmetry.py's figures from hand-built gaits: a symmetric trot scores
zero, a limp and a lean show up, and only each env's first episode counts."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def gait():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("gait_symmetry",
                                                  BENCHMARKS / "gait_symmetry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorded(contact, joints, done=None, terminated=None, error=None):
    steps, n = contact.shape[:2]
    done = np.zeros((steps, n), bool) if done is None else done
    terminated = np.zeros((steps, n), bool) if terminated is None else terminated
    error = np.zeros((steps, n)) if error is None else error
    return error, np.ones((steps, n)), contact, joints, done, terminated


def trot(steps: int, n: int) -> np.ndarray:
    """Diagonal pairs (FR + RL, then FL + RR) on the ground in turn [steps, n, 4]."""
    even = np.arange(steps)[:, None, None] % 2 == 0
    return np.where(even, [1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]) * np.ones((steps, n, 4))


# abduction, hip, knee of FR, FL, RR, RL: mirror images side to side
STANCE = np.array([-0.1, 0.8, -1.5, 0.1, 0.8, -1.5, -0.05, 1.0, -1.6, 0.05, 1.0, -1.6])


def test_a_symmetric_trot_scores_zero(gait):
    joints = np.broadcast_to(STANCE, (8, 3, 12))
    figures = gait.figures(*recorded(trot(8, 3), joints))
    assert figures["duty_factor"] == {"FR": 0.5, "FL": 0.5, "RR": 0.5, "RL": 0.5}
    assert figures["duty_asymmetry"] == 0.0
    assert figures["joint_asymmetry"] == pytest.approx(0.0, abs=1e-12)
    assert figures["mirror_error"] == 0.0 and figures["fell"] == 0.0


def test_a_limp_and_a_lean_show_up(gait):
    contact = trot(8, 2)
    contact[:, :, [1, 3]] = 1.0  # the left feet never lift: 1.0 against 0.5 on the right
    leaning = STANCE.copy()
    leaning[4] += 0.2  # FL's hip 0.2 rad further forward than FR's
    figures = gait.figures(*recorded(contact, np.broadcast_to(leaning, (8, 2, 12))))
    # left against right in each pair: (|1 - 0.5| + |1 - 0.5|) / 2; front against rear,
    # or diagonal pairs, would give 0 or 0.25
    assert figures["duty_asymmetry"] == pytest.approx(0.5)
    # FL against FR and FR against FL: 0.2 each, over 12 joints
    assert figures["joint_asymmetry"] == pytest.approx(0.4 / 12)


def test_only_each_envs_first_episode_counts(gait):
    contact = trot(6, 2)
    done = np.zeros((6, 2), bool)
    done[2, 0] = True  # env 0's first episode: steps 0 and 1; its next one starts at 2
    terminated = done.copy()
    contact[2:, 0] = 1.0  # the next episode stands on all feet: not counted
    error = np.full((6, 2), 0.5)
    error[2:, 0] = 100.0
    figures = gait.figures(*recorded(contact, np.broadcast_to(STANCE, (6, 2, 12)), done,
                                     terminated, error))
    assert figures["duty_asymmetry"] == 0.0 and figures["duty_factor"]["FR"] == 0.5
    assert figures["mirror_error"] == 0.5  # over 8 first-episode steps, each 0.5 / 1
    assert figures["fell"] == 0.5


def test_a_fall_counts_only_where_it_ends_the_first_episode(gait):
    done = np.zeros((6, 3), bool)
    terminated = np.zeros((6, 3), bool)
    done[1, 0] = True  # env 0: its first episode runs out of time...
    done[4, 0] = terminated[4, 0] = True  # ...and its second one falls: not counted
    done[3, 1] = terminated[3, 1] = True  # env 1's first episode falls
    figures = gait.figures(*recorded(trot(6, 3), np.broadcast_to(STANCE, (6, 3, 12)), done,
                                     terminated))
    assert figures["fell"] == pytest.approx(1 / 3)
