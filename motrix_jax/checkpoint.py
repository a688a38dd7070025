"""Checkpoints of the whole train state with orbax, and policies rebuilt from disk alone.

A run folder (see run_folder) holds `checkpoints/<update>/`, one orbax checkpoint per
saved update with three items: `state` (the whole vmapped TrainState: params,
optimiser state, normaliser statistics, learning rate, RNG key, counters, env state),
`policy` (params and observation statistics only, so a policy loads without the env)
and `progress` (run_folder.Progress as JSON: update, env steps, wall time, returns).
Orbax stores arrays with TensorStore; nothing is pickled. Beside them each checkpoint
holds `sha256.json`, the SHA-256 of every file orbax wrote, checked before anything
is read from it: a flipped bit is `DamagedCheckpoint`, not a silently wrong state.
`restore_newest` and `load_policy` without a step fall back to the newest intact one.

Bad input (no checkpoint, a corrupt or incompatible one) raises `CheckpointError`, a
missing or unusable run folder `RunFolderError` (its base), with a one-line message
saying which and why.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging as absl_logging

from motrix_jax import metrics, multihost, normalization, recurrent
from motrix_jax.networks import make_network, memory_width
from motrix_jax.ppo import mean_action
from motrix_jax.run_folder import (
    CheckpointError,
    Progress,
    RunFolderError,
    RunInfo,
    one_line,
    read_in_run,
    read_run_info,
    replace_in_run,
    storage_error,
    write_in_run,
)

CHECKPOINT_DIR = "checkpoints"
MANIFEST = "sha256.json"
absl_logging.set_verbosity(absl_logging.ERROR)  # orbax logs routine notes as warnings


def _key_name(key: Any) -> str:
    for attr in ("name", "key", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _leaves_by_name(tree: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    """{"params.params.dense_0.kernel": (shape, dtype)} for arrays or their metadata."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {".".join(_key_name(k) for k in path): (tuple(leaf.shape), str(np.dtype(leaf.dtype)))
            for path, leaf in flat}


def _without_empty(tree: Any) -> Any:
    """Zero-size arrays (e.g. the contact flags of a task that asks for none) as None:
    orbax refuses to save them, and they carry nothing."""
    return jax.tree.map(lambda x: None if math.prod(x.shape) == 0 else x, tree)


def _with_empty(restored: Any, target: Any) -> Any:
    """`restored` (from a `_without_empty` tree) with its zero-size arrays put back, placed
    as `target`'s ShapeDtypeStructs say."""
    leaves = iter(jax.tree.leaves(restored))
    return jax.tree.map(
        lambda a: jnp.zeros(a.shape, a.dtype, device=a.sharding) if math.prod(a.shape) == 0
        else next(leaves), target)


@contextlib.contextmanager
def orbax_quiet():
    """Orbax's own reports silenced while it saves or restores: a failed TensorStore write
    or read is logged with tracebacks from its threads, and leaves coroutines that print
    more when collected; the error it raises is reported as one line instead."""
    logger = logging.getLogger("absl")
    level, hook = logger.level, sys.unraisablehook
    logger.setLevel(logging.CRITICAL + 1)
    sys.unraisablehook = lambda _: None
    try:
        yield
    finally:
        logger.setLevel(level)
        sys.unraisablehook = hook


class DamagedCheckpoint(CheckpointError):
    """A checkpoint whose files do not match their checksums or cannot be read."""


def file_digests(folder: Path) -> dict[str, str]:
    """{relative path: SHA-256} of the files under `folder` but its manifest, each read
    through run_folder's guard (a link or FIFO planted there is an error, not followed)."""
    digests = {}
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if os.path.islink(Path(root) / d)]):
            path = Path(root) / name
            if path.parent == folder and name in (MANIFEST, MANIFEST + ".tmp"):
                continue
            digests[str(path.relative_to(folder))] = hashlib.sha256(
                read_in_run(path)).hexdigest()
    return dict(sorted(digests.items()))


