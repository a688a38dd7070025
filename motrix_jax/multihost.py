"""What several JAX processes (`jax.distributed`) agree on before and while training:
the run folder's path, that it lies on storage they all see, and flags raised on any
of them. In a single process each is the trivial answer, with no collective.

Orbax saves a sharded train state by having every process write its own shards into
one checkpoint folder, so a multi-process run needs its run folder on shared storage
(a network filesystem, or a bucket mounted on every host). `share_run_dir` checks that
at start: process 0 writes a random token into the folder and every other process
must read it back.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import jax
import numpy as np

TOKEN_FILE = ".shared-storage-check"
PATH_BYTES = 4096  # longest run-folder path that can be broadcast


def check_flags(distributed: bool, coordinator: str | None, num_processes: int | None,
                process_id: int | None, physics: str | None) -> bool:
    """Whether this run joins other processes (`distributed`, or any multi-host flag
    given); ValueError on a bad mix."""
    distributed = distributed or any(x is not None for x in
                                     (coordinator, num_processes, process_id))
    if (num_processes is None) != (process_id is None):
        raise ValueError("--num-processes and --process-id go together")
    if num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id must be in 0 .. {num_processes - 1}, got {process_id}")
    if distributed and physics not in (None, "auto", "mjx"):
        raise ValueError("several processes need --physics mjx (MotrixSim is not sharded)")
    return distributed


def join(distributed: bool, coordinator: str | None, num_processes: int | None,
         process_id: int | None) -> bool:
    """With `distributed`, `jax.distributed.initialize` (before any JAX computation);
    whether this process leads (writes the run folder)."""
    if distributed:
        from motrix_jax.sharding import init_distributed

        init_distributed(coordinator, num_processes, process_id)
    return jax.process_index() == 0


def several() -> bool:
    return jax.process_count() > 1


def broadcast_text(text: str | None) -> str:
    """Process 0's `text` on every process (the others pass None)."""
    if not several():
        return text
    from jax.experimental import multihost_utils

    data = np.zeros(PATH_BYTES, np.uint8)
    if jax.process_index() == 0:
        raw = text.encode()
        if len(raw) > PATH_BYTES:
            raise ValueError(f"run folder path longer than {PATH_BYTES} bytes: {text[:80]}...")
        data[:len(raw)] = np.frombuffer(raw, np.uint8)
    data = np.asarray(multihost_utils.broadcast_one_to_all(data))
    return bytes(data[data != 0]).decode()


def all_processes(flag: bool) -> np.ndarray:
    """[processes] bool: `flag` as each process gave it."""
    if not several():
        return np.array([flag])
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(np.array(flag))).reshape(-1)


def any_process(flag: bool) -> bool:
    """Whether `flag` is set in any process (a stop request reaches all of them, so they
    leave the loop after the same chunk)."""
    return bool(all_processes(flag).any())


def share_run_dir(run_dir: Path | None) -> Path:
    """Process 0's run folder on every process (the others pass None), after checking
    that every process sees it; ValueError naming the processes that do not."""
    run_dir = Path(broadcast_text(None if run_dir is None else str(run_dir)))
    if not several():
        return run_dir
    token_file = run_dir / TOKEN_FILE
    token = broadcast_text(secrets.token_hex(16) if jax.process_index() == 0 else None)
    if jax.process_index() == 0:
        token_file.write_text(token)
    barrier("token written")
    try:
        seen = token_file.read_text() == token
    except OSError:
        seen = False
    missing = np.flatnonzero(~all_processes(seen))
    barrier("token read")
    if jax.process_index() == 0:
        token_file.unlink()
    if missing.size:
        raise ValueError(f"run folder {run_dir} is not visible from process(es) "
                         f"{', '.join(map(str, missing))}: several processes save "
                         f"checkpoints into one folder, so --run-root (or --resume) must "
                         f"be on storage every host shares")
    return run_dir


def barrier(name: str) -> None:
    """Wait until every process gets here (no-op alone)."""
    if several():
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)
