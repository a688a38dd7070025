"""Physics honesty of engine settings, side by side in one run: is a cheaper setting
(MotrixSim's solver budget, fewer and longer substeps) still the same physics?

    # MotrixSim's solver budget against its defaults, MuJoCo C (lean solver) the reference
    python benchmarks/physics_honesty.py --env go1_flat vbot_navigation_flat \
        anymal_c_navigation_flat --physics motrixsim \
        --variant "100=motrixsim_solver.max_iterations=100" \
        --variant "20=motrixsim_solver.max_iterations=20" \
        --variant "8=motrixsim_solver.max_iterations=8" \
        --variant "4=motrixsim_solver.max_iterations=4" \
        --variant "1=motrixsim_solver.max_iterations=1"
    # substeps: 4 x 5 ms against 2 x 10 ms on both host engines
    python benchmarks/physics_honesty.py --env go1_flat vbot_navigation_flat \
        --physics motrixsim mujoco --variant "4x5ms=" --variant "2x10ms=sim_dt=0.01"

Every row runs the same initial states (drawn by the task's JAX reset) and the same
actions on the host engine alone (no JAX in the loop, no resets), against a reference
row (`--reference`, default MuJoCo's C engine with the task as registered):
- drop: zero actions for 2 s from the spawn height: the settled base height (its largest
  difference from the reference, mm), each foot's first touchdown step (largest
  difference, control steps) and the largest speed left at the end (at rest: ~0),
- random: N(0, s^2) actions for each `--scales` s: worlds that fail by the task's own
  failure test at any step (falls), worlds whose state turns non-finite, the largest
  joint speed (rad/s: an exploding joint shows here),
- gait: a scripted open-loop trot (diagonal legs in phase, 2 Hz): worlds that fail, the share of foot
  contact flags equal to the reference's, touchdowns per foot-second, and on flat
  ground the feet's penetration into the floor (mean over touching feet, and max, mm,
  from MuJoCo's kinematics of the engine's qpos, until the world fails),
- speed: physics env-steps/s at `--speed-envs` worlds as a RATIO to the first variant on
  the same engine (interleaved repeats; absolute figures are load-dependent).
Prints one table per env and writes <out>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import print_table, run_info, save_json

from motrix_jax import envs
from motrix_jax.env import PhysicsView
from motrix_jax.physics.mujoco import quaternion_permutation

DROP_STEPS, RANDOM_STEPS, GAIT_STEPS = 100, 200, 200


def initial(env, seed: int = 0):
    """The task's initial states and info for `env.num_envs` worlds (numpy qpos, qvel)."""
    n = env.num_envs
    qpos, qvel, info = env.task.reset(jax.random.PRNGKey(seed), n, env.task.initial_info(n))
    return np.asarray(qpos), np.asarray(qvel), info


def controls(env, info, actions: np.ndarray) -> np.ndarray:
    """Actuator controls [T, N, nu] of actions [T, N, act] in the episodes of `info`."""
    return np.asarray(jax.vmap(lambda a: env.task.ctrl(a, info))(jnp.asarray(actions)),
                      np.float32)


def host_rollout(env, qpos, qvel, ctrl: np.ndarray) -> dict[str, np.ndarray]:
    """The host engine alone from (qpos, qvel) under ctrl [T, N, nu]: qpos, qvel,
    contacts stacked [T, N, ...] (no resets, no JAX)."""
    env.physics.host_reset(qpos, qvel)
    out = {"qpos": [], "qvel": [], "contacts": []}
    for c in ctrl:
        q, v, contacts, *_ = env.physics.host.advance(c)
        for key, x in zip(out, (q, v, contacts)):
            out[key].append(np.array(x, np.float32))
    return {k: np.stack(v) for k, v in out.items()}


def feet(env) -> int:
    """How many of the task's contact pairs are feet (floor, *_foot)."""
    return sum("foot" in pair[1].lower() for pair in env.task.contact_pairs) or len(
        env.task.contact_pairs)