def write_manifest(folder: Path) -> None:
    """Record the checksums of a finished checkpoint (atomically and durably, after
    orbax)."""
    tmp = folder / (MANIFEST + ".tmp")
    write_in_run(tmp, json.dumps(file_digests(folder), indent=1))
    replace_in_run(tmp, folder / MANIFEST)


def check_manifest(folder: Path, step: int) -> None:
    """DamagedCheckpoint unless every file listed in `folder`'s manifest is there
    with its checksum. A checkpoint without one (cut short before it was written, or
    written before checksums existed) cannot be checked: a warning on stderr says so."""
    where = f"checkpoint at update {step} ({folder})"
    if not os.path.lexists(folder / MANIFEST):
        print(f"warning: {where} has no {MANIFEST}: its files cannot be checked (a "
              "damaged file would go unnoticed)", file=sys.stderr)
        return
    try:
        recorded = json.loads(read_in_run(folder / MANIFEST))
        if not isinstance(recorded, dict) or not all(
                isinstance(v, str) for v in recorded.values()):
            raise ValueError(recorded)
        found = file_digests(folder)
    except (ValueError, RecursionError, RunFolderError) as error:
        why = f"its {MANIFEST} is unreadable" if not isinstance(error, RunFolderError) \
            else str(error)
        raise DamagedCheckpoint(f"{where} is damaged: {why}") from None
    for name, digest in recorded.items():
        if found.get(name) != digest:
            what = "is missing" if name not in found else "does not match its checksum"
            raise DamagedCheckpoint(f"{where} is damaged: {name} {what}")


class UnreadableCheckpoints(DamagedCheckpoint):
    """Orbax cannot open the checkpoints folder because of `damaged` ([(step, what is
    wrong)], newest first); the others (`intact`) are usable once those are moved out."""

    def __init__(self, message: str, damaged: list[tuple[int, str]], intact: list[int]):
        super().__init__(message)
        self.damaged, self.intact = damaged, intact


