"""MuJoCo's C engine on the host: the batch of worlds stepped by `mujoco.rollout` on every
core (the GIL released), reached from jitted code by one callback per control step (the
protocol is in `host.py`, shared with MotrixSim). Also the MuJoCo model helpers that the
MJX backend shares: loading with solver settings, the quaternion order, geom ids.

The host keeps each world's whole physics state (`mjSTATE_FULLPHYSICS`: time, qpos,
qvel, actuator activations, ...) as one float64 row of `states` [N, nstate]. A control
step writes the reset worlds' rows, then one `rollout` call runs every world's
substeps. `rollout` starts each call's constraint solver cold (qacc_warmstart zeroed),
so the state rows are all there is: the view returns them (as uint32 pairs, since JAX
runs in 32 bits), a checkpoint holds them, and a resumed run is bitwise equal to an
uninterrupted one, contacts included. Within a control step the substeps warm-start
each other as usual.

Contact flags come from MuJoCo contact sensors (`data="found"`) added for the task's geom
pairs; they read 1.0 where the pair has a contact (MuJoCo keeps a contact when the
geoms' distance is below their margin, 0 here: penetrating, as MJX's flags).
Conventions are MotrixSim's, as on MJX: a free joint's quaternion in `qpos` is x, y, z, w.
MuJoCo's automatic reset of a world whose accelerations blow up is disabled, so such a
world turns non-finite and the env resets and counts it, as on the other backends.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import xml.etree.ElementTree as ET

import mujoco
import numpy as np
from mujoco import rollout

from motrix_jax.env import Randomization, SolverOptions, substeps
from motrix_jax.physics.host import HostPhysics, TickedHost, flat

FULL_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


def load_model(mjcf: str, sim_dt: float, solver: SolverOptions | None = None) -> mujoco.MjModel:
    """The MuJoCo model of `mjcf` with timestep `sim_dt` and the solver settings `solver`
    (None: the MJCF's own). Energy computation is off (MJX refuses it; nothing reads it)."""
    model = mujoco.MjModel.from_xml_string(mjcf)
    model.opt.timestep = sim_dt
    model.opt.enableflags &= ~int(mujoco.mjtEnableBit.mjENBL_ENERGY)
    if solver is not None:
        opt = model.opt
        opt.solver = {"cg": mujoco.mjtSolver.mjSOL_CG,
                      "newton": mujoco.mjtSolver.mjSOL_NEWTON}[solver.solver]
        opt.iterations, opt.ls_iterations = solver.iterations, solver.ls_iterations
        opt.tolerance = solver.tolerance
        opt.cone = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL,
                    "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}[solver.cone]
        eulerdamp = int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)
        opt.disableflags = (opt.disableflags & ~eulerdamp) | (0 if solver.eulerdamp
                                                               else eulerdamp)
    return model


def solver_in_force(model: mujoco.MjModel) -> SolverOptions:
    """The solver settings `model` carries, read back from its `mjOption`."""
    opt = model.opt
    return SolverOptions(
        solver="cg" if opt.solver == mujoco.mjtSolver.mjSOL_CG else "newton",
        iterations=int(opt.iterations), ls_iterations=int(opt.ls_iterations),
        tolerance=float(opt.tolerance),
        eulerdamp=not opt.disableflags & int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP),
        cone="elliptic" if opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC else "pyramidal")


def quaternion_permutation(model: mujoco.MjModel) -> np.ndarray:
    """Index array p with mujoco_qpos = task_qpos[..., p]: each free joint's quaternion
    goes from MotrixSim's x, y, z, w to MuJoCo's w, x, y, z."""
    perm = np.arange(model.nq)
    for joint in np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE):
        quat = model.jnt_qposadr[joint] + 3
        perm[quat:quat + 4] = [quat + 3, quat, quat + 1, quat + 2]
    return perm


def geom_pair_ids(model: mujoco.MjModel, pairs: tuple[tuple[str, str], ...]) -> np.ndarray:
    """Geom ids [P, 2] of named geom pairs; ValueError naming a geom the model lacks."""
    names = [model.geom(i).name for i in range(model.ngeom)]
    ids = []
    for pair in pairs:
        for name in pair:
            if name not in names:
                known = ", ".join(n for n in names if n)
                raise ValueError(f"contact pair {pair}: no geom named {name!r}; geoms: {known}")
        ids.append([names.index(pair[0]), names.index(pair[1])])
    return np.asarray(ids, np.int32).reshape(len(pairs), 2)


