"""The train CLI: `python -m motrix_jax.train --env cartpole`, or continue a run with
`python -m motrix_jax.train --resume runs/<env>/<timestamp>`.

This module parses the arguments and maps how the run ended to an exit code; the
start-up and the training loop are `trainer.launch` and `Trainer.run`, the run folder
on disk `RunDir`.

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
import sys
import typing
from pathlib import Path

from rich.console import Console
from rich.table import Table

from motrix_jax import envs
from motrix_jax.run_folder import RunFolderError, StorageError
from motrix_jax.trainer import (
    Interrupted,
    Launch,
    NonFiniteError,
    StartSignals,
    Trainer,
    TrainOptions,
    launch,
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
        trainer = None
        try:
            trainer = launch(request_of(args))
            trainer.run(started=signals.check)
            return 0
        except KeyboardInterrupt as stop:  # before the first update (StartInterrupted)
            note = getattr(stop, "note", "interrupted")
            if note:  # None: another process than 0, which says what happened
                print(f"\n{note}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as error:  # noqa: BLE001 - exit_code re-raises the unexpected
            return exit_code(error, running=trainer is not None)


def request_of(args: argparse.Namespace) -> Launch:
    """The parsed flags as the trainer's frozen request."""
    given = {field.name: getattr(args, field.name) for field in dataclasses.fields(Launch)}
    return Launch(**{**given, "set": tuple(args.set), "task_set": tuple(args.task_set)})


def exit_code(error: Exception, running: bool) -> int:
    """The exit code of a run that ended with `error` (`running`: after its start-up),
    its one-line message on stderr; anything unexpected is raised again."""
    if isinstance(error, Interrupted):
        return EXIT_INTERRUPTED  # the trainer said what it saved
    if isinstance(error, NonFiniteError | StorageError) or (
            running and isinstance(error, RunFolderError)):  # a folder orbax refused
        code = EXIT_NONFINITE
    elif isinstance(error, ValueError) and not running:  # RunFolderError, UnknownEnvError
        code = EXIT_USAGE
    else:
        raise error
    print(f"error: {error}", file=sys.stderr)
    return code


def fit(env, info, run_dir: Path | None, *, resume: bool = False, console=None,
        started=None, **options) -> int:
    """Train `env` with `info.ppo` in `run_dir` (which holds config.json) as the CLI
    does, for tests and scripts; the exit code. `options` are TrainOptions fields;
    `started()`, once the trainer has started, may raise KeyboardInterrupt (a signal
    received meanwhile)."""
    trainer = Trainer(env, info, run_dir, resume=resume, options=TrainOptions(**options),
                      console=console)
    try:
        trainer.start()
    except Exception as error:  # noqa: BLE001 - exit_code re-raises the unexpected
        return exit_code(error, running=False)
    try:
        trainer.run(started)
    except Exception as error:  # noqa: BLE001
        return exit_code(error, running=True)
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