def step_folders(directory: Path) -> list[Path]:
    """The checkpoint folders (named by their update) in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if p.name.isdigit() and p.is_dir()),
                  key=lambda p: int(p.name))


def unreadable(directory: Path, error: BaseException) -> CheckpointError:
    """Why orbax could not open `directory`: the checkpoints failing their checksums,
    or (none failing) the error itself, as one line."""
    damaged, intact = [], []
    for folder in reversed(step_folders(directory)):
        try:
            check_manifest(folder, int(folder.name))
            intact.append(int(folder.name))
        except DamagedCheckpoint as found:
            damaged.append((int(folder.name), str(found)))
    if not damaged:
        return CheckpointError(f"{directory} is unreadable ({one_line(error)})")
    if not intact:
        return UnreadableCheckpoints(f"{directory.parent}: no intact checkpoint "
                                     f"({damaged[0][1]})", damaged, intact)
    return UnreadableCheckpoints(
        f"{damaged[0][1]}; move {directory / str(damaged[0][0])} out of {directory} to "
        "use the others (a --resume does that itself)", damaged, intact)


def _return_metric(recorded: dict) -> float:
    value = recorded.get(metrics.CHECKPOINT_RETURN)
    return -math.inf if value is None or not math.isfinite(value) else float(value)


class Checkpointer:
    """An orbax CheckpointManager over `run_dir/checkpoints`: keeps the last `keep`
    checkpoints plus the best by mean episode return. Saves are synchronous, so a
    checkpoint on disk is complete (orbax writes to a temporary folder and renames it).
    With several JAX processes every one of them makes a Checkpointer over the same
    (shared) folder and calls `save` together: each writes its shards, process 0 the
    metadata and the checksums."""

    def __init__(self, run_dir: str | Path, keep: int = 3, read_only: bool = False):
        self.directory = Path(run_dir).absolute() / CHECKPOINT_DIR
        policies = ocp.checkpoint_managers
        if read_only:
            options = ocp.CheckpointManagerOptions(
                read_only=True, create=False, save_interval_steps=0,
                best_fn=_return_metric, best_mode="max")
        else:
            options = ocp.CheckpointManagerOptions(
                enable_async_checkpointing=False, best_fn=_return_metric, best_mode="max",
                cleanup_tmp_directories=True,
                preservation_policy=policies.AnyPreservationPolicy([
                    policies.LatestN(n=keep),
                    policies.BestN(get_metric_fn=_return_metric, n=1)]))
        handlers = {"state": ocp.StandardCheckpointHandler(),
                    "policy": ocp.StandardCheckpointHandler(),
                    "progress": ocp.JsonCheckpointHandler()}
        try:
            self.manager = ocp.CheckpointManager(self.directory, options=options,
                                                 item_handlers=handlers)
        except Exception as error:  # noqa: BLE001 - it reads every checkpoint's metrics
            raise unreadable(self.directory, error) from None

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        return self.manager.best_step()

    def save(self, state: Any, progress: dict) -> None:
        """Save the vmapped TrainState at `progress["update"]`; `progress` must be JSON."""
        policy = {"params": state.params, "obs_mean": state.obs_stats.mean,
                  "obs_var": state.obs_stats.var}
        step = int(progress["update"])
        try:
            with orbax_quiet():
                self.manager.save(
                step, force=True,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardSave(_without_empty(state)),
                        policy=ocp.args.StandardSave(policy),
                        progress=ocp.args.JsonSave(progress)),
                    metrics={metrics.CHECKPOINT_RETURN:
                             progress.get(metrics.CHECKPOINT_RETURN)})
            if jax.process_index() == 0:  # orbax returns once every process's shards are in
                write_manifest(self.directory / str(step))
            multihost.barrier(f"checkpoint {step} verified")
        except Exception as error:
            failed = storage_error(f"the checkpoint of update {step}", self.directory, error)
            if failed is None:
                raise
            raise failed from None

    def resolve(self, step: int | str | None) -> int:
        """`None` → latest, `"best"` → best, an int → that step; CheckpointError if absent."""
        steps = self.steps()
        if not steps:
            raise CheckpointError(no_checkpoint(self.directory.parent))
        if step is None:
            return steps[-1]
        if step == "best":
            return self.best_step()
        if int(step) not in steps:
            raise CheckpointError(f"{self.directory.parent}: no checkpoint at update {step}; "
                                  f"available: {', '.join(map(str, steps))}")
        return int(step)

    def restore(self, abstract_state: Any, step: int | str | None = None,
                shardings: Any = None) -> tuple[Any, dict]:
        """Restore the TrainState shaped like `abstract_state` (from `jax.eval_shape`),
        placed as `shardings` (a pytree like it; default: all on the first device). With
        several processes each reads its own shards."""
        step = self.resolve(step)
        check_manifest(self.directory / str(step), step)
        try:
            saved = self.manager.item_metadata(step)["state"]
            if saved is None:
                raise ValueError("no metadata for the train state")
        except Exception as error:  # noqa: BLE001 - any read failure means corrupt here
            raise self._corrupt(step, error) from None
        abstract = _without_empty(abstract_state)
        _check_compatible(_leaves_by_name(saved), _leaves_by_name(abstract),
                          self.directory / str(step))
        if shardings is None:
            device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
            shardings = jax.tree.map(lambda _: device, abstract_state)
        target = jax.tree.map(
            lambda x, where: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=where),
            abstract_state, shardings)
        restored = self._restore(step, state=ocp.args.StandardRestore(_without_empty(target)),
                                 progress=ocp.args.JsonRestore())
        return _with_empty(restored.state, target), self._progress(step, restored.progress)

    def restore_newest(self, abstract_state: Any,
                       shardings: Any = None) -> tuple[Any, dict, list[str]]:
        """`restore` of the newest intact checkpoint: (state, progress, [(step, what is
        wrong)] of each newer one); CheckpointError if none is intact."""
        return self._newest(lambda step: self.restore(abstract_state, step, shardings))

    def restore_policy(self, step: int | str | None = None) -> tuple[int, dict, list[str]]:
        """(step, {"params", "obs_mean", "obs_var"} as saved with the seed axis, [(step,
        what is wrong)] of newer checkpoints): `step`'s, or without one the newest intact."""
        def policy(step):
            step = self.resolve(step)
            check_manifest(self.directory / str(step), step)
            restored = self._restore(step, policy=ocp.args.StandardRestore(),
                                     progress=ocp.args.JsonRestore())
            self._progress(step, restored.progress)
            return step, restored.policy
        if step is not None:
            return (*policy(step), [])
        return self._newest(policy)

    def _newest(self, restore: Callable[[int], tuple]) -> tuple:
        damaged = []
        for step in reversed(self.steps()):
            try:
                return (*restore(step), damaged)
            except DamagedCheckpoint as error:
                damaged.append((step, str(error)))
        if not damaged:
            self.resolve(None)  # no checkpoint at all
        raise CheckpointError(f"{self.directory.parent}: no intact checkpoint "
                              f"({damaged[0][1]})")

    def _restore(self, step: int, **items):
        try:
            with orbax_quiet():
                return self.manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as error:  # noqa: BLE001 - orbax/TensorStore raise many types
            raise self._corrupt(step, error) from None

    def _progress(self, step: int, raw: Any) -> dict:
        """The progress record of checkpoint `step`, checked: DamagedCheckpoint if it is
        malformed or records another update (checkpoint folders renamed or swapped)."""
        where = f"checkpoint at update {step} ({self.directory / str(step)})"
        try:
            recorded = Progress.from_json(raw).update
        except (ValueError, KeyError, TypeError) as error:
            raise DamagedCheckpoint(f"{where} is damaged: its progress record is "
                                    f"malformed ({one_line(error)})") from None
        if recorded != step:
            raise DamagedCheckpoint(f"{where} is damaged: it holds update {recorded} (its "
                                    "folder was renamed or swapped with another)")
        return dict(raw)

    def _corrupt(self, step: int, error: BaseException) -> CheckpointError:
        return DamagedCheckpoint(f"checkpoint {self.directory / str(step)} is corrupt or "
                               f"unreadable ({one_line(error)})")

    def close(self) -> None:
        self.manager.close()


