"""The formats of a run folder's files (the folder itself, as one object, is
run_dir.RunDir): `config.json` (`RunInfo`: env, physics, the PPO config, the network
layout), the `Progress` each checkpoint (see checkpoint) holds, the folder's name, and
the one guard every run-folder file is opened through.

Bad input (a missing folder, a corrupt config.json, a run that does not fit the env, a
file that is not the folder's own) raises `RunFolderError` with a one-line message
saying which and why; a checkpoint that cannot be used raises its subclass
`CheckpointError`.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import json
import math
import os
import re
import shutil
import stat
from pathlib import Path

from motrix_jax import metrics
from motrix_jax.config import PPOConfig

CONFIG_FILE = "config.json"


class RunFolderError(ValueError):
    """A run folder, or a file in one, that cannot be used; the message is one line."""


class CheckpointError(RunFolderError):
    """A checkpoint that cannot be used (none, damaged, incompatible); one line."""


class StorageError(RuntimeError):
    """A run folder that cannot be written (disk full, read-only, no permission); the
    message is one line naming the path."""


# TensorStore (under orbax) reports an OS error as a ValueError whose message ends in
# `[os_error_code='28']` (ENOSPC): RESOURCE_EXHAUSTED, not an OSError.
OS_ERROR_CODE = re.compile(r"os_error_code=\W?(\d+)")


def os_error(error: BaseException) -> OSError | None:
    """The OSError `error` is or was raised from (libraries wrap them, TensorStore names
    its code in the message), if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        code = OS_ERROR_CODE.search(str(error))
        if code:
            return OSError(int(code.group(1)), os.strerror(int(code.group(1))))
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


def open_in_run(path: Path, flags: int) -> int:
    """os.open of a file in a run folder (data someone may hand you), through the one
    guard every run-folder file passes: a regular file, never a symlink (followed, a
    write lands outside the folder), a FIFO or device (a read hangs) or a folder, and
    for writing never a file with other hard links (truncating it changes the file
    elsewhere). RunFolderError names the file and what it is; StorageError when the
    OS refuses (no permission, read-only, disk full)."""
    writing = bool(flags & (os.O_WRONLY | os.O_RDWR))
    # no O_TRUNC before the checks (it would cut a hard-linked file); O_NONBLOCK so that
    # opening a FIFO returns at once
    open_flags = (flags & ~os.O_TRUNC) | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, open_flags, 0o644)
    except OSError as error:
        raise _refused(path, error, writing) from None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise RunFolderError(f"{path} is {_kind(found.st_mode)}, not a regular file; "
                                  "a run folder's files must be plain files (remove it)")
        if writing and found.st_nlink > 1:
            raise RunFolderError(f"{path} has {found.st_nlink - 1} other hard link(s); a "
                                  "run folder's files must be its own (remove it)")
        os.set_blocking(fd, True)
        if flags & os.O_TRUNC:
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refused(path: Path, error: OSError, writing: bool) -> Exception:
    if error.errno == errno.ELOOP:
        return RunFolderError(f"{path} is a symlink; a run folder's files must be its own "
                               "(remove the link)")
    if error.errno == errno.EISDIR:
        return RunFolderError(f"{path} is a folder, not a regular file (remove it)")
    if error.errno == errno.ENXIO:  # a FIFO without a reader, opened to write
        return RunFolderError(f"{path} is a FIFO, not a regular file; a run folder's "
                               "files must be plain files (remove it)")
    if error.errno == errno.ENOENT:
        return RunFolderError(f"{path}: no such file")
    return StorageError(f"cannot {'write' if writing else 'read'} {path}: "
                        f"{error.strerror or error}")


def _kind(mode: int) -> str:
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device")):
        if test(mode):
            return word
    return "not a regular file"


def read_in_run(path: Path) -> bytes:
    """The bytes of a run-folder file, opened through `open_in_run`."""
    with os.fdopen(open_in_run(path, os.O_RDONLY), "rb") as file:
        return file.read()


