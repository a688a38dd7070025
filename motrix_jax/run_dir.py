"""A run folder on disk as one object: `RunDir`.

    runs/<env>/<timestamp>/
      config.json            RunInfo (run_folder): env, physics, PPO config, network layout
      lock                   held (flock) by the one trainer in the folder: its pid and host
      metrics.jsonl          one record per update; `tensorboard/` is a view of it
      checkpoints/<update>/  orbax checkpoints with their sha256.json (checkpoint.py)
      damaged_checkpoints/   checkpoints a resume found damaged and set aside

`RunDir.create` makes a new folder, `RunDir.resumable` finds what a `--resume` continues
(its config and that a checkpoint is there). A trainer then `lock`s it, opens its
`log` (on resume: records after the restored update dropped, TensorBoard rebuilt),
saves through `checkpointer` and restores with `restore` (damaged checkpoints set
aside). Every file is opened through run_folder's guard (no links, no FIFOs); bad
input raises `RunFolderError` (`CheckpointError` for checkpoints; one line), a refused
write `StorageError`.

`metrics.jsonl` is the record and TensorBoard a view of it: tensorboardX's `flush`
does not wait for its queue, so events of the updates just before a SIGKILL may never
reach the disk; a resume rewrites them from what `metrics.jsonl` keeps, and each update
appears exactly once in both. The kernel drops a lock when its process dies (even by
SIGKILL), so a lock file left by a dead process is taken over, saying whose it was.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import socket
import sys
from pathlib import Path

from motrix_jax import metrics, multihost
from motrix_jax.checkpoint import (
    CHECKPOINT_DIR,
    Checkpointer,
    UnreadableCheckpoints,
    no_checkpoint,
    step_folders,
)
from motrix_jax.run_folder import (
    CheckpointError,
    Progress,
    RunFolderError,
    RunInfo,
    check_no_symlinks,
    make_run_dir,
    open_in_run,
    read_in_run,
    read_run_info,
    replace_in_run,
    storage_error,
    write_in_run,
    write_run_info,
)

LOCK_FILE = "lock"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
DAMAGED_DIR = "damaged_checkpoints"


class RunFolderBusy(RunFolderError):
    """Another live process trains in this run folder."""


class RunDir:
    """One run folder: what a run reads and writes on disk, and nothing else."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock_fd: int | None = None

    def __str__(self) -> str:
        return str(self.path)

    @classmethod
    def create(cls, root: Path, env_name: str) -> RunDir:
        """A new, empty folder root/<env>/<timestamp>[-k]; never an existing one."""
        return cls(make_run_dir(Path(root), env_name))

    @classmethod
    def resumable(cls, path: str | Path) -> tuple[RunDir, RunInfo]:
        """The run at `path` and its config, checked for a `--resume`: RunFolderError
        (one line) for no run folder or a corrupt config.json, CheckpointError for no
        checkpoint. Writes
        nothing (damaged checkpoints are set aside by `restore`)."""
        run = cls(path)
        info = run.read_info()
        if not step_folders(run.path / CHECKPOINT_DIR):
            raise CheckpointError(no_checkpoint(run.path))
        return run, info

    def read_info(self) -> RunInfo:
        return read_run_info(self.path)

    def write_info(self, info: RunInfo) -> None:
        """Write config.json (fsynced); StorageError if the folder cannot take it."""
        write_run_info(self.path, info)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)  # removes links, never their targets

    # -- the one trainer in the folder --------------------------------------------------

    def lock(self) -> str | None:
        """Take the folder's lock (RunFolderBusy naming the holder if another live process
        has it); a note when a dead process's lock was taken over."""
        fd = self._flocked()
        previous = os.pread(fd, 4096, 0).decode(errors="replace")
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, me.encode(), 0)
        except OSError as error:
            os.close(fd)
            raise storage_error("the lock", self.path, error) from None
        self._lock_fd = fd
        if previous.strip():
            return (f"took over the lock of {_holder(previous)}, which no longer runs "
                    f"({self.path / LOCK_FILE})")
        return None

    def _flocked(self) -> int:
        """A descriptor of the lock file, flock-ed; retried when the file was removed by
        its previous holder between our open and our lock."""
        path = self.path / LOCK_FILE
        while True:
            fd = open_in_run(path, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 4096, 0).decode(errors="replace")
                os.close(fd)
                raise RunFolderBusy(
                    f"{self.path} is in use by {_holder(text)} (its lock: {path}); wait "
                    "for that run to end or stop it") from None
            try:
                if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def unlock(self) -> None:
        """Remove the lock file (the folder is left as it was) and unlock."""
        if self._lock_fd is None:
            return
        (self.path / LOCK_FILE).unlink(missing_ok=True)
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = None

    def check_own_files(self) -> None:
        """RunFolderError naming the first entry that is not the folder's own (a symlink,
        FIFO, device or hard-linked file): checked before a trainer writes into it."""
        check_no_symlinks(self.path)

    # -- records and checkpoints ---------------------------------------------------------

    def log(self, resume_update: int | None) -> RunLog:
        """The metrics.jsonl and TensorBoard writer; on resume (`resume_update`, the
        restored update) first cut back to that update."""
        return RunLog(self.path, resume_update)

    def checkpointer(self, keep: int = 3, read_only: bool = False) -> Checkpointer:
        return Checkpointer(self.path, keep=keep, read_only=read_only)

    def restore(self, abstract, shardings=None, say=print,
                lead: bool = True) -> tuple[object, Progress]:
        """The train state shaped like `abstract` (placed as `shardings`) and Progress of
        the newest intact checkpoint; newer damaged ones are moved to DAMAGED_DIR (by the
        `lead` process) and `say` tells which."""
        try:
            checkpointer = self.checkpointer(read_only=True)
        except UnreadableCheckpoints as error:
            if not error.intact:
                raise
            multihost.barrier("checkpoints listed")
            if lead:
                self.set_aside(error.damaged, say)
            multihost.barrier("damaged checkpoints set aside")
            checkpointer = self.checkpointer(read_only=True)
        try:
            state, raw, damaged = checkpointer.restore_newest(abstract, shardings)
        finally:
            checkpointer.close()
        multihost.barrier("restored")
        if lead:
            self.set_aside(damaged, say)
        return state, Progress.from_json(raw)

    def set_aside(self, damaged: list[tuple[int, str]], say=print) -> None:
        """Move the damaged checkpoints out of orbax's sight (into DAMAGED_DIR), saying so."""
        for step, message in damaged:
            moved = self.path / DAMAGED_DIR / str(step)
            moved.parent.mkdir(exist_ok=True)
            suffix = 1
            while moved.exists():  # the same update damaged again in a later session
                moved, suffix = moved.with_name(f"{step}-{suffix}"), suffix + 1
            os.replace(self.path / CHECKPOINT_DIR / str(step), moved)
            say(f"warning: {message}; moved it to {moved}")

    def after_interruption(self, new_run: bool) -> str:
        """What an interruption before the training loop leaves; a new run folder that
        recorded no update is removed."""
        if not self.path.is_dir():
            return "interrupted"
        checkpoints = self.path / CHECKPOINT_DIR
        if checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir()):
            return f"interrupted; checkpoints so far are in {self.path}"
        records = self.path / METRICS_FILE
        if new_run and (not records.is_file() or records.stat().st_size == 0):
            shutil.rmtree(self.path)  # removes links, never what they point to
            return f"interrupted before the first update; removed {self.path}"
        return f"interrupted before the first checkpoint; {self.path} cannot be resumed"


