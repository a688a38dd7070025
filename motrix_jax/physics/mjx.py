"""MuJoCo MJX physics on the device: the whole batch of worlds is an `mjx.Data` pytree.

The batched `mjx.Data` travels in `PhysicsView.data`, so it lives wherever the
env state lives (inside the jitted PPO program) and nothing leaves the device.
A control step resets the masked worlds, sets the controls and runs the
physics substeps with `lax.fori_loop` over `mjx.step`, all under `jax.vmap`.

Conventions are MotrixSim's, because the tasks are written against them: a
free joint's quaternion in `qpos` is x, y, z, w (MuJoCo stores w, x, y, z), so
`qpos` is permuted on the way in and out. Free-joint velocities already agree
(linear in the world frame, angular in the body frame); a test checks both.

Resets inside `step` replace the masked worlds with a fresh `mjx.Data` holding
the new qpos/qvel (solver warm start, time and activations cleared) without an
extra `mjx.forward`: `mjx.step` starts with the same forward pass, so the result
is identical and a step costs one forward pass, not two. `reset` runs
`mjx.forward` so the first view's data is complete.
"""

from __future__ import annotations

import dataclasses
import os

# Without this, XLA's CPU scheduler deadlocked `jit(vmap(mjx.step))` at batch >= 64 on
# a 2-core machine (../shared/MOTRIXSIM.md). It must be set before XLA initialises.
if "xla_cpu_enable_concurrency_optimized_scheduler" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_cpu_enable_concurrency_optimized_scheduler=false")

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx

from motrix_jax.env import PhysicsView, SolverOptions, substeps
from motrix_jax.physics.mujoco import (
    geom_pair_ids,
    load_model,
    quaternion_permutation,
    solver_in_force,
)


def contact_flags(data: mjx.Data, pairs: jax.Array) -> jax.Array:
    """[P] float: 1.0 where a contact between the pair's geoms penetrates (dist < 0).
    For one world; `pairs` [P, 2] geom ids, matched in either order."""
    contact = data._impl.contact
    if contact.dist.shape[0] == 0 or pairs.shape[0] == 0:
        return jnp.zeros((pairs.shape[0],))
    g1, g2 = contact.geom[:, 0], contact.geom[:, 1]  # [C]
    a, b = pairs[:, :1], pairs[:, 1:]  # [P, 1]
    match = ((g1 == a) & (g2 == b)) | ((g1 == b) & (g2 == a))  # [P, C]
    return (match & (contact.dist < 0)).any(axis=-1).astype(jnp.float32)


class MjxPhysics:
    """The `Physics` backend for MJX: pure JAX, batched with `jax.vmap`."""

    name = "mjx"

    def __init__(self, mjcf: str, sim_dt: float, ctrl_dt: float,
                 contact_pairs: tuple[tuple[str, str], ...] = (),
                 solver: SolverOptions | None = None):
        self.substeps = substeps(sim_dt, ctrl_dt)
        self.mj_model = load_model(mjcf, sim_dt, solver)
        # this process's first device: with jax.distributed, jax.devices()[0] (MJX's
        # default) may belong to another process
        device = jax.local_devices()[0]
        self.model = mjx.put_model(self.mj_model, device=device)
        self.nq, self.nv, self.nu = self.mj_model.nq, self.mj_model.nv, self.mj_model.nu
        self.to_mujoco = quaternion_permutation(self.mj_model)
        self.to_task = np.argsort(self.to_mujoco)
        self.pairs = geom_pair_ids(self.mj_model, contact_pairs)
        self.data0 = mjx.make_data(self.model, device=device)  # one world, all defaults
        # MJX allocates every candidate contact, touching or not, and its constraint rows
        impl = self.data0._impl
        self.options = {"timestep": sim_dt, "substeps": self.substeps,
                        **dataclasses.asdict(solver_in_force(self.mj_model)),
                        "contacts": int(impl.contact.dist.shape[0]),
                        "constraint_rows": int(impl.efc_J.shape[0])}

    def _fresh(self, qpos: jax.Array, qvel: jax.Array) -> mjx.Data:
        """A new world at task-layout qpos [nq], qvel [nv] (no forward pass)."""
        return self.data0.replace(qpos=qpos[self.to_mujoco], qvel=qvel)

    def _view(self, data: mjx.Data, tick: jax.Array) -> PhysicsView:
        contacts = jax.vmap(contact_flags, in_axes=(0, None))(data, jnp.asarray(self.pairs))
        return PhysicsView(qpos=data.qpos[..., self.to_task], qvel=data.qvel,
                           contacts=contacts, tick=tick, data=data)

    def reset(self, qpos: jax.Array, qvel: jax.Array) -> PhysicsView:
        data = jax.vmap(lambda q, v: mjx.forward(self.model, self._fresh(q, v)))(qpos, qvel)
        return self._view(data, jnp.zeros((), jnp.int32))

    def restore(self, physics_state: PhysicsView) -> None:
        """Nothing to do: the worlds' state is `physics_state.data`, in JAX."""

    def _advance(self, data: mjx.Data, ctrl: jax.Array) -> mjx.Data:
        """One control step of one world: ctrl [nu], then `substeps` physics steps."""
        data = data.replace(ctrl=ctrl)
        return jax.lax.fori_loop(0, self.substeps, lambda _, d: mjx.step(self.model, d), data)

    def step(self, view: PhysicsView, ctrl: jax.Array, reset_mask: jax.Array,
             reset_qpos: jax.Array, reset_qvel: jax.Array) -> PhysicsView:
        fresh = jax.vmap(self._fresh)(reset_qpos, reset_qvel)
        data = jax.tree.map(
            lambda new, old: jnp.where(
                reset_mask.reshape(reset_mask.shape + (1,) * (old.ndim - 1)), new, old),
            fresh, view.data)
        data = jax.vmap(self._advance)(data, ctrl)
        return self._view(data, view.tick + 1)
