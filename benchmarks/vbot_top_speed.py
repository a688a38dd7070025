"""VBot's top speed on flat ground with a scripted trot (no learning): is the whole
MotrixArena course (35 m START -> finish; about 43 m along our riverbed route) feasible
in the seed's 60 s?

    python benchmarks/vbot_top_speed.py [--sim-dt 0.01] [--seconds 6] [--out FILE.json]

MuJoCo C, VBot's own MJCF and PD (kp 60, kv 0.8, the torque limits) at 100 Hz control
(one physics step per control step at --sim-dt 0.01, two at 0.005). An open-loop trot
(diagonal legs in phase): thigh targets q0 + a sin(2 pi f t + phase), knees bent by k
during each leg's swing half, swept over the sign and size of a, k and the frequency f;
the speed is the base's displacement along its start heading over the last 4 s,
counted only for runs that stayed upright (tilt < 30 deg, base above 0.15 m); the best
forward one is reported. An open-loop gait's direction is fragile (a gait that walks
forward at one time step may walk backward at another), so this is a lower bound on
what the legs and the PD can do, not a controller.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import mujoco
import numpy as np

from motrix_jax.envs.legged import scene_xml
from motrix_jax.envs.navigation import ASSETS, VBOT

FREQUENCIES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
THIGH = (-0.5, -0.35, -0.2, 0.2, 0.35, 0.5)
KNEE = (0.3, 0.6, 0.9)
PHASE = (0.0, math.pi, math.pi, 0.0)  # FR, FL, RR, RL: the diagonals in phase


def trot(model, sim_dt: float, seconds: float, f: float, a: float, k: float) -> dict:
    """One open-loop trot: its speed (m/s along the start heading) and whether it stayed
    upright."""
    data = mujoco.MjData(model)
    q0 = np.array(VBOT.default_pose)
    data.qpos[:3], data.qpos[3:7], data.qpos[7:] = (0, 0, 0.30), (1, 0, 0, 0), q0
    substeps = max(1, round(0.01 / sim_dt))
    steps = round(seconds / 0.01)
    upright, start = True, None
    for step in range(steps):
        t = step * 0.01
        target = q0.copy()
        for leg, phase in enumerate(PHASE):
            s = math.sin(2 * math.pi * f * t + phase)
            target[3 * leg + 1] += a * s
            target[3 * leg + 2] -= k * max(0.0, math.cos(2 * math.pi * f * t + phase))
        data.ctrl[:] = target
        for _ in range(substeps):
            mujoco.mj_step(model, data)
        x, y = data.qpos[4:6]  # wxyz
        up = 1 - 2 * (x * x + y * y)  # the body z axis' vertical component
        upright &= bool(up > math.cos(math.radians(30)) and data.qpos[2] > 0.15)
        if step == steps - 400:
            start = data.qpos[:2].copy()
    speed = (data.qpos[0] - start[0]) / 4.0  # heading +x at the start
    return {"f": f, "thigh": a, "knee": k, "speed": float(speed), "upright": upright}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim-dt", type=float, default=0.01)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    model = mujoco.MjModel.from_xml_string(scene_xml(ASSETS / VBOT.xml))
    model.opt.timestep = args.sim_dt
    runs = [trot(model, args.sim_dt, args.seconds, f, a, k)
            for f, a, k in itertools.product(FREQUENCIES, THIGH, KNEE)]
    kept = [r for r in runs if r["upright"]]
    best = max(kept, key=lambda r: r["speed"])  # forward, along the start heading
    result = {"sim_dt": args.sim_dt, "runs": len(runs), "upright": len(kept), "best": best,
              "fastest_backward": min(kept, key=lambda r: r["speed"]),
              "time_for_35m_s": 35.0 / best["speed"],
              "time_for_43m_route_s": 43.0 / best["speed"]}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps({**result, "all": runs}, indent=1))


if __name__ == "__main__":
    main()
