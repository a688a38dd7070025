"""A training session: one run folder trained from scratch or from its latest checkpoint.

The session runs jitted chunks of whole updates (`chunks`); between chunks the host
writes each update's record (`metrics.jsonl`, TensorBoard), updates the progress
display and, every `check_point_interval` updates, saves an orbax checkpoint of the
whole train state. Where chunks and checkpoints fall does not change the numbers.

It reports how it ended by raising: `NonFiniteError` (a non-finite loss or parameter;
nothing is saved after the last good checkpoint) or `Interrupted` (SIGINT or SIGTERM:
a checkpoint of the last whole chunk was saved). `CheckpointError` means a run
folder it cannot resume (or one another live trainer holds: `RunFolderBusy`). The
CLI (train.py) maps them to exit codes.

From `start()` to the end of `run()` the session holds the run folder's lock
(run_lock), refuses a folder holding symlinks, and resumes from the newest intact
checkpoint: damaged newer ones are moved to `damaged_checkpoints/`, saying so.

Several JAX processes (`jax.distributed`): `Roles` says once what this one does.
Process 0 alone prints, holds the lock and writes metrics and TensorBoard; every
process saves its shards of each checkpoint into the run folder, which they all see
(`multihost.share_run_dir` checked that), and a resume with the same process count
restores each process's shards.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shlex
import signal
import threading
import time
import typing
from pathlib import Path

import jax
import numpy as np
from rich.console import Console

from motrix_jax import metrics, multihost
from motrix_jax.checkpoint import CHECKPOINT_DIR, Checkpointer, UnreadableCheckpoints
from motrix_jax.chunks import ChunkRunner, compiled_init
from motrix_jax.multihost import any_process
from motrix_jax.ppo import make_ppo, seed_keys
from motrix_jax.run_folder import Progress, RunInfo, check_no_symlinks, one_line
from motrix_jax.run_lock import RunLock
from motrix_jax.run_log import Display, RunLog

DAMAGED_DIR = "damaged_checkpoints"


def start_backend() -> None:
    """Start JAX's backend; ValueError (one line) when it cannot start the one
    JAX_PLATFORMS asks for (e.g. cuda on a machine without a GPU: JAX raises a bare
    AssertionError). Called after `jax.distributed` has joined, where it does."""
    try:
        jax.devices()
    except Exception as error:  # noqa: BLE001 - JAX raises RuntimeError or AssertionError
        asked = os.environ.get("JAX_PLATFORMS", "")
        why = one_line(error) if str(error).strip() else "not available on this machine"
        raise ValueError(f"JAX cannot start the backend JAX_PLATFORMS={asked!r} asks for "
                         f"({why}); unset JAX_PLATFORMS to use what this machine has"
                         ) from None


class NonFiniteError(RuntimeError):
    """Training produced a non-finite loss or parameter; the message is one line."""


class Interrupted(Exception):
    """A stop signal ended the session after a whole chunk (checkpointed if possible)."""


@dataclasses.dataclass(frozen=True)
class Roles:
    """What this JAX process does in a session, decided once."""

    processes: int
    lead: bool  # process 0: prints, holds the lock, writes metrics and TensorBoard

    @classmethod
    def of_this_process(cls) -> Roles:
        return cls(jax.process_count(), jax.process_index() == 0)


@dataclasses.dataclass(frozen=True)
class SessionOptions:
    keep: int = 3  # checkpoints kept (plus the best by return)
    chunk: int = 1  # updates per jitted call
    log_every: int = 0  # updates between plain progress lines (0: about 20 lines)
    stop_after: int | None = None  # stop (and checkpoint) at this update
    max_seconds: float | None = None  # or after the first chunk ending past this session time
    init_from: typing.Any = None  # init_from.Start: a new run's params and statistics


class Session:
    """Train `env` with `info.ppo` in `run_dir` (which holds config.json): `start()`
    builds or restores the train state, `run(state)` trains it to the end."""

    def __init__(self, env, info: RunInfo, run_dir: Path | None, *, resume: bool = False,
                 options: SessionOptions = SessionOptions(), console: Console | None = None):
        self.roles = Roles.of_this_process()
        self.env, self.info, self.cfg, self.options = env, info, info.ppo, options
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.resume = resume
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.console.quiet = self.console.quiet or not self.roles.lead
        self.started = time.perf_counter()
        self.progress = Progress(last_return=(None,) * self.cfg.num_seeds)
        self.mesh = None
        self.lock = None

    def start(self):
        """The train state to run: fresh, or the newest intact checkpoint's
        (CheckpointError if unusable), placed on the devices; takes the run folder's
        lock and prints what is about to run."""
        try:
            self._take_folder()
            return self._start()
        except BaseException:
            self.close()
            raise

    def _take_folder(self) -> None:
        if self.run_dir is None or not self.roles.lead:
            return
        self.lock = RunLock(self.run_dir)
        note = self.lock.acquire()
        if note:
            self.console.print(note)
        check_no_symlinks(self.run_dir)

    def _start(self):
        cfg = self.cfg
        placement = None
        if self.info.physics == "mjx" and jax.device_count() > 1:
            from motrix_jax.sharding import env_mesh, train_state_shardings

            self.mesh = env_mesh()
            # axis 0 of every leaf is the seed (vmap), so the env batch is axis 1
            placement = functools.partial(train_state_shardings, mesh=self.mesh,
                                          num_envs=cfg.num_envs, batch_axis=1)
        if self.resume:
            state, self.progress = restore(self.env, self.run_dir, cfg, self.console.print,
                                           placement, lead=self.roles.lead)
        else:
            state = compiled_init(self.env, cfg)(seed_keys(cfg))
            if self.options.init_from is not None:
                from motrix_jax.init_from import start_from

                state = start_from(state, self.options.init_from)
                self.console.print(self.options.init_from.describe())
            if placement is not None:
                state = jax.device_put(state, placement(state))
        self._print_banner()
        if self.mesh is not None:
            self.console.print(f"env batch sharded over {jax.device_count()} devices")
        return state

    def _print_banner(self) -> None:
        cfg, info, print_ = self.cfg, self.info, self.console.print
        device = jax.devices()[0]
        print_(f"[bold]motrix_jax[/] env={info.env} physics={info.physics} "
               f"device={device.platform}:{device.device_kind} seeds={cfg.num_seeds} "
               f"envs/seed={cfg.num_envs} updates={cfg.num_updates} "
               f"({cfg.num_updates * cfg.batch_size:,} env steps/seed)")
        if self.roles.processes > 1:
            from motrix_jax.sharding import placement

            print_(f"jax.distributed: {placement()}")
            print_("checkpoints: every process saves its shards into the run folder "
                   "(shared storage); process 0 writes metrics and TensorBoard")
        print_(f"run folder: {self.run_dir}" + (
            f" (resumed at update {self.progress.update})" if self.resume else ""))

    def run(self, state):
        """Train `state` to the end (or `options.stop_after` or `max_seconds`) and
        checkpoint it; the final state (`self.progress` counts it). Raises
        NonFiniteError or Interrupted."""
        try:
            if self.progress.update >= self.cfg.num_updates:
                self.console.print(f"the run is complete ({self.progress.update} updates); "
                                   "nothing to do")
                return state
            loop = TrainLoop(self, state)
            try:
                loop.run()
            finally:
                loop.close()
        finally:
            self.close()
        self.progress = loop.progress
        return loop.state

    def close(self) -> None:
        """Give up the run folder's lock (done by `run`, and by `start` on failure)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def restore(env, run_dir: Path, cfg, say=print, placement=None, lead: bool = True):
    """The TrainState and Progress of run_dir's newest intact checkpoint, with the
    physics backend's host state (MotrixSim worlds) put back to the saved EnvState;
    newer damaged checkpoints are moved to DAMAGED_DIR (by the `lead` process) and `say`
    tells which. `placement(abstract_state)` gives the shardings to restore into
    (default: the first device)."""
    abstract = jax.eval_shape(jax.vmap(make_ppo(cfg, env).init), seed_keys(cfg))
    shardings = None if placement is None else placement(abstract)
    try:
        checkpointer = Checkpointer(run_dir, read_only=True)
    except UnreadableCheckpoints as error:
        if not error.intact:
            raise
        multihost.barrier("checkpoints listed")
        if lead:
            set_aside(run_dir, error.damaged, say)
        multihost.barrier("damaged checkpoints set aside")
        checkpointer = Checkpointer(run_dir, read_only=True)
    try:
        state, raw, damaged = checkpointer.restore_newest(abstract, shardings)
    finally:
        checkpointer.close()
    multihost.barrier("restored")
    if lead:
        set_aside(run_dir, damaged, say)
    env.physics.restore(state.env_state.physics)
    if getattr(env, "restarts_on_resume", False):  # a host env: its state was not saved
        say("the host env's state is not in checkpoints: its envs restart (new episodes)")
        state = state.replace(env_state=env.restart(state.env_state))
    return state, Progress.from_json(raw)


