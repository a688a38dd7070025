"""JAX against the PyTorch twin (motrix_jax/torch_twin.py): same weights, same batches,
same numbers. Tolerances are (rtol, atol) per dtype and stated in each test; float64
runs JAX inside `jax.enable_x64(True)`, a context that ends with the test."""

import contextlib
import dataclasses
import subprocess
import sys
import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="parity tests need the `parity` extra (PyTorch)")

from motrix_jax import losses, normalization, symmetry, torch_twin
from motrix_jax.config import PPOConfig
from motrix_jax.networks import gaussian_entropy, gaussian_log_prob, make_network
from motrix_jax.ppo import Minibatch, TrainState, Transition, make_ppo

pytestmark = pytest.mark.parity
DTYPES = ["float32", "float64"]
# Each new array shape costs a JAX compile, so shapes are drawn from small sets and the
# numbers from many seeds; this keeps the whole file to seconds.
EXAMPLES = settings(max_examples=6, deadline=None)
SIZES = st.sampled_from([1, 5, 16])
gae = jax.jit(losses.compute_gae)
update_stats = jax.jit(normalization.update_stats)


def precision(dtype: str):
    """JAX computes in float64 only inside this context, so x64 cannot leak out."""
    return jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()


def tol(dtype: str, f32: tuple[float, float], f64: tuple[float, float]) -> dict:
    rtol, atol = f32 if dtype == "float32" else f64
    return {"rtol": rtol, "atol": atol}


def to_torch(x) -> torch.Tensor:
    return torch.from_numpy(np.array(x))


def to_numpy(x) -> np.ndarray:
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def assert_close(jax_value, torch_value, **tolerance) -> None:
    np.testing.assert_allclose(to_numpy(jax_value), to_numpy(torch_value), **tolerance)


def small_cfg(**changes) -> PPOConfig:
    base = {"num_envs": 8, "rollouts": 6, "mini_batches": 4, "learning_epochs": 3,
            "policy_hidden_sizes": (16, 8), "value_hidden_sizes": (12, 8),
            "entropy_loss_scale": 0.01}
    return PPOConfig(**{**base, **changes})


def random_params(cfg: PPOConfig, obs_size: int, action_size: int, seed: int, dtype: str,
                  critic_obs_size: int | None = None):
    """Random Flax params in the network's layout (from tracing `init`, which is cheaper
    than running it), none of them near the tiny or constant initial values."""
    critic_obs = None if critic_obs_size is None else jnp.zeros((1, critic_obs_size))
    shapes = jax.eval_shape(make_network(cfg, action_size).init, jax.random.PRNGKey(0),
                            jnp.zeros((1, obs_size)), critic_obs)
    rng = np.random.default_rng(seed)
    scale = lambda shape: 1 / np.sqrt(shape[0]) if len(shape) == 2 else 0.3
    return jax.tree.map(
        lambda s: jnp.asarray(scale(s.shape) * rng.normal(size=s.shape), dtype), shapes)


def random_stats(rng: np.random.Generator, shape: tuple[int, ...], dtype: str):
    """The same (random) running statistics on both sides."""
    mean, var = rng.normal(1.0, 2.0, size=shape), rng.uniform(0.2, 5.0, size=shape)
    twin = torch_twin.RunningMeanStd(shape, getattr(torch, dtype))
    twin.mean, twin.var, twin.count = to_torch(mean.astype(dtype)), to_torch(var.astype(dtype)), 50
    stats = normalization.RunningStats(mean=jnp.asarray(mean, dtype), var=jnp.asarray(var, dtype),
                                       count=jnp.asarray(50, dtype))
    return stats, twin


def ppo_for(cfg: PPOConfig, obs_size: int, action_size: int, critic_obs_size=None,
            mirrors=None):
    # Only the learning functions are used, so the env needs no more than its sizes (and
    # its mirrors for the symmetry augmentation).
    return make_ppo(cfg, types.SimpleNamespace(obs_size=obs_size, action_size=action_size,
                                               critic_obs_size=critic_obs_size,
                                               mirrors=mirrors))


