"""Where pending SIS runs go to be executed: the protocols, and the in-process queues used on
SQLite (the caller itself, or one background thread). PostgreSQL's queue is procrastinate
(``storage.sis_queue``)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Protocol

import structlog

log = structlog.get_logger("bookplate.sis.jobs")


class JobQueue(Protocol):
    """Where pending runs go to be executed."""

    #: True when the queue is this process (a thread, or the caller): a run waiting in it
    #: is owned by this process and dies with it. False: the queue keeps its jobs itself.
    in_process: bool

    def enqueue(self, run_id: int) -> None: ...

    def queued(self) -> set[int]:
        """Runs the queue still holds a job for, waiting or being executed (their jobs are
        the queue's business, not the sweep's)."""
        ...

    def close(self) -> None: ...


class WorkerQueue(JobQueue, Protocol):
    """A queue that keeps its jobs itself and is worked by ``bookplate worker`` processes."""

    stalled_after: float

    def run_worker(
        self, *, concurrency: int = 1, wait: bool = True, install_signal_handlers: bool = True
    ) -> None: ...


class InlineQueue:
    """Executes each run at once, in the caller."""

    in_process = True

    def __init__(self, execute: Callable[[int], object]) -> None:
        self._execute = execute

    def enqueue(self, run_id: int) -> None:
        self._execute(run_id)

    def queued(self) -> set[int]:
        return set()

    def close(self) -> None:
        return None


class ThreadQueue:
    """One background thread executing runs in order (the web process on SQLite). ``close``
    waits for the queued runs."""

    in_process = True

    def __init__(self, execute: Callable[[int], object]) -> None:
        self._execute = execute
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def enqueue(self, run_id: int) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="bookplate-sis-jobs", daemon=True
                )
                self._thread.start()
        self._queue.put(run_id)

    def _work(self) -> None:
        while True:
            run_id = self._queue.get()
            try:
                if run_id is None:
                    return
                self._execute(run_id)
            except Exception:  # the run is marked failed; keep serving the queue
                log.exception("sis_job_failed", run_id=run_id)
            finally:
                self._queue.task_done()

    def queued(self) -> set[int]:
        # The runs waiting here are owned by this process (``SisJobs`` holds their locks),
        # and the one it executes holds its lock.
        return set()

    def join(self) -> None:
        self._queue.join()

    def close(self) -> None:
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join()
