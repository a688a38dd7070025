"""Cartpole learning benchmark: env steps, wall time and the return curve.

    python benchmarks/learn_cartpole.py [--seed 0] [--max-env-steps 3e6] [--physics mjx]
                                        [--out results.json]

Runs the registered cartpole preset (on MotrixSim unless --physics says otherwise),
one jitted update at a time,
and prints the mean episode return after each update (carried forward through
updates in which no episode ended) plus when it first passed 900 and 950.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import jax
import numpy as np

from motrix_jax import envs
from motrix_jax.ppo import make_ppo


def learn(seed: int, max_env_steps: int, env_name: str = "cartpole",
          physics: str = "motrixsim") -> dict:
    cfg = dataclasses.replace(envs.preset(env_name), seed=seed, max_env_steps=max_env_steps)
    ppo = make_ppo(cfg, envs.make(env_name, cfg.num_envs, physics=physics))
    update = jax.jit(ppo.update, donate_argnums=0)
    start = time.perf_counter()
    state = jax.jit(ppo.init)(jax.random.PRNGKey(seed))
    curve, last = [], float("nan")
    compile_s = None
    for i in range(cfg.num_updates):
        state, metrics = update(state)
        episodes = int(metrics["episodes"])
        if episodes:
            last = float(metrics["episode_return"])
        if compile_s is None:
            compile_s = time.perf_counter() - start
            t0 = time.perf_counter()
        curve.append({"env_steps": (i + 1) * cfg.batch_size,
                      "wall_s": round(time.perf_counter() - start, 2), "return": last,
                      "episodes": episodes})
        print(f"{curve[-1]['env_steps']:>10,} steps  {curve[-1]['wall_s']:7.1f} s  "
              f"return {last:7.1f}", flush=True)
    train_s = time.perf_counter() - t0
    first = lambda level: next((c for c in curve if c["return"] >= level), None)
    return {"env": env_name, "physics": physics, "seed": seed, "num_envs": cfg.num_envs,
            "compile_and_first_update_s": round(compile_s, 2),
            "steps_per_s_after_first_update":
                round((cfg.num_updates - 1) * cfg.batch_size / train_s),
            "passed_900": first(900), "passed_950": first(950),
            "final_return": last, "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-env-steps", type=float, default=3e6)
    parser.add_argument("--physics", default="motrixsim", choices=("motrixsim", "mjx"))
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args()
    result = learn(args.seed, int(args.max_env_steps), physics=args.physics)
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    if result["passed_950"] is None:
        raise SystemExit(f"cartpole did not reach 950 (final {result['final_return']:.1f})")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
