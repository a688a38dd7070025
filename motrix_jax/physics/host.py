"""What the host backends (MotrixSim, MuJoCo's C engine) share: a batch of worlds that
lives on the host, reached from jitted code by one `jax.pure_callback` per control step.

Each control step sends, for the whole batch: the tick returned by the previous call (so
each call depends on the one before and cannot be dropped or reordered), the controls
[N, nu], the reset mask [N] and the initial states of the worlds to reset. The host
resets those worlds, runs the physics substeps and returns qpos, qvel, the contact flags
of the task's geom pairs, the tick and, where the engine's state can be read whole, that
state (`state_width` > 0), which rides in `PhysicsView.data` so checkpoints hold it.

Why `jax.pure_callback` and not `io_callback`: both cost the same here (~0.25-0.3 ms
fixed per call, measured inside `lax.scan` with 1024 worlds), but an ordered
`io_callback` cannot be vmapped ("Cannot `vmap` ordered IO callback"), and training
several seeds in one program needs `vmap`. With `vmap_method="broadcast_all"`, vmapped
seeds become one host call over [S, N] worlds. A pure_callback is dropped when its
result is unused (a reset whose observation nobody reads was dropped in a test), so the
tick threads through every call, and the host raises if a step arrives twice or out of
order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from motrix_jax.env import PhysicsView


class TickedHost:
    """The tick bookkeeping of a host: control steps arrive once each, in order."""

    engine = "host"
    expected_tick = 0
    tick_log: list[int] | None = None  # set to [] to record ticks (tests)

    def check_tick(self, tick) -> None:
        tick = int(np.asarray(tick).reshape(-1)[0])
        if tick != self.expected_tick:
            raise RuntimeError(
                f"{self.engine} host: control step {tick} arrived, expected "
                f"{self.expected_tick}. The worlds live on the host, so each EnvState can "
                "be stepped once; call env.reset to start again")
        self.expected_tick += 1
        if self.tick_log is not None:
            self.tick_log.append(tick)

    def ticks(self, shape: tuple[int, ...]) -> np.ndarray:
        """One tick per vmapped program (all equal): shape = the leading batch axes."""
        return np.full(shape[:-1], self.expected_tick, np.int32)


def flat(x, width: int, dtype=np.float32) -> np.ndarray:
    """x [..., width] as a contiguous [prod(...), width] array of `dtype`."""
    return np.ascontiguousarray(np.asarray(x, dtype).reshape(-1, width))


class HostPhysics:
    """The `Physics` backend over a host (HostWorlds, MujocoWorlds): JAX functions whose
    every call is one host callback."""

    name = "host"

    def __init__(self, host, options: dict):
        self.host = host
        self.nq, self.nv, self.nu = host.nq, host.nv, host.nu
        self.options = options

    def _shapes(self, batch: tuple[int, ...]):
        shapes = (jax.ShapeDtypeStruct((*batch, self.nq), jnp.float32),
                  jax.ShapeDtypeStruct((*batch, self.nv), jnp.float32),
                  jax.ShapeDtypeStruct((*batch, self.host.num_contacts), jnp.float32),
                  jax.ShapeDtypeStruct((), jnp.int32))
        width = getattr(self.host, "state_width", 0)
        if width:  # float64 engine state as uint32 pairs (JAX runs in 32 bits)
            shapes += (jax.ShapeDtypeStruct((*batch, width, 2), jnp.uint32),)
        return shapes

    @staticmethod
    def _view(outputs) -> PhysicsView:
        qpos, qvel, contacts, tick, *state = outputs
        return PhysicsView(qpos=qpos, qvel=qvel, contacts=contacts, tick=tick,
                           data=state[0] if state else None)

    def reset(self, qpos: jax.Array, qvel: jax.Array) -> PhysicsView:
        return self._view(jax.pure_callback(
            self.host.reset, self._shapes(qpos.shape[:-1]), qpos, qvel,
            vmap_method="broadcast_all"))

    def restore(self, physics_state: PhysicsView) -> None:
        """Make the host worlds match `physics_state` (eager, outside jit), e.g. from a
        checkpoint."""
        qpos, qvel, data = physics_state.qpos, physics_state.qvel, physics_state.data
        tick = int(np.asarray(physics_state.tick).reshape(-1)[0])
        self.host.restore(np.asarray(qpos), np.asarray(qvel),
                          None if data is None else np.asarray(data), tick)

    def host_reset(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Put every host world in qpos [N, nq], qvel [N, nv] (numpy, eager, no JAX)."""
        self.host.reset(np.asarray(qpos), np.asarray(qvel))

    def host_step(self, ctrl: np.ndarray) -> None:
        """Advance every host world one control step with ctrl [N, nu] and read back its
        state, as a step of the env does (numpy, eager, no JAX, no resets, no tick
        check): the engine alone, for benchmarks."""
        self.host.advance(ctrl)

    def step(self, view, ctrl, reset_mask, reset_qpos, reset_qvel) -> PhysicsView:
        # Only the tick of `view` is sent: the host holds the worlds themselves.
        return self._view(jax.pure_callback(
            self.host.step, self._shapes(ctrl.shape[:-1]), view.tick, ctrl, reset_mask,
            reset_qpos, reset_qvel, vmap_method="broadcast_all"))
