"""One trainer per run folder: `RunLock` holds an exclusive `flock` on `run_dir/lock`
(which records the holder's process id and host) for as long as a session trains,
and removes the file when it is done.

A second trainer on a locked folder gets a `RunFolderBusy` naming the holder. The
kernel drops the lock when its process dies (even by SIGKILL), so a lock file left
by a dead process is taken over, and `RunLock.acquire` says whose it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

from motrix_jax.run_folder import CheckpointError, open_in_run, storage_error

LOCK_FILE = "lock"


class RunFolderBusy(CheckpointError):
    """Another live process trains in this run folder."""


def holder(text: str) -> str:
    """'process 123 on host-a' from a lock file's text (or 'an unknown process')."""
    try:
        raw = json.loads(text)
        return f"process {int(raw['pid'])} on {raw['host']}"
    except (ValueError, KeyError, TypeError):
        return "an unknown process"


class RunLock:
    """`acquire()` takes the run folder's lock (RunFolderBusy if another live process
    holds it) and returns a note when it took over a dead process's lock; `release()`
    gives it up."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> str | None:
        fd = self._locked()
        previous = os.pread(fd, 4096, 0).decode(errors="replace")
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, me.encode(), 0)
        except OSError as error:
            os.close(fd)
            raise storage_error("the lock", self.path.parent, error) from None
        self.fd = fd
        if previous.strip():
            return (f"took over the lock of {holder(previous)}, which no longer runs "
                    f"({self.path})")
        return None

    def _locked(self) -> int:
        """A descriptor of the lock file, flock-ed; retried when the file was removed
        by its previous holder between our open and our lock."""
        while True:
            fd = open_in_run(self.path, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 4096, 0).decode(errors="replace")
                os.close(fd)
                raise RunFolderBusy(
                    f"{self.path.parent} is in use by {holder(text)} (its lock: "
                    f"{self.path}); wait for that run to end or stop it") from None
            try:
                if os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file (the folder is left as it was) and unlock."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None