def policy_data(model, obs_norm, cfg, obs: np.ndarray, rng: np.random.Generator,
                critic=None):
    """Actions sampled from the policy for obs [..., obs], with their log-probs and values
    (computed by the twin, which is cheap: the data is the same on both sides); `critic`:
    (normaliser, critic observations) where the critic has its own."""
    with torch.no_grad():
        x = to_torch(obs)
        critic_x = None
        if critic is not None:
            critic_x = to_torch(critic[1])
            critic_x = critic[0].normalize(critic_x) if cfg.state_preprocessor else critic_x
        dist, value = model.distribution(
            obs_norm.normalize(x) if cfg.state_preprocessor else x, critic_x)
        action = dist.mean + dist.stddev * to_torch(rng.normal(size=dist.mean.shape)).to(x.dtype)
        return action.numpy(), dist.log_prob(action).sum(-1).numpy(), value.numpy()


def random_minibatch(model, obs_norm, cfg, size, rng, dtype):
    """A minibatch whose old log-probs and values are near the network's own, so ratios
    and value changes fall both inside and outside the clip windows."""
    obs = rng.normal(1.0, 2.0, size=(size, model.policy_trunk[0].in_features)).astype(dtype)
    action, log_prob, value = policy_data(model, obs_norm, cfg, obs, rng)
    noise = lambda scale: scale * rng.normal(size=size)
    batch = {"obs": obs, "action": action, "log_prob": log_prob + noise(0.3),
             "value": value + noise(0.3), "return": value + noise(1.0),
             "advantage": rng.normal(size=size)}
    return {k: np.asarray(v, dtype) for k, v in batch.items()}


def as_minibatch(batch: dict) -> Minibatch:
    """A minibatch in the twin's dict layout as the JAX trainer's Minibatch."""
    return Minibatch(**{"returns" if k == "return" else k: jnp.asarray(v)
                        for k, v in batch.items()})


shapes = st.fixed_dictionaries({
    "seed": st.integers(0, 2**16), "obs_size": st.integers(1, 6),
    "action_size": st.integers(1, 3), "batch": st.integers(1, 9),
    "policy": st.lists(st.integers(1, 12), min_size=1, max_size=3).map(tuple),
    "value": st.lists(st.integers(1, 12), min_size=1, max_size=3).map(tuple),
    "share": st.booleans()})


@pytest.mark.parametrize("dtype", DTYPES)
@EXAMPLES
@given(shape=shapes)
def test_forward_pass(dtype, shape):
    # float32: rtol 1e-5, atol 1e-6; float64: rtol 1e-12, atol 1e-12.
    cfg = PPOConfig(policy_hidden_sizes=shape["policy"], value_hidden_sizes=shape["value"],
                    share_features=shape["share"])
    rng = np.random.default_rng(shape["seed"])
    obs = rng.normal(size=(shape["batch"], shape["obs_size"])).astype(dtype)
    with precision(dtype):
        params = random_params(cfg, shape["obs_size"], shape["action_size"], shape["seed"], dtype)
        expected = jax.jit(make_network(cfg, shape["action_size"]).apply)(params, obs)
    model = torch_twin.from_flax(params)
    with torch.no_grad():
        actual = model(to_torch(obs))
    for jax_out, torch_out in zip(expected, actual, strict=True):
        assert jax_out.dtype == dtype and torch_out.dtype == getattr(torch, dtype)
        assert_close(jax_out, torch_out, **tol(dtype, (1e-5, 1e-6), (1e-12, 1e-12)))


@pytest.mark.parametrize("dtype", DTYPES)
@EXAMPLES
@given(seed=st.integers(0, 2**16), batch=SIZES, action_size=st.sampled_from([1, 3]))
def test_log_prob_and_entropy(dtype, seed, batch, action_size):
    # float32: rtol 1e-5, atol 1e-5 (log-densities reach ~-50); float64: rtol 1e-12, atol 1e-12.
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=(batch, action_size)).astype(dtype)
    log_std = rng.uniform(-2.0, 1.0, size=action_size).astype(dtype)
    action = (mean + rng.normal(0.0, 3.0, size=mean.shape)).astype(dtype)
    with precision(dtype):
        log_prob = gaussian_log_prob(jnp.asarray(mean), jnp.asarray(log_std), jnp.asarray(action))
        entropy = gaussian_entropy(jnp.asarray(log_std))
    twin_log_prob, twin_entropy = torch_twin.log_prob_and_entropy(
        to_torch(mean), to_torch(log_std), to_torch(action))
    tolerance = tol(dtype, (1e-5, 1e-5), (1e-12, 1e-12))
    assert_close(log_prob, twin_log_prob, **tolerance)
    assert_close(np.broadcast_to(entropy, (batch,)), twin_entropy, **tolerance)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), steps=SIZES, envs=st.sampled_from([1, 4]),
       gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0))
