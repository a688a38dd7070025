"""The Franka Emika Panda arm with its two-finger hand: MJCF text and forward kinematics,
both built from one table of the published (modified, Craig-convention) Denavit-Hartenberg
parameters, so the model and the kinematics the tasks compute in JAX agree by construction
(a test checks them against MotrixSim's link poses).

Joint i's body sits at RotX(alpha_{i-1}) TransX(a_{i-1}) TransZ(d_i) in its parent and
turns about its own z. The hand is mounted on the flange (d = 0.107 m past joint 7),
turned -45 degrees about z; its fingers slide along the hand's y axis, 0 (closed) to
0.04 m (open) each, and the tool centre point (TCP), between the finger pads, is 0.1034 m
along the hand's z.

Masses and centres of mass are the published link values; inertias are diagonal, rough
estimates (solid cylinders of each link's size), because MotrixSim does not derive them
from geoms. Collision shapes are capsules and boxes; only the forearm, wrist, hand and
fingers collide, and only with the scene (contype 1, conaffinity 0: no self-collision).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

# (a_{i-1}, d_i, alpha_{i-1}) of joints 1..7, metres and radians
DH = ((0.0, 0.333, 0.0), (0.0, 0.0, -math.pi / 2), (0.0, 0.316, math.pi / 2),
      (0.0825, 0.0, math.pi / 2), (-0.0825, 0.384, -math.pi / 2), (0.0, 0.0, math.pi / 2),
      (0.088, 0.0, math.pi / 2))
FLANGE = 0.107  # joint 7 -> flange along z
HAND_YAW = -math.pi / 4  # hand on the flange
TCP = 0.1034  # hand -> tool centre point along z
FINGER_BASE = 0.0584  # hand -> finger bodies along z
JOINT_LOW = (-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973)
JOINT_HIGH = (2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973)
TORQUE_LIMIT = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
FINGER_OPEN = 0.04  # m per finger
FINGER_FORCE = 20.0  # N per finger (the hand's rated continuous grasp force is 70 N)
HOME = (0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785)  # TCP pointing down, 0.31 m ahead
# position-actuator stiffness and damping per joint (stiff: the arm holds its targets)
KP = (4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0)
KV = (450.0, 450.0, 350.0, 350.0, 200.0, 200.0, 200.0)
FINGER_KP, FINGER_KV = 1000.0, 20.0
# (mass kg, centre of mass in the link frame, diagonal inertia kg m^2) of links 1..7
LINK_INERTIA = (
    (4.971, (0.0039, 0.0021, -0.0476), (0.070, 0.070, 0.009)),
    (0.647, (-0.0031, -0.0287, 0.0035), (0.008, 0.003, 0.008)),
    (3.229, (0.0275, 0.0393, -0.0665), (0.037, 0.036, 0.011)),
    (3.588, (-0.0532, 0.1044, 0.0275), (0.037, 0.011, 0.036)),
    (1.226, (-0.0120, 0.0411, -0.0384), (0.036, 0.034, 0.004)),
    (1.667, (0.0601, -0.0141, -0.0105), (0.002, 0.004, 0.005)),
    (0.736, (0.0105, -0.0043, 0.0616), (0.013, 0.010, 0.003)),
)
# collision capsules (fromto in the link frame, radius); None: the link does not collide
LINK_SHAPES = (
    ("0 0 -0.19 0 0 0", 0.06, False),
    ("0 0 0 0 -0.2 0", 0.06, False),
    ("0 0 -0.15 0 0 0", 0.06, False),
    ("0 0 0 -0.0825 0.2 0", 0.055, False),
    ("0 0.05 -0.24 0 0.02 -0.05", 0.05, True),
    ("0 0 -0.02 0.088 0 0", 0.05, True),
    ("0 0 0.02 0 0 0.08", 0.04, True),
)


def _quat_x(alpha: float) -> str:
    """MJCF quaternion (w x y z) of a rotation by alpha about x."""
    return f"{math.cos(alpha / 2):.9f} {math.sin(alpha / 2):.9f} 0 0"


def _link_xml(i: int, inner: str) -> str:
    a, d, alpha = DH[i]
    pos = (a, -math.sin(alpha) * d, math.cos(alpha) * d)
    mass, com, inertia = LINK_INERTIA[i]
    fromto, radius, collides = LINK_SHAPES[i]
    bits = 'contype="1" conaffinity="0"' if collides else 'contype="0" conaffinity="0"'
    n = i + 1
    return f"""
<body name="link{n}" pos="{pos[0]:.9f} {pos[1]:.9f} {pos[2]:.9f}" quat="{_quat_x(alpha)}">
  <joint name="joint{n}" range="{JOINT_LOW[i]} {JOINT_HIGH[i]}"/>
  <inertial pos="{com[0]} {com[1]} {com[2]}" mass="{mass}"
            diaginertia="{inertia[0]} {inertia[1]} {inertia[2]}"/>
  <geom name="link{n}" type="capsule" fromto="{fromto}" size="{radius}" {bits}/>
  {inner}
