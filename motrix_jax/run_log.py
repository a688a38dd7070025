"""What a run writes besides checkpoints: `metrics.jsonl`, TensorBoard events and the
terminal progress display (a rich bar on a TTY, plain lines otherwise).

`metrics.jsonl` is the record and TensorBoard a view of it. On resume, records after
the restored update (written by a process that died after its last checkpoint) are
dropped from `metrics.jsonl`, and the TensorBoard events are rewritten from what it
keeps (tensorboardX's `flush` does not wait for its queue, so events of the updates
just before a SIGKILL may never have reached the disk): each update appears exactly
once in both. Records up to a checkpoint are fsynced before it is saved; a resume names the updates
that have no record. Files are opened through run_folder's guard (no links, no FIFOs).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from motrix_jax import metrics
from motrix_jax.run_folder import (
    open_in_run,
    read_in_run,
    replace_in_run,
    storage_error,
    write_in_run,
)


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

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"

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


class RunLog:
    """Appends one record per update to metrics.jsonl and TensorBoard (step = env steps)."""

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


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}"


def fmt_eta(seconds: float | None) -> str:
    """A duration that reads as one, not as a clock time: "2h 05m", "7m 03s", "42s"."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def fmt_return(value: float) -> str:
    # a return or an episode length; nan: no episode ended yet
    return "-" if math.isnan(value) else f"{value:.1f}"


class Display:
    """Live progress: a rich bar when `console` is a terminal, else a plain line every
    `log_every` updates, at least every `every_s` seconds, and at the last update (a
    log piped to a file shows progress within a minute even when updates are slow)."""

    def __init__(self, console: Console, total_updates: int, steps_per_update: int,
                 start_update: int, log_every: int, every_s: float = 60.0,
                 clock=time.monotonic):
        """`steps_per_update`: env steps per update and seed (the bar counts those)."""
        self.console, self.total, self.log_every = console, total_updates, log_every
        self.every_s, self.clock = every_s, clock
        self.last_line = clock()
        self.bar = None
        self.told_duration = False
        self.length = math.nan  # of the latest episodes that ended, as the return is
        if console.is_terminal:
            self.bar = Progress(
                TextColumn("update {task.fields[update]}/{task.fields[total_updates]}"),
                BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f} env steps"),
                TextColumn("{task.fields[rate]} steps/s"), TextColumn("ETA {task.fields[eta]}"),
                TextColumn("return {task.fields[ret]}"), console=console)
            self.task = self.bar.add_task(
                "train", total=total_updates * steps_per_update,
                completed=start_update * steps_per_update, update=start_update,
                total_updates=total_updates, rate="-", eta="-", ret="-")
            self.bar.start()

    def show(self, record: dict, rate: float | None, eta: float | None) -> None:
        """`rate`: env steps/s over all seeds; `eta`: seconds left (None while unknown)."""
        update = record["update"]
        ret = record.get(metrics.RETURN_MEAN, math.nan)
        if record.get(metrics.EPISODES, 0) > 0:
            self.length = record[metrics.EPISODE_LENGTH]
        if eta and rate and not self.told_duration:
            self.told_duration = True  # the budget in wall-clock terms, said once
            self.console.print(f"at {fmt_rate(rate)} env steps/s this run needs about "
                               f"{fmt_eta(eta)} more (set max_env_steps to change it)")
        if self.bar is not None:
            self.bar.update(self.task, completed=record["env_steps"], update=update,
                            rate=fmt_rate(rate), eta=fmt_eta(eta), ret=fmt_return(ret))
        elif (update % self.log_every == 0 or update == self.total
              or self.clock() - self.last_line >= self.every_s):
            self.last_line = self.clock()
            self.console.print(
                f"update {update:>5}/{self.total}  env steps {record['env_steps']:>12,}  "
                f"{fmt_rate(rate):>9} steps/s  ETA {fmt_eta(eta):>8}  "
                f"return {fmt_return(ret):>8}  "
                f"length {fmt_return(self.length):>7}  "
                f"lr {record[metrics.LEARNING_RATE]:.2e}")

    def print(self, text: str) -> None:
        self.console.print(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
