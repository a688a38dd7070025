"""The terminal progress display of a training run: a rich bar on a TTY, plain lines
otherwise (a log piped to a file)."""

from __future__ import annotations

import math
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from motrix_jax import metrics


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
