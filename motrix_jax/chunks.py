"""Training as compiled chunks: `ppo.run` over a few whole updates for every seed
(`jax.vmap`), compiled ahead of time once per (env object, config, length) in a
process, so training the same env again (tests, notebooks) does not recompile.
Host-callback programs cannot use JAX's disk cache, hence this in-process cache. Runs
that differ only in what no program reads (their length, checkpoint cadence and first
seed) share programs.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp

from motrix_jax import metrics
from motrix_jax.ppo import make_ppo, seed_keys


def chunk_fn(ppo, num_updates: int, state):
    """`num_updates` updates on one seed's state, plus whether the params stayed finite."""
    state, emitted = ppo.run(state, num_updates)
    finite = jnp.stack([jnp.isfinite(x).all() for x in jax.tree.leaves(state.params)]).all()
    return state, {**emitted, metrics.PARAMS_FINITE: finite}


def program_config(cfg):
    """`cfg` with the fields no compiled program reads set to fixed values."""
    return dataclasses.replace(cfg, max_env_steps=cfg.batch_size, check_point_interval=1,
                               seed=0)


def compiled_init(env, cfg):
    """`init` for all seeds (called with `seed_keys(cfg)`), compiled once per program."""
    return _compiled_init(env, program_config(cfg))


def compiled_chunk(env, cfg, num_updates: int):
    """A chunk of `num_updates` updates for all seeds (the state is donated)."""
    return _compiled_chunk(env, program_config(cfg), num_updates)


@functools.cache
def _compiled_init(env, cfg):
    return jax.jit(jax.vmap(make_ppo(cfg, env).init)).lower(seed_keys(cfg)).compile()


@functools.cache
def _compiled_chunk(env, cfg, num_updates: int):
    ppo = make_ppo(cfg, env)
    abstract = jax.eval_shape(jax.vmap(ppo.init), seed_keys(cfg))
    fn = jax.jit(jax.vmap(functools.partial(chunk_fn, ppo, num_updates)), donate_argnums=0)
    return fn.lower(abstract).compile()


class ChunkRunner:
    """Runs chunks for one session and adds up the time spent compiling them. With a
    `mesh` (several devices, MJX), each chunk keeps the sharded placement of the state."""

    def __init__(self, env, cfg, mesh=None):
        self.env, self.cfg, self.mesh, self.compile_s = env, cfg, mesh, 0.0
        self.pinned = {}

    def __call__(self, state, num_updates: int):
        start = time.perf_counter()
        compiled, fresh = self._compiled(state, num_updates)
        if fresh:
            self.compile_s += time.perf_counter() - start
        return compiled(state)

    def _compiled(self, state, num_updates: int):
        """(the compiled chunk, whether it was compiled just now)."""
        from motrix_jax.sharding import jit_pinned

        if self.mesh is None:
            misses = _compiled_chunk.cache_info().misses
            compiled = compiled_chunk(self.env, self.cfg, num_updates)
            return compiled, _compiled_chunk.cache_info().misses > misses
        if num_updates in self.pinned:
            return self.pinned[num_updates], False
        fn = jax.vmap(functools.partial(chunk_fn, make_ppo(self.cfg, self.env), num_updates))
        self.pinned[num_updates] = jit_pinned(fn, state, self.mesh).lower(state).compile()
        return self.pinned[num_updates], True