def test_gae_with_terminations_and_truncations(dtype, seed, steps, envs, gamma, lam):
    # float32: rtol 1e-5, atol 1e-5; float64: rtol 1e-12, atol 1e-12.
    rng = np.random.default_rng(seed)
    rewards, values, next_values = (rng.normal(size=(steps, envs)).astype(dtype) * 3
                                    for _ in range(3))
    # Both flags at once is allowed: a fall on the last step is still a fall.
    terminated, truncated = rng.random((steps, envs)) < 0.25, rng.random((steps, envs)) < 0.25
    args = (rewards, values, next_values, terminated, truncated)
    with precision(dtype):
        advantages, returns = gae(*map(jnp.asarray, args), gamma, lam)
    twin_advantages, twin_returns = torch_twin.compute_gae(*map(to_torch, args), gamma, lam)
    assert_close(advantages, twin_advantages, **tol(dtype, (1e-5, 1e-5), (1e-12, 1e-12)))
    assert_close(returns, twin_returns, **tol(dtype, (1e-5, 1e-5), (1e-12, 1e-12)))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), size=SIZES, ratio_clip=st.floats(0.05, 0.5),
       value_clip=st.floats(0.05, 0.5), clip_values=st.booleans(),
       value_scale=st.floats(0.0, 3.0), entropy_scale=st.floats(0.0, 0.1))
def test_loss_terms(dtype, seed, size, ratio_clip, value_clip, clip_values, value_scale,
                    entropy_scale):
    # float32: rtol 1e-5, atol 1e-6; float64: rtol 1e-12, atol 1e-12.
    cfg = PPOConfig(ratio_clip=ratio_clip, value_clip=value_clip,
                    clip_predicted_values=clip_values, value_loss_scale=value_scale,
                    entropy_loss_scale=entropy_scale)
    rng = np.random.default_rng(seed)
    args = [rng.normal(0.0, s, size=size).astype(dtype) for s in (0.3, 0.3, 1.0, 1.0, 1.0, 1.0)]
    args[0] += args[1]  # log-ratios of +-0.3: inside and outside the ratio clip
    entropy = rng.normal(size=size).astype(dtype)
    with precision(dtype):
        total, terms = losses.ppo_loss(
            *map(jnp.asarray, args), jnp.asarray(entropy), ratio_clip=ratio_clip,
            value_clip=value_clip, clip_predicted_values=clip_values,
            value_loss_scale=value_scale, entropy_loss_scale=entropy_scale)
    twin_total, twin_terms = torch_twin.ppo_loss(*map(to_torch, args), to_torch(entropy), cfg)
    tolerance = tol(dtype, (1e-5, 1e-6), (1e-12, 1e-12))
    assert terms.keys() == twin_terms.keys()
    for name in terms:
        assert_close(terms[name], twin_terms[name], err_msg=name, **tolerance)
    assert_close(total, twin_total, **tolerance)


