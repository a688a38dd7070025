"""The DeepMind Control Suite's `tolerance` reward shaping, in jax.numpy.

`tolerance(x, bounds, margin, sigmoid, value_at_margin)` is 1 inside `bounds` and falls
off outside them with the chosen sigmoid of the distance to the nearest bound measured
in units of `margin`: it equals `value_at_margin` one margin away. With `margin=0` it
is the indicator of `bounds`. Same semantics as dm_control.utils.rewards.tolerance.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

SIGMOIDS = ("gaussian", "hyperbolic", "long_tail", "reciprocal", "cosine", "linear",
            "quadratic", "tanh_squared")


def sigmoids(x: jax.Array, value_at_1: float, kind: str) -> jax.Array:
    """A function of x >= 0 equal to 1 at 0 and `value_at_1` at 1."""
    bounded = kind in ("cosine", "linear", "quadratic")
    if not (0.0 <= value_at_1 < 1.0 if bounded else 0.0 < value_at_1 < 1.0):
        allowed = "[0, 1)" if bounded else "(0, 1)"
        raise ValueError(f"value_at_margin must be in {allowed} for {kind!r}, got {value_at_1}")
    if kind == "gaussian":
        scale = math.sqrt(-2.0 * math.log(value_at_1))
        return jnp.exp(-0.5 * (x * scale) ** 2)
    if kind == "hyperbolic":
        return 1.0 / jnp.cosh(x * math.acosh(1.0 / value_at_1))
    if kind == "long_tail":
        return 1.0 / ((x * math.sqrt(1.0 / value_at_1 - 1.0)) ** 2 + 1.0)
    if kind == "reciprocal":
        return 1.0 / (jnp.abs(x) * (1.0 / value_at_1 - 1.0) + 1.0)
    if kind == "cosine":
        scaled = x * math.acos(2.0 * value_at_1 - 1.0) / math.pi
        return jnp.where(jnp.abs(scaled) < 1.0, (1.0 + jnp.cos(math.pi * scaled)) / 2.0, 0.0)
    if kind == "linear":
        scaled = x * (1.0 - value_at_1)
        return jnp.where(jnp.abs(scaled) < 1.0, 1.0 - scaled, 0.0)
    if kind == "quadratic":
        scaled = x * math.sqrt(1.0 - value_at_1)
        return jnp.where(jnp.abs(scaled) < 1.0, 1.0 - scaled ** 2, 0.0)
    if kind == "tanh_squared":
        return 1.0 - jnp.tanh(x * math.atanh(math.sqrt(1.0 - value_at_1))) ** 2
    raise ValueError(f"unknown sigmoid {kind!r}; available: {', '.join(SIGMOIDS)}")


def tolerance(x: jax.Array, bounds: tuple[float, float] = (0.0, 0.0), margin: float = 0.0,
              sigmoid: str = "gaussian", value_at_margin: float = 0.1) -> jax.Array:
    """1 where bounds[0] <= x <= bounds[1], else the sigmoid of (distance / margin)."""
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"bounds must be (lower, upper) with lower <= upper, got {bounds}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x = jnp.asarray(x, jnp.float32)
    in_bounds = (lower <= x) & (x <= upper)
    if margin == 0:
        return jnp.where(in_bounds, 1.0, 0.0)
    distance = jnp.where(x < lower, lower - x, x - upper) / margin
    # inside the bounds `distance` is negative (or inf - inf); keep it out of the sigmoid
    distance = jnp.where(in_bounds, 0.0, distance)
    return jnp.where(in_bounds, 1.0, sigmoids(distance, value_at_margin, sigmoid))