def with_contact_sensors(mjcf: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """`mjcf` with one contact sensor (`data="found"`) per geom pair, named contact_<i>."""
    root = ET.fromstring(mjcf)
    sensors = root.find("sensor")
    if sensors is None:
        sensors = ET.SubElement(root, "sensor")
    for i, (geom1, geom2) in enumerate(pairs):
        ET.SubElement(sensors, "contact", name=f"contact_{i}", geom1=geom1, geom2=geom2,
                      data="found", num="1")
    return ET.tostring(root, encoding="unicode")


def randomized_models(model: mujoco.MjModel, n: int, spec: Randomization) -> list:
    """n copies of `model`, each with physical parameters drawn from `spec` (friction of
    every geom, mass and inertia of every moving body, `com_body`'s centre of mass,
    position-actuator kp and kd), seeded by `spec.seed`."""
    rng = np.random.default_rng(spec.seed)
    position = model.actuator_biastype == mujoco.mjtBias.mjBIAS_AFFINE
    kp, kd = model.actuator_gainprm[:, 0].copy(), -model.actuator_biasprm[:, 2]
    com_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.com_body) \
        if spec.com_body else -1
    models = []
    for _ in range(n):
        world = copy.copy(model)
        world.geom_friction[:, 0] *= rng.uniform(*spec.friction)
        mass = rng.uniform(*spec.mass, model.nbody)
        mass[0] = 1.0  # the world body
        world.body_mass[:] *= mass
        world.body_inertia[:] *= mass[:, None]
        if com_body >= 0:
            world.body_ipos[com_body] += rng.uniform(-spec.com_offset, spec.com_offset, 3)
        gain, damping = rng.uniform(*spec.kp, model.nu), rng.uniform(*spec.kd, model.nu)
        world.actuator_gainprm[position, 0] = (kp * gain)[position]
        world.actuator_biasprm[position, 1] = -(kp * gain)[position]
        world.actuator_biasprm[position, 2] = -(kd * damping)[position]
        models.append(world)
    return models


