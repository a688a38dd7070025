"""Run in a subprocess with 2 forced host devices (see test_sharding.py): PPO updates on
one device vs the same updates with the env batch sharded over both. Prints JSON."""

import dataclasses
import json
import sys

import jax
import numpy as np
from jax_physics import JaxCartpolePhysics

from motrix_jax import envs
from motrix_jax.env import Env
from motrix_jax.ppo import make_ppo
from motrix_jax.sharding import env_mesh, jit_pinned, shard_train_state


def main(physics: str, updates: int = 3) -> None:
    cfg = dataclasses.replace(envs.preset("cartpole"), num_envs=16, rollouts=8,
                              mini_batches=4, learning_epochs=2)
    if physics == "mjx":
        env = envs.make("cartpole", cfg.num_envs, physics="mjx")
    else:
        env = Env(envs.make_task("cartpole"), JaxCartpolePhysics(), cfg.num_envs)
    ppo = make_ppo(cfg, env)
    traces = []

    def counted_update(state):
        traces.append(1)
        return ppo.update(state)

    init, update = jax.jit(ppo.init), jax.jit(ppo.update)
    key = jax.random.PRNGKey(0)
    mesh = env_mesh()
    single, sharded = init(key), shard_train_state(init(key), mesh, cfg.num_envs)
    sharded_update = jit_pinned(counted_update, sharded, mesh)
    obs = sharded.env_state.obs
    layout = {"devices": jax.device_count(),
              "obs_devices": len(obs.sharding.device_set),
              "obs_shard_rows": [s.data.shape[0] for s in obs.addressable_shards],
              "params_replicated": all(x.sharding.is_fully_replicated
                                       for x in jax.tree.leaves(sharded.params))}
    for _ in range(updates):
        single, single_metrics = update(single)
        sharded, sharded_metrics = sharded_update(sharded)
    layout["obs_devices_after"] = len(sharded.env_state.obs.sharding.device_set)
    layout["sharded_traces"] = len(traces)
    diff = lambda a, b: max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
                            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    print(json.dumps({**layout,
                      "params_diff": diff(single.params, sharded.params),
                      "obs_stats_diff": diff(single.obs_stats, sharded.obs_stats),
                      "env_obs_diff": diff(single.env_state.obs, sharded.env_state.obs),
                      "metrics_diff": diff(single_metrics, sharded_metrics),
                      "param_change": diff(init(key).params, single.params),
                      "episodes": int(single_metrics["episodes"])}))


if __name__ == "__main__":
    main(sys.argv[1])
