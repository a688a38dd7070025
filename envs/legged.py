"""Robot-independent pieces of legged-robot tasks (Go1, VBot, ANYmal C).

Everything here reads a floating-base robot's qpos/qvel as the physics backends give
them: qpos = [x, y, z, quaternion xyzw, joint angles...], qvel = [linear velocity in the
world frame, angular velocity in the body frame, joint velocities...].
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from motrix_jax import symmetry
from motrix_jax.env import MotrixSimSolver
from motrix_jax.names import did_you_mean

DOWN = (0.0, 0.0, -1.0)

# MotrixSim's solver budget for the legged tasks (their `motrixsim_solver`), chosen by
# benchmarks/physics_honesty.py against MotrixSim's defaults (100 iterations, 1e-4) and
# MuJoCo C (tests/test_motrixsim_solver.py holds the facts; docs/speed.md the figures).
MOTRIXSIM_SOLVER = MotrixSimSolver(max_iterations=8, tolerance=1e-4)

# Left-right mirrors (symmetry.Mirror) of a quadruped whose legs come as two front and two
# rear ones, right before left or left before right (Go1, VBot: FR, FL, RR, RL; ANYmal C:
# LF, RF, LH, RH), each leg's joints (abduction, hip, knee), every abduction axis +x:
# the legs of a pair trade places and the abduction angles flip.
LEG_SWAP = (1, 0, 3, 2)
JOINTS_MIRROR = symmetry.blocks(LEG_SWAP, symmetry.signs(-1, 1, 1))
FEET_MIRROR = symmetry.blocks(LEG_SWAP, symmetry.keep(1))  # one value per foot
# body-frame (or world-frame) vectors: velocity and gravity (x, -y, z); angular velocity,
# a pseudovector, (-x, y, -z); commands (vx, -vy, -yaw rate)
VECTOR_MIRROR = symmetry.signs(1, -1, 1)
ANGULAR_MIRROR = symmetry.signs(-1, 1, -1)
COMMAND_MIRROR = symmetry.signs(1, -1, -1)
# the physics state, mirrored in the world's x-z plane: qpos (position, quaternion xyzw
# (-x, y, -z, w), joints) and qvel (world linear, body angular, joints)
QPOS_MIRROR = VECTOR_MIRROR + symmetry.signs(-1, 1, -1, 1) + JOINTS_MIRROR
QVEL_MIRROR = VECTOR_MIRROR + ANGULAR_MIRROR + JOINTS_MIRROR
# `proprioception`'s layout: velocity, gyro, gravity, joint offsets, joint velocities,
# last action, command
PROPRIOCEPTION_MIRROR = (VECTOR_MIRROR + ANGULAR_MIRROR + VECTOR_MIRROR + JOINTS_MIRROR
                         + JOINTS_MIRROR + JOINTS_MIRROR + COMMAND_MIRROR)


def rotate_inverse(quat_xyzw: jax.Array, v: jax.Array) -> jax.Array:
    """World-frame vectors v [..., 3] expressed in the frame of quat [..., 4] (xyzw)."""
    u, w = -quat_xyzw[..., :3], quat_xyzw[..., 3:]  # the conjugate rotation
    t = 2.0 * jnp.cross(u, v)
    return v + w * t + jnp.cross(u, t)


def yaw_quat(yaw: jax.Array) -> jax.Array:
    """Quaternions [N, 4] (xyzw) of a rotation by yaw [N] about the vertical."""
    zeros = jnp.zeros_like(yaw)
    return jnp.stack([zeros, zeros, jnp.sin(yaw / 2), jnp.cos(yaw / 2)], -1)


def yaw_of(quat_xyzw: jax.Array) -> jax.Array:
    """Heading [N] (rad) of the body x axis projected on the ground."""
    x, y, z, w = (quat_xyzw[..., i] for i in range(4))
    return jnp.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def wrap_angle(a: jax.Array) -> jax.Array:
    """Angles mapped into [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def base_state(view) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(body-frame linear velocity [N, 3], gyro [N, 3], gravity direction in the body
    frame [N, 3]) of the floating base."""
    quat = view.qpos[:, 3:7]
    lin_vel = rotate_inverse(quat, view.qvel[:, :3])
    gravity = rotate_inverse(quat, jnp.broadcast_to(jnp.asarray(DOWN), lin_vel.shape))
    return lin_vel, view.qvel[:, 3:6], gravity


def joint_offsets(view, default_pose) -> jax.Array:
    """Joint angles minus the default pose [N, nj]."""
    return view.qpos[:, 7:] - jnp.asarray(default_pose)


def joint_velocities(view) -> jax.Array:
    return view.qvel[:, 6:]


def proprioception(view, default_pose, last_action: jax.Array,
                   command: jax.Array) -> jax.Array:
    """The observation every velocity-commanded task starts with [N, 12 + 3 nj]:
    body-frame linear velocity x2, gyro x0.25, gravity in the body frame, joint angles -
    `default_pose`, joint velocities x0.05, the last action and the velocity command
    (vx, vy, yaw rate) x(2, 2, 0.25)."""
    lin_vel, gyro, gravity = base_state(view)
    return jnp.concatenate([
        lin_vel * 2.0, gyro * 0.25, gravity, joint_offsets(view, default_pose),
        joint_velocities(view) * 0.05, last_action, command * jnp.array([2.0, 2.0, 0.25])],
        -1)


def velocity_marks(view, command: jax.Array) -> dict[str, jax.Array]:
    """A video's marks of a velocity-commanded robot: the command and the velocity reached,
    each (vx, vy, yaw rate) in the body frame [N, 3]."""
    lin_vel, gyro, _ = base_state(view)
    return {"command": command,
            "velocity": jnp.concatenate([lin_vel[:, :2], gyro[:, 2:]], -1)}


def velocity_tracking(command: jax.Array, lin_vel: jax.Array,
                      gyro: jax.Array) -> dict[str, jax.Array]:
    """The velocity-tracking reward terms (each [N], in (0, 1]): exp(-err^2 / 0.25) of the
    planar velocity against command[:, :2] and of the yaw rate against command[:, 2]."""
    return {
        "tracking_lin_vel": jnp.exp(
            -jnp.sum((command[:, :2] - lin_vel[:, :2]) ** 2, -1) / 0.25),
        "tracking_ang_vel": jnp.exp(-(command[:, 2] - gyro[:, 2]) ** 2 / 0.25),
    }


def tilted(gravity: jax.Array, max_tilt: float) -> jax.Array:
    """[N] bool: the base is tilted more than max_tilt (rad) from upright."""
    return gravity[:, 2] > -math.cos(max_tilt)


def base_low(view, ground: jax.Array, min_height: float) -> jax.Array:
    """[N] bool: the base is less than min_height (m) above the ground height [N] under
    it. With feet-only collisions this stands in for the base touching the ground."""
    return view.qpos[:, 2] - ground < min_height


COLLISIONS = ("feet", "full")


def check_collision(collision: str) -> None:
    check_choice("collision", collision, COLLISIONS)


def check_choice(field: str, value: str, choices) -> None:
    """ValueError naming `field` unless `value` is one of `choices` (with a hint)."""
    if value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(choices)}, got "
                         f"{value!r}{did_you_mean(str(value), list(choices))}")


def position_targets(default_pose, scale: float, action: jax.Array) -> jax.Array:
    """Joint position targets q0 + scale * a [N, nj] for a PD that the engine runs at
    every substep (actions clipped to +-10 so a diverging policy cannot ask the
    impossible)."""
    return jnp.asarray(default_pose) + scale * jnp.clip(action, -10.0, 10.0)


def pd_torques(view, target: jax.Array, kp: float, kd: float, limits) -> jax.Array:
    """The torques [N, nj] a position actuator applies for `target` at this state."""
    tau = kp * (target - view.qpos[:, 7:]) - kd * view.qvel[:, 6:]
    limit = jnp.asarray(limits)
    return jnp.clip(tau, -limit, limit)


def standing_state(key: jax.Array, xy: jax.Array, ground: jax.Array, height: float,
                   yaw: jax.Array, default_pose, joint_noise: float):
    """Initial (qpos [N, 7 + nj], qvel [N, 6 + nj]): base at `height` above `ground`
    [N] over xy [N, 2], heading `yaw` [N], joints at the default pose +- joint_noise,
    at rest."""
    n = xy.shape[0]
    nj = len(default_pose)
    joints = jnp.asarray(default_pose) + jax.random.uniform(
        key, (n, nj), minval=-joint_noise, maxval=joint_noise)
    qpos = jnp.concatenate([xy, (ground + height)[:, None], yaw_quat(yaw), joints], -1)
    return qpos, jnp.zeros((n, 6 + nj))


def smoothness_terms(view, lin_vel: jax.Array, gyro: jax.Array, action: jax.Array,
                     last_action: jax.Array, last_qvel: jax.Array, torques: jax.Array,
                     ctrl_dt: float) -> dict[str, jax.Array]:
    """Unscaled posture and smoothness penalties (each [N], >= 0): vertical velocity,
    roll/pitch rates, torques, joint accelerations and action changes."""
    qvel = joint_velocities(view)
    return {
        "lin_vel_z": lin_vel[:, 2] ** 2,
        "ang_vel_xy": jnp.sum(gyro[:, :2] ** 2, -1),
        "torques": jnp.sum(torques ** 2, -1),
        "dof_acc": jnp.sum(((qvel - last_qvel) / ctrl_dt) ** 2, -1),
        "action_rate": jnp.sum((action - last_action) ** 2, -1),
    }


def scene_xml(robot_xml: Path, heightfield=None, floor_pos: tuple[float, float] = (0.0, 0.0),
              extra_geoms: tuple[ET.Element, ...] = (),
              colliding: tuple[str, ...] | None = None) -> str:
    """A robot's MJCF with its floor plane replaced by `heightfield` (a terrain.Heightfield,
    centred at floor_pos) when given, and a course's additions (`extra_geoms`: static geoms,
    `<hfield>` assets, bodies) added to the world. With `colliding` (geom names, e.g. the feet), every other geom of the robot
    stops colliding: each candidate contact pair costs on every substep, touching or not
    (MJX allocates them all)."""
    root = ET.fromstring(Path(robot_xml).read_text())
    if colliding is not None:
        for body in root.findall("./worldbody/body"):
            for geom in body.iter("geom"):
                if geom.get("name") not in colliding:
                    geom.set("contype", "0")
                    geom.set("conaffinity", "0")
    if heightfield is not None:
        floor = root.find("./worldbody/geom[@name='floor']")
        floor.attrib.pop("size", None)
        floor.set("type", "hfield")
        floor.set("hfield", "terrain")
        if tuple(floor_pos) != (0.0, 0.0):
            floor.set("pos", f"{floor_pos[0]} {floor_pos[1]} 0")
        _asset(root).append(heightfield.mjcf_asset("terrain"))
    worldbody = root.find("worldbody")
    for element in extra_geoms:
        if element.tag == "hfield":  # a course's own heightfield
            _asset(root).append(element)
        else:  # geoms, and bodies (rolling balls) after the robot's: its qpos comes first
            worldbody.append(element)
    return ET.tostring(root, encoding="unicode")


def _euler_xyz(angles) -> np.ndarray:
    """The rotation matrix of MJCF's `euler` (intrinsic x, then y, then z; radians)."""
    out = np.eye(3)
    for axis, a in enumerate(angles):
        c, s = math.cos(a), math.sin(a)
        i, j = [k for k in range(3) if k != axis]
        r = np.eye(3)
        r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
        if axis == 1:  # about y: x' = c x + s z
            r[i, j], r[j, i] = s, -s
        out = out @ r
    return out


