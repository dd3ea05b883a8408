"""The SIS job queue on PostgreSQL: procrastinate (``bookplate worker`` runs the workers).

Jobs live in procrastinate's own tables, in the same database and schema as Bookplate's (its
schema is applied once, under an advisory lock, the first time a process uses the queue; it is
not an Alembic migration). Each job carries a run id only: the run and its file are in
``sis_runs`` and the spool (``sis.jobs``), so any worker that sees the spool can execute it,
and a job delivered twice finds its run finished and does nothing.

Stalled jobs: every worker sends a heartbeat (procrastinate's, every 10 s). A job left
``doing`` by a worker whose heartbeat stopped for ``stalled_after`` seconds (the worker was
killed, its host died) is put back to ``todo`` — when a worker starts and then every minute (a
periodic task) — and another worker runs its file again from the start (``sis.jobs``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import procrastinate
import psycopg
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager

log = structlog.get_logger("bookplate.storage.sis_queue")

TASK = "bookplate.sis_run"
RETRY_TASK = "bookplate.sis_retry_stalled"
QUEUE = "bookplate_sis"
#: Seconds without a heartbeat after which a worker's jobs count as stalled (procrastinate's
#: default; a live worker beats every 10 s).
STALLED_AFTER = 30.0
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

    in_process = False  # the jobs are in the database, whoever deferred them

    def __init__(
        self,
        database_url: str,
        execute: Callable[[int], object],
        stalled_after: float = STALLED_AFTER,
    ) -> None:
        self.dsn = conninfo(database_url)
        self.stalled_after = stalled_after
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

        async def retry_stalled(timestamp: int) -> None:
            await self._retry_stalled(self.app)

        self.app.periodic(cron="* * * * *")(
            self.app.task(
                name=RETRY_TASK, queue=QUEUE, queueing_lock=RETRY_TASK, pass_context=False
            )(retry_stalled)
        )

    async def _retry_stalled(self, app: procrastinate.App) -> list[int]:
        """Put the stalled SIS jobs back to ``todo``; their run ids."""
        jobs = await app.job_manager.get_stalled_jobs(
            queue=QUEUE, task_name=TASK, seconds_since_heartbeat=self.stalled_after
        )
        runs = []
        for job in jobs:
            await app.job_manager.retry_job(job)
            value = job.task_kwargs.get("run_id")
            run_id = value if isinstance(value, int) else 0
            runs.append(run_id)
            log.warning("sis_job_stalled_requeued", job_id=job.id, run_id=run_id)
        return runs

    def retry_stalled(self) -> list[int]:
        """Put the stalled SIS jobs back to ``todo`` now (what a worker does when it starts
        and every minute); their run ids."""
        self.ready()

        async def run() -> list[int]:
            async with self.app.open_async():
                return await self._retry_stalled(self.app)

        return asyncio.run(run())

    def queued(self) -> set[int]:
        """Runs with a job waiting (``todo``) or being executed (``doing``)."""
        self.ready()
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT args->>'run_id' FROM procrastinate_jobs"
                " WHERE task_name = %s AND status IN ('todo', 'doing')",
                (TASK,),
            ).fetchall()
        return {int(row[0]) for row in rows if row[0] is not None}

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
        """Process jobs (``wait=False``: until none is left, then return). Stalled jobs are
        put back first, then every minute."""
        self.ready()

        async def work() -> None:
            async with self.app.open_async():
                await self._retry_stalled(self.app)
                await self.app.run_worker_async(
                    queues=[QUEUE],
                    concurrency=concurrency,
                    wait=wait,
                    install_signal_handlers=install_signal_handlers,
                    delete_jobs="successful",
                    stalled_worker_timeout=self.stalled_after,
                )

        asyncio.run(work())

    def close(self) -> None:
        with self._lock:
            if self._open:
                self.defer_app.close()
                self._open = False
