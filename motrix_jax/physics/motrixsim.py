"""MotrixSim physics on the host, reached from jitted code by one callback per control step.

The host keeps a batch of worlds (`motrixsim.SceneData(model, [N])`); each control step
(the protocol is in `host.py`) resets the masked worlds, sets the controls, runs the
physics substeps with one `step_n` call and returns qpos, qvel and the contact flags of
the geom pairs the task asked for, read by one compiled MotrixSim query.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from motrix_jax.env import MotrixSimSolver, Randomization, substeps
from motrix_jax.physics.host import HostPhysics, TickedHost, flat

os.environ.setdefault("RUST_LOG", "error")  # silence MotrixSim's loader warnings


def _import_quietly():
    """motrixsim, imported with file descriptor 2 pointed at /dev/null: its native library
    prints "Motphys profiler initialized: disabled" on stderr when loaded, which preceded
    every one-line error of a command that had imported it."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import motrixsim
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return motrixsim


motrixsim = _import_quietly()
from motrixsim import query


class HostWorlds(TickedHost):
    """The host side: SceneData batches, created on first use per batch size."""

    engine = "MotrixSim"

    def __init__(self, mjcf: str, sim_dt: float, substeps: int,
                 contact_pairs: tuple[tuple[str, str], ...] = (),
                 randomization: Randomization | None = None,
                 solver: MotrixSimSolver | None = None):
        self.model = motrixsim.load_mjcf_str(mjcf)
        self.randomization = randomization
        self.model.options.timestep = sim_dt
        if solver is not None:
            self.model.options.max_iterations = solver.max_iterations
            self.model.options.solver_tolerance = solver.tolerance
        self.substeps = substeps
        self.nq = self.model.num_dof_pos
        self.nv = self.model.num_dof_vel
        self.nu = self.model.num_actuators
        self.num_contacts = len(contact_pairs)
        sources = {"qpos": query.DofPosition(), "qvel": query.DofVelocity()}
        if contact_pairs:
            sources["contacts"] = query.GeomPairCollision([tuple(p) for p in contact_pairs])
        self.query = self.model.compile_query(sources)
        self.data: motrixsim.SceneData | None = None
        self.program = None
        self.overrides: list = []  # (setter, per-world values) re-applied after resets

    def _view(self, shape: tuple[int, ...]):
        out = self.program.execute(self.data)
        qpos = out["qpos"].reshape(*shape, self.nq).copy()
        qvel = out["qvel"].reshape(*shape, self.nv).copy()
        contacts = (out["contacts"].reshape(*shape, self.num_contacts).copy()
                    if self.num_contacts else np.zeros((*shape, 0), np.float32))
        return qpos, qvel, contacts, self.ticks(shape)

    def reset(self, qpos: np.ndarray, qvel: np.ndarray):
        shape = qpos.shape[:-1]
        n = int(np.prod(shape))
        # Fresh worlds on every full reset: SceneData.reset keeps solver state (contact
        # warm starts) that made a second run with the same key differ by ~1e-4.
        self.data = motrixsim.SceneData(self.model, [n])
        self.program = self.query.allocate(self.data)
        self.overrides = ([] if self.randomization is None else
                          draw_overrides(self.model, self.data, self.randomization))
        self.data.reset(self.model, dof_pos=flat(qpos, self.nq), dof_vel=flat(qvel, self.nv),
                        forward_kinematic=True)
        self._apply_overrides()
        self.expected_tick = 0
        return self._view(shape)

    def restore(self, qpos: np.ndarray, qvel: np.ndarray, state, tick: int) -> None:
        """Put every world in the saved state [..., nq], [..., nv] and expect `tick` next:
        how a resumed run continues from a checkpoint's EnvState.

        qpos/qvel round-trip exactly, and without contacts (cartpole) the resumed run is
        bitwise equal to an uninterrupted one. With contacts it is not: MotrixSim keeps
        cached solver state (warm-start lambdas) that its API neither reads nor writes, so
        the first step after a restore starts the contact solver from a different guess.
        Measured on go1_flat standing: 2.5e-7 in qpos and 1.1e-5 in qvel after one step,
        the solver's own tolerance; tests/test_checkpoint.py bounds it (slow test).
        `state` is unused (None): qpos/qvel are all of the worlds' state there is."""
        self.reset(qpos, qvel)
        self.expected_tick = int(tick)

    def _apply_overrides(self):
        for set_override, values in self.overrides:
            set_override(self.data, values)

    def step(self, tick, ctrl, reset_mask, reset_qpos, reset_qvel):
        shape = ctrl.shape[:-1]
        n = int(np.prod(shape))
        if self.data is None or self.data.shape != (n,):
            raise RuntimeError(f"MotrixSim host: step for {n} worlds before reset")
        self.check_tick(tick)
        mask = np.asarray(reset_mask, bool).reshape(n)
        if mask.any():
            q = flat(reset_qpos, self.nq)[mask]
            v = flat(reset_qvel, self.nv)[mask]
            # No forward kinematics here: the step below recomputes it anyway.
            self.data[mask].reset(self.model, dof_pos=q, dof_vel=v)
            self._apply_overrides()
        return self.advance(ctrl)

    def advance(self, ctrl):
        """Set ctrl [..., nu] and run one control step's substeps in every world (no
        resets, no tick check); returns the view's arrays."""
        self.data.actuator_ctrls = flat(ctrl, self.nu)
        self.model.step_n(self.data, self.substeps)
        return self._view(ctrl.shape[:-1])