def _check_compatible(saved: dict, expected: dict, where: Path) -> None:
    for name, spec in expected.items():
        if name not in saved:
            raise CheckpointError(f"checkpoint {where} is incompatible: it has no {name}")
        if saved[name] != spec:
            raise CheckpointError(
                f"checkpoint {where} is incompatible: {name} is {saved[name][1]}"
                f"{list(saved[name][0])}, this config needs {spec[1]}{list(spec[0])}")
    extra = sorted(set(saved) - set(expected))
    if extra:
        raise CheckpointError(f"checkpoint {where} is incompatible: unexpected {extra[0]}")


def parse_step(text: str | None) -> int | str | None:
    """A `--step` argument: None (the newest intact), "best", or an update number;
    ValueError otherwise."""
    if text in (None, "best"):
        return text
    if not text.strip().isdigit():
        raise ValueError(f"--step must be an update number or 'best', got {text!r}")
    return int(text)


def no_checkpoint(run_dir: str | Path) -> str:
    """Why `run_dir` has no checkpoint to use, in one line."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    cut = sorted(p.name.split(".")[0] for p in directory.glob("*.orbax-checkpoint-tmp*")) \
        if directory.is_dir() else []
    if cut:
        return (f"{run_dir}: has no checkpoint: its first one (update {cut[0]}) was cut "
                "short (the process was killed while saving it); start a new run")
    return f"{run_dir}: has no checkpoint"


def open_run(run_dir: str | Path) -> tuple[RunInfo, Checkpointer]:
    """Read a run's config and open its checkpoints read-only; RunFolderError (or
    CheckpointError) if unusable."""
    info = read_run_info(run_dir)
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        raise CheckpointError(no_checkpoint(run_dir))
    checkpointer = Checkpointer(run_dir, read_only=True)
    checkpointer.resolve(None)
    return info, checkpointer


def saved_policy(run_dir: str | Path, step: int | str | None = None) -> tuple[RunInfo, int, dict]:
    """(RunInfo, update, {"params", "obs_mean", "obs_var"} with the seed axis) of
    checkpoint `step`, or the newest intact one; a damaged newer checkpoint passed over
    is reported on stderr."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    for attempt in range(3):
        listed = [p.name for p in step_folders(directory)]
        try:
            info, checkpointer = open_run(run_dir)
            try:
                found, saved, damaged = checkpointer.restore_policy(step)
            finally:
                checkpointer.close()
            break
        except RunFolderError:
            # a trainer beside us saved or rotated checkpoints meanwhile: list them again
            if attempt == 2 or [p.name for p in step_folders(directory)] == listed:
                raise
    step = found
    # a newer checkpoint removed while it was read was rotated away, not damaged
    damaged = [(s, m) for s, m in damaged if (directory / str(s)).is_dir()]
    for _, message in damaged:
        print(f"warning: {message}; using the newest intact one, update {step}",
              file=sys.stderr)
    return info, step, saved