def drop(env, seed: int = 0, steps: int = DROP_STEPS) -> dict[str, np.ndarray]:
    """Zero actions from the spawn: settled height [N], first touchdown step per foot
    [N, F] (-1: never), largest |qvel| at the end [N], finite [N]."""
    qpos, qvel, info = initial(env, seed)
    zero = np.zeros((steps, env.num_envs, env.action_size), np.float32)
    run = host_rollout(env, qpos, qvel, controls(env, info, zero))
    touch = run["contacts"][:, :, :feet(env)] > 0.5
    first = np.where(touch.any(0), touch.argmax(0), -1)
    finite = np.isfinite(run["qpos"]).all((0, 2)) & np.isfinite(run["qvel"]).all((0, 2))
    return {"height": run["qpos"][-1, :, 2], "first_touch": first,
            "still": np.abs(run["qvel"][-1]).max(-1), "finite": finite}


def random_actions(env, scale: float, seed: int = 0, steps: int = RANDOM_STEPS) -> dict:
    """The host rollout under N(0, scale^2) actions, redrawn every control step."""
    qpos, qvel, info = initial(env, seed)
    actions = scale * np.random.default_rng(seed).standard_normal(
        (steps, env.num_envs, env.action_size)).astype(np.float32)
    return host_rollout(env, qpos, qvel, controls(env, info, actions)) | {"info": info}


def trot(env, steps: int = GAIT_STEPS, hz: float = 2.0, amplitude: float = 1.0) -> dict:
    """The host rollout under an open-loop trot: per leg (3 joints: abduction, hip,
    knee) hip and knee actions amplitude * sin(2 pi hz t + phase), legs 0 and 3 in phase,
    1 and 2 half a period later (diagonal pairs for FR FL RR RL and LF RF LH RH alike)."""
    qpos, qvel, info = initial(env, 0)
    t = np.arange(steps)[:, None] * env.task.ctrl_dt
    phase = np.array([0.0, np.pi, np.pi, 0.0])
    hip = amplitude * np.sin(2 * np.pi * hz * t + phase)  # [T, 4]
    knee = amplitude * np.sin(2 * np.pi * hz * t + phase + np.pi / 2)
    legs = np.stack([np.zeros_like(hip), hip, knee], -1).reshape(steps, 12)
    actions = np.broadcast_to(legs[:, None], (steps, env.num_envs, 12)).astype(np.float32)
    return host_rollout(env, qpos, qvel, controls(env, info, actions))


def failure_test(env):
    """Jitted (qpos, qvel, contacts [T, N, ...], info) -> [T, N] the task's own failure
    test at every state (with one info for all: what fails is the posture, not the
    episode's bookkeeping); non-finite states read as zeros (counted apart)."""
    zeros = jnp.zeros((env.num_envs, env.action_size))

    def failed(q, v, c, info):
        view = PhysicsView(qpos=q, qvel=v, contacts=c, tick=jnp.int32(0))
        return env.task.evaluate(jax.random.PRNGKey(0), view, info, zeros)[1]
    vmapped = jax.jit(jax.vmap(failed, in_axes=(0, 0, 0, None)))
    return lambda run, info: np.asarray(vmapped(
        *(jnp.nan_to_num(jnp.asarray(run[k])) for k in ("qpos", "qvel", "contacts")), info))