def draw_overrides(model, data, spec: Randomization) -> list:
    """Per-world parameter overrides drawn from `spec`: (setter, values) pairs to apply
    with `setter(data, values)`. MotrixSim clears mass and friction overrides when a
    world is reset, so the host re-applies them after every reset."""
    rng = np.random.default_rng(spec.seed)
    n = data.shape[0]

    def draw(low_high, *shape):
        return rng.uniform(*low_high, (n, *shape)).astype(np.float32)

    scale = draw(spec.friction)
    overrides = [(geom.set_friction_override, geom.get_friction_override(data) * scale[:, None])
                 for geom in model.geoms]
    overrides += [(link.set_mass_override, link.get_mass_override(data) * draw(spec.mass))
                  for link in model.links if np.all(link.get_mass_override(data) > 0)]
    if spec.com_body:
        link = model.links[model.link_names.index(spec.com_body)]
        com = link.get_center_of_mass_override(data)
        overrides.append((link.set_center_of_mass_override,
                          com + draw((-spec.com_offset, spec.com_offset), 3)))
    for actuator in model.actuators:
        if isinstance(actuator, motrixsim.PositionActuator):
            overrides.append((actuator.set_kp_override,
                              actuator.get_kp_override(data) * draw(spec.kp)))
            overrides.append((actuator.set_damping_override,
                              actuator.get_kd_override(data) * draw(spec.kd)))
    return overrides


def solver_in_force(model) -> MotrixSimSolver:
    """The solver budget a MotrixSim `model` carries, read back from its options."""
    opt = model.options
    return MotrixSimSolver(max_iterations=int(opt.max_iterations),
                           tolerance=float(opt.solver_tolerance))


class MotrixSimPhysics(HostPhysics):
    """The `Physics` backend for MotrixSim: JAX functions over a HostWorlds."""

    name = "motrixsim"

    def __init__(self, mjcf: str, sim_dt: float, ctrl_dt: float,
                 contact_pairs: tuple[tuple[str, str], ...] = (),
                 randomization: Randomization | None = None,
                 solver: MotrixSimSolver | None = None):
        host = HostWorlds(mjcf, sim_dt, substeps(sim_dt, ctrl_dt), contact_pairs,
                          randomization, solver)
        in_force = solver_in_force(host.model)  # read back: what the engine will use
        super().__init__(host, {"timestep": sim_dt, "substeps": host.substeps,
                                "max_iterations": in_force.max_iterations,
                                "solver_tolerance": in_force.tolerance})