def setup_pair(cfg: PPOConfig, obs_size: int, action_size: int, seed: int, dtype: str,
               critic_obs_size: int | None = None):
    """JAX params and obs statistics, and the twin model and normaliser holding the same."""
    rng = np.random.default_rng(seed)
    params = random_params(cfg, obs_size, action_size, seed, dtype, critic_obs_size)
    obs_stats, obs_norm = random_stats(rng, (obs_size,), dtype)
    return rng, params, obs_stats, torch_twin.from_flax(params), obs_norm


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("share, clip_values, normalise_obs",
                         [(False, True, True), (True, False, False)])
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**16), obs_size=st.integers(1, 5), action_size=st.integers(1, 3))
def test_gradients_of_the_total_loss(dtype, share, clip_values, normalise_obs, seed, obs_size,
                                     action_size):
    # Every parameter's gradient. float32: rtol 1e-4, atol 1e-6 (sums over the minibatch
    # through three layers); float64: rtol 1e-10, atol 1e-12.
    cfg = small_cfg(share_features=share, clip_predicted_values=clip_values,
                    state_preprocessor=normalise_obs)
    with precision(dtype):
        rng, params, obs_stats, model, obs_norm = setup_pair(cfg, obs_size, action_size, seed,
                                                             dtype)
        batch = random_minibatch(model, obs_norm, cfg, 12, rng, dtype)
        grads, terms = jax.jit(jax.grad(ppo_for(cfg, obs_size, action_size).loss, has_aux=True))(
            params, obs_stats, as_minibatch(batch))
    loss, twin_terms = torch_twin.minibatch_loss(
        model, obs_norm, {k: to_torch(v) for k, v in batch.items()}, cfg)
    loss.backward()
    for name in terms:
        assert_close(terms[name], twin_terms[name], err_msg=name,
                     **tol(dtype, (1e-5, 1e-6), (1e-12, 1e-12)))
    chex.assert_trees_all_close(grads, torch_twin.to_flax(model, lambda p: p.grad),
                                **tol(dtype, (1e-4, 1e-6), (1e-10, 1e-12)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("grad_norm_clip", [0.05, 1e3])  # active, inactive (off: whole update)
def test_optimizer_steps(dtype, grad_norm_clip):
    # Params and Adam moments after each of three steps on different minibatches.
    # float32: rtol 1e-4, atol 1e-6 (lr 1e-3); float64: rtol 1e-10, atol 1e-12.
    cfg = small_cfg(grad_norm_clip=grad_norm_clip, learning_rate=1e-3)
    obs_size, action_size = 3, 2
    with precision(dtype):
        rng, params, obs_stats, model, obs_norm = setup_pair(cfg, obs_size, action_size, 7, dtype)
        ppo = ppo_for(cfg, obs_size, action_size)
        opt_state, lr = ppo.optimizer.init(params), jnp.asarray(cfg.learning_rate, dtype)
        optimizer = torch_twin.make_optimizer(model, cfg.learning_rate)
        sgd_step = jax.jit(ppo.sgd_step)
        for _ in range(3):
            batch = random_minibatch(model, obs_norm, cfg, 10, rng, dtype)
            params, opt_state, _ = sgd_step(params, opt_state, lr, obs_stats,
                                                as_minibatch(batch))
            torch_twin.sgd_step(model, optimizer, obs_norm,
                                {k: to_torch(v) for k, v in batch.items()}, cfg)
            adam = opt_state[1]
            tolerance = tol(dtype, (1e-4, 1e-6), (1e-10, 1e-12))
            moment = lambda name: torch_twin.to_flax(model, lambda p: optimizer.state[p][name])
            chex.assert_trees_all_close(adam.mu, moment("exp_avg"), **tolerance)
            chex.assert_trees_all_close(adam.nu, moment("exp_avg_sq"), **tolerance)
            chex.assert_trees_all_close(params, torch_twin.to_flax(model), **tolerance)


@pytest.mark.parametrize("dtype", DTYPES)
@EXAMPLES
@given(seed=st.integers(0, 2**16), shape=st.sampled_from([(), (3,), (2, 2)]),
       sizes=st.lists(SIZES, min_size=1, max_size=6))
def test_normalizer_after_several_updates(dtype, seed, shape, sizes):
    # Batches with different means and scales, so the merge formula matters.
    # float32: rtol 1e-5, atol 1e-6; float64: rtol 1e-12, atol 1e-12.
    rng = np.random.default_rng(seed)
    twin = torch_twin.RunningMeanStd(shape, getattr(torch, dtype))
    tolerance = tol(dtype, (1e-5, 1e-6), (1e-12, 1e-12))
    with precision(dtype):
        stats = jax.tree.map(lambda x: x.astype(dtype), normalization.init_stats(shape))
        for n in sizes:
            batch = rng.normal(rng.uniform(-5, 5), rng.uniform(0.1, 4), (n, *shape)).astype(dtype)
            stats = update_stats(stats, jnp.asarray(batch))
            twin.update(to_torch(batch))
            assert_close(stats.mean, twin.mean, **tolerance)
            assert_close(stats.var, twin.var, **tolerance)
            assert float(stats.count) == twin.count
        x = rng.normal(0, 30, size=(5, *shape)).astype(dtype)  # some beyond the clip
        assert_close(normalization.normalize(stats, x), twin.normalize(to_torch(x)), **tolerance)
        assert_close(normalization.denormalize(stats, x), twin.denormalize(to_torch(x)),
                     **tolerance)


@settings(max_examples=20, deadline=None)
@given(threshold=st.floats(1e-4, 0.05),
       kl_scales=st.lists(st.one_of(st.sampled_from([0.5, 2.0]), st.floats(0.0, 5.0)),
                          min_size=1, max_size=30))
def test_learning_rate_after_a_sequence_of_kl_values(threshold, kl_scales):
    # In float64 on both sides the decisions are the same comparisons, so even KL exactly
    # on a boundary (threshold * 2, threshold / 2) must agree: rtol 1e-14.
    kls = [threshold * s for s in kl_scales]
    lr, twin_lr = 1e-3, 1e-3
    with jax.enable_x64(True):
        lr = jnp.asarray(lr, jnp.float64)
        for kl in kls:
            lr = losses.kl_adaptive_lr(lr, jnp.asarray(kl, jnp.float64), threshold)
            twin_lr = torch_twin.kl_adaptive_lr(twin_lr, kl, threshold)
            np.testing.assert_allclose(float(lr), twin_lr, rtol=1e-14)


def random_rollout(model, obs_norm, cfg, obs_size, rng, dtype, critic=None) -> Transition:
    """A rollout [T, B] as the policy would have collected it (actions sampled from it,
    its log-probs and values), with random rewards, flags and final observations (and,
    with `critic` = (normaliser, size), critic observations)."""
    shape = (cfg.rollouts, cfg.num_envs)
    obs = rng.normal(1.0, 2.0, size=(*shape, obs_size)).astype(dtype)
    critic_fields = {}
    if critic is not None:
        critic_fields = {name: rng.normal(-1.0, 3.0, size=(*shape, critic[1])).astype(dtype)
                         for name in ("critic_obs", "final_critic_obs")}
        critic = (critic[0], critic_fields["critic_obs"])
    action, log_prob, value = policy_data(model, obs_norm, cfg, obs, rng, critic)
    terminated = rng.random(shape) < 0.1
    truncated = (rng.random(shape) < 0.1) & ~terminated
    learned_from = {
        "obs": obs, "action": action, "log_prob": log_prob, "value": value,
        "reward": rng.normal(1.0, 1.0, size=shape).astype(dtype), "terminated": terminated,
        "truncated": truncated,
        "final_obs": rng.normal(1.0, 2.0, size=(*shape, obs_size)).astype(dtype),
        **critic_fields}
    # The other fields (episode statistics, metrics) only feed logging, not learning;
    # without a critic observation its fields stay None.
    absent = lambda name: None if "critic" in name else np.zeros(shape, dtype)
    return Transition(**{f.name: jax.tree.map(jnp.asarray, learned_from.get(f.name,
                                                                            absent(f.name)))
                         for f in dataclasses.fields(Transition)})


WHOLE_UPDATE = {
    "default": {"learning_rate": 3e-3, "learning_rate_scheduler_kl_threshold": 0.002},
    "shared_trunk_no_preprocessors_no_clips": {
        "share_features": True, "state_preprocessor": False, "value_preprocessor": False,
        "time_limit_bootstrap": False, "clip_predicted_values": False, "grad_norm_clip": 0.0,
        "learning_rate_scheduler_kl_threshold": 0.0, "rewards_shaper_scale": 0.5},
    # the value network reads a critic observation of its own (5 values), normalised by
    # its own statistics, and bootstraps from the final one
    "privileged_critic": {"learning_rate": 3e-3, "learning_rate_scheduler_kl_threshold": 0.002},
    # each minibatch gains its mirror image (observations, actions and critic observations
    # permuted with sign flips); with a critic observation of its own
    "symmetry_augmentation": {"learning_rate": 3e-3, "symmetry_augmentation": True,
                              "learning_rate_scheduler_kl_threshold": 0.002},
}
CRITIC_OBS_SIZE = {"privileged_critic": 5, "symmetry_augmentation": 4}
MIRRORS = {"symmetry_augmentation": symmetry.Mirrors(
    obs=symmetry.signs(1, -1) + symmetry.blocks((0,), symmetry.signs(-1)),
    action=symmetry.Mirror((1, 0), (-1.0, -1.0)),
    critic_obs=symmetry.blocks((1, 0), symmetry.signs(1, -1)))}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", list(WHOLE_UPDATE))
def test_one_whole_ppo_update(dtype, variant):
    # Same rollout, minibatch orders and initial weights: after one update (3 epochs x 4
    # minibatches) the params, Adam moments, learning rate and statistics agree.
    # float32: rtol 1e-4, atol 1e-5 (12 Adam steps); float64: rtol 1e-9, atol 1e-11.
    cfg = small_cfg(**WHOLE_UPDATE[variant])
    obs_size, action_size, critic_size = 3, 2, CRITIC_OBS_SIZE.get(variant)
    tolerance = tol(dtype, (1e-4, 1e-5), (1e-9, 1e-11))
    with precision(dtype):
        rng, params, obs_stats, model, obs_norm = setup_pair(cfg, obs_size, action_size, 3, dtype,
                                                             critic_size)
        value_stats, value_norm = random_stats(rng, (), dtype)
        critic_stats, critic_norm = (None, None) if critic_size is None else \
            random_stats(rng, (critic_size,), dtype)
        traj = random_rollout(model, obs_norm, cfg, obs_size, rng, dtype,
                              None if critic_size is None else (critic_norm, critic_size))
        orders = np.stack([rng.permutation(cfg.batch_size) for _ in range(cfg.learning_epochs)])
        mirrors = MIRRORS.get(variant)
        ppo = ppo_for(cfg, obs_size, action_size, critic_size, mirrors)
        state = TrainState(
            params=params, opt_state=ppo.optimizer.init(params), obs_stats=obs_stats,
            value_stats=value_stats, learning_rate=jnp.asarray(cfg.learning_rate, dtype),
            env_state=None, key=None, update=0, env_steps=0, critic_stats=critic_stats)
        state, terms = jax.jit(ppo.learn)(state, traj, jnp.asarray(orders))

    optimizer = torch_twin.make_optimizer(model, cfg.learning_rate)
    rollout = {name: to_torch(getattr(traj, name)) for name in (
        "obs", "action", "log_prob", "value", "reward", "terminated", "truncated", "final_obs",
        *(() if critic_size is None else ("critic_obs", "final_critic_obs")))}
    twin_terms = torch_twin.learn(model, optimizer, obs_norm, value_norm, rollout,
                                  torch.from_numpy(orders), cfg, critic_norm, mirrors)

    for name in terms:
        assert_close(terms[name].reshape(-1), torch.stack([t[name] for t in twin_terms]),
                     err_msg=name, **tolerance)
    if cfg.learning_rate_scheduler_kl_threshold > 0:
        assert float(state.learning_rate) != cfg.learning_rate  # the KL rule acted
    assert_close(state.learning_rate, optimizer.param_groups[0]["lr"], **tolerance)
    chex.assert_trees_all_close(state.params, torch_twin.to_flax(model), **tolerance)
    moment = lambda name: torch_twin.to_flax(model, lambda p: optimizer.state[p][name])
    chex.assert_trees_all_close(state.opt_state[1].mu, moment("exp_avg"), **tolerance)
    pairs = [(state.obs_stats, obs_norm), (state.value_stats, value_norm)]
    if critic_size is not None:
        assert model.value_trunk[0].in_features == critic_size
        pairs.append((state.critic_stats, critic_norm))
    for stats, twin in pairs:
        assert_close(stats.mean, twin.mean, **tolerance)
        assert_close(stats.var, twin.var, **tolerance)
        assert float(stats.count) == twin.count


def test_training_never_imports_torch():
    code = ("import sys, motrix_jax.train, motrix_jax.ppo; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
