"""Live refresh inside this process: one background thread works the outbox whenever a
commit wrote to it (SQLite deployments, where the web process runs the jobs, as SIS runs
do), and every ``sweep_seconds`` in case a notification came from another process."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger("bookplate.network.live")


class RefreshThread:
    def __init__(self, work: Callable[[], object], sweep_seconds: float = 5.0) -> None:
        self._work = work
        self._sweep = sweep_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def notify(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="bookplate-network-refresh", daemon=True
                )
                self._thread.start()
        self._idle.clear()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._sweep)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._work()
            except Exception:  # entries stay in the outbox; the next pass tries again
                log.exception("network_refresh_pass_failed")
            if not self._wake.is_set():
                self._idle.set()

    def join(self, timeout: float = 60.0) -> bool:
        """Wait until a pass ran after the last notification (tests, CLI)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(10)
