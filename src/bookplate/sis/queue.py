"""The SIS job queue on PostgreSQL: procrastinate (``bookplate worker`` runs the workers).

Jobs live in procrastinate's own tables, in the same database and schema as Bookplate's (its
schema is applied once, under an advisory lock, the first time a process uses the queue; it is
not an Alembic migration). Each job carries a run id only: the run and its file are in
``sis_runs`` and the spool (``sis.jobs``), so any worker that sees the spool can execute it,
and a job delivered twice finds its run finished and does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import procrastinate
import psycopg
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager

log = structlog.get_logger("bookplate.sis.queue")

TASK = "bookplate.sis_run"
QUEUE = "bookplate_sis"
#: pg_advisory_xact_lock key taken while the procrastinate schema is checked/applied.
SCHEMA_LOCK = 0x626F6F6B706C


def conninfo(database_url: str) -> str:
    """A libpq URI from Bookplate's (SQLAlchemy) database URL."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError("the procrastinate queue needs a PostgreSQL database URL")
    return f"postgresql://{rest}"


def ensure_schema(dsn: str) -> bool:
    """Apply procrastinate's schema unless its tables exist; True when it was applied."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if row is not None and row[0] is not None:
            return False
        conn.execute(SchemaManager.get_schema())
        conn.commit()
    log.info("procrastinate_schema_applied")
    return True


class ProcrastinateQueue:
    """``JobQueue`` over procrastinate: ``enqueue`` defers a ``sis_run(run_id)`` job."""

    def __init__(self, database_url: str, execute: Callable[[int], object]) -> None:
        self.dsn = conninfo(database_url)
        # Two apps over the same tables: workers run on an async pool, web and CLI processes
        # defer from threads on a small synchronous pool (one app cannot safely do both).
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self.dsn))
        self.defer_app = procrastinate.App(
            connector=procrastinate.SyncPsycopgConnector(conninfo=self.dsn, min_size=1, max_size=2)
        )
        self._lock = threading.Lock()
        self._schema_ready = False
        self._open = False

        def sis_run(run_id: int) -> None:
            execute(run_id)

        self.app.task(name=TASK, queue=QUEUE, pass_context=False)(sis_run)
        self.task = self.defer_app.task(name=TASK, queue=QUEUE, pass_context=False)(sis_run)

    def ready(self) -> None:
        with self._lock:
            if not self._schema_ready:
                ensure_schema(self.dsn)
                self._schema_ready = True

    def enqueue(self, run_id: int) -> None:
        self.ready()
        with self._lock:
            if not self._open:
                self.defer_app.open()
                self._open = True
        try:
            self.task.configure(queueing_lock=f"sis-run-{run_id}").defer(run_id=run_id)
        except AlreadyEnqueued:
            log.info("sis_run_already_queued", run_id=run_id)

    def run_worker(
        self, *, concurrency: int = 1, wait: bool = True, install_signal_handlers: bool = True
    ) -> None:
        """Process jobs (``wait=False``: until none is left, then return)."""
        self.ready()
        self.app.run_worker(
            queues=[QUEUE],
            concurrency=concurrency,
            wait=wait,
            install_signal_handlers=install_signal_handlers,
            delete_jobs="successful",
        )

    def close(self) -> None:
        with self._lock:
            if self._open:
                self.defer_app.close()
                self._open = False
