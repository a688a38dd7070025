"""Train a PPO policy: `python -m motrix_jax.train --env cartpole`, or continue a run
with `python -m motrix_jax.train --resume runs/<env>/<timestamp>`.

Training runs as jitted chunks of updates (`--chunk`, default 1); between chunks
the host writes metrics, updates the progress display and, every
`check_point_interval` updates, saves an orbax checkpoint of the whole train
state. A chunk is `ppo.run` over whole updates, so where chunks and checkpoints
fall does not change the numbers.

Bad input (unknown env, impossible config, an unusable --resume folder) prints
one line and exits with code 2 before anything is compiled or written.
A non-finite loss or parameter stops the run (exit 1) without saving; Ctrl-C
saves a checkpoint and exits with 130.

Several processes (`--coordinator/--num-processes/--process-id` or `--distributed`,
MJX only) join with `jax.distributed` before any JAX computation; process 0 alone
prints and writes the run folder. They save no checkpoints (orbax would need every
process to write its shards into one shared folder), so `--resume` is refused there.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import math
import signal
import sys
import threading
import time
import typing
from pathlib import Path

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
    parser.add_argument("--num-envs", type=int, help="parallel envs per seed")
    parser.add_argument("--seed", type=int, help="first seed")
    parser.add_argument("--num-seeds", type=int, help="seeds trained together with vmap")
    parser.add_argument("--max-env-steps", type=float, help="env steps per seed, e.g. 3e6")
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
        "several hosts (jax.distributed; every process runs the same command, --physics mjx; "
        "no checkpoints)")
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
    if args.distributed and args.resume:
        raise ValueError("--resume is not available with several processes (they save no "
                         "checkpoints)")
    if args.distributed and args.physics not in (None, "auto", "mjx"):
        raise ValueError("several processes need --physics mjx (MotrixSim is not sharded)")


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
    """A new folder root/env/<timestamp>[-k]; never an existing one."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (root / env_name).mkdir(parents=True, exist_ok=True)
    for suffix in range(1000):
        run_dir = root / env_name / (f"{stamp}-{suffix}" if suffix else stamp)
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run folder in {root / env_name}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        list_envs()
        return 0
    try:
        check_distributed(args)
        env, info, run_dir = prepare_resume(args) if args.resume else prepare_new(args)
    except ValueError as error:  # includes CheckpointError and UnknownEnvError
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return fit(env, info, run_dir, resume=args.resume is not None,
                   keep=args.keep_checkpoints, chunk=args.chunk, log_every=args.log_every)
    except KeyboardInterrupt:  # before the first update, or a second Ctrl-C
        print("\ninterrupted" + (f"; checkpoints so far are in {run_dir}"
                                 if run_dir is not None else ""), file=sys.stderr)
        return EXIT_INTERRUPTED


def check_run_options(args: argparse.Namespace) -> None:
    if args.keep_checkpoints < 1:
        raise ValueError(f"--keep-checkpoints must be >= 1, got {args.keep_checkpoints}")
    if args.chunk < 1:
        raise ValueError(f"--chunk must be >= 1, got {args.chunk}")


def prepare_new(args: argparse.Namespace):
    """Validate a new run, then create its folder and config.json; (env, info, run_dir).
    With `args.distributed` (see check_distributed), join the other processes first;
    only process 0 creates the folder (run_dir is None on the others)."""
    from motrix_jax import envs
    from motrix_jax.checkpoint import RunInfo, write_run_info

    if not args.env:
        raise ValueError("--env is required (see --list), or --resume RUN_DIR")
    check_run_options(args)
    name = envs.canonical_name(args.env)
    cfg = build_config(args)
    if getattr(args, "distributed", False):  # before any JAX computation
        from motrix_jax.sharding import init_distributed

        init_distributed(args.coordinator, args.num_processes, args.process_id)
    physics, why = envs.choose_physics(args.physics or "auto")
    if getattr(args, "distributed", False) and physics != "mjx":
        raise ValueError(f"several processes need --physics mjx, got {physics} ({why})")
    task_changes = envs.parse_task_changes(name, args.task_set)
    env = envs.make(name, cfg.num_envs, physics=physics, task_changes=task_changes)
    import jax

    info = RunInfo(env=name, physics=physics, ppo=cfg, obs_size=env.obs_size,
                   action_size=env.action_size, processes=jax.process_count(),
                   task_changes=task_changes, physics_options=env.physics.options)
    if jax.process_index() != 0:  # the other processes write nothing
        return env, info, None
    run_dir = make_run_dir(args.run_root, name)
    write_run_info(run_dir, info)
    return env, info, run_dir


