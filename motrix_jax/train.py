"""Train a PPO policy: `python -m motrix_jax.train --env cartpole`.

Bad input (unknown env, impossible config) prints one line and exits with
code 2 before anything is compiled or written.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import sys
import time
from pathlib import Path

EXIT_USAGE = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m motrix_jax.train",
        description="Train a PPO policy on a registered env with the task's preset.")
    parser.add_argument("--env", help="env name or MotrixLab alias (see --list)")
    parser.add_argument("--list", action="store_true", help="list the envs and exit")
    parser.add_argument("--num-envs", type=int, help="parallel envs per seed")
    parser.add_argument("--seed", type=int, help="first seed")
    parser.add_argument("--num-seeds", type=int, help="seeds trained together with vmap")
    parser.add_argument("--max-env-steps", type=float, help="env steps per seed, e.g. 3e6")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override any PPOConfig field (repeatable), e.g. "
                             "--set learning_rate=3e-4 --set policy_hidden_sizes=64,64")
    parser.add_argument("--physics", default="auto",
                        help="auto (mjx on a GPU/TPU, motrixsim on CPU), motrixsim or mjx")
    parser.add_argument("--run-root", default="runs", type=Path,
                        help="runs are written to RUN_ROOT/<env>/<timestamp>/")
    parser.add_argument("--log-every", type=int, default=0,
                        help="updates between progress lines (default: about 20 lines)")
    hosts = parser.add_argument_group(
        "several hosts (jax.distributed; every process runs the same command, --physics mjx)")
    hosts.add_argument("--distributed", action="store_true",
                       help="call jax.distributed.initialize() first; alone, JAX detects the "
                            "processes from Slurm, Open MPI, Cloud TPU or Kubernetes")
    hosts.add_argument("--coordinator", metavar="HOST:PORT",
                       help="address of process 0, reachable from every host (implies "
                            "--distributed; default: $JAX_COORDINATOR_ADDRESS)")
    hosts.add_argument("--num-processes", type=int, help="processes in all (one per host)")
    hosts.add_argument("--process-id", type=int, help="this process's index, 0 .. N-1")
    return parser.parse_args(argv)


def check_distributed(args: argparse.Namespace) -> None:
    """Sets args.distributed when any multi-host flag is given; ValueError on a bad mix."""
    given = (args.coordinator, args.num_processes, args.process_id)
    args.distributed = args.distributed or any(x is not None for x in given)
    if (args.num_processes is None) != (args.process_id is None):
        raise ValueError("--num-processes and --process-id go together")
    if args.num_processes is not None and not 0 <= args.process_id < args.num_processes:
        raise ValueError(f"--process-id must be in 0 .. {args.num_processes - 1}, "
                         f"got {args.process_id}")


def build_config(args: argparse.Namespace):
    """Preset + CLI flags + --set overrides; raises ValueError naming the bad field."""
    from motrix_jax import envs
    from motrix_jax.config import with_overrides

    cfg = envs.preset(args.env)
    flags = {"num_envs": args.num_envs, "seed": args.seed, "num_seeds": args.num_seeds,
             "max_env_steps": None if args.max_env_steps is None else int(args.max_env_steps)}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in flags.items() if v is not None})
    return with_overrides(cfg, args.set)


def list_envs() -> None:
    from rich.console import Console
    from rich.table import Table

    from motrix_jax import envs

    table = Table(title="motrix_jax envs")
    for column in ("name", "aliases", "obs", "action", "episode steps", "description"):
        table.add_column(column)
    for spec in envs.REGISTRY.values():
        task = spec.task()
        table.add_row(spec.name, ", ".join(spec.aliases), str(task.obs_size),
                      str(task.action_size), str(task.episode_length), spec.summary)
    Console().print(table)


def make_run_dir(root: Path, env_name: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = root / env_name / stamp
    suffix = 1
    while run_dir.exists():
        run_dir = root / env_name / f"{stamp}-{suffix}"
        suffix += 1
    run_dir.mkdir(parents=True)
    return run_dir


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        list_envs()
        return 0
    if not args.env:
        print("error: --env is required (see --list)", file=sys.stderr)
        return EXIT_USAGE
    from motrix_jax import envs

    try:
        name = envs.canonical_name(args.env)
        cfg = build_config(args)
        check_distributed(args)
        if args.distributed and args.physics not in ("auto", "mjx"):
            raise ValueError("several processes need --physics mjx (MotrixSim is not sharded)")
        if args.physics not in envs.PHYSICS:
            raise ValueError(f"unknown physics {args.physics!r}; available: "
                             f"{', '.join(envs.PHYSICS)}")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return train(name, cfg, args)


def train(name: str, cfg, args: argparse.Namespace) -> int:
    import jax
    import numpy as np
    from rich.console import Console

    from motrix_jax import envs
    from motrix_jax.ppo import make_ppo, seed_keys

    placement = None
    if args.distributed:  # before any JAX computation
        from motrix_jax.sharding import init_distributed

        placement = init_distributed(args.coordinator, args.num_processes, args.process_id)
    lead = jax.process_index() == 0  # only process 0 prints and writes the run folder
    console = Console(highlight=False, soft_wrap=True, quiet=not lead)
    physics, why = envs.choose_physics(args.physics)
    if args.distributed and physics != "mjx":
        console.quiet = False
        console.print(f"error: several processes need --physics mjx, got {physics} ({why})")
        return EXIT_USAGE
    env = envs.make(name, cfg.num_envs, physics=physics)
    device = jax.devices()[0]
    console.print(f"[bold]motrix_jax[/] env={name} physics={physics} ({why}) "
                  f"device={device.platform}:{device.device_kind} seeds={cfg.num_seeds} "
                  f"envs/seed={cfg.num_envs} updates={cfg.num_updates} "
                  f"({cfg.num_updates * cfg.batch_size:,} env steps/seed)")
    if placement:
        console.print(f"jax.distributed: {placement}")
    if lead:
        run_dir = make_run_dir(args.run_root, name)
        (run_dir / "config.json").write_text(json.dumps(
            {"env": name, "physics": physics, "ppo": dataclasses.asdict(cfg),
             "processes": jax.process_count()}, indent=2))
        metrics_path = run_dir / "metrics.jsonl"
    else:  # the other processes compute the same metrics and write nothing
        run_dir = metrics_path = Path(os.devnull)
    console.print(f"run folder: {run_dir}")

    ppo = make_ppo(cfg, env)
    init = jax.jit(jax.vmap(ppo.init))
    update = jax.jit(jax.vmap(ppo.update), donate_argnums=0)
    start = time.perf_counter()
    state = init(seed_keys(cfg))
    if physics == "mjx" and jax.device_count() > 1:
        from motrix_jax.sharding import env_mesh, jit_pinned, shard_train_state

        # axis 0 of every leaf is the seed (vmap), so the env batch is axis 1
        state = shard_train_state(state, mesh := env_mesh(), cfg.num_envs, batch_axis=1)
        update = jit_pinned(jax.vmap(ppo.update), state, mesh)
        console.print(f"env batch sharded over {jax.device_count()} devices")
    state, metrics = update(state)
    jax.block_until_ready(metrics)
    console.print(f"compiled and ran the first update in {time.perf_counter() - start:.1f} s")

    log_every = args.log_every or max(1, cfg.num_updates // 20)
    last_return = np.full(cfg.num_seeds, np.nan)
    t0, steps_per_update = time.perf_counter(), cfg.batch_size * cfg.num_seeds
    update_index = 1
    try:
        with open(metrics_path, "a") as log:
            while True:
                host = {k: np.asarray(v) for k, v in metrics.items()}
                last_return = np.where(host["episodes"] > 0, host["episode_return"],
                                       last_return)
                elapsed = time.perf_counter() - t0
                record = {"update": update_index, "env_steps": update_index * cfg.batch_size,
                          "wall_time": round(elapsed, 3),
                          **{k: float(v.mean()) for k, v in host.items()},
                          "episode_return_per_seed": [float(r) for r in last_return]}
                log.write(json.dumps(record) + "\n")
                if not math.isfinite(record["loss_policy"] + record["loss_value"]):
                    console.print(f"[red]error:[/] non-finite loss at update {update_index}; "
                                  f"stopped. Metrics so far are in {run_dir}")
                    return 1
                if update_index % log_every == 0 or update_index == cfg.num_updates:
                    rate = (update_index - 1) * steps_per_update / max(elapsed, 1e-9)
                    shown_rate = f"{rate:>9,.0f}" if update_index > 1 else " " * 8 + "-"
                    console.print(
                        f"update {update_index:>5}/{cfg.num_updates}  "
                        f"env steps {update_index * cfg.batch_size:>12,}  "
                        f"{shown_rate} steps/s  return {np.nanmean(last_return):8.1f}  "
                        f"length {record['episode_length']:7.1f}  "
                        f"lr {record['learning_rate']:.2e}")
                if update_index == cfg.num_updates:
                    break
                state, metrics = update(state)
                update_index += 1
    except KeyboardInterrupt:
        console.print(f"\ninterrupted at update {update_index}; metrics are in {run_dir}")
        return 130
    console.print(f"done in {time.perf_counter() - start:.1f} s; metrics: "
                  f"{metrics_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
