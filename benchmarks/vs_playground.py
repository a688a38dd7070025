"""Our go1_flat against MuJoCo Playground's Go1JoystickFlatTerrain trained with its own
Brax PPO settings, on MJX, in one run: env-steps/s and wall time to walking.

    python benchmarks/vs_playground.py [--minutes 5] [--playground-steps 200000000] \
        [--num-envs 8192] [--out benchmarks/results/gpu/vs_playground_h200]

Ours trains its preset (`--num-envs` and `--set FIELD=VALUE` change it) through
learn.py's loop for `--minutes`; Playground trains `--playground-steps` env steps with
`locomotion_params.brax_ppo_config` (its 8192 envs, 20-step unrolls, 4 epochs of 32
minibatches, its networks and privileged critic; its domain randomiser only with
--playground-randomize, off as in its training script and in our go1_flat) through
`playground_adapter.py`. Both tasks control Go1 at 50 Hz (ours with 4 MJX substeps of
5 ms, Playground with 5 of 4 ms; both solve with Newton, 1 iteration, 5 line-search
iterations, and collide the four feet alone), and both score lin-vel tracking with the same kernel, exp(-|v_cmd - v_xy|^2 / 0.25) per step
(their command ranges differ: each its own task's). "Walking" is the go1_flat target:
mean episode length >= 90 % of the maximum and tracking >= 0.7 per step; ours is read
from its training curve (stochastic policy, 10-update mean), Playground's from Brax's
evaluations during its training (`num_evals` of them, 128 envs, one episode each, the
stochastic policy: Brax 0.14.2's default, which Playground keeps). Wall times count from the start of
training and include compilation. Made for a GPU; on a CPU it runs, slowly (use small
--minutes, --playground-steps and --num-envs to check that it works).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib.util
import inspect
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import print_table, run_info, save_json
from learn import learn

from motrix_jax.run_folder import make_run_dir

MIN_LENGTH_FRAC, MIN_TRACKING = 0.9, 0.7


def first_walking(curve: list[dict]) -> dict | None:
    """The first point of `curve` ({wall_s, env_steps, length_frac, tracking}) that meets
    both walking targets."""
    return next((c for c in curve if c["length_frac"] >= MIN_LENGTH_FRAC
                 and c["tracking"] >= MIN_TRACKING), None)


def span_rate(curve: list[dict]) -> float:
    """Env-steps/s from the first point of `curve` (compiled by then) to the last."""
    if len(curve) < 2 or curve[-1]["wall_s"] <= curve[0]["wall_s"]:
        return float("nan")
    return ((curve[-1]["env_steps"] - curve[0]["env_steps"])
            / (curve[-1]["wall_s"] - curve[0]["wall_s"]))


def ours(minutes: float, overrides: list[str], run_root: Path) -> dict:
    result = learn("go1_flat", 0, minutes, overrides, "mjx", make_run_dir(run_root, "go1_flat"))
    raw, window = result["curve"], 10
    curve = []
    for i in range(window - 1, len(raw)):  # 10-update means, as learn.first_met takes them
        tail = raw[i - window + 1:i + 1]
        curve.append({"wall_s": raw[i]["wall_s"], "env_steps": raw[i]["env_steps"],
                      "length_frac": sum(c["length"] for c in tail) / window
                      / result["episode_length_max"],
                      "tracking": sum(c.get("reward_terms/tracking_lin_vel", 0.0)
                                      for c in tail) / window})
    evaluation = result["evaluation"] or {}
    return {"env_steps": result["env_steps"], "wall_s": result["wall_s"],
            "steps_per_s": span_rate(raw), "num_envs": result["config"]["num_envs"],
            "curve": curve,
            "final_tracking_full_ranges": evaluation.get("reward_terms/tracking_lin_vel")}


def playground_settings(steps: int, num_envs: int | None, randomize: bool,
                        changes: list[str]) -> dict:
    """Playground's PPO settings for `steps` env steps: its 200M-step recipe keeps its
    reset period (num_resets_per_eval scales with the budget) and its batch per env
    (batch_size = num_envs / num_minibatches, after `changes`)."""
    from brax.training.agents.ppo import train as ppo
    from playground_adapter import GO1_FLAT, ppo_settings

    settings = ppo_settings(GO1_FLAT, randomize)
    settings["num_resets_per_eval"] = max(1, round(settings["num_resets_per_eval"] * steps
                                                   / settings["num_timesteps"]))
    settings["num_timesteps"] = steps
    known = inspect.signature(ppo.train).parameters
    for change in changes:
        key, _, value = change.partition("=")
        if key not in known:
            hint = difflib.get_close_matches(key, known, 1)
            raise SystemExit(f"--playground-set {change}: ppo.train has no {key!r}"
                             + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        try:
            settings[key] = ast.literal_eval(value.capitalize() if value in ("true", "false")
                                             else value)
        except (ValueError, SyntaxError):
            settings[key] = value
    if num_envs:
        if num_envs % settings["num_minibatches"]:
            raise SystemExit(f"--num-envs {num_envs}: Playground's {settings['num_minibatches']}"
                             " minibatches must divide it")
        settings["num_envs"] = num_envs
        settings["batch_size"] = num_envs // settings["num_minibatches"]
    return settings


def playground(settings: dict, systems: dict, save) -> None:
    """Train Playground's Go1 with `settings`; its run goes into systems["playground"]
    as it trains (`save` after each evaluation)."""
    from brax.training.agents.ppo import train as ppo
    from mujoco_playground import wrapper
    from playground_adapter import GO1_FLAT, load

    env, eval_env = load(GO1_FLAT), load(GO1_FLAT)
    run = {"num_envs": settings["num_envs"], "curve": [], "training_sps": [],
           "settings": {k: v for k, v in settings.items()
                        if isinstance(v, (int, float, str, bool))}}
    systems["playground"] = run
    start = time.perf_counter()

    def progress(step: int, metrics: dict) -> None:
        if "training/sps" in metrics:
            run["training_sps"].append(float(metrics["training/sps"]))
        length = float(metrics["eval/avg_episode_length"])
        run["curve"].append({
            "wall_s": round(time.perf_counter() - start, 2), "env_steps": int(step),
            "length_frac": length / settings["episode_length"],
            "tracking": float(metrics["eval/episode_reward/tracking_lin_vel"]) / max(length, 1)})
        print(f"playground: {step:,} env steps, {run['curve'][-1]}", flush=True)
        save()  # a run cut short still leaves its curve

    ppo.train(environment=env, eval_env=eval_env, wrap_env_fn=wrapper.wrap_for_brax_training,
              progress_fn=progress, **settings)
    run |= {"env_steps": run["curve"][-1]["env_steps"], "wall_s": time.perf_counter() - start,
            # after the first evaluation (compiled by then), evaluations included
            "steps_per_s": span_rate(run["curve"][1:])}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, run in result["systems"].items():
        wall = [c["wall_s"] / 60 for c in run["curve"]]
        axes[0].plot(wall, [c["tracking"] for c in run["curve"]], label=name)
        axes[1].plot(wall, [c["length_frac"] for c in run["curve"]], label=name)
    axes[0].axhline(MIN_TRACKING, ls="--", c="grey")
    axes[1].axhline(MIN_LENGTH_FRAC, ls="--", c="grey")
    axes[0].set(title="lin-vel tracking per step", xlabel="wall clock (min)")
    axes[1].set(title="episode length / maximum", xlabel="wall clock (min)")
    axes[0].legend()
    fig.suptitle(f"Go1 flat on MJX, {result['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="our wall-clock budget")
    parser.add_argument("--playground-steps", type=int, default=200_000_000,
                        help="Playground's env steps (its preset: 200M)")
    parser.add_argument("--num-envs", type=int, help="both systems (default: each preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="our preset only")
    parser.add_argument("--playground-set", action="append", default=[], metavar="KEY=VALUE",
                        help="one of Playground's ppo.train settings, e.g. num_evals=2")
    parser.add_argument("--playground-randomize", action="store_true",
                        help="Playground's domain randomiser (its training script's "
                             "--domain_randomization, off there by default)")
    parser.add_argument("--run-root", type=Path, default=Path("runs/bench"))
    parser.add_argument("--out", help="write <out>.json and <out>.png")
    args = parser.parse_args()
    have_playground = importlib.util.find_spec("mujoco_playground") is not None
    if have_playground:  # bad settings fail here, before our run
        settings = playground_settings(args.playground_steps, args.num_envs,
                                       args.playground_randomize, args.playground_set)
    else:
        print("skipping Playground: not installed (pip install --no-deps playground==0.2.0 "
              "ml-collections lxml mediapy tqdm)")
    overrides = args.set + ([f"num_envs={args.num_envs}"] if args.num_envs else [])
    result = {**run_info(sys.argv), "systems": {}}

    def save() -> None:
        if args.out:
            save_json(result, f"{args.out}.json")

    result["systems"]["ours"] = ours(args.minutes, overrides, args.run_root)
    save()
    if have_playground:
        playground(settings, result["systems"], save)
    report(result)
    save()
    if args.out:
        plot(result, Path(f"{args.out}.png"))
        print(f"wrote {args.out}.json and {args.out}.png")


def report(result: dict) -> None:
    rows = []
    for name, run in result["systems"].items():
        walking = run["walking_at"] = first_walking(run["curve"])
        rows.append([name, f"{run['num_envs']}", f"{run['env_steps']:,}",
                     f"{run['wall_s']:.0f}", f"{run['steps_per_s']:,.0f}",
                     "not reached" if walking is None else f"{walking['wall_s']:.0f} s, "
                     f"{walking['env_steps'] / 1e6:.1f}M steps",
                     f"{run['curve'][-1]['tracking']:.2f}" if run["curve"] else "-"])
    print_table(["system", "envs", "env steps", "wall s", "env-steps/s (after compile)",
                 "walking at", "last tracking"], rows)
    if "playground" in result["systems"]:
        pg = result["systems"]["playground"]
        ratio = result["systems"]["ours"]["steps_per_s"] / pg["steps_per_s"]
        result["ours_over_playground"] = ratio
        print(f"ours / playground env-steps/s: {ratio:.2f} (Brax's own training/sps, "
              f"evaluations left out: median {statistics.median(pg['training_sps'] or [0]):,.0f})")


if __name__ == "__main__":
    main()