def prepare_resume(args: argparse.Namespace):
    """Check that args.resume holds a usable run; (env, info, run_dir). Writes nothing."""
    from motrix_jax import envs
    from motrix_jax.checkpoint import CheckpointError, check_env, open_run

    given = [flag for flag, value in (("--env", args.env), ("--set", args.set),
                                      ("--task-set", args.task_set),
                                      ("--num-envs", args.num_envs), ("--seed", args.seed),
                                      ("--num-seeds", args.num_seeds),
                                      ("--max-env-steps", args.max_env_steps),
                                      ("--physics", args.physics)) if value]
    if given:
        raise ValueError(f"--resume continues a run with its saved config.json; "
                         f"drop {', '.join(given)}")
    check_run_options(args)
    info, checkpointer = open_run(args.resume)
    checkpointer.close()
    try:
        name = envs.canonical_name(info.env)
        env = envs.make(name, info.ppo.num_envs, physics=info.physics,
                        task_changes=info.task_changes)
    except ValueError as error:
        raise CheckpointError(f"{args.resume} is incompatible: {error}") from None
    check_env(args.resume, info, env)
    return env, info, args.resume


@dataclasses.dataclass(frozen=True)
class Progress:
    """Host-side run counters, saved as JSON with each checkpoint."""

    update: int = 0
    env_steps: int = 0  # per seed
    wall_time: float = 0.0  # seconds, summed over sessions
    last_return: tuple[float | None, ...] = ()  # per seed, carried through updates
    # in which no episode ended (None before the first)

    @property
    def mean_return(self) -> float:
        seen = [r for r in self.last_return if r is not None]
        return sum(seen) / len(seen) if seen else float("nan")

    def to_json(self) -> dict:
        mean = self.mean_return
        return {**dataclasses.asdict(self), "last_return": list(self.last_return),
                "episode_return": None if math.isnan(mean) else mean}

    @classmethod
    def from_json(cls, raw: dict) -> Progress:
        return cls(update=int(raw["update"]), env_steps=int(raw["env_steps"]),
                   wall_time=float(raw["wall_time"]), last_return=tuple(raw["last_return"]))


def chunk_fn(ppo, num_updates: int, state):
    """`num_updates` updates on one seed's state, plus whether the params stayed finite."""
    import jax
    import jax.numpy as jnp

    state, metrics = ppo.run(state, num_updates)
    finite = jnp.stack([jnp.isfinite(x).all() for x in jax.tree.leaves(state.params)]).all()
    return state, {**metrics, "params_finite": finite}


@functools.cache
def compiled_init(env, cfg):
    """`init` for all seeds, compiled once per (env object, config) in a process."""
    import jax

    from motrix_jax.ppo import make_ppo, seed_keys

    return jax.jit(jax.vmap(make_ppo(cfg, env).init)).lower(seed_keys(cfg)).compile()


@functools.cache
def compiled_chunk(env, cfg, num_updates: int):
    """A chunk of `num_updates` updates for all seeds, compiled ahead of time once per
    (env object, config, length) in a process, so training the same env again (tests,
    notebooks) does not recompile. Host-callback programs cannot use JAX's disk cache."""
    import jax

    from motrix_jax.ppo import make_ppo, seed_keys

    ppo = make_ppo(cfg, env)
    abstract = jax.eval_shape(jax.vmap(ppo.init), seed_keys(cfg))
    fn = jax.jit(jax.vmap(functools.partial(chunk_fn, ppo, num_updates)), donate_argnums=0)
    return fn.lower(abstract).compile()


