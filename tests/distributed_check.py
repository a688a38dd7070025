"""Run as one of 2 processes (see test_distributed.py): `jax.distributed` on CPU with one
device per process, PPO updates with the env batch sharded over both processes' devices
vs the same updates on this process's device alone. Prints JSON."""

import dataclasses
import json
import sys

from motrix_jax.sharding import env_mesh, init_distributed, jit_pinned, shard_train_state


def main(port: int, process_id: int, updates: int = 3) -> None:
    placement = init_distributed(f"localhost:{port}", 2, process_id)  # before any JAX work
    import jax
    import numpy as np
    from jax_physics import JaxCartpolePhysics

    from motrix_jax import envs
    from motrix_jax.env import Env
    from motrix_jax.ppo import make_ppo

    cfg = dataclasses.replace(envs.preset("cartpole"), num_envs=16, rollouts=8,
                              mini_batches=4, learning_epochs=2)
    env = Env(envs.make_task("cartpole"), JaxCartpolePhysics(), cfg.num_envs)
    ppo = make_ppo(cfg, env)
    init, update = jax.jit(ppo.init), jax.jit(ppo.update)
    key = jax.random.PRNGKey(0)
    mesh = env_mesh()  # both processes' devices
    single = init(key)  # on this process's device only
    sharded = shard_train_state(init(key), mesh, cfg.num_envs)
    sharded_update = jit_pinned(ppo.update, sharded, mesh)
    for _ in range(updates):
        single, single_metrics = update(single)
        sharded, sharded_metrics = sharded_update(sharded)

    def diff(a, b):  # replicated leaves: this process's copy
        return max(float(np.max(np.abs(np.asarray(x.addressable_data(0)) - np.asarray(y))))
                   for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    (obs_shard,) = sharded.env_state.obs.addressable_shards  # this process's envs
    print(json.dumps({
        "placement": placement, "process": jax.process_index(),
        "devices": jax.device_count(), "local_devices": jax.local_device_count(),
        "mesh_devices": int(mesh.devices.size),
        "obs_rows_here": [s.start for s in obs_shard.index[:1]] + [obs_shard.data.shape[0]],
        "params_diff": diff(sharded.params, single.params),
        "obs_stats_diff": diff(sharded.obs_stats, single.obs_stats),
        "metrics_diff": diff(sharded_metrics, single_metrics),
        "env_obs_diff": float(np.max(np.abs(np.asarray(obs_shard.data)
                                            - np.asarray(single.env_state.obs)[obs_shard.index]))),
        "param_change": max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
                            for x, y in zip(jax.tree.leaves(init(key).params),
                                            jax.tree.leaves(single.params)))}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
