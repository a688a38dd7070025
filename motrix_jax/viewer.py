"""A live viewer: MuJoCo's interactive window replaying recorded states (whichever
backend ran them) with the camera on the robot and the task's marks drawn and printed,
in a loop until the window is closed or Ctrl-C.

The window needs a display (X11 or Wayland); without one, `show` raises `NoDisplay`
with one line saying so.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import mujoco
import numpy as np

from motrix_jax import render


class NoDisplay(ValueError):
    """No window can be opened here: bad input to `play --viewer`, one line, exit 2."""


def check_display() -> None:
    """NoDisplay unless a window can be opened (checked before anything runs: MuJoCo's
    viewer ends the process when it cannot start GLFW)."""
    import glfw

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NoDisplay("--viewer needs a display and DISPLAY is not set (no desktop "
                        "session here): write a video with --video instead, or run "
                        "under a virtual display (xvfb-run)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glfw warns with the reason; we say it once
        started = glfw.init()
        reason = glfw.get_error()[1] if not started else b""
    if not started:
        raise NoDisplay(f"--viewer could not open a window on display "
                        f"{os.environ.get('DISPLAY')!r}: {reason.decode(errors='replace')}")
    glfw.terminate()


def open_window(model: mujoco.MjModel, data: mujoco.MjData):
    import mujoco.viewer

    try:
        return mujoco.viewer.launch_passive(model, data, show_left_ui=False,
                                            show_right_ui=False)
    except Exception as error:  # noqa: BLE001 - GLFW reports failures in several types
        raise NoDisplay(f"--viewer could not open a window on display "
                        f"{os.environ.get('DISPLAY')!r}: {error}") from None


def show(mjcf: str, qpos: np.ndarray, marks: dict[str, np.ndarray], ctrl_dt: float,
         say=print, max_loops: int | None = None) -> int:
    """Replay qpos [T, nq] (MotrixSim layout) with marks [T, k] at real time, in a loop,
    until the window closes, Ctrl-C or `max_loops` replays; returns the frames shown."""
    model = render.scene_model(mjcf, qpos.shape[-1])
    data = mujoco.MjData(model)
    qpos = render.mujoco_qpos(model, qpos)
    data.qpos[:] = qpos[0]
    mujoco.mj_forward(model, data)
    shown = 0
    before = set(threading.enumerate())
    with open_window(model, data) as window:
        # MuJoCo's render thread, a daemon that `close` only asks to stop: left running
        # it crashed the interpreter's exit (glfw.terminate under it) about half the
        # time on a loaded machine, so it is waited for below.
        render_threads = set(threading.enumerate()) - before
        start = render.camera(model, data)
        for field in ("type", "azimuth", "elevation", "distance", "lookat"):
            setattr(window.cam, field, getattr(start, field))
        # Ctrl-C sets a flag the loop reads: a KeyboardInterrupt raised at a random
        # point could leave the viewer's lock held and its close waiting forever
        # (seen under load).
        stop = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            say(f"viewer: {len(qpos)} frames at {1 / ctrl_dt:g} fps in a loop; close the "
                f"window or press Ctrl-C to stop")
            began = time.monotonic()
            while (window.is_running() and not stop.is_set()
                   and (max_loops is None or shown < max_loops * len(qpos))):
                t = shown % len(qpos)
                with window.lock():
                    data.qpos[:] = qpos[t]
                    mujoco.mj_forward(model, data)
                    render.aim(window.cam, model, data)
                    frame_marks = {k: v[t] for k, v in marks.items()}
                    window.user_scn.ngeom = 0
                    render.draw(window.user_scn, render.mark_geoms(model, data, frame_marks))
                # set_texts takes the viewer's lock itself
                window.set_texts((None, mujoco.mjtGridPos.mjGRID_TOPLEFT,
                                  render.caption(frame_marks, t * ctrl_dt), None))
                window.sync()
                shown += 1
                stop.wait(max(0.0, began + shown * ctrl_dt - time.monotonic()))
        finally:
            signal.signal(signal.SIGINT, previous)
    for thread in render_threads:
        thread.join(timeout=30)
    return shown