def penetration(env, run: dict, upright: np.ndarray) -> tuple[float, float]:
    """(mean, max) depth in mm of the foot spheres below a flat floor at z = 0 over the
    states [T, N] marked `upright` whose foot contact flag is set (a fallen robot whose
    trunk passes through the floor drags its feet under it); NaN where the floor is not
    a plane or the feet not spheres."""
    model = mujoco.MjModel.from_xml_string(env.task.mjcf())
    names = [pair[1] for pair in env.task.contact_pairs[:feet(env)]]
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, n) for n in names]
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    if floor < 0 or model.geom_type[floor] != mujoco.mjtGeom.mjGEOM_PLANE or any(
            model.geom_type[i] != mujoco.mjtGeom.mjGEOM_SPHERE for i in ids):
        return float("nan"), float("nan")
    data, perm = mujoco.MjData(model), quaternion_permutation(model)
    depths = []
    for q, c in zip(run["qpos"][upright], run["contacts"][upright][:, :len(ids)] > 0.5):
        if not c.any() or not np.isfinite(q).all():
            continue
        data.qpos[:] = q[perm]
        mujoco.mj_kinematics(model, data)
        z = data.geom_xpos[ids, 2] - model.geom_size[ids, 0]
        depths += list(np.maximum(-z, 0.0)[c])
    depths = np.asarray(depths or [np.nan]) * 1e3
    return float(np.mean(depths)), float(np.max(depths))


def speed(env, steps: int, repeats: int) -> float:
    """Host physics env-steps/s under N(0, 0.5^2) actions (best of `repeats`)."""
    qpos, qvel, info = initial(env)
    actions = 0.5 * np.random.default_rng(0).standard_normal(
        (steps, env.num_envs, env.action_size)).astype(np.float32)
    ctrl = controls(env, info, actions)
    best = 0.0
    for _ in range(repeats):
        env.physics.host_reset(qpos, qvel)
        start = time.perf_counter()
        for c in ctrl:
            env.physics.host_step(c)
        best = max(best, env.num_envs * steps / (time.perf_counter() - start))
    return best


def measure(name: str, physics: str, changes: dict, args) -> dict:
    """Every fact of one row (the env `name` on `physics` with task `changes`)."""
    env = envs.make(name, args.num_envs, physics=physics, task_changes=changes)
    failed = failure_test(env)
    row = {"physics": physics, "options": env.physics.options, "drop": drop(env)}
    for scale in args.scales:
        run = random_actions(env, scale)
        finite = np.isfinite(run["qpos"]).all(-1) & np.isfinite(run["qvel"]).all(-1)
        joints = np.where(finite[..., None], np.abs(run["qvel"][..., 6:]), 0.0)
        row[f"random_{scale:g}"] = {
            "falls": int(failed(run, run["info"])[:, finite.all(0)].any(0).sum()),
            "nonfinite": int((~finite).any(0).sum()), "max_joint_speed": float(joints.max())}
    gait = trot(env, amplitude=args.trot)
    fallen = np.cumsum(failed(gait, initial(env)[2]), 0) > 0
    contacts = gait["contacts"][:, :, :feet(env)] > 0.5
    return row | {
        "gait_contacts": contacts, "gait_falls": int(fallen[-1].sum()),
        "touchdowns_per_foot_s": float((np.diff(contacts.astype(int), axis=0) == 1).sum()
                                       / contacts[0].size / (GAIT_STEPS * env.task.ctrl_dt)),
        "penetration_mm": penetration(env, gait, ~fallen)}


def compare(row: dict, ref: dict) -> dict:
    """The row's facts as JSON-ready figures, differences taken against `ref`."""
    out = {"physics": row["physics"], "options": row["options"],
           "height_m": row["drop"]["height"].tolist(),
           "height_diff_mm": float(np.abs(row["drop"]["height"] - ref["drop"]["height"]).max()
                                   * 1e3),
           "touchdown_diff_steps": int(np.abs(row["drop"]["first_touch"]
                                              - ref["drop"]["first_touch"]).max()),
           "settled_speed": float(row["drop"]["still"].max()),
           "drop_finite": bool(row["drop"]["finite"].all()),
           "gait_agreement": float((row["gait_contacts"] == ref["gait_contacts"]).mean()),
           "touchdowns_per_foot_s": row["touchdowns_per_foot_s"],
           "gait_falls": row["gait_falls"], "penetration_mm": list(row["penetration_mm"])}
    return out | {k: v for k, v in row.items() if k.startswith("random_")}