class ChunkRunner:
    """Runs chunks for one session and adds up the time spent compiling them. With a
    `mesh` (several devices, MJX), each chunk keeps the sharded placement of the state."""

    def __init__(self, env, cfg, mesh=None):
        self.env, self.cfg, self.mesh, self.compile_s = env, cfg, mesh, 0.0
        self.pinned = {}

    def __call__(self, state, num_updates: int):
        start = time.perf_counter()
        compiled, fresh = self._compiled(state, num_updates)
        if fresh:
            self.compile_s += time.perf_counter() - start
        return compiled(state)

    def _compiled(self, state, num_updates: int):
        """(the compiled chunk, whether it was compiled just now)."""
        import jax

        from motrix_jax.ppo import make_ppo
        from motrix_jax.sharding import jit_pinned

        if self.mesh is None:
            misses = compiled_chunk.cache_info().misses
            compiled = compiled_chunk(self.env, self.cfg, num_updates)
            return compiled, compiled_chunk.cache_info().misses > misses
        if num_updates in self.pinned:
            return self.pinned[num_updates], False
        fn = jax.vmap(functools.partial(chunk_fn, make_ppo(self.cfg, self.env), num_updates))
        self.pinned[num_updates] = jit_pinned(fn, state, self.mesh).lower(state).compile()
        return self.pinned[num_updates], True


def records(progress: Progress, metrics: dict, batch_size: int, wall_time: float):
    """Yield (record, progress) per update of a chunk; metrics are numpy [S, n]."""
    import numpy as np

    last = np.array([np.nan if r is None else r for r in progress.last_return])
    scalars = {k: v for k, v in metrics.items() if k != "params_finite"}
    for i in range(metrics["episodes"].shape[1]):
        row = {k: v[:, i] for k, v in scalars.items()}
        last = np.where(row["episodes"] > 0, row["episode_return"], last)
        update = progress.update + 1
        progress = Progress(update=update, env_steps=update * batch_size, wall_time=wall_time,
                            last_return=tuple(None if np.isnan(r) else float(r) for r in last))
        record = {"update": update, "env_steps": progress.env_steps,
                  "wall_time": round(wall_time, 3),
                  **{k: float(v.mean()) for k, v in row.items()},
                  "episode_return_mean": progress.mean_return,
                  "episode_return_per_seed": [float(r) for r in last]}
        yield record, progress


class StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM (e.g. a preempted job) sets `requested`; the loop
    saves and exits after the current chunk. A second signal aborts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self.previous = {}

    def __enter__(self) -> typing.Self:
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def restore(env, ppo, run_dir: Path, keys):
    """The TrainState and Progress of run_dir's latest checkpoint, with the physics
    backend's host state (MotrixSim worlds) put back to the saved EnvState."""
    import jax

    from motrix_jax.checkpoint import Checkpointer

    checkpointer = Checkpointer(run_dir, read_only=True)
    try:
        state, raw = checkpointer.restore(jax.eval_shape(jax.vmap(ppo.init), keys))
    finally:
        checkpointer.close()
    if hasattr(env.physics, "restore"):
        env.physics.restore(state.env_state.physics)
    return state, Progress.from_json(raw)


