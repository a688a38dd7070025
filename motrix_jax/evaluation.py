"""The one evaluation loop: a deterministic policy run for a fixed number of control
steps on a fresh batch of envs, recording what the caller asks for after every step.
`play` and the learning benchmarks evaluate with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from motrix_jax.env import Env, EnvState


def run_policy(env: Env, policy: Callable[[jax.Array], jax.Array], key: jax.Array,
               steps: int, record: Callable[[EnvState], Any]) -> tuple[Any, Any]:
    """Reset `env` with `key`, then `steps` steps of `policy(obs) -> action` (episodes
    restart as in training). Returns (the first state's task info, `record(state)` after
    every step stacked to [steps, ...]), as numpy arrays. A recurrent policy
    (`recurrent.MemoryPolicy`) carries its memory, zeroed where an episode ends."""
    recurrent = hasattr(policy, "initial_memory")

    def body(carry, _):
        state, memory = carry
        if recurrent:
            action, memory = policy(state.obs, memory)
            state = env.step(state, action)
            memory = policy.reset(memory, state.terminated | state.truncated)
        else:
            state = env.step(state, policy(state.obs))
        return (state, memory), record(state)

    @jax.jit
    def run(key):
        start = env.reset(key)
        memory = policy.initial_memory(env.num_envs) if recurrent else None
        return start.info, jax.lax.scan(body, (start, memory), None, length=steps)[1]

    return jax.tree.map(np.asarray, run(key))
