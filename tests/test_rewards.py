"""dm_control's tolerance against values worked out by hand."""

import math

import numpy as np
import pytest

from motrix_jax.envs.rewards import SIGMOIDS, tolerance


def test_inside_bounds_is_one_and_margin_zero_is_an_indicator():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(tolerance(x, (0.0, 1.0)), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(tolerance(x, (0.0, 1.0), margin=2.0)[1:4], [1, 1, 1])
    assert float(tolerance(5.0, (1.2, math.inf), margin=0.6)) == 1.0


@pytest.mark.parametrize("sigmoid", [s for s in SIGMOIDS])
def test_every_sigmoid_equals_value_at_margin_one_margin_away(sigmoid):
    value = tolerance(np.array([-3.0, 4.0]), (-1.0, 2.0), margin=2.0, sigmoid=sigmoid,
                      value_at_margin=0.25)
    np.testing.assert_allclose(value, [0.25, 0.25], rtol=1e-6)


@pytest.mark.parametrize("sigmoid, x, expected", [
    ("gaussian", 2.0, 0.1 ** 4),  # exp(-d^2 ln(1/v)) = v^(d^2)
    ("gaussian", 0.5, 0.1 ** 0.25),
    ("linear", 0.5, 0.5),  # 1 - d (1 - v) with v = 0
    ("linear", 1.5, 0.0),
    ("quadratic", 0.5, 0.75),  # 1 - d^2
    ("cosine", 0.5, 0.5),  # (1 + cos(pi d)) / 2
    ("long_tail", 3.0, 0.1),  # 1 / ((d sqrt(1/v - 1))^2 + 1) with v = 0.5
    ("reciprocal", 3.0, 0.25),  # 1 / (d (1/v - 1) + 1) with v = 0.5
    ("hyperbolic", 2.0, 1 / math.cosh(2 * math.acosh(2.0))),  # v = 0.5
    ("tanh_squared", 2.0, 1 - math.tanh(2 * math.atanh(math.sqrt(0.5))) ** 2),
])
def test_sigmoid_values_by_hand(sigmoid, x, expected):
    v = 0.0 if sigmoid in ("linear", "quadratic", "cosine") else 0.1 if sigmoid == "gaussian" \
        else 0.5
    assert float(tolerance(x, margin=1.0, sigmoid=sigmoid, value_at_margin=v)) == \
        pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_dm_control_reward_shapes():
    # walker standing: torso at 0.9 m, stand height 1.2, margin 0.6 -> d = 0.5
    assert float(tolerance(0.9, (1.2, math.inf), margin=0.6)) == pytest.approx(0.1 ** 0.25)
    # cheetah run: speed 4 with bounds (10, inf), margin 10, linear, 0 -> 1 - 0.6
    assert float(tolerance(4.0, (10, math.inf), margin=10, sigmoid="linear",
                           value_at_margin=0)) == pytest.approx(0.4)
    # walker move towards 1 m/s, margin 0.5: 0.75 m/s -> d = 0.5 -> 1 - 0.5 * 0.5;
    # 0.5 m/s -> d = 1 -> value_at_margin; standing still -> d = 2 -> 0
    values = tolerance(np.array([0.75, 0.5, 0.0]), (1, math.inf), margin=0.5,
                       sigmoid="linear", value_at_margin=0.5)
    np.testing.assert_allclose(values, [0.75, 0.5, 0.0], atol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="lower <= upper"):
        tolerance(0.0, (1.0, 0.0))
    with pytest.raises(ValueError, match="margin"):
        tolerance(0.0, margin=-1.0)
    with pytest.raises(ValueError, match="value_at_margin"):
        tolerance(2.0, margin=1.0, sigmoid="gaussian", value_at_margin=0.0)
    with pytest.raises(ValueError, match="unknown sigmoid"):
        tolerance(2.0, margin=1.0, sigmoid="sigmoidal")
