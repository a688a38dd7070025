"""The learning step of a PPO update alone (GAE, minibatch orders, epochs x minibatches of
SGD, statistics: `ppo.learn`), timed under several settings side by side in one run and
printed as RATIOS to the first: XLA CPU flags, thread counts, the code of another commit.

    python benchmarks/update_cost.py --env go1_flat --num-envs 2048 \
        --variant "as is=" \
        --variant "no thunk runtime=--xla_cpu_use_thunk_runtime=false" \
        --variant "eigen single thread=--xla_cpu_multi_thread_eigen=false" \
        --before HEAD~3 [--repeats 5] [--rounds 3] [--out benchmarks/results/update_cost]

Each variant runs in its own process (XLA reads its flags once, at start-up), rounds
interleaved (A B C A B C ...) so that load from elsewhere falls on every variant alike;
a variant's figure is its best round. `--before REV` adds a variant running this
measurement on the code of commit REV (`git archive` into a temporary folder): the
before/after of a code change in one run. The rollout is not run: the learning step
gets a rollout-shaped batch of random numbers (learning costs the same whatever the
numbers). A variant's label is free text; its value is appended to XLA_FLAGS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def learn_seconds(name: str, num_envs: int, repeats: int) -> dict:
    """Seconds of one jitted `ppo.learn` (best of `repeats`), with the preset of `name`."""
    import dataclasses

    import jax
    import jax.numpy as jnp

    from motrix_jax import envs
    from motrix_jax.ppo import make_ppo, minibatch_orders

    cfg = dataclasses.replace(envs.preset(name), num_envs=num_envs)
    env = envs.make(name, num_envs, physics="motrixsim")
    ppo = make_ppo(cfg, env)
    state = jax.jit(ppo.init)(jax.random.PRNGKey(0))
    shapes = jax.eval_shape(ppo.rollout, state, jax.random.PRNGKey(1))[1]
    leaves, tree = jax.tree.flatten(shapes)
    keys = jax.random.split(jax.random.PRNGKey(2), len(leaves))
    traj = jax.tree.unflatten(tree, [
        jax.random.normal(k, s.shape, s.dtype) if jnp.issubdtype(s.dtype, jnp.floating)
        else jnp.zeros(s.shape, s.dtype) for k, s in zip(keys, leaves)])
    learn = jax.jit(lambda st, tr, k: ppo.learn(
        st, tr, minibatch_orders(k, cfg.learning_epochs, cfg.batch_size)))
    jax.block_until_ready(learn(state, traj, jax.random.PRNGKey(3)))  # compile
    best = float("inf")
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(learn(state, traj, jax.random.PRNGKey(4 + i)))
        best = min(best, time.perf_counter() - start)
    return {"learn_s": best, "batch": cfg.batch_size, "epochs": cfg.learning_epochs,
            "mini_batches": cfg.mini_batches, "hidden": list(cfg.policy_hidden_sizes),
            "jax": jax.__version__}


def source_of(rev: str, into: Path) -> Path:
    """The motrix_jax and envs trees of commit `rev` under `into` (envs linked as in a
    worktree), for PYTHONPATH."""
    archive = subprocess.run(["git", "archive", rev, "motrix_jax", "envs"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    link = into / "motrix_jax" / "envs"
    if not link.exists():
        link.symlink_to("../envs")
    return into


def child(variant: tuple[str, str, str], args) -> dict:
    """One round of a variant (label, XLA flags, PYTHONPATH) in a fresh process."""
    _, flags, path = variant
    env = {**os.environ, "PYTHONPATH": path,
           "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()}
    out = subprocess.run([sys.executable, __file__, "--child", args.env, str(args.num_envs),
                          str(args.repeats)], env=env, capture_output=True, text=True, check=False,
                         cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def main(argv: list[str]) -> None:
    if argv[1:2] == ["--child"]:
        print(json.dumps(learn_seconds(argv[2], int(argv[3]), int(argv[4]))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="go1_flat")
    parser.add_argument("--num-envs", type=int, default=2048)
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=XLA_FLAGS")
    parser.add_argument("--before", metavar="REV", help="add the code of commit REV")
    parser.add_argument("--repeats", type=int, default=5, help="timed learns per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", help="write <out>.json")
    args = parser.parse_args(argv[1:])
    here = str(ROOT)
    variants = [(label, flags, here) for label, _, flags in
                (v.partition("=") for v in args.variant or ["as is="])]
    with tempfile.TemporaryDirectory() as tmp:
        if args.before:
            variants.append((f"code of {args.before}", "", str(source_of(args.before,
                                                                        Path(tmp)))))
        results = {v[0]: [] for v in variants}
        for _ in range(args.rounds):
            for variant in variants:
                results[variant[0]].append(child(variant, args))
                print(variant[0], results[variant[0]][-1], flush=True)
    report(results, args, argv)


def report(results: dict, args, argv: list[str]) -> None:
    """Best round per variant and its ratio to the first variant's."""
    best = {k: min((r["learn_s"] for r in rs if "learn_s" in r), default=float("nan"))
            for k, rs in results.items()}
    first = next(iter(best.values()))
    print(f"\nppo.learn on {args.env}, {args.num_envs} envs (one update's learning step)")
    print(f"{'variant':40s} {'learn s':>8s} {'time vs first':>14s} {'speed-up':>9s}")
    for label, seconds in best.items():
        errors = [r["error"] for r in results[label] if "error" in r]
        print(f"{label:40s} {seconds:8.3f} {seconds / first:14.2f} {first / seconds:9.2f}"
              + (f"  ({errors[0]})" if errors else ""))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(f"{args.out}.json").write_text(json.dumps(
            {"command": " ".join(["python", *argv]), "rounds": results, "best_s": best},
            indent=1))


if __name__ == "__main__":
    main(sys.argv)
