"""motrix_jax vs skrl's PPO (the MotrixLab stack's trainer) and rsl_rl's PPO (the legged-robot
trainer of legged_gym and Isaac Lab) on the same MotrixSim task with the same PPO
settings: throughput side by side, or learning curves.

    python benchmarks/vs_skrl.py --env cartpole go1_flat [--rounds 2] [--updates 5] \
        [--frameworks torch jax rsl_rl] [--out benchmarks/results/vs_skrl_cpu]
    python benchmarks/vs_skrl.py --learn --env cartpole --minutes 2 [--seeds 0 1] \
        [--out benchmarks/results/learn_vs_skrl_cartpole]

Speed (default): per task, at its preset (num_envs, rollouts, epochs, minibatches,
network sizes, learning rate and the rest mapped one to one, see skrl_adapter.py and
rsl_rl_adapter.py):
- physics: MotrixSim's host loop alone,
- with --engines mujoco mjx: each engine's physics alone (MuJoCo C through its host, MJX's
  step under jit) and our whole PPO updates on it (ours_<engine>), beside ours on
  MotrixSim, so all three engines share one table,
- adapter: the gymnasium vector env skrl drives, stepped with random NumPy actions
  (physics + task + one jitted step per call: the env side of skrl's loop),
- ours: whole jitted PPO updates, env-steps/s,
- skrl_torch / skrl_jax: skrl's SequentialTrainer with its PPO agent; steady-state
  env-steps/s over `--updates` updates after one warm-up update (compilation for JAX),
  and the share of that time spent inside env.step,
- rsl_rl (with --frameworks ... rsl_rl): rsl_rl's OnPolicyRunner, measured the same way.
The systems run in turn, `--rounds` times, in an order rotated each round so machine
drift affects all alike; the table shows each one's median and ours / baseline ratios.

Learning (--learn): each system trains the task from the same seeds for `--minutes` of
wall-clock (compilation included); mean return of the episodes that ended in each
update, against env steps and against seconds since the start, one curve per seed.

skrl, rsl-rl-lib, gymnasium and torch are benchmark-only: pip install -e '.[bench]'. A
missing one is reported and skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    host_physics,
    mjx_physics,
    print_table,
    run_info,
    save_json,
    train_split,
)

from motrix_jax import envs
from motrix_jax.ppo import make_ppo

INSTALL = "pip install -e '.[bench]'"


BASELINES = ("torch", "jax", "rsl_rl")  # skrl's PyTorch and JAX agents, rsl_rl's PPO


def key_of(framework: str) -> str:
    """The key of a baseline in results: skrl_torch, skrl_jax, rsl_rl."""
    return framework if framework == "rsl_rl" else f"skrl_{framework}"


def label(framework: str) -> str:
    return "rsl_rl" if framework == "rsl_rl" else f"skrl {framework}"


def missing_baselines(frameworks: list[str]) -> dict[str, str]:
    """framework -> why it cannot run here (a module to install)."""
    needs = {"torch": ["skrl", "gymnasium", "torch"], "jax": ["skrl", "gymnasium"],
             "rsl_rl": ["rsl_rl", "tensordict", "gymnasium", "torch"]}
    missing = {}
    for framework in frameworks:
        absent = [m for m in needs[framework] if importlib.util.find_spec(m) is None]
        if absent:
            missing[framework] = f"{', '.join(absent)} not installed ({INSTALL})"
    return missing


class Stop(Exception):
    """Raised from the env's step to end a baseline's training loop."""


def baseline_trainer(framework: str, name: str, cfg, seed: int, stop):
    """(inner MotrixVectorEnv, train()) of a baseline; `stop(vec_env)` is checked before
    each step and ends training (train() returns) when true."""
    from skrl_adapter import MotrixVectorEnv

    seed_baseline(framework, seed)
    vec_env = MotrixVectorEnv(envs.make(name, cfg.num_envs), seed=seed)
    step = vec_env.step

    def step_or_stop(actions):
        if stop(vec_env):
            raise Stop
        return step(actions)
    vec_env.step = step_or_stop
    if framework == "rsl_rl":
        from rsl_rl_adapter import RslVecEnv, make_rsl_rl
        runner = make_rsl_rl(RslVecEnv(vec_env, cfg.rewards_shaper_scale), cfg)
        run = functools.partial(runner.learn, cfg.num_updates + 1)
    else:
        from skrl_adapter import make_skrl
        run = make_skrl(framework, vec_env, cfg,
                        timesteps=cfg.rollouts * (cfg.num_updates + 1))[1].train

    def train():
        try:
            run()
        except Stop:
            pass
    return vec_env, train


def seed_baseline(framework: str, seed: int) -> None:
    if framework == "rsl_rl":
        import torch
        torch.manual_seed(seed)
        np.random.seed(seed)
    else:
        from skrl.utils import set_seed
        set_seed(seed)


def baseline_run(framework: str, name: str, cfg, updates: int, seed: int = 0,
                 warmup: int = 1):
    """Train a baseline for warmup + updates updates; (adapter env, steady-state figures)."""
    # The update after step k*R runs before step k*R + 1 starts: R*(warmup+updates)+1
    # step calls contain warmup+updates whole updates.
    calls = cfg.rollouts * (warmup + updates) + 1
    vec_env, train = baseline_trainer(framework, name, cfg, seed,
                                      lambda env: len(env.step_times) >= calls)
    train()
    first, last = cfg.rollouts * warmup, cfg.rollouts * (warmup + updates)
    seconds = vec_env.step_times[last] - vec_env.step_times[first]
    env_seconds = sum(vec_env.env_seconds[first:last])
    return vec_env, {"steps_per_s": updates * cfg.batch_size / seconds,
                     "env_share": env_seconds / seconds}


def adapter_stepping(name: str, cfg, steps: int) -> float:
    from skrl_adapter import MotrixVectorEnv

    vec_env = MotrixVectorEnv(envs.make(name, cfg.num_envs))
    vec_env.reset()
    rng = np.random.default_rng(0)
    actions = (0.5 * rng.standard_normal((steps + 1, cfg.num_envs, vec_env.env.action_size))
               ).astype(np.float32)
    vec_env.step(actions[0])  # compile
    start = time.perf_counter()
    for a in actions[1:]:
        vec_env.step(a)
    return cfg.num_envs * steps / (time.perf_counter() - start)


ENGINES = {"mujoco": host_physics, "mjx": mjx_physics}  # physics-only measure per engine


def measure(system: str, name: str, cfg, updates: int):
    """One figure: env-steps/s (float) or a dict holding "steps_per_s"."""
    steps = cfg.rollouts * updates
    if system == "physics":
        return host_physics(envs.make(name, cfg.num_envs), steps)
    if system == "adapter":
        return adapter_stepping(name, cfg, steps)
    if system == "ours":
        return train_split(envs.make(name, cfg.num_envs), cfg, updates)
    if system in ENGINES:
        return ENGINES[system](envs.make(name, cfg.num_envs, physics=system), steps)
    if system.removeprefix("ours_") in ENGINES:
        engine = system.removeprefix("ours_")
        return train_split(envs.make(name, cfg.num_envs, physics=engine), cfg, updates)
    return baseline_run(system.removeprefix("skrl_"), name, cfg, updates)[1]  # a baseline


def speed(args, frameworks: list[str]) -> dict:
    result = {**run_info(sys.argv), "rounds": args.rounds, "updates": args.updates,
              "engines": args.engines, "tasks": {}}
    systems = ["physics", "adapter", "ours",
               *(s for e in args.engines for s in (e, f"ours_{e}")),
               *(key_of(f) for f in frameworks)]
    for name in args.env:
        cfg = envs.preset(name)
        runs = {system: [] for system in systems}
        for r in range(args.rounds):
            for system in systems[r % len(systems):] + systems[:r % len(systems)]:
                figure = measure(system, name, cfg, args.updates)
                runs[system].append(figure)
                shown = figure if isinstance(figure, float) else figure["steps_per_s"]
                print(f"{name} round {r + 1} {system}: {shown:,.0f} env-steps/s", flush=True)
        rate = {s: statistics.median(f if isinstance(f, float) else f["steps_per_s"]
                                     for f in runs[s]) for s in runs}
        ratios = {f"{us}_over_{s}": rate[us] / rate[s] for us in rate
                  if us.startswith("ours") for s in rate if s != us}
        result["tasks"][name] = {"config": dataclasses.asdict(cfg), "runs": runs,
                                 "median_steps_per_s": rate, "ratios": ratios}
    return result


def show_speed(result: dict, frameworks: list[str]) -> None:
    engines = result.get("engines", [])
    header = ["task", "physics", "adapter", "ours",
              *(c for e in engines for c in (e, f"ours {e}")),
              *(label(f) for f in frameworks),
              "ours/physics", *(f"ours/{label(f)}" for f in frameworks),
              *(c for e in engines for c in (f"ours {e}/ours",
                                              *(f"ours {e}/{label(f)}" for f in frameworks)))]
    rows = []
    for name, task in result["tasks"].items():
        rate, ratio = task["median_steps_per_s"], task["ratios"]
        rows.append([name, rate["physics"], rate["adapter"], rate["ours"],
                     *(rate[s] for e in engines for s in (e, f"ours_{e}")),
                     *(rate[key_of(f)] for f in frameworks), rate["ours"] / rate["physics"],
                     *(ratio[f"ours_over_{key_of(f)}"] for f in frameworks),
                     *(r for e in engines for r in (
                         ratio[f"ours_{e}_over_ours"],
                         *(ratio[f"ours_{e}_over_{key_of(f)}"] for f in frameworks)))])
    print(f"\nenv-steps/s, median of {result['rounds']} rounds, {result['device']} "
          f"({result['cpus']} CPUs)")
    print_table(header, rows)
    for name, task in result["tasks"].items():
        ours = task["runs"]["ours"]
        split = {k: statistics.median(r[k] for r in ours) for k in ("rollout_s", "learn_s")}
        skrl = {label(f): statistics.median(r["env_share"] for r in task["runs"][key_of(f)])
                for f in frameworks}
        print(f"{name}: ours per update rollout {split['rollout_s']:.2f} s + learn "
              f"{split['learn_s']:.2f} s; baseline time inside env.step: "
              + ", ".join(f"{f} {v:.0%}" for f, v in skrl.items()))


def plot_speed(result: dict, frameworks: list[str], path: str) -> None:
    from common import bar_chart

    tasks = list(result["tasks"])
    series = {"physics only": "physics", "ours (motrix_jax)": "ours",
              **{label: key for e in result.get("engines", [])
                 for label, key in ((f"{e} only", e), (f"ours on {e}", f"ours_{e}"))},
              **{label(f): key_of(f) for f in frameworks}}
    bar_chart(tasks, {label: [result["tasks"][t]["median_steps_per_s"][key] for t in tasks]
                      for label, key in series.items()},
              f"PPO end to end on MotrixSim, presets, {result['device']} "
              f"({result['cpus']} CPUs)", path)


def ours_curve(name: str, seed: int, minutes: float) -> list[dict]:
    cfg = dataclasses.replace(envs.preset(name), seed=seed)
    start = time.perf_counter()
    ppo = make_ppo(cfg, envs.make(name, cfg.num_envs))
    update = jax.jit(ppo.update, donate_argnums=0)
    state = jax.jit(ppo.init)(jax.random.PRNGKey(seed))
    curve = []
    for _ in range(cfg.num_updates):
        state, metrics = update(state)
        episodes = int(metrics["episodes"])
        curve.append({"seconds": time.perf_counter() - start, "env_steps": int(state.env_steps),
                      "return": float(metrics["episode_return"]) if episodes else None})
        if curve[-1]["seconds"] > 60 * minutes:
            break
    return curve


def baseline_curve(framework: str, name: str, seed: int, minutes: float) -> list[dict]:
    """A baseline trained for the preset's updates, cut at the budget by a time check in
    the env at an update's end."""
    cfg = envs.preset(name)
    start = time.perf_counter()
    vec_env, train = baseline_trainer(
        framework, name, cfg, seed,
        lambda env: time.perf_counter() - start > 60 * minutes
        and len(env.step_times) % cfg.rollouts == 0)
    train()
    curve = []
    per_update = cfg.rollouts * cfg.num_envs
    for u in range(len(vec_env.step_times) // cfg.rollouts):
        ended = [e for e in vec_env.episodes if u * per_update < e[1] <= (u + 1) * per_update]
        count = sum(e[3] for e in ended)
        end = vec_env.step_times[min((u + 1) * cfg.rollouts, len(vec_env.step_times) - 1)]
        curve.append({"seconds": end - start, "env_steps": (u + 1) * per_update,
                      "return": sum(e[2] for e in ended) / count if count else None})
    return curve


def learning(args, frameworks: list[str]) -> dict:
    name = args.env[0]
    result = {**run_info(sys.argv), "env": name, "minutes": args.minutes,
              "config": dataclasses.asdict(envs.preset(name)), "curves": {}}
    for seed in args.seeds:
        for framework in ["ours", *frameworks]:
            curve = (ours_curve(name, seed, args.minutes) if framework == "ours" else
                     baseline_curve(framework, name, seed, args.minutes))
            key = "ours" if framework == "ours" else key_of(framework)
            result["curves"].setdefault(key, []).append({"seed": seed, "curve": curve})
            last = [c["return"] for c in curve[-5:] if c["return"] is not None]
            print(f"{name} seed {seed} {key}: {curve[-1]['env_steps']:,} env steps in "
                  f"{curve[-1]['seconds']:.0f} s, last returns {np.mean(last):.1f}", flush=True)
    return result


def plot_learning(result: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, (system, runs) in enumerate(result["curves"].items()):
        for j, run in enumerate(runs):
            points = [c for c in run["curve"] if c["return"] is not None]
            for ax, x in zip(axes, ("seconds", "env_steps")):
                ax.plot([c[x] for c in points], [c["return"] for c in points],
                        color=f"C{i}", alpha=0.8, label=system if j == 0 else None)
    axes[0].set_xlabel("wall-clock seconds (compilation included)")
    axes[1].set_xlabel("env steps")
    for ax in axes:
        ax.set_ylabel("mean episode return")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result['env']}: motrix_jax vs baseline PPO, same preset and MotrixSim task, "
                 f"{result['device']} ({result['cpus']} CPUs)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", nargs="+", default=["cartpole", "go1_flat"])
    parser.add_argument("--frameworks", nargs="+", default=["torch", "jax"],
                        choices=list(BASELINES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--updates", type=int, default=5, help="PPO updates timed per run")
    parser.add_argument("--engines", nargs="*", default=[], choices=list(ENGINES),
                        help="also these engines' physics and ours on them")
    parser.add_argument("--learn", action="store_true", help="learning curves instead")
    parser.add_argument("--minutes", type=float, default=2.0, help="per run, with --learn")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", help="write <out>.json and <out>.png")
    args = parser.parse_args()
    args.env = [envs.canonical_name(name) for name in args.env]
    if "mjx" in args.engines:
        import motrix_jax.physics.mjx  # noqa: F401  (sets its XLA flag before JAX starts)
    jax.numpy.zeros(())  # initialise the backend before timing
    missing = missing_baselines(args.frameworks)
    for framework, why in missing.items():
        print(f"skipping {label(framework)}: {why}")
    frameworks = [f for f in args.frameworks if f not in missing]
    if args.learn:
        result = learning(args, frameworks)
    else:
        result = speed(args, frameworks)
        show_speed(result, frameworks)
    if args.out:
        save_json(result, f"{args.out}.json")
        if args.learn:
            plot_learning(result, f"{args.out}.png")
        else:
            plot_speed(result, frameworks, f"{args.out}.png")
        print(f"wrote {args.out}.json and {args.out}.png")


if __name__ == "__main__":
    main()
