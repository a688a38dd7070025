"""Running mean/variance statistics (parallel-combination form), written once.

Combining batch statistics with Chan et al.'s formula makes the result
independent of how the data is split into batches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningStats:
    mean: jax.Array  # [*shape]
    var: jax.Array  # [*shape]
    count: jax.Array  # scalar float32


def init_stats(shape: tuple[int, ...]) -> RunningStats:
    return RunningStats(mean=jnp.zeros(shape), var=jnp.ones(shape),
                        count=jnp.zeros((), jnp.float32))


def update_stats(stats: RunningStats, batch: jax.Array) -> RunningStats:
    """Fold `batch` [..., *shape] (all leading axes are samples) into `stats`."""
    x = batch.reshape(-1, *stats.mean.shape)
    n = jnp.asarray(x.shape[0], jnp.float32)
    batch_mean = x.mean(axis=0)
    batch_var = x.var(axis=0)
    total = stats.count + n
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * n / total
    # Before the first batch, `var` holds a placeholder of 1 with weight 0.
    m2 = stats.var * stats.count + batch_var * n + delta**2 * stats.count * n / total
    return RunningStats(mean=mean, var=m2 / total, count=total)


def normalize(stats: RunningStats, x: jax.Array, clip: float | None = 5.0) -> jax.Array:
    """(x - mean) / std, clipped to +-clip unless clip is None."""
    z = (x - stats.mean) / jnp.sqrt(stats.var + 1e-8)
    return z if clip is None else jnp.clip(z, -clip, clip)


def denormalize(stats: RunningStats, x: jax.Array) -> jax.Array:
    return x * jnp.sqrt(stats.var + 1e-8) + stats.mean