def _holder(text: str) -> str:
    """'process 123 on host-a' from a lock file's text (or 'an unknown process')."""
    try:
        raw = json.loads(text)
        return f"process {int(raw['pid'])} on {raw['host']}"
    except (ValueError, KeyError, TypeError):
        return "an unknown process"


def _summary_writer_class():
    """tensorboardX's SummaryWriter, imported without PyTorch: tensorboardX imports torch
    whenever it is installed (only to accept its tensors; we log floats), which cost
    every training process seconds of start-up. A None in sys.modules makes that import
    fail as if torch were absent; a torch already imported is left alone."""
    hidden = "torch" not in sys.modules
    if hidden:
        sys.modules["torch"] = None
    try:
        from tensorboardX import SummaryWriter
    finally:
        if hidden:
            del sys.modules["torch"]
    return SummaryWriter


SummaryWriter = _summary_writer_class()


class RunLog:
    """Appends one record per update to metrics.jsonl and TensorBoard (step = env steps);
    on resume first keeps only the records up to the restored update (`warning` names
    the updates left without one) and rewrites TensorBoard from them."""

    def __init__(self, run_dir: Path, resume_update: int | None):
        path, events = Path(run_dir) / METRICS_FILE, Path(run_dir) / TENSORBOARD_DIR
        kept, self.warning = [], None
        if resume_update is not None:
            kept = truncate_metrics(path, resume_update)
            self.warning = missing_records(kept, resume_update)
            remove_events(events)
        # Line-buffered: a record reaches the OS whole. Closed by close().
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self.path, self.file = path, os.fdopen(open_in_run(path, flags), "a", buffering=1)
        self.writer = SummaryWriter(str(events))
        for record in kept:
            self.add_scalars(record)

    def write(self, record: dict) -> None:
        try:
            self.file.write(json.dumps(record) + "\n")
        except OSError as error:
            raise storage_error("the metrics", self.path.parent, error) from None
        self.add_scalars(record)

    def add_scalars(self, record: dict) -> None:
        step = record["env_steps"]
        for key, value in record.items():
            tag = metrics.tensorboard_tag(key)
            if tag is not None and isinstance(value, float | int) and math.isfinite(value):
                self.writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        """Records on disk (fsynced): called before a checkpoint, so that a power loss
        cannot leave a checkpoint whose updates have no record."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
        except OSError as error:
            raise storage_error("the metrics", self.path.parent, error) from None
        self.writer.flush()

    def close(self) -> None:
        """Close the files. Never raises: what could not be written was reported by
        `write` or `flush` (a run ends with a flush), and an error here would hide that."""
        try:
            self.file.close()
        except OSError:
            pass
        try:
            self.writer.close()
        except OSError:
            pass


class NullLog:
    """RunLog's interface for a run without a folder, or the processes other than 0."""

    warning = None

    def write(self, record: dict) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def valid_record(line: bytes) -> dict | None:
    """The record on one line of metrics.jsonl, or None for a line that is not one (cut
    short by a killed process, or damaged: not UTF-8, not an object, no integer update
    and env steps)."""
    try:
        record = json.loads(line.decode())
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not all(
            type(record.get(key)) is int and record[key] >= 0
            for key in ("update", "env_steps")):
        return None
    return record