</body>"""


def _finger_xml(side: str, sign: int) -> str:
    """A finger sliding along sign * hand y; its pad's inner face is at sign * q."""
    return f"""
<body name="{side}_finger" pos="0 0 {FINGER_BASE}">
  <joint name="{side}_finger" type="slide" axis="0 {sign} 0" range="0 {FINGER_OPEN}"
         damping="2" armature="0.05"/>
  <inertial pos="0 {sign * 0.01} 0.025" mass="0.015" diaginertia="2e-6 2e-6 1e-6"/>
  <geom name="{side}_finger" type="box" pos="0 {sign * 0.012} 0.02" size="0.01 0.008 0.02"
        contype="1" conaffinity="0" rgba="0.9 0.9 0.9 1"/>
  <geom name="{side}_pad" type="box" pos="0 {sign * 0.005} {TCP - FINGER_BASE}"
        size="0.01 0.005 0.012" friction="1.5 0.02 0.001" contype="1" conaffinity="0"
        rgba="0.2 0.2 0.2 1"/>
</body>"""


def hand_xml() -> str:
    return f"""
<body name="hand" pos="0 0 {FLANGE}" quat="{math.cos(HAND_YAW / 2):.9f} 0 0 {math.sin(HAND_YAW / 2):.9f}">
  <inertial pos="0 0 0.03" mass="0.73" diaginertia="0.0025 0.0005 0.0025"/>
  <geom name="hand" type="box" pos="0 0 0.03" size="0.025 0.1 0.025" contype="1"
        conaffinity="0" rgba="0.9 0.9 0.9 1"/>
  {_finger_xml("left", 1)}
  {_finger_xml("right", -1)}
</body>"""


def robot_xml() -> str:
    """The arm's body tree (base at the world origin), for a scene's worldbody."""
    inner = hand_xml()
    for i in reversed(range(7)):
        inner = _link_xml(i, inner)
    return f"""
<body name="link0">
  <geom name="link0" type="cylinder" fromto="0 0 0 0 0 0.14" size="0.07" contype="0"
        conaffinity="0"/>
  {inner}
</body>"""


def defaults_xml() -> str:
    return """
<default>
  <joint type="hinge" axis="0 0 1" limited="true" damping="1" armature="0.1"/>
  <geom rgba="0.95 0.95 0.95 1"/>
  <position ctrllimited="true" forcelimited="true"/>
</default>"""


def actuators_xml() -> str:
    """Position actuators: joints 1-7 (torque limited), then the left and right finger."""
    arm = "\n".join(
        f'<position name="joint{i + 1}" joint="joint{i + 1}" kp="{KP[i]}" kv="{KV[i]}" '
        f'ctrlrange="{JOINT_LOW[i]} {JOINT_HIGH[i]}" '
        f'forcerange="{-TORQUE_LIMIT[i]} {TORQUE_LIMIT[i]}"/>' for i in range(7))
    fingers = "\n".join(
        f'<position name="{side}_finger" joint="{side}_finger" kp="{FINGER_KP}" '
        f'kv="{FINGER_KV}" ctrlrange="0 {FINGER_OPEN}" '
        f'forcerange="{-FINGER_FORCE} {FINGER_FORCE}"/>' for side in ("left", "right"))
    return f"<actuator>\n{arm}\n{fingers}\n</actuator>"


# --- forward kinematics in JAX -----------------------------------------------------------

def _rot_x(alpha: float) -> np.ndarray:
    c, s = math.cos(alpha), math.sin(alpha)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_z(theta: jax.Array) -> jax.Array:
    """Rotations [..., 3, 3] about z by theta [...]."""
    c, s = jnp.cos(theta), jnp.sin(theta)
    zero, one = jnp.zeros_like(c), jnp.ones_like(c)
    return jnp.stack([jnp.stack([c, -s, zero], -1), jnp.stack([s, c, zero], -1),
                      jnp.stack([zero, zero, one], -1)], -2)


def hand_pose(joints: jax.Array) -> tuple[jax.Array, jax.Array]:
    """World position [..., 3] and rotation [..., 3, 3] of the hand frame, for arm joint
    angles [..., 7] (the base is at the world origin)."""
    rot = jnp.broadcast_to(jnp.eye(3), joints.shape[:-1] + (3, 3))
    pos = jnp.zeros(joints.shape[:-1] + (3,))
    for i, (a, d, alpha) in enumerate(DH):
        offset = jnp.asarray(_rot_x(alpha) @ np.array([a, 0.0, d]))
        pos = pos + jnp.einsum("...ij,j->...i", rot, offset)
        rot = jnp.einsum("...ij,jk,...kl->...il", rot, jnp.asarray(_rot_x(alpha)),
                         _rot_z(joints[..., i]))
    pos = pos + FLANGE * rot[..., :, 2]
    rot = rot @ _rot_z(jnp.asarray(HAND_YAW))
    return pos, rot


def tcp_position(joints: jax.Array) -> jax.Array:
    """The tool centre point between the finger pads [..., 3] for arm joints [..., 7]."""
    pos, rot = hand_pose(joints)
    return pos + TCP * rot[..., :, 2]
