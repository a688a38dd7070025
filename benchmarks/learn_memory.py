"""Memory benchmark: a partially observed cartpole, learned with and without memory.

    python benchmarks/learn_memory.py [--seed 0] [--max-env-steps 5e6] [--minutes 3]
        [--variants full_ff,hidden_ff,hidden_gru,hidden_lstm] [--memory-size 64]
        [--observed 0,3]
        [--out benchmarks/results/memory/cartpole_memory_seed0]

Each variant trains the cartpole preset (MotrixSim) for the same env-step budget (or
until --minutes of wall time per variant), one jitted update at a time, then runs the
deterministic policy on 256 fresh envs for one episode length (1000 steps) and reports
the mean return of each env's first episode. Variants:
  full_ff      all four observations, feed-forward (the reference return),
  hidden_ff    only the --observed ones (default 0,3: cart position and pole rate; the
               task's `observed`), feed-forward,
  hidden_gru   the same, a GRU of --memory-size before each MLP,
  hidden_lstm  the same, an LSTM.
(With positions only, 0,1, cartpole is no memory task: a static P controller on the
angle balances it for 1000 steps.)
The target: hidden_gru (or hidden_lstm) >= 90 % of full_ff's return while hidden_ff
stays clearly below. Also reported per variant: seconds per update and env steps per
second after the first (compiling) update, and the learning half of the update alone
(`ppo.learn` on one fixed rollout, timed over repeats): the update cost of memory per
env step against the feed-forward policy. Writes <out>.json (curves and results) and
<out>.png (return against env steps).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import time
from pathlib import Path

import jax
import numpy as np

from motrix_jax import envs
from motrix_jax.evaluation import run_policy
from motrix_jax.ppo import is_recurrent, make_ppo, minibatch_orders
from motrix_jax.recurrent import MemoryPolicy

VARIANTS = {"full_ff": (False, "none"), "hidden_ff": (True, "none"),
            "hidden_gru": (True, "gru"), "hidden_lstm": (True, "lstm")}


def variant_config(name: str, seed: int, max_env_steps: int, memory_size: int,
                   observed: tuple[int, ...]):
    partial, memory = VARIANTS[name]
    hidden = {"observed": observed} if partial else {}
    cfg = dataclasses.replace(envs.preset("cartpole"), seed=seed, policy_memory=memory,
                              memory_size=memory_size)
    return hidden, dataclasses.replace(cfg, max_env_steps=max_env_steps)


def deterministic_return(ppo, cfg, state, hidden: dict, seed: int, num_envs: int = 256):
    """Mean return of the first episode of `num_envs` fresh envs under the mean action."""
    env = envs.make("cartpole", num_envs, task_changes=hidden)
    if is_recurrent(cfg):
        policy = MemoryPolicy(functools.partial(jax.jit(ppo.policy), state.params,
                                                state.obs_stats), state.memory["policy"].shape[1])
    else:
        policy = functools.partial(jax.jit(ppo.policy), state.params, state.obs_stats)
    _, (done, done_return) = run_policy(env, policy, jax.random.PRNGKey(1000 + seed),
                                        env.task.episode_length,
                                        lambda s: (s.terminated | s.truncated, s.done_return))
    first = done.argmax(axis=0)
    return float(done_return[first, np.arange(num_envs)].mean())


def learn_cost(ppo, cfg, state, repeats: int = 5) -> float:
    """Seconds of `ppo.learn` (GAE and every epoch) on one fixed rollout, mean of
    `repeats` after a compiling call."""
    key = jax.random.PRNGKey(0)
    _, traj = jax.jit(ppo.rollout)(state, key)
    rows = cfg.num_envs if is_recurrent(cfg) else cfg.batch_size
    orders = minibatch_orders(key, cfg.learning_epochs, rows)
    learn = jax.jit(ppo.learn)
    jax.block_until_ready(learn(state, traj, orders))
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(learn(state, traj, orders))
    return (time.perf_counter() - start) / repeats


def train_variant(name: str, seed: int, max_env_steps: int, minutes: float,
                  memory_size: int, observed: tuple[int, ...]) -> dict:
    hidden, cfg = variant_config(name, seed, max_env_steps, memory_size, observed)
    env = envs.make("cartpole", cfg.num_envs, task_changes=hidden)
    ppo = make_ppo(cfg, env)
    update = jax.jit(ppo.update, donate_argnums=0)
    start = time.perf_counter()
    state = jax.jit(ppo.init)(jax.random.PRNGKey(seed))
    curve, last, first_s = [], float("nan"), None
    for i in range(cfg.num_updates):
        state, metrics = update(state)
        if int(metrics["episodes"]):
            last = float(metrics["episode_return"])
        wall = time.perf_counter() - start
        first_s = first_s or wall
        curve.append({"env_steps": (i + 1) * cfg.batch_size, "wall_s": round(wall, 2),
                      "return": last})
        print(f"{name:12s} {curve[-1]['env_steps']:>10,} steps {wall:7.1f} s "
              f"return {last:7.1f}", flush=True)
        if wall - first_s > minutes * 60:  # the budget counts from the first update on
            break
    updates = len(curve)
    per_update = (curve[-1]["wall_s"] - first_s) / max(updates - 1, 1)
    return {"variant": name, "task_changes": hidden, "policy_memory": cfg.policy_memory,
            "memory_size": memory_size, "env_steps": curve[-1]["env_steps"],
            "seconds_per_update": round(per_update, 4),
            "env_steps_per_s": round(cfg.batch_size / per_update) if updates > 1 else None,
            "learn_seconds_per_update": round(learn_cost(ppo, cfg, state), 4),
            "final_training_return": last,
            "deterministic_return": deterministic_return(ppo, cfg, state, hidden, seed),
            "curve": curve}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for result in results:
        curve = result["curve"]
        ax.plot([c["env_steps"] for c in curve], [c["return"] for c in curve],
                label=f"{result['variant']} (eval {result['deterministic_return']:.0f})")
    ax.set_xlabel("env steps")
    ax.set_ylabel("mean episode return (training)")
    ax.set_title("partially observed cartpole: memory against none")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-env-steps", type=float, default=5e6)
    parser.add_argument("--minutes", type=float, default=3.0, help="wall limit per variant")
    parser.add_argument("--variants", default="full_ff,hidden_ff,hidden_gru")
    parser.add_argument("--memory-size", type=int, default=64)
    parser.add_argument("--observed", default="0,3", help="cartpole's observed indices")
    parser.add_argument("--out", type=Path, help="write <out>.json and <out>.png")
    args = parser.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant {unknown[0]!r}; known: {', '.join(VARIANTS)}")
    observed = tuple(int(i) for i in args.observed.split(","))
    results = [train_variant(n, args.seed, int(args.max_env_steps), args.minutes,
                             args.memory_size, observed) for n in names]
    summary = [{k: v for k, v in r.items() if k != "curve"} for r in results]
    full = next((r["deterministic_return"] for r in results if r["variant"] == "full_ff"),
                None)
    for r in summary:
        if full:
            r["fraction_of_full_ff"] = round(r["deterministic_return"] / full, 3)
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(
            {"seed": args.seed, "max_env_steps": int(args.max_env_steps),
             "minutes_per_variant": args.minutes, "results": results}, indent=1))
        plot(results, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