class MujocoWorlds(TickedHost):
    """The host side: the batch's state rows, stepped by `mujoco.rollout`."""

    engine = "MuJoCo"

    def __init__(self, mjcf: str, sim_dt: float, substeps: int,
                 contact_pairs: tuple[tuple[str, str], ...] = (),
                 randomization: Randomization | None = None,
                 solver: SolverOptions | None = None, threads: int | None = None):
        geom_pair_ids(mujoco.MjModel.from_xml_string(mjcf), contact_pairs)  # names exist
        self.model = load_model(with_contact_sensors(mjcf, contact_pairs), sim_dt, solver)
        self.model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
        self.randomization = randomization
        self.substeps = substeps
        self.nq, self.nv, self.nu = self.model.nq, self.model.nv, self.model.nu
        self.num_contacts = len(contact_pairs)
        self.state_width = mujoco.mj_stateSize(self.model, FULL_STATE)
        self.to_mujoco = quaternion_permutation(self.model)
        self.to_task = np.argsort(self.to_mujoco)
        sensors = [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SENSOR, f"contact_{i}")
                   for i in range(self.num_contacts)]
        self.contact_columns = self.model.sensor_adr[sensors] if sensors else np.zeros(0, int)
        data = mujoco.MjData(self.model)
        self.initial = np.zeros(self.state_width)  # a world at qpos0, at rest, time 0
        mujoco.mj_getState(self.model, data, self.initial, FULL_STATE)
        self.threads = threads or os.cpu_count() or 1
        self.datas = [mujoco.MjData(self.model) for _ in range(self.threads)]
        self.runner = rollout.Rollout(nthread=self.threads)
        self.models: list = []  # one MjModel per world (copies where randomised)
        self.states = np.zeros((0, self.state_width))
        self.contacts = np.zeros((0, self.num_contacts))
        self.outputs = (np.zeros(0), np.zeros(0))  # rollout's state and sensor buffers

    def _rows(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Initial state rows [n, nstate] for task-layout qpos [n, nq], qvel [n, nv]."""
        rows = np.tile(self.initial, (qpos.shape[0], 1))
        rows[:, 1:1 + self.nq] = qpos[:, self.to_mujoco]
        rows[:, 1 + self.nq:1 + self.nq + self.nv] = qvel
        return rows

    def _view(self, shape: tuple[int, ...]):
        qpos = self.states[:, 1:1 + self.nq][:, self.to_task].astype(np.float32)
        qvel = self.states[:, 1 + self.nq:1 + self.nq + self.nv].astype(np.float32)
        bits = np.ascontiguousarray(self.states).view(np.uint32)
        return (qpos.reshape(*shape, self.nq), qvel.reshape(*shape, self.nv),
                self.contacts.astype(np.float32).reshape(*shape, self.num_contacts),
                self.ticks(shape), bits.reshape(*shape, self.state_width, 2))

    def reset(self, qpos: np.ndarray, qvel: np.ndarray):
        shape = qpos.shape[:-1]
        n = int(np.prod(shape))
        if len(self.models) != n:
            self.models = ([self.model] * n if self.randomization is None else
                           randomized_models(self.model, n, self.randomization))
            self.outputs = (np.zeros((n, self.substeps, self.state_width)),
                            np.zeros((n, self.substeps, self.model.nsensordata)))
        self.states = self._rows(flat(qpos, self.nq, np.float64), flat(qvel, self.nv, np.float64))
        self.contacts = np.zeros((n, self.num_contacts))
        self.expected_tick = 0
        return self._view(shape)

    def restore(self, qpos: np.ndarray, qvel: np.ndarray, state: np.ndarray, tick: int):
        """Put every world in the saved state rows `state` [..., nstate, 2] (uint32 pairs)
        and expect `tick` next: exact, so a resumed run is bitwise equal to an
        uninterrupted one. The contact flags come back with the next step."""
        self.reset(qpos, qvel)
        self.states = flat(np.asarray(state, np.uint32), 2 * self.state_width,
                           np.uint32).view(np.float64)
        self.expected_tick = int(tick)

    def step(self, tick, ctrl, reset_mask, reset_qpos, reset_qvel):
        shape = ctrl.shape[:-1]
        n = int(np.prod(shape))
        if len(self.states) != n:
            raise RuntimeError(f"MuJoCo host: step for {n} worlds before reset")
        self.check_tick(tick)
        mask = np.asarray(reset_mask, bool).reshape(n)
        if mask.any():
            self.states[mask] = self._rows(flat(reset_qpos, self.nq, np.float64)[mask],
                                           flat(reset_qvel, self.nv, np.float64)[mask])
        return self.advance(ctrl)

    def advance(self, ctrl):
        """Run one control step (one `rollout` over every world's substeps, ctrl
        [..., nu] held) with no resets and no tick check; returns the view's arrays."""
        controls = flat(ctrl, self.nu, np.float64)[:, None, :]  # held for every substep
        states, sensors = self.outputs
        self.runner.rollout(self.models, self.datas, self.states,
                            np.repeat(controls, self.substeps, 1), nstep=self.substeps,
                            state=states, sensordata=sensors, skip_checks=True)
        self.states = states[:, -1].copy()
        self.contacts = sensors[:, -1, self.contact_columns] > 0.5
        return self._view(ctrl.shape[:-1])


class MujocoPhysics(HostPhysics):
    """The `Physics` backend for MuJoCo's C engine: JAX functions over a MujocoWorlds."""

    name = "mujoco"

    def __init__(self, mjcf: str, sim_dt: float, ctrl_dt: float,
                 contact_pairs: tuple[tuple[str, str], ...] = (),
                 randomization: Randomization | None = None,
                 solver: SolverOptions | None = None):
        host = MujocoWorlds(mjcf, sim_dt, substeps(sim_dt, ctrl_dt), contact_pairs,
                            randomization, solver)
        super().__init__(host, {"timestep": sim_dt, "substeps": host.substeps,
                                "threads": host.threads,
                                **dataclasses.asdict(solver_in_force(host.model))})
