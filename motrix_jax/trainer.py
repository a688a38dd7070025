"""The training loop on the host: `Trainer`, one run trained from scratch, from another
run's policy (`--init-from`), as a student (`--distill-from`) or from its latest
checkpoint (`--resume`).

The trainer runs compiled chunks of whole updates (one `jax.jit` of `ppo.update` under
`lax.scan`, vmapped over seeds); between chunks the host writes each update's record
(metrics.jsonl, TensorBoard: `RunDir.log`), updates the progress display and, every
`check_point_interval` updates, saves an orbax checkpoint of the whole train state.
Where chunks and checkpoints fall does not change the numbers. Compiled programs are
cached per (env object, config, length) in a process, so training the same env again
(tests, notebooks) does not recompile; runs that differ only in what no program reads
(their length, checkpoint cadence and first seed) share them. Host-callback programs
cannot use JAX's disk cache, hence this in-process cache.

It reports how it ended by raising: `NonFiniteError` (a non-finite loss or parameter;
nothing is saved after the last good checkpoint), `Interrupted` (SIGINT or SIGTERM: a
checkpoint of the last whole chunk was saved) or `StartInterrupted` (a signal before
the first update). `RunFolderError` means a run folder it cannot resume
(`CheckpointError`: its checkpoints; `RunFolderBusy`: one another live trainer holds).
The CLI (train.py) maps them to exit codes.

From `start()` to the end of `run()` the trainer holds the run folder's lock, refuses a
folder holding symlinks, and resumes from the newest intact checkpoint (damaged newer
ones are set aside, saying so).

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
import jax.numpy as jnp
import numpy as np
from rich.console import Console

from motrix_jax import envs, metrics, multihost
from motrix_jax.config import parse_typed, with_overrides
from motrix_jax.display import Display
from motrix_jax.multihost import any_process
from motrix_jax.ppo import check_env, make_ppo, seed_keys
from motrix_jax.run_dir import NullLog, RunDir
from motrix_jax.run_folder import Progress, RunInfo, StorageError, one_line


class NonFiniteError(RuntimeError):
    """Training produced a non-finite loss or parameter; the message is one line."""


class Interrupted(Exception):
    """A stop signal ended the run after a whole chunk (checkpointed if possible)."""


class StartInterrupted(KeyboardInterrupt):
    """A stop signal before the first update; `note` says what it left on disk (None on
    the processes other than 0, which leave that to process 0)."""

    def __init__(self, note: str | None = "interrupted"):
        super().__init__(note)
        self.note = note


@dataclasses.dataclass(frozen=True)
class Roles:
    """What this JAX process does in a run, decided once."""

    processes: int
    lead: bool  # process 0: prints, holds the lock, writes metrics and TensorBoard

    @classmethod
    def of_this_process(cls) -> Roles:
        return cls(jax.process_count(), jax.process_index() == 0)


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    keep: int = 3  # checkpoints kept (plus the best by return)
    chunk: int = 1  # updates per jitted call
    log_every: int = 0  # updates between plain progress lines (0: about 20 lines)
    stop_after: int | None = None  # stop (and checkpoint) at this update
    max_seconds: float | None = None  # or after the first chunk ending past this run time
    init_from: typing.Any = None  # init_from.Start: a new run's params and statistics


class Trainer:
    """Train `env` with `info.ppo` in `run_dir` (a path or RunDir holding config.json;
    None: no folder, nothing written): `start()` builds or restores the train state,
    `run()` trains it to the end and returns it."""

    def __init__(self, env, info: RunInfo, run_dir: str | Path | RunDir | None, *,
                 resume: bool = False, options: TrainOptions = TrainOptions(),
                 console: Console | None = None):
        self.roles = Roles.of_this_process()
        self.env, self.info, self.cfg, self.options = env, info, info.ppo, options
        self.run_dir = run_dir if run_dir is None or isinstance(run_dir, RunDir) else \
            RunDir(run_dir)
        self.resume = resume
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.console.quiet = self.console.quiet or not self.roles.lead
        self.started = time.perf_counter()
        self.progress = Progress(last_return=(None,) * self.cfg.num_seeds)
        self.state = None
        self.mesh = None  # several devices on MJX: the env batch is sharded over them
        self.compile_s = self.run_seconds = 0.0  # this session's compile and chunk time
        self.pinned = {}  # the compiled chunks of a sharded state, by length
        self.log = self.checkpointer = self.display = None  # while `run` trains

    # -- start-up --------------------------------------------------------------------

    def start(self):
        """Take the run folder's lock and build the train state: fresh (from
        `options.init_from` if given) or the newest intact checkpoint's (RunFolderError
        if unusable), placed on the devices; say what is about to run. The state."""
        try:
            if self.run_dir is not None and self.roles.lead:
                note = self.run_dir.lock()
                if note:
                    self.console.print(note)
                self.run_dir.check_own_files()
            self.state = self._initial_state()
            return self.state
        except BaseException:
            self.close()
            raise

    def _initial_state(self):
        cfg, env = self.cfg, self.env
        placement = None
        if self.info.physics == "mjx" and jax.device_count() > 1:
            from motrix_jax.sharding import env_mesh, train_state_shardings

            self.mesh = env_mesh()
            # axis 0 of every leaf is the seed (vmap), so the env batch is axis 1
            placement = functools.partial(train_state_shardings, mesh=self.mesh,
                                          num_envs=cfg.num_envs, batch_axis=1)
        if self.resume:
            abstract = jax.eval_shape(jax.vmap(make_ppo(cfg, env).init), seed_keys(cfg))
            state, self.progress = self.run_dir.restore(
                abstract, None if placement is None else placement(abstract),
                self.console.print, lead=self.roles.lead)
            env.physics.restore(state.env_state.physics)  # MotrixSim's worlds on the host
            if getattr(env, "restarts_on_resume", False):  # a host env: state not saved
                self.console.print("the host env's state is not in checkpoints: its envs "
                                   "restart (new episodes)")
                state = state.replace(env_state=env.restart(state.env_state))
        else:
            state = compiled_init(env, cfg)(seed_keys(cfg))
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

    # -- the loop --------------------------------------------------------------------

    def run(self, started: typing.Callable[[], None] | None = None):
        """Train the started state to the end (or `options.stop_after`/`max_seconds`)
        and checkpoint it; the final state (`self.progress` counts it). Raises
        NonFiniteError or Interrupted; StartInterrupted for a signal before the first
        update (`started()`, the CLI's StartSignals.check, raises one received meanwhile)."""
        cfg, options, every = self.cfg, self.options, self.cfg.check_point_interval
        end = min(cfg.num_updates, options.stop_after or cfg.num_updates)
        try:
            try:
                if started is not None:
                    started()
                if self.progress.update >= cfg.num_updates:
                    self.console.print(f"the run is complete ({self.progress.update} "
                                       "updates); nothing to do")
                    return self.state
                self._open_outputs()
            except KeyboardInterrupt:
                raise StartInterrupted(self.interrupted_at_start()) from None
            with StopRequest() as stop:
                while self.progress.update < end:
                    to_checkpoint = every - self.progress.update % every
                    self.step(min(options.chunk, end - self.progress.update, to_checkpoint))
                    if self.progress.update % every == 0:
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
            return self.state
        finally:
            self.close()

    def out_of_time(self) -> bool:
        """Whether this session has run past `options.max_seconds` (on any process)."""
        limit = self.options.max_seconds
        return limit is not None and any_process(time.perf_counter() - self.started > limit)

    def step(self, n: int) -> None:
        """Run one compiled chunk of n updates and record each update; NonFiniteError if
        a loss or the parameters went non-finite."""
        chunk, compiled = self.program(n)
        start = time.perf_counter()
        self.state, emitted = chunk(self.state)
        emitted = jax.tree.map(np.asarray, emitted)
        # Compile time is counted apart, so steps/s is the training rate from the start.
        self.run_seconds += time.perf_counter() - start
        if compiled:
            self.display.print(f"compiled a {n}-update chunk in {compiled:.1f} s")
        cfg, first = self.cfg, self.start_progress
        steps_done = (self.progress.update + n - first.update) * cfg.batch_size * cfg.num_seeds
        rate = steps_done / self.run_seconds if self.run_seconds > 0 else None
        wall = first.wall_time + time.perf_counter() - self.started
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

    def program(self, n: int):
        """(the compiled chunk of n updates, seconds spent compiling it now: 0 if it was
        compiled before). With a mesh, each chunk keeps the state's sharded placement."""
        start = time.perf_counter()
        if self.mesh is None:
            misses = _compiled_chunk.cache_info().misses
            compiled = compiled_chunk(self.env, self.cfg, n)
            fresh = _compiled_chunk.cache_info().misses > misses
        elif n in self.pinned:
            compiled, fresh = self.pinned[n], False
        else:
            from motrix_jax.sharding import jit_pinned

            fn = jax.vmap(functools.partial(chunk_fn, make_ppo(self.cfg, self.env), n))
            compiled = jit_pinned(fn, self.state, self.mesh).lower(self.state).compile()
            self.pinned[n], fresh = compiled, True
        seconds = time.perf_counter() - start if fresh else 0.0
        self.compile_s += seconds
        return compiled, seconds

    def _open_outputs(self) -> None:
        """The checkpointer, metrics log and display of the loop (closed by `close`)."""
        cfg, options, run_dir = self.cfg, self.options, self.run_dir
        self.start_progress = self.progress
        self.checkpointer = None if run_dir is None else run_dir.checkpointer(options.keep)
        self.log = NullLog() if run_dir is None or not self.roles.lead else \
            run_dir.log(self.progress.update if self.resume else None)
        self.display = Display(self.console, cfg.num_updates, cfg.batch_size,
                               self.progress.update,
                               options.log_every or max(1, cfg.num_updates // 20))
        if self.log.warning:
            self.display.print(self.log.warning)

    def save(self) -> None:
        """Checkpoint the state unless this update is saved already; records first."""
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

    # -- endings ---------------------------------------------------------------------

    def interrupted(self) -> str:
        if self.checkpointer is None:
            return f"interrupted at update {self.progress.update} (no run folder)"
        every = "" if self.roles.processes == 1 else (
            f" (on each of the {self.roles.processes} processes, with its "
            f"--coordinator/--num-processes/--process-id)")
        return (f"interrupted: saved a checkpoint at update {self.progress.update}; "
                f"continue with: python -m motrix_jax.train --resume "
                f"{shlex.quote(str(self.run_dir))}{every}")

    def interrupted_at_start(self) -> str | None:
        """Give the folder up after a signal before the first update; what that left
        (a new run's folder without a record is removed), None on processes but 0."""
        self.close()
        if not self.roles.lead:
            return None
        if self.run_dir is None:
            return "interrupted"
        return self.run_dir.after_interruption(new_run=not self.resume)

    def done(self) -> str:
        where = "no run folder"
        if self.checkpointer:
            where = (f"checkpoints: {self.checkpointer.steps()} (best "
                     f"{self.checkpointer.best_step()}) in {self.checkpointer.directory}")
        return (f"done: update {self.progress.update}/{self.cfg.num_updates} in "
                f"{time.perf_counter() - self.started:.1f} s (compile "
                f"{self.compile_s:.1f} s); {where}")

    def close(self) -> None:
        """Close the loop's outputs and give up the run folder's lock (done by `run`,
        and by `start` on failure)."""
        if self.display is not None:
            self.display.close()
        if self.log is not None:
            self.log.close()
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.log = self.checkpointer = None
        if self.run_dir is not None:
            self.run_dir.unlock()


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


# -- compiled programs ------------------------------------------------------------------

def chunk_fn(ppo, num_updates: int, state):
    """`num_updates` updates on one seed's state (metrics stacked [num_updates]), plus
    whether the params stayed finite."""
    state, emitted = jax.lax.scan(lambda s, _: ppo.update(s), state, None,
                                  length=num_updates)
    finite = jnp.stack([jnp.isfinite(x).all() for x in jax.tree.leaves(state.params)]).all()
    return state, {**emitted, metrics.PARAMS_FINITE: finite}


def program_config(cfg):
    """`cfg` with the fields no compiled program reads set to fixed values."""
    return dataclasses.replace(cfg, max_env_steps=cfg.batch_size, check_point_interval=1,
                               seed=0)


def compiled_init(env, cfg):
    """`init` for all seeds (called with `seed_keys(cfg)`), compiled once per program."""
    return _compiled_init(env, program_config(cfg))


def compiled_chunk(env, cfg, num_updates: int):
    """A chunk of `num_updates` updates for all seeds (the state is donated)."""
    return _compiled_chunk(env, program_config(cfg), num_updates)


@functools.cache
def _compiled_init(env, cfg):
    return jax.jit(jax.vmap(make_ppo(cfg, env).init)).lower(seed_keys(cfg)).compile()


@functools.cache
def _compiled_chunk(env, cfg, num_updates: int):
    ppo = make_ppo(cfg, env)
    abstract = jax.eval_shape(jax.vmap(ppo.init), seed_keys(cfg))
    fn = jax.jit(jax.vmap(functools.partial(chunk_fn, ppo, num_updates)), donate_argnums=0)
    return fn.lower(abstract).compile()


# -- start-up from the command line ------------------------------------------------------

@dataclasses.dataclass(frozen=True, kw_only=True)
class Launch:
    """What the train CLI asks for: its flags, as parsed (see `python -m motrix_jax.train
    --help`); `launch` checks them."""

    env: str | None = None
    resume: Path | None = None
    init_from: Path | None = None
    distill_from: Path | None = None
    num_envs: int | None = None
    seed: int | None = None
    num_seeds: int | None = None
    max_env_steps: str | None = None
    set: tuple[str, ...] = ()
    task_set: tuple[str, ...] = ()
    physics: str | None = None
    run_root: Path = Path("runs")
    keep_checkpoints: int = 3
    chunk: int = 1
    log_every: int = 0
    distributed: bool = False
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None


def launch(request: Launch, console: Console | None = None) -> Trainer:
    """The started Trainer of a new run (its folder created with config.json) or of a
    resumed one. Bad input raises ValueError (one line; RunFolderError for a run folder)
    before anything is compiled or written; StorageError when the folder cannot be
    written; StartInterrupted for a signal meanwhile. With several processes
    (`request.distributed`), they join first; process 0 creates the folder and the
    others check they see it."""
    request = dataclasses.replace(request, distributed=multihost.check_flags(
        request.distributed, request.coordinator, request.num_processes,
        request.process_id, request.physics))
    options = TrainOptions(keep=request.keep_checkpoints, chunk=request.chunk,
                           log_every=request.log_every)
    lead = True  # until the processes have joined
    try:
        if request.resume is not None:
            run, info = _resumable(request, options)
            lead = _join(request)
            if info.processes != jax.process_count():
                raise ValueError(f"{run} trained on {info.processes} process(es); resume it "
                                 f"on as many (this is {jax.process_count()})")
            run = RunDir(multihost.share_run_dir(run.path if lead else None))
            env = envs.make_for_run(run.path, info, info.ppo.num_envs)
        else:
            name, cfg = _new_config(request, options)
            lead = _join(request)
            env, info, start = _new_run(request, name, cfg)
            run = _new_folder(request, info, lead)
            options = dataclasses.replace(options, init_from=start)
    except StartInterrupted:
        raise
    except KeyboardInterrupt:
        raise StartInterrupted("interrupted" if lead else None) from None
    trainer = None
    try:
        trainer = Trainer(env, info, run, resume=request.resume is not None,
                          options=options, console=console)
        trainer.start()
    except KeyboardInterrupt:
        if trainer is None:
            raise StartInterrupted(run.after_interruption(request.resume is None) if lead
                                   else None) from None
        raise StartInterrupted(trainer.interrupted_at_start()) from None
    return trainer


def check_options(options: TrainOptions) -> None:
    if options.keep < 1:
        raise ValueError(f"--keep-checkpoints must be >= 1, got {options.keep}")
    if options.chunk < 1:
        raise ValueError(f"--chunk must be >= 1, got {options.chunk}")


def _join(request: Launch) -> bool:
    """Join the other processes (several of them) and start JAX's backend; whether this
    process leads."""
    if not request.distributed:
        start_backend()  # several processes: only once they have joined
    lead = multihost.join(request.distributed, request.coordinator,
                          request.num_processes, request.process_id)
    start_backend()
    return lead


def _resumable(request: Launch, options: TrainOptions) -> tuple[RunDir, RunInfo]:
    """The run folder a --resume continues and its config; RunFolderError if unusable,
    ValueError for flags a resume cannot take. Writes nothing."""
    given = [flag for flag, value in (
        ("--env", request.env), ("--set", request.set), ("--task-set", request.task_set),
        ("--num-envs", request.num_envs), ("--seed", request.seed),
        ("--num-seeds", request.num_seeds), ("--max-env-steps", request.max_env_steps),
        ("--physics", request.physics), ("--init-from", request.init_from),
        ("--distill-from", request.distill_from)) if value]
    if given:
        raise ValueError(f"--resume continues a run with its saved config.json; "
                         f"drop {', '.join(given)}")
    check_options(options)
    return RunDir.resumable(request.resume)


def _new_config(request: Launch, options: TrainOptions):
    """(the registered env name, the PPO config) of a new run; ValueError naming a bad
    flag or field."""
    if not request.env:
        raise ValueError("--env is required (see --list), or --resume RUN_DIR")
    check_options(options)
    return envs.canonical_name(request.env), config_of(request)


def _new_run(request: Launch, name: str, cfg):
    """(env, RunInfo, init_from.Start or None) of a new run of `cfg` on env `name`,
    checked (the processes have joined). Writes nothing."""
    physics, why = envs.choose_physics(request.physics or "auto")
    if envs.is_host_name(name):  # the whole step runs on the host, its physics its own
        if request.physics:
            raise ValueError(f"--physics: {name} is a host env, which steps its own physics")
        physics, why = "host", "a host env"
    if request.distributed and physics != "mjx":
        raise ValueError(f"several processes need --physics mjx, got {physics} ({why})")
    task_changes = envs.parse_task_changes(name, list(request.task_set))
    env = envs.make(name, cfg.num_envs, physics=physics, task_changes=task_changes)
    if request.distill_from is not None:
        cfg = dataclasses.replace(cfg, distill_from=str(request.distill_from))
    if cfg.distill_from:  # the teacher's path is recorded absolute, for --resume
        from motrix_jax import distill

        cfg = dataclasses.replace(cfg, distill_from=distill.check_teacher(
            cfg.distill_from, name, env))
        env = distill.student_env(env)
    check_env(cfg, env)
    start = None
    if request.init_from is not None:
        from motrix_jax.init_from import load_start

        start = load_start(request.init_from, name, env, cfg)
    info = RunInfo.of(name, env, cfg, task_changes, processes=jax.process_count())
    return env, info, start


def _new_folder(request: Launch, info: RunInfo, lead: bool) -> RunDir:
    """Process 0 creates the run folder with config.json; every process gets its path,
    checked to be visible to all (else the folder is removed: ValueError)."""
    run = None
    try:
        if lead:
            run = RunDir.create(request.run_root, info.env)
            try:
                run.write_info(info)
            except StorageError:
                run.remove()
                raise
        return RunDir(multihost.share_run_dir(None if run is None else run.path))
    except ValueError:  # not visible from every process
        if run is not None:
            run.remove()
        raise
    except KeyboardInterrupt:
        raise StartInterrupted(None if not lead else "interrupted" if run is None else
                               run.after_interruption(new_run=True)) from None


def config_of(request: Launch):
    """Preset + CLI flags + --set overrides; raises ValueError naming the bad field."""
    cfg = envs.preset(request.env)
    flags = {"num_envs": request.num_envs, "seed": request.seed,
             "num_seeds": request.num_seeds,
             "max_env_steps": None if request.max_env_steps is None else
             parse_typed("--max-env-steps", int, request.max_env_steps)}
    flags = {k: v for k, v in flags.items() if v is not None}
    for item in request.set:  # one value per field: a flag and a --set of it conflict
        name = item.partition("=")[0].strip()
        if name in flags:
            raise ValueError(f"--{name.replace('_', '-')} and --set {name}=... both set "
                             f"{name}; give one")
    return with_overrides(cfg, list(request.set), flags)


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


# -- stop signals -------------------------------------------------------------------------

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