def fit(env, info, run_dir: Path | None, *, resume: bool = False, keep: int = 3,
        chunk: int = 1, log_every: int = 0, stop_after: int | None = None,
        console=None) -> int:
    """Train `env` with `info.ppo` in `run_dir` (which holds config.json), from scratch or
    from its latest checkpoint, to `num_updates` (or `stop_after`, then checkpoint).
    With several JAX processes: process 0 prints and writes `run_dir`, the others get
    None and write nothing; no process saves checkpoints and `resume` is refused."""
    import jax
    from rich.console import Console

    from motrix_jax.checkpoint import CheckpointError
    from motrix_jax.ppo import make_ppo, seed_keys

    cfg = info.ppo
    lead = jax.process_index() == 0
    console = console or Console(highlight=False, soft_wrap=True, quiet=not lead)
    if not lead:
        console.quiet = True
    if resume and jax.process_count() > 1:
        print("error: --resume is not available with several processes", file=sys.stderr)
        return EXIT_USAGE
    ppo = make_ppo(cfg, env)
    keys = seed_keys(cfg)
    session_start = time.perf_counter()
    if resume:
        try:
            state, progress = restore(env, ppo, run_dir, keys)
        except CheckpointError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
    else:
        state = compiled_init(env, cfg)(keys)
        progress = Progress(last_return=(None,) * cfg.num_seeds)
    device = jax.devices()[0]
    console.print(f"[bold]motrix_jax[/] env={info.env} physics={info.physics} "
                  f"device={device.platform}:{device.device_kind} seeds={cfg.num_seeds} "
                  f"envs/seed={cfg.num_envs} updates={cfg.num_updates} "
                  f"({cfg.num_updates * cfg.batch_size:,} env steps/seed)")
    if jax.process_count() > 1:
        from motrix_jax.sharding import placement

        console.print(f"jax.distributed: {placement()}")
        console.print("checkpoints: off with several processes (orbax would need every "
                      "process to save into one shared folder); metrics and TensorBoard "
                      "are written")
    console.print(f"run folder: {run_dir}" + (f" (resumed at update {progress.update})"
                                                if resume else ""))
    if progress.update >= cfg.num_updates:
        console.print(f"the run is complete ({progress.update} updates); nothing to do")
        return 0
    mesh = None
    if info.physics == "mjx" and jax.device_count() > 1:
        from motrix_jax.sharding import env_mesh, shard_train_state

        # axis 0 of every leaf is the seed (vmap), so the env batch is axis 1
        state = shard_train_state(state, mesh := env_mesh(), cfg.num_envs, batch_axis=1)
        console.print(f"env batch sharded over {jax.device_count()} devices")
    loop = TrainLoop(env, cfg, run_dir, progress, resume, keep, console, log_every, mesh)
    try:
        return loop.run(state, chunk, stop_after, session_start)
    finally:
        loop.close()


