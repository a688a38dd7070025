"""The train CLI: `python -m motrix_jax.train --env cartpole`, or continue a run with
`python -m motrix_jax.train --resume runs/<env>/<timestamp>`.

This module parses and checks the arguments, creates the run folder and maps how the
training session (session.py) ended to an exit code.

Bad input (unknown env, impossible config, an unusable --resume folder) prints
one line and exits with code 2 before anything is compiled or written.
A non-finite loss or parameter (or a full disk) stops the run with exit 1;
Ctrl-C saves a checkpoint and exits with 130 (SIGTERM too).

Several processes (`--coordinator/--num-processes/--process-id` or `--distributed`,
MJX only) join with `jax.distributed` before any JAX computation. Process 0 creates the
run folder and tells the others its path; the folder must be on storage they all see
(checked at start: one line and exit 2 if not), because every process saves its shards
of each checkpoint into it. `--resume` with the same process count continues the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import typing
from pathlib import Path

import jax
from rich.console import Console
from rich.table import Table

from motrix_jax import envs, multihost
from motrix_jax.checkpoint import CHECKPOINT_DIR, no_checkpoint, step_folders
from motrix_jax.config import parse_typed, with_overrides
from motrix_jax.ppo import check_env
from motrix_jax.run_folder import (
    CheckpointError,
    RunInfo,
    StorageError,
    after_interruption,
    make_run_dir,
    read_run_info,
    write_run_info,
)
from motrix_jax.session import (
    Interrupted,
    NonFiniteError,
    Session,
    SessionOptions,
    StartSignals,
    start_backend,
)

EXIT_NONFINITE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m motrix_jax.train",
        description="Train a PPO policy on a registered env with the task's preset.")
    parser.add_argument("--env", help="env name or MotrixLab alias (see --list)")
    parser.add_argument("--list", action="store_true", help="list the envs and exit")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its latest checkpoint")
    parser.add_argument("--init-from", type=Path, metavar="RUN_DIR",
                        help="start a new run from RUN_DIR's newest policy and normalisers "
                             "(fresh optimiser; same task, robot and network sizes)")
    parser.add_argument("--distill-from", type=Path, metavar="RUN_DIR",
                        help="train a student to imitate RUN_DIR's policy on its own rollouts "
                             "(DAgger), reading the task's student observation")
    parser.add_argument("--num-envs", type=int, help="parallel envs per seed")
    parser.add_argument("--seed", type=int, help="first seed")
    parser.add_argument("--num-seeds", type=int, help="seeds trained together with vmap")
    parser.add_argument("--max-env-steps", help="env steps per seed, e.g. 3e6")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override any PPOConfig field (repeatable), e.g. "
                             "--set learning_rate=3e-4 --set policy_hidden_sizes=64,64")
    parser.add_argument("--task-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a field of the env's task (repeatable), e.g. "
                             "--task-set domain_randomization=true")
    parser.add_argument("--physics",
                        help="auto (mjx on a GPU/TPU, motrixsim on CPU; the default), "
                             "motrixsim, mjx or mujoco (MuJoCo's C engine on the host)")
    parser.add_argument("--run-root", default="runs", type=Path,
                        help="runs are written to RUN_ROOT/<env>/<timestamp>/")
    parser.add_argument("--keep-checkpoints", type=int, default=3, metavar="K",
                        help="keep the last K checkpoints (plus the best by return)")
    parser.add_argument("--chunk", type=int, default=1,
                        help="updates per jitted call (the host logs between calls)")
    parser.add_argument("--log-every", type=int, default=0,
                        help="updates between plain progress lines when output is not a "
                             "terminal (default: about 20 lines)")
    hosts = parser.add_argument_group(
        "several hosts (jax.distributed; every process runs the same command, --physics mjx, "
        "--run-root on storage every host shares)")
    hosts.add_argument("--distributed", action="store_true",
                       help="call jax.distributed.initialize() first; alone, JAX detects the "
                            "processes from Slurm, Open MPI, Cloud TPU or Kubernetes")
    hosts.add_argument("--coordinator", metavar="HOST:PORT",
                       help="address of process 0, reachable from every host (implies "
                            "--distributed; default: $JAX_COORDINATOR_ADDRESS)")
    hosts.add_argument("--num-processes", type=int, help="processes in all (one per host)")
    hosts.add_argument("--process-id", type=int, help="this process's index, 0 .. N-1")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace):
    """Preset + CLI flags + --set overrides; raises ValueError naming the bad field."""

    cfg = envs.preset(args.env)
    flags = {"num_envs": args.num_envs, "seed": args.seed, "num_seeds": args.num_seeds,
             "max_env_steps": None if args.max_env_steps is None else
             parse_typed("--max-env-steps", int, args.max_env_steps)}
    flags = {k: v for k, v in flags.items() if v is not None}
    for item in args.set:  # one value per field: a flag and a --set of it conflict
        name = item.partition("=")[0].strip()
        if name in flags:
            raise ValueError(f"--{name.replace('_', '-')} and --set {name}=... both set "
                             f"{name}; give one")
    return with_overrides(cfg, args.set, flags)


def list_envs(console: Console | None = None) -> None:
    """The envs as a table on a terminal, else one per line, tab-separated, uncut."""
    console = console or Console()
    columns = ("name", "aliases", "obs", "action", "episode steps", "description")
    rows = []
    for spec in envs.REGISTRY.values():
        task = spec.task()
        rows.append((spec.name, ", ".join(spec.aliases) or "-", str(task.obs_size),
                     str(task.action_size), str(task.episode_length), spec.summary))
    if not console.is_terminal:
        print("\t".join(columns), *("\t".join(row) for row in rows), sep="\n",
              file=console.file)
        return
    table = Table(title="motrix_jax envs")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        list_envs()
        return 0
    with StartSignals() as signals:  # SIGTERM during start-up ends it like Ctrl-C
        run_dir = None
        try:
            try:
                args.distributed = multihost.check_flags(
                    args.distributed, args.coordinator, args.num_processes, args.process_id,
                    args.physics)
                env, info, run_dir = prepare_resume(args) if args.resume else prepare_new(args)
                signals.check()
            except ValueError as error:  # CheckpointError and UnknownEnvError are ValueErrors
                print(f"error: {error}", file=sys.stderr)
                return EXIT_USAGE
            except StorageError as error:  # e.g. a full disk for config.json
                print(f"error: {error}", file=sys.stderr)
                return EXIT_NONFINITE
            return fit(env, info, run_dir, resume=args.resume is not None, started=signals.check,
                       keep=args.keep_checkpoints, chunk=args.chunk, log_every=args.log_every,
                       init_from=getattr(args, "start", None))
        except KeyboardInterrupt:  # before the first update, or a second Ctrl-C
            run_dir = run_dir or getattr(args, "created", None)  # interrupted while preparing
            if not getattr(args, "lead", True):
                return EXIT_INTERRUPTED  # process 0 says what happened to the folder
            print(f"\n{after_interruption(run_dir, new_run=args.resume is None)}",
                  file=sys.stderr)
            return EXIT_INTERRUPTED


def check_run_options(args: argparse.Namespace) -> None:
    if args.keep_checkpoints < 1:
        raise ValueError(f"--keep-checkpoints must be >= 1, got {args.keep_checkpoints}")
    if args.chunk < 1:
        raise ValueError(f"--chunk must be >= 1, got {args.chunk}")


def prepare_new(args: argparse.Namespace):
    """Validate a new run, then create its folder and config.json; (env, info, run_dir).
    With `args.distributed` (multihost.check_flags), join the other processes first;
    process 0 creates the folder and the others check they see it."""

    if not args.env:
        raise ValueError("--env is required (see --list), or --resume RUN_DIR")
    check_run_options(args)
    name = envs.canonical_name(args.env)
    cfg = build_config(args)
    if not getattr(args, "distributed", False):
        start_backend()  # several processes: only once they have joined
    args.lead = multihost.join(getattr(args, "distributed", False), args.coordinator,
                               args.num_processes, args.process_id)
    start_backend()
    physics, why = envs.choose_physics(args.physics or "auto")
    if envs.is_host_name(name):  # the whole step runs on the host, its physics its own
        if args.physics:
            raise ValueError(f"--physics: {name} is a host env, which steps its own physics")
        physics, why = "host", "a host env"
    if getattr(args, "distributed", False) and physics != "mjx":
        raise ValueError(f"several processes need --physics mjx, got {physics} ({why})")
    task_changes = envs.parse_task_changes(name, args.task_set)
    env = envs.make(name, cfg.num_envs, physics=physics, task_changes=task_changes)
    if args.distill_from is not None:
        cfg = dataclasses.replace(cfg, distill_from=str(args.distill_from))
    if cfg.distill_from:  # the teacher's path is recorded absolute, for --resume
        from motrix_jax import distill

        cfg = dataclasses.replace(cfg, distill_from=distill.check_teacher(
            cfg.distill_from, name, env))
        env = distill.student_env(env)
    check_env(cfg, env)
    if args.init_from is not None:
        from motrix_jax.init_from import load_start

        args.start = load_start(args.init_from, name, env, cfg)
    info = RunInfo.of(name, env, cfg, task_changes, processes=jax.process_count())
    run_dir = None
    if args.lead:  # the other processes get its path
        run_dir = args.created = make_run_dir(args.run_root, name)  # for an interruption
        try:
            write_run_info(run_dir, info)
        except StorageError:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
    try:
        return env, info, multihost.share_run_dir(run_dir)
    except ValueError:
        if args.lead:
            shutil.rmtree(run_dir)
        raise


def prepare_resume(args: argparse.Namespace):
    """Check that args.resume holds a usable run; (env, info, run_dir). Writes nothing."""
    given = [flag for flag, value in (
        ("--env", args.env), ("--set", args.set), ("--task-set", args.task_set),
        ("--num-envs", args.num_envs), ("--seed", args.seed), ("--num-seeds", args.num_seeds),
        ("--max-env-steps", args.max_env_steps), ("--physics", args.physics),
        ("--init-from", getattr(args, "init_from", None)),
        ("--distill-from", getattr(args, "distill_from", None))) if value]
    if given:
        raise ValueError(f"--resume continues a run with its saved config.json; "
                         f"drop {', '.join(given)}")
    check_run_options(args)
    info = read_run_info(args.resume)  # the session sets damaged checkpoints aside
    if not step_folders(args.resume / CHECKPOINT_DIR):
        raise CheckpointError(no_checkpoint(args.resume))
    if not getattr(args, "distributed", False):
        start_backend()  # several processes: only once they have joined
    args.lead = multihost.join(getattr(args, "distributed", False), args.coordinator,
                               args.num_processes, args.process_id)
    start_backend()
    if info.processes != jax.process_count():
        raise ValueError(f"{args.resume} trained on {info.processes} process(es); resume it "
                         f"on as many (this is {jax.process_count()})")
    run_dir = multihost.share_run_dir(args.resume if args.lead else None)
    return envs.make_for_run(run_dir, info, info.ppo.num_envs), info, run_dir


def fit(env, info, run_dir: Path | None, *, resume: bool = False, console=None,
        started=None, **options) -> int:
    """Train `env` with `info.ppo` in `run_dir` (see session.Session; `options` are
    SessionOptions fields); the exit code. `started()`, once the session has started,
    may raise KeyboardInterrupt (a signal received meanwhile)."""

    try:
        session = Session(env, info, run_dir, resume=resume,
                          options=SessionOptions(**options), console=console)
        state = session.start()
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as error:  # the lock or a folder the OS refuses
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NONFINITE
    if started is not None:
        try:
            started()
        except KeyboardInterrupt:
            session.close()
            raise
    return run_session(session, state)


def run_session(session, state) -> int:
    """`session.run(state)`, its ending as an exit code (messages on stderr)."""
    try:
        session.run(state)
    except (NonFiniteError, StorageError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)  # CheckpointError: a folder orbax refused
        return EXIT_NONFINITE
    except Interrupted:
        return EXIT_INTERRUPTED
    return 0


def exit_now(code: int) -> typing.NoReturn:
    """Exit with `code`; after an interruption without running Python's finalisation
    (the run folder is already cleaned up: threads JAX or MotrixSim left mid-compile
    crashed it with SIGSEGV in 3 of 11 trials)."""
    if code != EXIT_INTERRUPTED:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
