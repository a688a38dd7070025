"""Data parallelism across devices: the env batch is split, everything else replicated.

Only the placement of the train state changes. `jax.jit` then partitions the
compiled update (GSPMD): every device steps its slice of the envs, and the
reductions that span the batch (the loss and its gradients, advantage
normalisation, the running observation/value statistics) become all-reduces
over devices, so a sharded run computes the same numbers as one device with
the same total batch, up to float summation order.

Needs a pure-JAX physics backend (MJX); the MotrixSim host backend keeps its
worlds on one host and is not sharded.

Several hosts: `init_distributed` (train CLI: `--coordinator HOST:PORT --num-processes
N --process-id I`, or `--distributed` inside Slurm / Open MPI / Cloud TPU) joins the
processes with `jax.distributed.initialize` before any JAX computation; `jax.devices()`
then lists every process's devices, so `env_mesh()` spans all hosts and each process
steps the envs of its own devices. Every process runs the same program (same config
and seed) and builds the same initial state; `jax.device_put` keeps each process's slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "envs"


def init_distributed(coordinator: str | None = None, num_processes: int | None = None,
                     process_id: int | None = None) -> str:
    """`jax.distributed.initialize` with these arguments (None: JAX detects them from a
    Slurm, Open MPI, Cloud TPU or Kubernetes environment; the coordinator address also
    from JAX_COORDINATOR_ADDRESS). Must run before any JAX computation. Returns a line
    describing this process's place."""
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)
    return placement()


def placement() -> str:
    """This process's place among the JAX processes, in words."""
    return (f"process {jax.process_index()} of {jax.process_count()}, "
            f"{jax.local_device_count()} of {jax.device_count()} devices here")


def env_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over `devices` (default: all devices) with axis 'envs'."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (AXIS,))


def env_sharding(mesh: Mesh, num_envs: int, batch_axis: int = 0):
    """leaf -> NamedSharding on `mesh`: split along `batch_axis` where that axis has
    `num_envs`, replicated otherwise (scalars, RNG keys, ticks). `batch_axis` is 1 when a
    seed axis from `jax.vmap` comes first."""
    devices = mesh.devices.size
    if num_envs % devices:
        raise ValueError(f"num_envs = {num_envs} is not divisible by the {devices} devices; "
                         f"use a multiple of {devices}")

    def sharding(x) -> NamedSharding:
        if x.ndim > batch_axis and x.shape[batch_axis] == num_envs:
            return NamedSharding(mesh, PartitionSpec(*([None] * batch_axis), AXIS))
        return NamedSharding(mesh, PartitionSpec())

    return sharding


def shard_env_batch(tree, mesh: Mesh, num_envs: int, batch_axis: int = 0):
    """Place `tree` on `mesh` as `env_sharding` says."""
    return jax.tree.map(lambda x: jax.device_put(x, env_sharding(mesh, num_envs, batch_axis)(x)),
                        tree)


def replicate(tree, mesh: Mesh):
    """Place a full copy of every leaf of `tree` on each device of `mesh`."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def train_state_shardings(state, mesh: Mesh, num_envs: int, batch_axis: int = 0):
    """The placement of a PPO `TrainState` (arrays or their shapes) on `mesh`: its env
    state split over the env axis, the rest (params, optimiser state, statistics, keys,
    counters) replicated; a pytree of NamedShardings shaped like `state`."""
    replicated = NamedSharding(mesh, PartitionSpec())
    # a recurrent policy's memory is per env, split like the env state
    memory = getattr(state, "memory", None)
    rest = jax.tree.map(lambda _: replicated, state.replace(env_state=None, memory=None))
    per_env = env_sharding(mesh, num_envs, batch_axis)
    return rest.replace(env_state=jax.tree.map(per_env, state.env_state),
                        memory=jax.tree.map(per_env, memory))


def shard_train_state(state, mesh: Mesh, num_envs: int, batch_axis: int = 0):
    """Place a PPO `TrainState` on `mesh` as `train_state_shardings` says."""
    return jax.device_put(state, train_state_shardings(state, mesh, num_envs, batch_axis))


def jit_pinned(update, state, mesh: Mesh):
    """`jax.jit(update)` for `update(state) -> (state, metrics)` whose output state keeps
    the placement of `state` (metrics replicated), so calling it again on its own output
    does not compile again. `state` is donated."""
    placement = jax.tree.map(lambda x: x.sharding, state)
    return jax.jit(update, donate_argnums=0, in_shardings=(placement,),
                   out_shardings=(placement, NamedSharding(mesh, PartitionSpec())))