def speed_ratios(name: str, rows: list[tuple[str, str, dict]], args) -> list[float]:
    """Physics env-steps/s of each (label, physics, changes) row at --speed-envs worlds,
    repeats interleaved across rows, as a ratio to the first row on the same engine."""
    made = [envs.make(name, args.speed_envs, physics=p, task_changes=c) for _, p, c in rows]
    best = [0.0] * len(rows)
    for _ in range(args.repeats):
        for i, env in enumerate(made):
            best[i] = max(best[i], speed(env, args.speed_steps, 1))
    first = {}
    for (_, physics, _), rate in zip(rows, best):
        first.setdefault(physics, rate)
    return [rate / first[physics] for (_, physics, _), rate in zip(rows, best)]


def parse_variant(text: str) -> tuple[str, list[str]]:
    """"label=field=value,field=value" -> (label, ["field=value", ...])."""
    label, _, changes = text.partition("=")
    return label, [c for c in changes.split(",") if c]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", nargs="+", default=["go1_flat"])
    parser.add_argument("--physics", nargs="+", default=["motrixsim"],
                        choices=["motrixsim", "mujoco"])
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=CHANGES")
    parser.add_argument("--reference", default="mujoco", metavar="PHYSICS[=CHANGES]",
                        help="the row the others are compared with")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.5, 1.5],
                        help="standard deviations of the random actions")
    parser.add_argument("--trot", type=float, default=0.5, help="the trot's amplitude")
    parser.add_argument("--speed-envs", type=int, default=1024, help="0: no speed ratios")
    parser.add_argument("--speed-steps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/physics_honesty")
    args = parser.parse_args(argv[1:])
    variants = [parse_variant(v) for v in args.variant or ["as registered="]]
    ref_physics, _, ref_changes = args.reference.partition("=")
    result = {"run": run_info(argv), "envs": {}}
    for name in args.env:
        rows = [(label, physics, envs.parse_task_changes(name, changes))
                for physics in args.physics for label, changes in variants]
        ref = measure(name, ref_physics, envs.parse_task_changes(
            name, [c for c in ref_changes.split(",") if c]), args)
        facts = {f"reference {ref_physics}": compare(ref, ref)}
        facts |= {f"{label} {physics}": compare(measure(name, physics, changes, args), ref)
                  for label, physics, changes in rows}
        ratios = speed_ratios(name, rows, args) if args.speed_envs else [float("nan")] * len(rows)
        facts[f"reference {ref_physics}"]["speed_ratio"] = float("nan")
        for key, ratio in zip(list(facts)[1:], ratios):
            facts[key]["speed_ratio"] = ratio
        result["envs"][name] = {"reference": args.reference, "rows": facts}
        print_rows(name, args, facts)
    save_json(result, f"{args.out}.json")
    print(f"wrote {args.out}.json")


def print_rows(name: str, args, facts: dict) -> None:
    scales = [f"random_{s:g}" for s in args.scales]
    header = ["row", "height diff mm", "touchdown diff", "settled", "gait agree %",
              "touchdowns/s", "gait falls", "penetr. mean/max mm",
              *[f"falls/nonfinite/max qd @{s[7:]}" for s in scales], "speed ratio"]
    table = [[key, f"{f['height_diff_mm']:.1f}", f["touchdown_diff_steps"],
              f"{f['settled_speed']:.3f}", f"{100 * f['gait_agreement']:.1f}",
              f"{f['touchdowns_per_foot_s']:.2f}", f["gait_falls"],
              "{:.1f}/{:.1f}".format(*f["penetration_mm"]),
              *[f"{f[s]['falls']}/{f[s]['nonfinite']}/{f[s]['max_joint_speed']:.0f}"
                for s in scales], f"{f['speed_ratio']:.2f}"] for key, f in facts.items()]
    print(f"\n{name}: {args.num_envs} worlds, against {args.reference}")
    print_table(header, table)


if __name__ == "__main__":
    main(sys.argv)
