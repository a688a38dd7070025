"""Planar kinematics in jax.numpy for the x-z models (cheetah, walker, hopper).

Tasks may read only qpos/qvel, so body heights, orientations and the centre of mass are
computed here from the model's own MJCF: body offsets, hinge axes (0 +-1 0) and
inertials are parsed once, so the numbers cannot drift from the model. The models put
every hinge at its body's origin and have the root joints rootx, rootz (slides) and
rooty (hinge) as qpos[0:3].

Angles are rotations about +y (MuJoCo's convention: +x turns towards -z).
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import struct


def _floats(text: str | None, default: str) -> list[float]:
    return [float(v) for v in (text or default).split()]


@dataclass(frozen=True)
class PlanarBodies:
    """The bodies of a planar model, root first, parents before children."""

    names: tuple[str, ...]
    parents: tuple[int, ...]  # index of the parent body; -1 for the root
    offsets: tuple[tuple[float, float], ...]  # (x, z) of the origin in the parent frame
    hinges: tuple[int, ...]  # qpos index of the body's hinge (root: rooty)
    signs: tuple[float, ...]  # +1 for axis 0 1 0, -1 for 0 -1 0
    coms: tuple[tuple[float, float], ...]  # (x, z) of the centre of mass, body frame
    masses: tuple[float, ...]

    @classmethod
    def from_mjcf(cls, xml: str) -> PlanarBodies:
        """Parse the body tree under the worldbody's single root body."""
        world = ET.fromstring(xml).find("worldbody")
        joint_names = [j.get("name") for j in world.iter("joint")]  # = qpos order
        rows: list[tuple] = []

        def visit(body: ET.Element, parent: int) -> None:
            hinge = [j for j in body.findall("joint") if j.get("type", "hinge") == "hinge"]
            if len(hinge) != 1:
                raise ValueError(f"body {body.get('name')!r} needs exactly one hinge")
            axis = _floats(hinge[0].get("axis"), _default_axis(xml))
            if abs(axis[0]) > 0 or abs(axis[2]) > 0 or abs(abs(axis[1]) - 1) > 1e-9:
                raise ValueError(f"hinge {hinge[0].get('name')!r} is not about +-y: {axis}")
            if any(_floats(hinge[0].get("pos"), "0 0 0")):
                raise ValueError(f"hinge {hinge[0].get('name')!r} is not at its body's origin")
            pos = _floats(body.get("pos"), "0 0 0")
            inertial = body.find("inertial")
            com = _floats(inertial.get("pos"), "0 0 0")
            rows.append((body.get("name"), parent, (pos[0], pos[2]),
                         joint_names.index(hinge[0].get("name")), axis[1],
                         (com[0], com[2]), float(inertial.get("mass"))))
            index = len(rows) - 1
            for child in body.findall("body"):
                visit(child, index)

        visit(world.find("body"), -1)
        return cls(*(tuple(column) for column in zip(*rows)))

    def index(self, name: str) -> int:
        return self.names.index(name)

    def poses(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Body origins [..., B, 2] (x, z) and angles about +y [..., B] for qpos [..., nq]."""
        positions, angles = [], []
        for b, parent in enumerate(self.parents):
            angle = self.signs[b] * qpos[..., self.hinges[b]]
            offset = jnp.asarray(self.offsets[b])
            if parent < 0:
                pos = offset + qpos[..., :2]  # rootx, rootz
            else:
                angle = angles[parent] + angle
                pos = positions[parent] + rotate(offset, angles[parent])
            positions.append(pos)
            angles.append(angle)
        return jnp.stack(positions, -2), jnp.stack(angles, -1)

    def coms_world(self, qpos: jax.Array) -> jax.Array:
        """Centres of mass of the bodies [..., B, 2] (x, z)."""
        positions, angles = self.poses(qpos)
        return positions + rotate(jnp.asarray(self.coms), angles)

    def com(self, qpos: jax.Array) -> jax.Array:
        """Centre of mass of the whole model [..., 2] (x, z)."""
        masses = jnp.asarray(self.masses)
        return jnp.einsum("...bi,b->...i", self.coms_world(qpos), masses) / masses.sum()

    def com_velocity(self, qpos: jax.Array, qvel: jax.Array) -> jax.Array:
        """d/dt of `com` [..., 2]; the models' qvel is the time derivative of qpos."""
        return jax.jvp(self.com, (qpos,), (qvel,))[1]


@struct.dataclass
class PlanarInfo:
    """What the planar locomotion tasks remember of the last step (for logging)."""

    speed: jax.Array  # [N] forward speed of the centre of mass, m/s
    height: jax.Array  # [N] torso height, m

    @classmethod
    def zeros(cls, n: int) -> PlanarInfo:
        return cls(speed=jnp.zeros((n,)), height=jnp.zeros((n,)))


def initial_state(key: jax.Array, n: int, num_joints: int, noise: float,
                  fix_joints=lambda joints: joints) -> tuple[jax.Array, jax.Array, PlanarInfo]:
    """(qpos, qvel, info) of a planar model at rest: root (x, z, pitch) at 0, joint angles
    uniform in +-noise, then `fix_joints` (e.g. to keep a knee inside its range)."""
    joints = fix_joints(jax.random.uniform(key, (n, num_joints), minval=-noise, maxval=noise))
    qpos = jnp.concatenate([jnp.zeros((n, 3)), joints], -1)
    return qpos, jnp.zeros((n, 3 + num_joints)), PlanarInfo.zeros(n)


@functools.cache
def load(path: Path) -> tuple[str, PlanarBodies]:
    """(MJCF text, parsed bodies) of an asset, read once."""
    xml = path.read_text()
    return xml, PlanarBodies.from_mjcf(xml)


def rotate(v: jax.Array, angle: jax.Array) -> jax.Array:
    """Rotate (x, z) vectors v [..., 2] by `angle` [...] about +y."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    x, z = v[..., 0], v[..., 1]
    return jnp.stack([c * x + s * z, -s * x + c * z], -1)


def _default_axis(xml: str) -> str:
    joint = ET.fromstring(xml).find("default/joint")
    return joint.get("axis", "0 0 1") if joint is not None else "0 0 1"
