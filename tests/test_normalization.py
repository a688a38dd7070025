import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from motrix_jax.normalization import denormalize, init_stats, normalize, update_stats


# Each example compiles update_stats for its part shapes: 12 cover one to four cuts.
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cuts=st.lists(st.integers(1, 99), max_size=4))
def test_statistics_do_not_depend_on_batch_split(seed, cuts):
    data = np.random.default_rng(seed).normal(3.0, 2.0, size=(100, 3)).astype(np.float32)
    whole = update_stats(init_stats((3,)), jnp.asarray(data))
    split = init_stats((3,))
    for part in np.split(data, sorted(set(cuts))):
        split = update_stats(split, jnp.asarray(part))
    np.testing.assert_allclose(split.mean, whole.mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(split.var, whole.var, rtol=1e-4)
    np.testing.assert_allclose(whole.mean, data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(whole.var, data.var(0), rtol=1e-4)
    assert float(split.count) == 100


def test_leading_axes_are_samples_and_normalize_round_trips():
    data = np.random.default_rng(0).normal(size=(4, 5, 2)).astype(np.float32) * 3 + 1
    stats = update_stats(init_stats((2,)), jnp.asarray(data))
    np.testing.assert_allclose(stats.mean, data.reshape(-1, 2).mean(0), rtol=1e-5)
    x = jnp.asarray(data[0])
    np.testing.assert_allclose(denormalize(stats, normalize(stats, x)), x, rtol=1e-5, atol=1e-5)
    assert float(jnp.abs(normalize(stats, x * 1e6)).max()) == 5.0  # clipped