def truncate_metrics(path: Path, last_update: int) -> list[dict]:
    """Keep only the valid records of updates <= last_update, one per update (atomic,
    durable rewrite); the records kept."""
    if not os.path.lexists(path):
        return []
    kept = {}
    for line in read_in_run(path).splitlines():
        record = valid_record(line)
        if record is not None and 0 < record["update"] <= last_update:
            kept.setdefault(record["update"], record)
    kept = [kept[update] for update in sorted(kept)]
    tmp = path.with_suffix(".tmp")
    try:
        write_in_run(tmp, "".join(json.dumps(record) + "\n" for record in kept))
        replace_in_run(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise storage_error("the metrics", path.parent, error) from None
    return kept


def spans(numbers: list[int]) -> str:
    """[3, 5, 6, 7] -> "3, 5-7"."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        start = n if start is None else start
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if n == start else f"{start}-{n}")
            start = None
    return ", ".join(parts)


def missing_records(kept: list[dict], last_update: int) -> str | None:
    """A warning naming the updates up to `last_update` that metrics.jsonl has no record
    of (lines lost or damaged before a checkpoint), or None."""
    have = {record["update"] for record in kept}
    missing = [u for u in range(1, last_update + 1) if u not in have]
    if not missing:
        return None
    return (f"warning: {METRICS_FILE} has no record of update(s) {spans(missing)} (lost "
            "or damaged lines); training goes on, those updates stay without a record")


def remove_events(folder: Path) -> None:
    """Delete the TensorBoard event files in `folder` (nothing else, no links followed)."""
    if folder.is_dir() and not folder.is_symlink():
        for path in folder.glob("events.out.tfevents.*"):
            if path.is_file() and not path.is_symlink():
                path.unlink()