def write_in_run(path: Path, text: str) -> None:
    """Write `text` to a run-folder file through `open_in_run` and fsync it: on disk
    before anything that depends on it is written (a checkpoint after its records)."""
    fd = open_in_run(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def replace_in_run(tmp: Path, path: Path) -> None:
    """os.replace(tmp, path) (a name replaced, never a write through a link), made
    durable by an fsync of the folder."""
    os.replace(tmp, path)
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    """Write config.json (fsynced); StorageError if the folder cannot take it."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        write_in_run(path, info.to_json())
    except OSError as error:
        raise storage_error("the run's config", path.parent, error) from None


def check_no_symlinks(run_dir: Path) -> None:
    """RunFolderError naming the first entry inside `run_dir` that is not the folder's
    own: a symlink (anything the session writes could otherwise land outside the
    folder), a file with other hard links, a FIFO, socket or device (open_in_run's
    rules, checked for the whole folder before a session writes into it)."""
    for root, dirs, files in os.walk(run_dir):
        for name in sorted(dirs + files):
            path = Path(root) / name
            found = os.lstat(path)
            if stat.S_ISLNK(found.st_mode):
                raise RunFolderError(f"{path} is a symlink; a run folder's files must "
                                      "be its own (remove the link)")
            if stat.S_ISDIR(found.st_mode):
                continue
            if not stat.S_ISREG(found.st_mode):
                raise RunFolderError(f"{path} is {_kind(found.st_mode)}, not a regular "
                                      "file; a run folder's files must be plain files "
                                      "(remove it)")
            if found.st_nlink > 1:
                raise RunFolderError(f"{path} has {found.st_nlink - 1} other hard link(s); "
                                      "a run folder's files must be its own (remove it)")


def read_run_info(run_dir: str | Path) -> RunInfo:
    """Parse `run_dir/config.json`; RunFolderError says what is missing or wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder")
    path = run_dir / CONFIG_FILE
    if not os.path.lexists(path):
        raise RunFolderError(f"{run_dir}: not a run folder (no {CONFIG_FILE})")
    text = read_in_run(path)
    try:
        raw = json.loads(text)
        info = run_info_of(raw)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise RunFolderError(f"{path} is corrupt: {one_line(error)}") from None
    unknown = sorted(set(raw) - set(json.loads(info.to_json())))
    if unknown:
        raise RunFolderError(f"{path} is corrupt: unknown key {unknown[0]!r}")
    return info


# PPOConfig fields added after runs were first written: a config.json without one trained
# with its default. Any other missing field is an error (a hand-edited file), not the
# default, which may not be the preset's.
LATER_PPO_FIELDS = frozenset({"symmetry_augmentation", "policy_memory", "memory_size",
                              "distill_from"})


def run_info_of(raw: dict) -> RunInfo:
    """RunInfo of a parsed config.json; ValueError/KeyError/TypeError naming the bad key."""
    if not isinstance(raw, dict):
        raise TypeError(f"expected a JSON object, got {type(raw).__name__}")
    ppo, net = _object(raw, "ppo"), _object(raw, "network")
    fields = {f.name for f in dataclasses.fields(PPOConfig)}
    unknown, missing = sorted(set(ppo) - fields), sorted(fields - set(ppo) - LATER_PPO_FIELDS)
    if unknown:
        raise ValueError(f"unknown ppo key {unknown[0]!r}")
    if missing:
        raise ValueError(f"ppo has no {missing[0]!r} (add it: a missing field would "
                         "silently take PPOConfig's default, not the preset's)")
    ppo = {k: tuple(v) if isinstance(v, list) else v for k, v in ppo.items()}
    sizes = {k: net[k] for k in ("obs_size", "action_size")}
    for key, value in {**sizes, "processes": raw.get("processes", 1)}.items():
        if type(value) is not int or value < 1:
            raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
    for key in ("env", "physics"):
        if not isinstance(raw[key], str):
            raise TypeError(f"{key} must be a string, got {raw[key]!r}")
    return RunInfo(env=raw["env"], physics=raw["physics"], ppo=PPOConfig(**ppo), **sizes,
                   processes=raw.get("processes", 1),
                   task_changes=_object(raw, "task_changes", {}),
                   physics_options=_object(raw, "physics_options", {}))


def _object(raw: dict, key: str, default: dict | None = None) -> dict:
    value = raw[key] if default is None else raw.get(key, default)
    if not isinstance(value, dict):
        raise TypeError(f"{key} must be a JSON object, got {value!r}")
    return dict(value)


def one_line(error: BaseException) -> str:
    """`error` as one short line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def check_env(run_dir: str | Path, info: RunInfo, env) -> None:
    """RunFolderError unless `env` has the observation and action sizes the run was
    trained with."""
    saved, now = (info.obs_size, info.action_size), (env.obs_size, env.action_size)
    if saved != now:
        raise RunFolderError(
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
        raise RunFolderError(f"cannot create a run folder in {root / env_name}: "
                              f"{error.strerror or error}") from None
    raise RunFolderError(f"could not create a new run folder in {root / env_name}")


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
        """The Progress of a checkpoint's record; ValueError/TypeError/KeyError naming
        a bad field (a hand-edited or damaged record)."""
        for key in ("update", "env_steps"):
            if type(raw[key]) is not int or raw[key] < 0:
                raise ValueError(f"{key} must be an integer >= 0, got {raw[key]!r}")
        wall, returns = raw["wall_time"], raw["last_return"]
        if type(wall) not in (int, float) or not 0 <= wall < math.inf:
            raise ValueError(f"wall_time must be a number >= 0, got {wall!r}")
        if not isinstance(returns, list) or not all(
                r is None or (type(r) in (int, float) and math.isfinite(r)) for r in returns):
            raise ValueError(f"last_return must be a list of numbers or nulls, got "
                             f"{returns!r:.80}")
        return cls(update=raw["update"], env_steps=raw["env_steps"], wall_time=float(wall),
                   last_return=tuple(None if r is None else float(r) for r in returns))


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
