"""Off-screen rendering of recorded states: a camera that follows a floating-base robot,
the task's marks drawn in the scene (the velocity command and the velocity reached as
arrows from the base, a target as a red ball) and printed on every frame.

MuJoCo reads MUJOCO_GL when first imported: `motrix_jax.play` sets it (default egl)
before anything imports mujoco.

Marks are a task's `video_marks(view, info)` (optional; see `motrix_jax.task.Task.video_marks`),
recorded per step: "command" and "velocity" are (vx, vy, yaw rate) in the body frame,
"target" a world position [x, y, z].
"""

from __future__ import annotations

import math
from pathlib import Path

import mujoco
import numpy as np

from motrix_jax.physics.mujoco import quaternion_permutation

# seconds of motion an arrow shows: the command arrow ends where the base would be 1 s on
ARROW_SECONDS = 1.0
# Clip planes in metres. MuJoCo scales `vis.map.znear/zfar` by the model's extent, which a
# large terrain makes hundreds of metres (go1_rough: 339 m, a near plane of 3.4 m, beyond
# the following camera's 2 m: no robot in the picture); these hold whatever the scene.
NEAR_M = 0.01
FAR_M = 50.0  # at least; a larger scene gets 4 of its extents (the fixed camera sits at 1.5)
COLOURS = {"command": (0.1, 0.8, 0.1, 0.8), "velocity": (0.1, 0.3, 0.9, 0.8),
           "target": (0.9, 0.1, 0.1, 0.8)}


def scene_model(mjcf: str, nq: int) -> mujoco.MjModel:
    """The scene to render: the task's MJCF with a checkered ground (so that motion
    shows under a following camera) and a sky, for the eye only."""
    spec = mujoco.MjSpec.from_string(mjcf)
    spec.add_texture(name="render_sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, width=64, height=64,
                     rgb1=[0.55, 0.7, 0.85], rgb2=[0.1, 0.15, 0.2])
    spec.add_texture(name="render_grid", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                     rgb1=[0.62, 0.66, 0.7], rgb2=[0.5, 0.54, 0.58],
                     mark=mujoco.mjtMark.mjMARK_EDGE, markrgb=[0.6, 0.6, 0.6])
    grid = spec.add_material(name="render_grid", texrepeat=[1, 1], texuniform=True)
    grid.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "render_grid"
    ground = (mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_HFIELD)
    for geom in spec.geoms:
        if geom.type in ground and not geom.material:
            geom.material = "render_grid"
    model = spec.compile()
    if model.nq != nq:
        raise ValueError(f"the MJCF has nq={model.nq}, the recorded states {nq}")
    model.vis.headlight.ambient[:] = 0.5
    set_clip_planes(model)
    return model


def set_clip_planes(model: mujoco.MjModel) -> None:
    """Near and far clip planes at NEAR_M and max(FAR_M, 4 extents) metres (MuJoCo reads
    both as multiples of `stat.extent`)."""
    extent = float(model.stat.extent)
    model.vis.map.znear = NEAR_M / extent
    model.vis.map.zfar = max(FAR_M, 4.0 * extent) / extent


def tracks(model: mujoco.MjModel) -> bool:
    """Whether the scene has a floating base the camera should follow (its first joint
    is a free joint)."""
    return model.njnt > 0 and model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE


