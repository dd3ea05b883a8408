"""The advisory lock that marks the owner of an SIS run (``<spool>/<run id>.<db>.lock``)."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import suppress
from pathlib import Path

#: Seconds a process waits for the lock of a run that is not running: its holder is a
#: process creating the run or handing it to the queue, or a look at the runs, each of which
#: lets go within moments (a running run's lock is held for the whole run: no wait).
HANDOFF_WAIT = 10.0


class RunLock:
    """An exclusive advisory lock (``flock``) on a file, held by the process executing a run.
    The kernel releases it when that process ends however it ends (even SIGKILL), so a run
    marked running whose lock is free has lost its process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0) -> bool:
        """Take the lock, trying for up to ``wait`` seconds; False when another holder (another
        process, or another lock object of this process) keeps it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.02)
                continue
            self._fd = fd
            return True

    def release(self, *, remove: bool = False) -> None:
        if self._fd is None:
            return
        if remove:
            with suppress(OSError):
                self.path.unlink()
        os.close(self._fd)  # drops the lock
        self._fd = None
