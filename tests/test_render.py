"""Off-screen rendering: the camera follows a moving robot, the task's marks are drawn and
printed, and the tasks report the marks they promise."""

import jax
import mujoco
import numpy as np
import pytest

from motrix_jax import envs, render
from motrix_jax.env import PhysicsView

STEPS = 11  # frames of a robot carried 5 m along x


@pytest.fixture(scope="module")
def go1():
    task = envs.make_task("go1_flat")
    qpos, qvel, info = task.reset(jax.random.PRNGKey(0), 1, task.initial_info(1))
    return task, np.asarray(qpos), np.asarray(qvel), info


def carried(qpos: np.ndarray, metres: float = 5.0) -> np.ndarray:
    """qpos [STEPS, 1, nq]: the robot's pose moved along x by up to `metres`."""
    path = np.repeat(qpos[None], STEPS, 0)
    path[:, 0, 0] += np.linspace(0.0, metres, STEPS)
    return path


def robot_pixels(mjcf: str, segments: np.ndarray) -> np.ndarray:
    """[T, H, W] bool: pixels showing a geom of the floating base's subtree."""
    model = mujoco.MjModel.from_xml_string(mjcf)
    robot = np.flatnonzero(model.body_rootid[model.geom_bodyid] == model.jnt_bodyid[0])
    return np.isin(segments, robot)


def test_the_camera_keeps_a_robot_moving_5_m_in_the_middle_of_the_frame(go1):
    task, qpos, _, _ = go1
    segments = render.render(task.mjcf(), carried(qpos), width=160, height=120,
                             segmentation=True)
    robot = robot_pixels(task.mjcf(), segments)
    share = robot.mean(axis=(1, 2))
    assert (share > 0.02).all(), share  # in frame, and not a speck
    np.testing.assert_allclose(share, share[0], rtol=0.05)  # the same size all the way
    for frame in robot:
        rows, cols = np.nonzero(frame)
        assert 0.3 < cols.mean() / 160 < 0.7 and 0.25 < rows.mean() / 120 < 0.75


def test_a_camera_that_does_not_follow_would_lose_the_robot(go1):
    """The check above can fail: with the camera left where it started, the robot carried
    5 m leaves the frame."""
    task, qpos, _, _ = go1
    path = carried(qpos)
    model = render.scene_model(task.mjcf(), qpos.shape[-1])
    data = mujoco.MjData(model)
    data.qpos[:] = render.mujoco_qpos(model, path[0, 0])
    mujoco.mj_forward(model, data)
    cam = render.camera(model, data)
    data.qpos[:] = render.mujoco_qpos(model, path[-1, 0])
    mujoco.mj_forward(model, data)
    with mujoco.Renderer(model, 120, 160) as renderer:
        renderer.enable_segmentation_rendering()
        renderer.update_scene(data, camera=cam)  # not aimed again
        ids, types = np.moveaxis(renderer.render(), -1, 0)
    segments = np.where(types == mujoco.mjtObj.mjOBJ_GEOM, ids, -1)
    assert robot_pixels(task.mjcf(), segments[None]).mean() < 0.002


def green(frames: np.ndarray) -> np.ndarray:
    r, g, b = (frames[..., i].astype(int) for i in range(3))
    return (g > 120) & (g > r + 60) & (g > b + 60)


def test_marks_are_drawn_as_arrows_and_printed_on_every_frame(go1):
    task, qpos, _, _ = go1
    path = carried(qpos, 1.0)
    marks = {"command": np.tile([1.0, 0.0, 0.5], (STEPS, 1, 1)),
             "velocity": np.tile([0.5, 0.0, 0.2], (STEPS, 1, 1))}
    plain = render.render(task.mjcf(), path[:2], width=256, height=192)
    marked = render.render(task.mjcf(), path[:2], {k: v[:2] for k, v in marks.items()},
                           width=256, height=192)
    assert green(plain).sum() == 0 and green(marked).sum(axis=(1, 2)).min() > 100
    band = marked[:, :8]  # the caption's dark band with white letters
    assert (band.max(-1) < 30).mean() > 0.5 and (band.min(-1) > 200).any()
    assert render.caption({k: v[3, 0] for k, v in marks.items()}, 0.06) == (
        "t  0.06 s   command vx +1.00 vy +0.00 wz +0.50   velocity vx +0.50 vy +0.00 wz +0.20")


def test_go1_and_navigation_give_their_command_and_target_as_marks(go1):
    task, qpos, qvel, info = go1
    view = PhysicsView(qpos=qpos, qvel=qvel, contacts=np.zeros((1, 4)), tick=0)
    marks = task.video_marks(view, info)
    assert set(marks) == {"command", "velocity"}
    np.testing.assert_array_equal(marks["command"], info.command)
    nav = envs.make_task("vbot_navigation_flat")
    qpos, qvel, info = nav.reset(jax.random.PRNGKey(1), 2, nav.initial_info(2))
    view = PhysicsView(qpos=qpos, qvel=qvel, contacts=np.zeros((2, 4)), tick=0)
    marks = nav.video_marks(view, info)
    np.testing.assert_allclose(marks["target"][:, :2], info.waypoints[:, -1])
    assert marks["command"].shape == marks["velocity"].shape == (2, 3)
    assert envs.make_task("cartpole").video_marks(view, None) == {}  # the default: none


@pytest.mark.parametrize("name", ["go1_rough"])
def test_the_robot_is_in_the_picture_on_a_large_terrain(name):
    """MuJoCo scales its clip planes by the model's extent (go1_rough's terrain: 339 m, a
    near plane 3.4 m away, beyond the following camera): they are set in metres."""
    task = envs.make_task(name)
    qpos, _, _ = task.reset(jax.random.PRNGKey(0), 1, task.initial_info(1))
    segments = render.render(task.mjcf(), np.asarray(qpos)[None], width=160, height=120,
                             segmentation=True)
    robot = robot_pixels(task.mjcf(), segments)[0]
    assert robot.mean() > 0.02, robot.mean()
    rows, cols = np.nonzero(robot)
    assert 0.3 < cols.mean() / 160 < 0.7 and 0.25 < rows.mean() / 120 < 0.75
    model = render.scene_model(task.mjcf(), qpos.shape[-1])
    near = model.vis.map.znear * model.stat.extent
    assert near == pytest.approx(render.NEAR_M, rel=1e-3)