def load_policy(run_dir: str | Path, step: int | str | None = None,
                seed: int = 0) -> Callable[[jax.Array], jax.Array]:
    """A jitted `policy(obs [..., obs_size]) -> action [..., action_size]`: the
    deterministic (mean) action of seed `seed` at checkpoint `step` (the newest intact
    one by default, or "best"), with the saved observation normaliser applied. A recurrent
    run's is a `recurrent.MemoryPolicy`: `policy(obs, memory) -> (action, memory)`."""
    return load_policy_at(run_dir, step, seed)[1]


def load_policy_at(run_dir: str | Path, step: int | str | None = None,
                   seed: int = 0) -> tuple[int, Callable[[jax.Array], jax.Array]]:
    """(the checkpoint's update, `load_policy`'s policy)."""
    info, step, saved = saved_policy(run_dir, step)
    network = make_network(info.ppo, info.action_size)
    # recurrent policies take their memory [N, W] too
    width = None if info.ppo.policy_memory == "none" else \
        memory_width(info.ppo.policy_memory, info.ppo.memory_size)
    inputs = [jnp.zeros((1, info.obs_size))] + ([] if width is None else [jnp.zeros((1, width))])
    # the policy's parameters only: the value network (and the critic's own observation
    # size, where the task has one) plays no part in acting
    expected = _leaves_by_name(jax.eval_shape(
        functools.partial(network.init, method="policy"), jax.random.PRNGKey(0), *inputs))
    policy = {name: tree for name, tree in saved["params"]["params"].items()
              if not name.startswith("value_")}
    params = jax.tree.map(lambda x: jnp.asarray(x[seed]), {"params": policy})
    _check_compatible(_leaves_by_name(params), expected,
                      Path(run_dir).absolute() / CHECKPOINT_DIR / str(step))
    stats = normalization.RunningStats(mean=jnp.asarray(saved["obs_mean"][seed]),
                                       var=jnp.asarray(saved["obs_var"][seed]),
                                       count=jnp.zeros((), jnp.float32))
    # Params are arguments, not constants folded into the program: the trainer's own
    # policy function, so the actions are bit for bit the same.
    if width is not None:
        apply = jax.jit(functools.partial(recurrent.mean_action, info.ppo, network))
        return step, recurrent.MemoryPolicy(functools.partial(apply, params, stats), width)
    apply = jax.jit(functools.partial(mean_action, info.ppo, network))
    return step, functools.partial(apply, params, stats)