class TrainLoop:
    """Host side of a training session: chunks, records, checkpoints, display."""

    def __init__(self, env, cfg, run_dir, progress, resume, keep, console, log_every,
                 mesh=None):
        import jax

        from motrix_jax.checkpoint import Checkpointer
        from motrix_jax.run_log import Display, RunLog

        self.cfg, self.progress = cfg, progress
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.start_progress = progress
        self.runner = ChunkRunner(env, cfg, mesh)
        # several processes: no checkpoints; only process 0 (which has the run folder) logs
        self.checkpointer = Checkpointer(run_dir, keep=keep) \
            if jax.process_count() == 1 else None
        self.log = RunLog(run_dir, progress.update if resume else None, progress.env_steps) \
            if self.run_dir is not None else NullLog()
        self.display = Display(console, cfg.num_updates, cfg.batch_size, progress.update,
                               log_every or max(1, cfg.num_updates // 20))
        self.run_seconds = 0.0  # time spent running compiled chunks this session

    def save(self) -> None:
        self.log.flush()  # records up to the checkpoint are on disk before it is
        if self.checkpointer is None:
            return
        if self.checkpointer.latest_step() != self.progress.update:
            self.checkpointer.save(self.state, self.progress.to_json())

    def run(self, state, chunk: int, stop_after: int | None, session_start: float) -> int:
        cfg = self.cfg
        self.state = state
        end = min(cfg.num_updates, stop_after or cfg.num_updates)
        with StopRequest() as stop:
            while self.progress.update < end:
                left_in_interval = cfg.check_point_interval - \
                    self.progress.update % cfg.check_point_interval
                n = min(chunk, end - self.progress.update, left_in_interval)
                failure = self.step(n, session_start)
                if failure:
                    self.display.close()
                    print(failure, file=sys.stderr)
                    return EXIT_NONFINITE
                if self.progress.update % cfg.check_point_interval == 0:
                    self.save()
                if any_process(stop.requested):
                    self.save()
                    self.display.close()
                    self.display.print(
                        f"interrupted: saved a checkpoint at update {self.progress.update}; "
                        f"continue with: python -m motrix_jax.train --resume {self.run_dir}"
                        if self.checkpointer else
                        f"interrupted at update {self.progress.update} (several processes: "
                        f"no checkpoint); metrics are in {self.run_dir}")
                    return EXIT_INTERRUPTED
        self.save()
        self.display.close()
        where = f"checkpoints: {self.checkpointer.steps()} (best " \
            f"{self.checkpointer.best_step()}) in {self.checkpointer.directory}" \
            if self.checkpointer else f"no checkpoints (several processes); metrics in " \
            f"{self.run_dir}"
        self.display.print(
            f"done: update {self.progress.update}/{cfg.num_updates} in "
            f"{time.perf_counter() - session_start:.1f} s (compile "
            f"{self.runner.compile_s:.1f} s); {where}")
        return 0

    def step(self, n: int, session_start: float) -> str | None:
        """Run one chunk of n updates and record it; a message if it went non-finite."""
        import jax
        import numpy as np

        compile_before, start = self.runner.compile_s, time.perf_counter()
        self.state, metrics = self.runner(self.state, n)
        metrics = jax.tree.map(np.asarray, metrics)
        compiled = self.runner.compile_s - compile_before
        if compiled:
            self.display.print(f"compiled a {n}-update chunk in {compiled:.1f} s")
        # Compile time is counted apart, so steps/s is the training rate from the start.
        self.run_seconds += time.perf_counter() - start - compiled
        steps_done = (self.progress.update + n - self.start_progress.update) * \
            self.cfg.batch_size * self.cfg.num_seeds
        rate = steps_done / self.run_seconds if self.run_seconds > 0 else None
        wall = self.start_progress.wall_time + time.perf_counter() - session_start
        for record, progress in records(self.progress, metrics, self.cfg.batch_size, wall):
            losses = [record[k] for k in record if k.startswith("loss_")]
            if not np.isfinite(losses).all():
                return self.stopped(f"non-finite loss at update {record['update']}")
            record["steps_per_s"] = rate
            if compiled:
                record["compile_s"], compiled = compiled, 0.0
            self.log.write(record)
            self.progress = progress
            remaining = (self.cfg.num_updates - progress.update) * self.cfg.batch_size * \
                self.cfg.num_seeds
            self.display.show(record, rate, remaining / rate if rate else None)
        if not metrics["params_finite"].all():
            return self.stopped(f"non-finite parameters after update {self.progress.update}")
        return None

    def stopped(self, what: str) -> str:
        if self.checkpointer is None:
            return f"error: {what}; training stopped (several processes: no checkpoints)."
        latest = self.checkpointer.latest_step()
        kept = "no checkpoint was saved before" if latest is None else \
            f"Last good checkpoint: update {latest} in {self.checkpointer.directory}"
        return f"error: {what}; training stopped. {kept}"

    def close(self) -> None:
        self.display.close()
        self.log.close()
        if self.checkpointer is not None:
            self.checkpointer.close()


class NullLog:
    """RunLog's interface for the processes other than 0, which write nothing."""

    def write(self, record: dict) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def any_process(flag: bool) -> bool:
    """Whether `flag` is set in any JAX process (a stop request reaches all of them, so
    they leave the loop after the same chunk); just `flag` in a single process."""
    import jax

    if jax.process_count() == 1:
        return flag
    import numpy as np
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.array(flag))))


if __name__ == "__main__":
    sys.exit(main())