def set_aside(run_dir: Path, damaged: list[tuple[int, str]], say) -> None:
    """Move the damaged checkpoints out of orbax's sight (into DAMAGED_DIR), saying so."""
    for step, message in damaged:
        moved = Path(run_dir) / DAMAGED_DIR / str(step)
        moved.parent.mkdir(exist_ok=True)
        suffix = 1
        while moved.exists():  # the same update damaged again in a later session
            moved, suffix = moved.with_name(f"{step}-{suffix}"), suffix + 1
        os.replace(Path(run_dir) / CHECKPOINT_DIR / str(step), moved)
        say(f"warning: {message}; moved it to {moved}")


class TrainLoop:
    """The host side of `Session.run`: chunks, records, checkpoints, display."""

    def __init__(self, session: Session, state):
        cfg, options, progress = session.cfg, session.options, session.progress
        self.session, self.cfg, self.state = session, cfg, state
        self.progress = self.start_progress = progress
        self.runner = ChunkRunner(session.env, cfg, session.mesh)
        self.checkpointer = None if session.run_dir is None else Checkpointer(
            session.run_dir, keep=options.keep)
        self.log = NullLog() if session.run_dir is None or not session.roles.lead else \
            RunLog(session.run_dir, progress.update if session.resume else None)
        self.display = Display(session.console, cfg.num_updates, cfg.batch_size,
                               progress.update,
                               options.log_every or max(1, cfg.num_updates // 20))
        self.run_seconds = 0.0  # time spent running compiled chunks this session
        if getattr(self.log, "warning", None):
            self.display.print(self.log.warning)

    def run(self) -> None:
        cfg, options = self.cfg, self.session.options
        end = min(cfg.num_updates, options.stop_after or cfg.num_updates)
        with StopRequest() as stop:
            while self.progress.update < end:
                to_checkpoint = cfg.check_point_interval - \
                    self.progress.update % cfg.check_point_interval
                self.step(min(options.chunk, end - self.progress.update, to_checkpoint))
                if self.progress.update % cfg.check_point_interval == 0:
                    self.save()
                if any_process(stop.requested):
                    self.save()
                    self.display.close()
                    self.display.print(self.interrupted())
                    raise Interrupted
                if self.out_of_time():
                    break
        self.save()
        self.display.close()
        self.display.print(self.done())

    def out_of_time(self) -> bool:
        limit = self.session.options.max_seconds
        if limit is None:
            return False
        return any_process(time.perf_counter() - self.session.started > limit)

    def step(self, n: int) -> None:
        """Run one chunk of n updates and record it; NonFiniteError if it went non-finite."""
        compile_before, start = self.runner.compile_s, time.perf_counter()
        self.state, emitted = self.runner(self.state, n)
        emitted = jax.tree.map(np.asarray, emitted)
        compiled = self.runner.compile_s - compile_before
        if compiled:
            self.display.print(f"compiled a {n}-update chunk in {compiled:.1f} s")
        # Compile time is counted apart, so steps/s is the training rate from the start.
        self.run_seconds += time.perf_counter() - start - compiled
        cfg = self.cfg
        steps_done = (self.progress.update + n - self.start_progress.update) * \
            cfg.batch_size * cfg.num_seeds
        rate = steps_done / self.run_seconds if self.run_seconds > 0 else None
        wall = self.start_progress.wall_time + time.perf_counter() - self.session.started
        for record, progress in records(self.progress, emitted, cfg.batch_size, wall):
            losses = [v for k, v in record.items() if k.startswith(metrics.LOSS_PREFIX)]
            if not np.isfinite(losses).all():
                self.stop(f"non-finite loss at update {record['update']}")
            record[metrics.STEPS_PER_S] = rate
            if compiled:
                record[metrics.COMPILE_S], compiled = compiled, 0.0
            self.log.write(record)
            self.progress = progress
            remaining = (cfg.num_updates - progress.update) * cfg.batch_size * cfg.num_seeds
            self.display.show(record, rate, remaining / rate if rate else None)
        if not emitted[metrics.PARAMS_FINITE].all():
            self.stop(f"non-finite parameters after update {self.progress.update}")

    def save(self) -> None:
        self.log.flush()  # records up to the checkpoint are on disk before it is
        if self.checkpointer is None:
            return
        if self.checkpointer.latest_step() != self.progress.update:
            self.checkpointer.save(self.state, self.progress.to_json())

    def stop(self, what: str) -> typing.NoReturn:
        self.display.close()
        if self.checkpointer is None:
            raise NonFiniteError(f"{what}; training stopped (no run folder: no "
                                 "checkpoints).")
        latest = self.checkpointer.latest_step()
        kept = "no checkpoint was saved before" if latest is None else \
            f"Last good checkpoint: update {latest} in {self.checkpointer.directory}"
        raise NonFiniteError(f"{what}; training stopped. {kept}")

    def interrupted(self) -> str:
        if self.checkpointer is None:
            return f"interrupted at update {self.progress.update} (no run folder)"
        every = "" if self.session.roles.processes == 1 else (
            f" (on each of the {self.session.roles.processes} processes, with its "
            f"--coordinator/--num-processes/--process-id)")
        return (f"interrupted: saved a checkpoint at update {self.progress.update}; "
                f"continue with: python -m motrix_jax.train --resume "
                f"{shlex.quote(str(self.session.run_dir))}{every}")

    def done(self) -> str:
        where = "no run folder"
        if self.checkpointer:
            where = (f"checkpoints: {self.checkpointer.steps()} (best "
                     f"{self.checkpointer.best_step()}) in {self.checkpointer.directory}")
        return (f"done: update {self.progress.update}/{self.cfg.num_updates} in "
                f"{time.perf_counter() - self.session.started:.1f} s (compile "
                f"{self.runner.compile_s:.1f} s); {where}")

    def close(self) -> None:
        self.display.close()
        self.log.close()
        if self.checkpointer is not None:
            self.checkpointer.close()


def records(progress: Progress, emitted: dict, batch_size: int, wall_time: float):
    """Yield (record, progress) per update of a chunk; `emitted` holds numpy [S, n]."""
    last = np.array([np.nan if r is None else r for r in progress.last_return])
    scalars = {k: v for k, v in emitted.items() if k != metrics.PARAMS_FINITE}
    for i in range(emitted[metrics.EPISODES].shape[1]):
        row = {k: v[:, i] for k, v in scalars.items()}
        last = np.where(row[metrics.EPISODES] > 0, row[metrics.EPISODE_RETURN], last)
        update = progress.update + 1
        progress = Progress(update=update, env_steps=update * batch_size, wall_time=wall_time,
                            last_return=tuple(None if np.isnan(r) else float(r) for r in last))
        record = {"update": update, "env_steps": progress.env_steps,
                  "wall_time": round(wall_time, 3),
                  **{k: float(v.mean()) for k, v in row.items()},
                  metrics.RETURN_MEAN: progress.mean_return,
                  metrics.RETURN_PER_SEED: [float(r) for r in last]}
        yield record, progress


class StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM (e.g. a preempted job), handled one way from start-up
    to exit: the first signal sets `requested` (the loop saves and exits after the
    current chunk); a second aborts at once, with one line on stderr and exit code 130
    (`os._exit`: nothing, not a JAX gc callback nor a finaliser, can swallow it; the
    run folder keeps its last checkpoint, and its lock is dropped with the process).

    One handler per process: a StopRequest entered while another is installed (the
    train CLI's StartSignals, from start-up on) is that one, switched to training."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)
    installed: typing.ClassVar[StopRequest | None] = None
    starting = False  # a first signal raises KeyboardInterrupt (nothing to save yet)

    def __init__(self):
        self.requested = False
        self.previous = {}

    def __enter__(self) -> StopRequest:  # noqa: PYI034 - the installed one, maybe not self
        outer = StopRequest.installed
        if outer is not None:
            outer.starting = False
            return outer
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
            StopRequest.installed = self
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            abort(signum)
        self.requested = True
        if self.starting:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if StopRequest.installed is not self:
            return
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        StopRequest.installed = None


EXIT_ABORTED = 130


def abort(signum: int) -> typing.NoReturn:
    """End the process at once after a second stop signal."""
    name = signal.Signals(signum).name
    os.write(2, f"\naborted by a second {name}: nothing saved since the last checkpoint "
                "(the run folder keeps it)\n".encode())
    os._exit(EXIT_ABORTED)


class StartSignals(StopRequest):
    """The train CLI's StopRequest, entered before anything starts: until the training
    loop takes it over, a first signal raises KeyboardInterrupt and is remembered: one
    raised where Python ignores exceptions (seen under load: inside a JAX gc callback,
    while start-up went on) still ends the start-up at `check()`."""

    starting = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


class NullLog:
    """RunLog's interface for the processes other than 0, which write nothing."""

    def write(self, record: dict) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