def body_chain(robot_xml: Path, body: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kinematic chain from the floating base's body down to `body` (MJCF whose bodies
    each carry one hinge joint, placed by `pos` and `euler` only): (offsets [K, 3],
    fixed rotations [K, 3, 3], joint axes [K, 3]) of its K bodies below the base."""
    root = ET.fromstring(Path(robot_xml).read_text())
    parents = {child: parent for parent in root.iter("body") for child in parent}
    node = root.find(f".//body[@name='{body}']")
    if node is None:
        raise ValueError(f"no body {body!r} in {robot_xml}")
    links = []
    while node in parents and node.find("freejoint") is None:
        joint = node.find("joint")
        links.append((np.array(node.get("pos", "0 0 0").split(), float),
                      _euler_xyz([float(v) for v in node.get("euler", "0 0 0").split()]),
                      np.array(joint.get("axis", "0 0 1").split(), float)))
        node = parents[node]
    links.reverse()
    return tuple(np.stack([link[i] for link in links]) for i in range(3))


def quat_matrix(quat_xyzw: jax.Array) -> jax.Array:
    """Rotation matrices [..., 3, 3] of quaternions [..., 4] (xyzw)."""
    x, y, z, w = (quat_xyzw[..., i] for i in range(4))
    return jnp.stack([
        jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        jnp.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        jnp.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)],
        -2)


def axis_angle_matrix(axis: np.ndarray, angle: jax.Array) -> jax.Array:
    """Rotation matrices [N, 3, 3] by angle [N] about a fixed unit axis [3] (Rodrigues)."""
    k = jnp.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]],
                   [-axis[1], axis[0], 0.0]])
    s, c = jnp.sin(angle)[:, None, None], jnp.cos(angle)[:, None, None]
    return jnp.eye(3) + s * k + (1 - c) * (k @ k)


def chain_point(qpos: jax.Array, chain, joints: jax.Array, point) -> jax.Array:
    """World position [N, 3] of `point` [3] (in the last body's frame) on a `body_chain`
    whose joint angles are joints [N, K], below the floating base of qpos [N, 7 + nj]
    (forward kinematics in JAX: no engine query, so every backend gives the same)."""
    offsets, fixed, axes = chain
    rot = quat_matrix(qpos[:, 3:7])
    pos = qpos[:, :3]
    for k in range(len(offsets)):
        pos = pos + rot @ jnp.asarray(offsets[k])
        rot = rot @ jnp.asarray(fixed[k]) @ axis_angle_matrix(axes[k], joints[:, k])
    return pos + rot @ jnp.asarray(point, jnp.float32)


def _asset(root: ET.Element) -> ET.Element:
    """The MJCF's `<asset>`, created first in the model when it has none."""
    asset = root.find("asset")
    if asset is None:
        asset = ET.Element("asset")
        root.insert(0, asset)
    return asset
