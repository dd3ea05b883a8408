"""Live refresh on PostgreSQL: a procrastinate job works the outbox (``bookplate network
worker`` runs the workers).

Each commit that wrote outbox rows defers one ``network_refresh`` job (a queueing lock keeps
at most one waiting); a periodic task defers one every minute as well, so rows whose
notification was lost (a process killed between commit and defer) are still reached. The job
carries nothing: it works whatever the outbox holds (``NetworkService.process_outbox``), so a
job delivered twice, or two workers at once, do no harm — each source user's entries are
taken under a lock and deleted with the refresh of its copies.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued

from bookplate.storage.sis_queue import conninfo, ensure_schema

log = structlog.get_logger("bookplate.storage.network_queue")

TASK = "bookplate.network_refresh"
SWEEP_TASK = "bookplate.network_refresh_sweep"
QUEUE = "bookplate_network"


class NetworkRefreshQueue:
    """Defers and works ``network_refresh`` jobs; ``work`` is the outbox pass."""

    def __init__(self, database_url: str, work: Callable[[], object]) -> None:
        self.dsn = conninfo(database_url)
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self.dsn))
        self.defer_app = procrastinate.App(
            connector=procrastinate.SyncPsycopgConnector(conninfo=self.dsn, min_size=1, max_size=2)
        )
        self._lock = threading.Lock()
        self._schema_ready = False
        self._open = False
        self._closed = False

        def network_refresh() -> None:
            work()

        self.app.task(name=TASK, queue=QUEUE, pass_context=False)(network_refresh)
        self.task = self.defer_app.task(name=TASK, queue=QUEUE, pass_context=False)(
            network_refresh
        )

        def sweep(timestamp: int) -> None:
            work()

        self.app.periodic(cron="* * * * *")(
            self.app.task(name=SWEEP_TASK, queue=QUEUE, queueing_lock=SWEEP_TASK,
                          pass_context=False)(sweep)
        )

    def ready(self) -> None:
        with self._lock:
            if not self._schema_ready:
                ensure_schema(self.dsn)
                self._schema_ready = True

    def notify(self) -> None:
        """Defer a job (none if one is already waiting). Never raises: the periodic pass
        reaches rows whose job could not be deferred."""
        if self._closed:
            return
        try:
            self.ready()
            with self._lock:
                if not self._open:
                    self.defer_app.open()
                    self._open = True
            self.task.configure(queueing_lock="network-refresh").defer()
        except AlreadyEnqueued:
            pass
        except Exception:  # the outbox rows are kept; the periodic pass will find them
            log.exception("network_refresh_defer_failed")

    def run_worker(
        self, *, concurrency: int = 1, wait: bool = True, install_signal_handlers: bool = True
    ) -> None:
        self.ready()

        async def run() -> None:
            async with self.app.open_async():
                await self.app.run_worker_async(
                    queues=[QUEUE],
                    concurrency=concurrency,
                    wait=wait,
                    install_signal_handlers=install_signal_handlers,
                    delete_jobs="successful",
                )

        asyncio.run(run())

    def close(self) -> None:
        """Stop deferring (the outbox keeps its rows for the workers)."""
        with self._lock:
            self._closed = True
            if self._open:
                self.defer_app.close()
                self._open = False
