"""Host envs against published PPO tables, and what the host path costs.

Learning (the default): gymnasium's MuJoCo v5 tasks trained by motrix_jax through the
host-env callback (`--env gymnasium:ID`, the host preset: CleanRL's PPO settings, 8 envs
x 256 steps per update) for `--steps` env steps with `--seeds` seeds (vmapped: one host
env over all seeds' envs), beside the published figures of CleanRL's
`ppo_continuous_action.py` (Open RL Benchmark, tag pr-424, MuJoCo v4, 1M steps:
https://docs.cleanrl.dev/rl-algorithms/ppo/#experiment-results) and a CleanRL-style
PyTorch PPO (`torch_ppo.py`) run on the same CPU in the same run (`--torch-seeds`, each
for `--torch-steps`, default `--steps`). "Final return" is the mean over seeds of the
training episodes' returns over the last 10 updates (~20k env steps per seed), as the
published table reports training episodic returns. Env-steps/s count every seed's steps
over the training time (compilation apart; given separately).

    python benchmarks/host_envs.py --steps 1000000 --seeds 3 --torch-seeds 3 \\
        --out benchmarks/results/host_envs/mujoco_v5_1M.json

Overhead (`--overhead`): the share of a host-env step that is not the env's own step:
the adapter's `step` alone in a Python loop with random actions against the same env
behind the callback in `jax.jit(lax.scan)` (callback, transfers, JAX's bookkeeping).

    python benchmarks/host_envs.py --overhead --env gymnasium:HalfCheetah-v5 --num-envs 2048

Speed end to end (`--speed ENV ...`): each env trained by the train CLI with its own
preset at `--num-envs` envs for `--steps` env steps (registered tasks on `--physics`,
MuJoCo's C engine by default), its training env-steps/s (compilation apart):

    python benchmarks/host_envs.py --speed envpool:Go1JoystickFlatTerrain-v1 go1_flat \
        --num-envs 256 --steps 500000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TASKS = ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5")
# CleanRL ppo_continuous_action.py, Open RL Benchmark tag pr-424, MuJoCo v4 at 1M env
# steps, mean +- std over seeds (https://docs.cleanrl.dev/rl-algorithms/ppo/, table
# "openrlbenchmark/cleanrl/ppo_continuous_action ({'tag': ['pr-424']})").
PUBLISHED = {"HalfCheetah-v5": ("HalfCheetah-v4", 1442.64, 46.03),
             "Hopper-v5": ("Hopper-v4", 2382.86, 271.74),
             "Walker2d-v5": ("Walker2d-v4", 2287.95, 571.78)}


def train_ours(task: str, steps: int, seeds: int, root: Path, extra: list[str]) -> dict:
    """Train gymnasium:`task` with the train CLI; its metrics.jsonl summarised."""
    name = f"gymnasium:{task}"
    command = [sys.executable, "-m", "motrix_jax.train", "--env", name, "--seed", "0",
               "--num-seeds", str(seeds), "--max-env-steps", str(steps),
               "--run-root", str(root), "--log-every", "50", *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    run_dir = max((root / name).iterdir())
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    last = np.array([r["episode_return_per_seed"] for r in records[-10:]], float)
    compile_s = sum(r.get("compile_s") or 0.0 for r in records)
    per_seed = np.nanmean(last, axis=0)
    env_steps = records[-1]["env_steps"] * seeds
    return {"run_dir": str(run_dir), "final_return_per_seed": per_seed.tolist(),
            "final_return_mean": float(per_seed.mean()),
            "final_return_std": float(per_seed.std()), "env_steps_all_seeds": env_steps,
            "wall_s": wall, "compile_s": compile_s,
            # the session's own rate: every seed's steps over the time spent running
            # compiled chunks (compilation apart)
            "env_steps_per_s": records[-1]["steps_per_s"],
            "train_s": env_steps / records[-1]["steps_per_s"]}


def train_torch(task: str, steps: int, seeds: int) -> dict:
    import torch_ppo

    runs = [torch_ppo.train(task, steps, seed) for seed in range(seeds)]
    finals = [float(np.mean(r["episode_returns"][-20:])) if r["episode_returns"]
              else float("nan") for r in runs]
    seconds = sum(r["seconds"] for r in runs)
    return {"final_return_per_seed": finals, "final_return_mean": float(np.mean(finals)),
            "final_return_std": float(np.std(finals)), "wall_s": seconds,
            "env_steps_all_seeds": sum(r["env_steps"] for r in runs),
            "env_steps_per_s": sum(r["env_steps"] for r in runs) / seconds}


def learning(args) -> dict:
    results = {}
    root = Path(args.run_root or tempfile.mkdtemp(prefix="host_envs_"))
    for task in args.tasks:
        ours = train_ours(task, args.steps, args.seeds, root, args.extra)
        theirs = train_torch(task, args.torch_steps or args.steps, args.torch_seeds) \
            if args.torch_seeds else None
        results[task] = {"ours": ours, "torch_ppo": theirs, "published": PUBLISHED[task]}
        print_row(task, results[task])
    return results


def print_row(task: str, row: dict) -> None:
    ours, theirs, (version, mean, std) = row["ours"], row["torch_ppo"], row["published"]
    line = (f"{task}: ours {ours['final_return_mean']:.0f} +- {ours['final_return_std']:.0f} "
            f"({len(ours['final_return_per_seed'])} seeds, "
            f"{ours['env_steps_per_s']:.0f} env-steps/s, {ours['wall_s']:.0f} s with "
            f"{ours['compile_s']:.0f} s compiling) | published CleanRL PPO ({version}) "
            f"{mean:.0f} +- {std:.0f}")
    if theirs:
        line += (f" | CleanRL-style torch PPO here {theirs['final_return_mean']:.0f} +- "
                 f"{theirs['final_return_std']:.0f} ({theirs['env_steps_per_s']:.0f} "
                 f"env-steps/s, {theirs['wall_s']:.0f} s)")
    print(line, flush=True)


def overhead(name: str, num_envs: int, steps: int, repeats: int = 3) -> dict:
    """Seconds per step of the adapter alone and behind the callback (the fastest of
    `repeats` alternating timings of each), and the share that is not the env's step."""
    import jax

    from motrix_jax.adapters import factory, make_host_env

    raw = factory(name)(num_envs)
    raw.reset(0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(raw.action_low, raw.action_high,
                          (steps, num_envs, raw.action_size)).astype(np.float32)
    env = make_host_env(name, num_envs)

    @jax.jit
    def run(state, key):
        def body(state, k):
            return env.step(state, jax.random.uniform(k, (num_envs, env.action_size),
                                                      minval=-1.0, maxval=1.0)), ()
        return jax.lax.scan(body, state, jax.random.split(key, steps))[0]

    state = run(jax.jit(env.reset)(jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
    jax.block_until_ready(state)  # compiled, envs warm; timed runs continue them
    raw_times, callback_times = [], []
    for r in range(repeats):
        start = time.perf_counter()
        for t in range(steps):
            raw.step(actions[t])
        raw_times.append((time.perf_counter() - start) / steps)
        start = time.perf_counter()
        state = jax.block_until_ready(run(state, jax.random.PRNGKey(2 + r)))
        callback_times.append((time.perf_counter() - start) / steps)
    raw.close()
    raw_s, callback_s = min(raw_times), min(callback_times)
    result = {"env": name, "num_envs": num_envs, "steps": steps, "repeats": repeats,
              "adapter_step_ms": raw_s * 1e3, "callback_step_ms": callback_s * 1e3,
              "overhead_share": 1.0 - raw_s / callback_s,
              "env_steps_per_s_callback": num_envs / callback_s,
              "all_adapter_ms": [t * 1e3 for t in raw_times],
              "all_callback_ms": [t * 1e3 for t in callback_times]}
    print(f"{name} x {num_envs}: adapter step {raw_s * 1e3:.2f} ms, through the callback "
          f"{callback_s * 1e3:.2f} ms (fastest of {repeats}): host-path overhead "
          f"{100 * result['overhead_share']:.1f} % of a step "
          f"({num_envs / callback_s:,.0f} env-steps/s)")
    return result


def speed(names: list[str], num_envs: int, steps: int, physics: str, root: Path) -> dict:
    """Training env-steps/s of each env (its preset, `num_envs` envs, `steps` steps)."""
    from motrix_jax.adapters import is_host_name

    rates = {}
    for name in names:
        flags = [] if is_host_name(name) else ["--physics", physics]
        command = [sys.executable, "-m", "motrix_jax.train", "--env", name, "--num-envs",
                   str(num_envs), "--max-env-steps", str(steps), "--run-root", str(root),
                   *flags]
        subprocess.run(command, check=True)
        run_dir = max((root / name).iterdir())
        record = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
        rates[name] = {"env_steps_per_s": record["steps_per_s"], "num_envs": num_envs,
                       "physics": "host" if is_host_name(name) else physics,
                       "env_steps": record["env_steps"], "run_dir": str(run_dir)}
        print(f"{name}: {record['steps_per_s']:,.0f} env-steps/s training end to end "
              f"({num_envs} envs, {rates[name]['physics']})", flush=True)
    return rates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--steps", type=int, default=1_000_000, help="env steps per seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--torch-seeds", type=int, default=1,
                        help="CleanRL-style PyTorch PPO runs per task (0: none)")
    parser.add_argument("--torch-steps", type=int, help="their env steps (default --steps)")
    parser.add_argument("--run-root", help="where our runs go (default: a temp folder)")
    parser.add_argument("--set", dest="extra", action="append", default=[], type=lambda s:
                        f"--set={s}", help="a PPOConfig override for our runs")
    parser.add_argument("--overhead", action="store_true", help="measure the callback's share")
    parser.add_argument("--env", default="gymnasium:HalfCheetah-v5")
    parser.add_argument("--num-envs", type=int, default=2048)
    parser.add_argument("--overhead-steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--speed", nargs="+", metavar="ENV",
                        help="training env-steps/s of these envs, end to end")
    parser.add_argument("--physics", default="mujoco",
                        help="--speed: the backend of registered tasks")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.overhead:
        result = overhead(args.env, args.num_envs, args.overhead_steps, args.repeats)
    elif args.speed:
        root = Path(args.run_root or tempfile.mkdtemp(prefix="host_envs_speed_"))
        result = speed(args.speed, args.num_envs, args.steps, args.physics, root)
    else:
        result = learning(args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
