"""What a run writes besides checkpoints: `metrics.jsonl`, TensorBoard events and the
terminal progress display (a rich bar on a TTY, plain lines otherwise).

`metrics.jsonl` is the record and TensorBoard a view of it. On resume, records after
the restored update (written by a process that died after its last checkpoint) are
dropped from `metrics.jsonl`, and the TensorBoard events are rewritten from what it
keeps (tensorboardX's `flush` does not wait for its queue, so events of the updates
just before a SIGKILL may never have reached the disk): each update appears exactly
once in both. Files are opened without following symlinks (see run_folder).
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
from motrix_jax.run_folder import open_in_run, storage_error


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

def truncate_metrics(path: Path, last_update: int) -> list[dict]:
    """Keep only the complete records of updates <= last_update (atomic rewrite); the
    records kept."""
    if not path.exists():
        return []
    kept = []
    with os.fdopen(open_in_run(path, os.O_RDONLY)) as file:
        for line in file.read().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed process
            if record.get("update", math.inf) <= last_update:
                kept.append(record)
    tmp = path.with_suffix(".tmp")
    try:
        with os.fdopen(open_in_run(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as file:
            file.write("".join(json.dumps(record) + "\n" for record in kept))
        os.replace(tmp, path)  # replaces a name, never writes through a link
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise storage_error("the metrics", path.parent, error) from None
    return kept


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
        kept = []
        if resume_update is not None:
            kept = truncate_metrics(path, resume_update)
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
        self.file.flush()
        self.writer.flush()

    def close(self) -> None:
        self.file.close()
        self.writer.close()


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