def robot_size(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    """Radius (m) of the free body's subtree around the base, at data's state."""
    base = model.jnt_bodyid[0]
    root = model.body_rootid[model.geom_bodyid] == base
    reach = np.linalg.norm(data.geom_xpos[root] - data.xpos[base], axis=-1)
    return float((reach + model.geom_rbound[root]).max())


def camera(model: mujoco.MjModel, data: mujoco.MjData) -> mujoco.MjvCamera:
    """A free camera looking at the scene from the side (-y), 10 degrees down; on a
    floating-base robot it is placed at 4 robot radii and `aim` keeps it on the base."""
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.azimuth, cam.elevation = 90.0, -10.0
    if tracks(model):
        cam.distance = max(1.0, 4.0 * robot_size(model, data))
        aim(cam, model, data)
    else:
        cam.lookat[:] = model.stat.center
        cam.distance = 1.5 * model.stat.extent
    return cam


def aim(cam: mujoco.MjvCamera, model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """Point a following camera at the base (no-op for a fixed scene)."""
    if tracks(model):
        cam.lookat[:] = data.xpos[model.jnt_bodyid[0]]


def mark_geoms(model: mujoco.MjModel, data: mujoco.MjData,
               marks: dict[str, np.ndarray]) -> list[tuple]:
    """(kind, rgba, from, to or radius) of the marks to draw at data's state."""
    if not tracks(model):
        return []
    base = model.jnt_bodyid[0]
    origin = data.xpos[base] + np.array([0.0, 0.0, 0.1])
    heading = data.xmat[base].reshape(3, 3)
    yaw = math.atan2(heading[1, 0], heading[0, 0])
    c, s = math.cos(yaw), math.sin(yaw)
    shapes = []
    for name in ("command", "velocity"):
        if name in marks:
            vx, vy = marks[name][:2] * ARROW_SECONDS
            tip = origin + np.array([c * vx - s * vy, s * vx + c * vy, 0.0])
            if np.linalg.norm(tip - origin) > 1e-3:
                shapes.append(("arrow", COLOURS[name], origin, tip))
    if "target" in marks:
        shapes.append(("ball", COLOURS["target"], np.asarray(marks["target"], float), 0.08))
    return shapes


def draw(scene: mujoco.MjvScene, shapes: list[tuple]) -> None:
    """Append the shapes of `mark_geoms` to a scene (after `update_scene`)."""
    for kind, rgba, start, end in shapes:
        if scene.ngeom >= scene.maxgeom:
            return
        geom = scene.geoms[scene.ngeom]
        rgba = np.asarray(rgba, np.float32)
        if kind == "arrow":
            mujoco.mjv_initGeom(geom, mujoco.mjtGeom.mjGEOM_ARROW, np.zeros(3), np.zeros(3),
                                np.eye(3).ravel(), rgba)
            mujoco.mjv_connector(geom, mujoco.mjtGeom.mjGEOM_ARROW, 0.02, start, end)
        else:
            mujoco.mjv_initGeom(geom, mujoco.mjtGeom.mjGEOM_SPHERE, np.full(3, end), start,
                                np.eye(3).ravel(), rgba)
        scene.ngeom += 1


def caption(marks: dict[str, np.ndarray], time_s: float) -> str:
    """One line of text for a frame: the time and every mark."""
    words = [f"t {time_s:5.2f} s"]
    for name, value in marks.items():
        if name == "target":
            continue
        vx, vy, wz = value
        words.append(f"{name} vx {vx:+.2f} vy {vy:+.2f} wz {wz:+.2f}")
    return "   ".join(words)


def print_on(frame: np.ndarray, text: str) -> np.ndarray:
    """The frame with `text` on a dark band along its top."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(10, frame.shape[0] // 32))
    box = pen.textbbox((6, 4), text, font=font)
    pen.rectangle((0, 0, frame.shape[1], box[3] + 4), fill=(0, 0, 0))
    pen.text((6, 4), text, fill=(255, 255, 255), font=font)
    return np.asarray(image)


def mujoco_qpos(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """MotrixSim dof positions [..., nq] in MuJoCo's layout: free-joint quaternions go from
    MotrixSim's xyzw to MuJoCo's wxyz; everything else is the same order."""
    return np.asarray(qpos, np.float64)[..., quaternion_permutation(model)]


def render(mjcf: str, qpos: np.ndarray, marks: dict[str, np.ndarray] | None = None,
           ctrl_dt: float = 0.02, width: int = 512, height: int = 384,
           segmentation: bool = False) -> np.ndarray:
    """Frames [T, height, V * width, 3] uint8 of qpos [T, V, nq] (the V envs side by side)
    for the model in the MJCF text, each with its marks [T, V, k] drawn and printed; with
    `segmentation`, [T, height, V * width] int32 geom ids (-1: none) instead."""
    model = scene_model(mjcf, qpos.shape[-1])
    data = mujoco.MjData(model)
    qpos = mujoco_qpos(model, qpos)
    marks = marks or {}
    steps, views = qpos.shape[:2]
    shape = (steps, height, views * width) + (() if segmentation else (3,))
    frames = np.zeros(shape, np.int32 if segmentation else np.uint8)
    with mujoco.Renderer(model, height, width) as renderer:
        if segmentation:
            renderer.enable_segmentation_rendering()
        cams = []
        for v in range(views):
            data.qpos[:] = qpos[0, v]
            mujoco.mj_forward(model, data)
            cams.append(camera(model, data))
        for t in range(steps):
            for v in range(views):
                frames[t, :, v * width:(v + 1) * width] = frame(
                    renderer, model, data, cams[v], qpos[t, v],
                    {k: m[t, v] for k, m in marks.items()}, t * ctrl_dt, segmentation)
    return frames


def frame(renderer: mujoco.Renderer, model, data, cam, qpos, marks, time_s: float,
          segmentation: bool) -> np.ndarray:
    data.qpos[:] = qpos
    mujoco.mj_forward(model, data)
    aim(cam, model, data)
    renderer.update_scene(data, camera=cam)
    if segmentation:
        ids, types = np.moveaxis(renderer.render(), -1, 0)
        return np.where(types == mujoco.mjtObj.mjOBJ_GEOM, ids, -1)
    draw(renderer.scene, mark_geoms(model, data, marks))
    pixels = renderer.render()
    return print_on(pixels, caption(marks, time_s)) if marks else pixels


VIDEO_SUFFIXES = (".mp4", ".gif")


def write_video(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Write an mp4 (ffmpeg via imageio-ffmpeg) or, for .gif or without ffmpeg, a GIF."""
    import warnings

    import imageio.v2 as imageio

    # imageio starts ffmpeg with fork+exec, which is safe; JAX warns about any fork.
    warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
    if path.suffix.lower() != ".gif":
        try:
            import imageio_ffmpeg

            imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError):
            path = path.with_suffix(".gif")
    if path.suffix.lower() == ".gif":
        imageio.mimwrite(path, list(frames), duration=1000.0 / fps, loop=0)
    else:
        imageio.mimwrite(path, list(frames), fps=fps, macro_block_size=16)
    return path
