"""The run folder format: `runs/<env>/<timestamp>/` with `config.json` (`RunInfo`: env,
physics, the PPO config, the network layout), `metrics.jsonl` and `tensorboard/` (see
run_log), and `checkpoints/<update>/` (see checkpoint), each holding a `Progress`.

Bad input (a missing folder, a corrupt config.json, a run that does not fit the env)
raises `CheckpointError` with a one-line message saying which and why.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import json
import math
import os
import shutil
from pathlib import Path

from motrix_jax import metrics
from motrix_jax.config import PPOConfig

CONFIG_FILE = "config.json"


class CheckpointError(ValueError):
    """A run folder or checkpoint that cannot be used; the message is one line."""


class StorageError(RuntimeError):
    """A run folder that cannot be written (disk full, read-only, no permission); the
    message is one line naming the path."""


def os_error(error: BaseException) -> OSError | None:
    """The OSError `error` is or was raised from (libraries wrap them), if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def storage_error(what: str, path: Path, error: BaseException) -> StorageError | None:
    """A one-line StorageError for a failed write of `what` at `path`, or None when
    `error` did not come from the operating system."""
    cause = os_error(error)
    if cause is None:
        return None
    return StorageError(f"cannot write {what} in {path}: {cause.strerror or cause}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunInfo:
    """What `config.json` records: enough to rebuild the env, the trainer and the policy."""

    env: str
    physics: str
    ppo: PPOConfig
    obs_size: int
    action_size: int
    processes: int = 1  # JAX processes that trained it (a resume needs as many)
    task_changes: dict = dataclasses.field(default_factory=dict)  # --task-set fields
    # what the backend ran with (timestep, substeps, solver settings): a record only,
    # rebuilt from the task when the run is resumed
    physics_options: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, name: str, env, cfg: PPOConfig, task_changes: dict | None = None,
           processes: int = 1) -> RunInfo:
        """The record of a new run of `cfg` on `env` (registered as `name`, built with
        `task_changes`): its sizes and what its physics backend runs with."""
        return cls(env=name, physics=env.physics.name, ppo=cfg, obs_size=env.obs_size,
                   action_size=env.action_size, processes=processes,
                   task_changes=dict(task_changes or {}),
                   physics_options=env.physics.options)

    def network_layout(self) -> dict:
        cfg = self.ppo
        return {"module": "motrix_jax.networks.ActorCritic", "activation": "elu",
                "obs_size": self.obs_size, "action_size": self.action_size,
                "policy_hidden_sizes": list(cfg.policy_hidden_sizes),
                "value_hidden_sizes": list(cfg.value_hidden_sizes),
                "share_features": cfg.share_features, "initial_log_std": cfg.initial_log_std,
                "state_preprocessor": cfg.state_preprocessor,
                "value_preprocessor": cfg.value_preprocessor}

    def to_json(self) -> str:
        return json.dumps({"env": self.env, "physics": self.physics,
                           "ppo": dataclasses.asdict(self.ppo),
                           "network": self.network_layout(),
                           "processes": self.processes,
                           "task_changes": self.task_changes,
                           "physics_options": self.physics_options}, indent=2)


def write_run_info(run_dir: Path, info: RunInfo) -> None:
    fd = open_in_run(Path(run_dir) / CONFIG_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w") as file:
        file.write(info.to_json())


def open_in_run(path: Path, flags: int) -> int:
    """os.open of a file in a run folder that never follows a symlink there (a run
    folder is data someone may hand you): CheckpointError if `path` is one."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise CheckpointError(f"{path} is a symlink; a run folder's files must be "
                                  "its own (remove the link)") from None
        raise


def check_no_symlinks(run_dir: Path) -> None:
    """CheckpointError naming the first symlink inside `run_dir` (anything the session
    writes could otherwise land outside the folder)."""
    for root, dirs, files in os.walk(run_dir):
        for name in sorted(dirs + files):
            path = Path(root) / name
            if path.is_symlink():
                raise CheckpointError(f"{path} is a symlink; a run folder's files must "
                                      "be its own (remove the link)")


def read_run_info(run_dir: str | Path) -> RunInfo:
    """Parse `run_dir/config.json`; CheckpointError says what is missing or wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run folder")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: not a run folder (no {CONFIG_FILE})")
    try:
        raw = json.loads(path.read_text())
        fields = {f.name: f.type for f in dataclasses.fields(PPOConfig)}
        ppo = {k: tuple(v) if isinstance(v, list) else v for k, v in raw["ppo"].items()
               if k in fields}
        net = raw["network"]
        return RunInfo(env=raw["env"], physics=raw["physics"], ppo=PPOConfig(**ppo),
                       obs_size=int(net["obs_size"]), action_size=int(net["action_size"]),
                       processes=int(raw.get("processes", 1)),
                       task_changes=dict(raw.get("task_changes", {})),
                       physics_options=dict(raw.get("physics_options", {})))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{path} is corrupt: {one_line(error)}") from None


def one_line(error: BaseException) -> str:
    """`error` as one short line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def check_env(run_dir: str | Path, info: RunInfo, env) -> None:
    """CheckpointError unless `env` has the observation and action sizes the run was
    trained with."""
    saved, now = (info.obs_size, info.action_size), (env.obs_size, env.action_size)
    if saved != now:
        raise CheckpointError(
            f"{run_dir} is incompatible: it was trained with observation/action sizes "
            f"{saved}, env {info.env!r} now has {now}")


def make_run_dir(root: Path, env_name: str) -> Path:
    """A new folder root/env/<timestamp>[-k]; never an existing one."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        (root / env_name).mkdir(parents=True, exist_ok=True)
        for suffix in range(1000):
            run_dir = root / env_name / (f"{stamp}-{suffix}" if suffix else stamp)
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                continue
    except OSError as error:
        raise CheckpointError(f"cannot create a run folder in {root / env_name}: "
                              f"{error.strerror or error}") from None
    raise CheckpointError(f"could not create a new run folder in {root / env_name}")


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
                metrics.CHECKPOINT_RETURN: None if math.isnan(mean) else mean}

    @classmethod
    def from_json(cls, raw: dict) -> Progress:
        return cls(update=int(raw["update"]), env_steps=int(raw["env_steps"]),
                   wall_time=float(raw["wall_time"]), last_return=tuple(raw["last_return"]))


def after_interruption(run_dir: Path | None, new_run: bool) -> str:
    """What an interruption outside the training loop leaves; a new run folder that
    recorded no update is removed."""
    if run_dir is None or not run_dir.is_dir():
        return "interrupted"
    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir()):
        return f"interrupted; checkpoints so far are in {run_dir}"
    records = run_dir / "metrics.jsonl"
    if new_run and (not records.is_file() or records.stat().st_size == 0):
        shutil.rmtree(run_dir)  # removes links, never what they point to
        return f"interrupted before the first update; removed {run_dir}"
    return f"interrupted before the first checkpoint; {run_dir} cannot be resumed"
