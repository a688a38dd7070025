"""What a run writes besides checkpoints: `metrics.jsonl`, TensorBoard events and the
terminal progress display (a rich bar on a TTY, plain lines otherwise).

On resume, records after the restored update (written by a process that died
after its last checkpoint) are dropped from `metrics.jsonl`, and the
TensorBoard writer purges the same steps, so each update appears exactly once.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from motrix_jax import metrics


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

def truncate_metrics(path: Path, last_update: int) -> None:
    """Keep only the complete records of updates <= last_update (atomic rewrite)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed process
        if record.get("update", math.inf) <= last_update:
            kept.append(line)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.replace(tmp, path)


class RunLog:
    """Appends one record per update to metrics.jsonl and TensorBoard (step = env steps)."""

    def __init__(self, run_dir: Path, resume_update: int | None, resume_env_steps: int = 0):
        path = Path(run_dir) / METRICS_FILE
        if resume_update is not None:
            truncate_metrics(path, resume_update)
        # Line-buffered: a record reaches the OS whole. Closed by close().
        self.file = open(path, "a", buffering=1)  # noqa: SIM115
        purge = resume_env_steps + 1 if resume_update is not None else None
        self.writer = SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR), purge_step=purge)

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")
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
    return "-" if math.isnan(value) else f"{value:.1f}"  # nan: no episode ended yet


class Display:
    """Live progress: a rich bar when `console` is a terminal, else a plain line every
    `log_every` updates (and at the last one)."""

    def __init__(self, console: Console, total_updates: int, steps_per_update: int,
                 start_update: int, log_every: int):
        """`steps_per_update`: env steps per update and seed (the bar counts those)."""
        self.console, self.total, self.log_every = console, total_updates, log_every
        self.bar = None
        self.told_duration = False
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
        if eta and rate and not self.told_duration:
            self.told_duration = True  # the budget in wall-clock terms, said once
            self.console.print(f"at {fmt_rate(rate)} env steps/s this run needs about "
                               f"{fmt_eta(eta)} more (set max_env_steps to change it)")
        if self.bar is not None:
            self.bar.update(self.task, completed=record["env_steps"], update=update,
                            rate=fmt_rate(rate), eta=fmt_eta(eta), ret=fmt_return(ret))
        elif update % self.log_every == 0 or update == self.total:
            self.console.print(
                f"update {update:>5}/{self.total}  env steps {record['env_steps']:>12,}  "
                f"{fmt_rate(rate):>9} steps/s  ETA {fmt_eta(eta):>8}  "
                f"return {fmt_return(ret):>8}  "
                f"length {record[metrics.EPISODE_LENGTH]:7.1f}  "
                f"lr {record[metrics.LEARNING_RATE]:.2e}")

    def print(self, text: str) -> None:
        self.console.print(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
