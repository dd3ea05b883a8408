"""SIS runs as jobs: a stored *pending* run, its file in the spool, and a queue that executes it.

A run is created ``pending`` (``sis_runs``) with its file under the spool directory
(``<spool>/<run id>.<db>.<zip|xml|csv>``) and a small description beside it
(``<run id>.<db>.json``, the *ticket*: the file, the actor, the batch size); ``<db>`` stands
for the database (run ids are per database, and databases may share a spool).
``JobQueue.enqueue(run_id)`` hands it to a queue: procrastinate on PostgreSQL
(``storage.sis_queue``),
a background thread or the caller itself on SQLite. ``SisJobs.execute`` is the job:
``pending`` -> ``running`` -> ``done`` / ``failed`` / ``aborted``.

Every run not finished has an owner holding an advisory lock on ``<spool>/<run id>.<db>.lock``
(the kernel drops it when the process dies, however it dies): the process that created it
until it hands it on, the process whose in-process queue holds it, the process executing it —
or, on PostgreSQL, a procrastinate job (``JobQueue.queued``; the queue re-queues the jobs of
dead workers itself, ``storage.sis_queue``). A ``pending`` or ``running`` run with neither has lost
its owner: any look at the runs (``SisJobs.sweep`` / ``refresh``) marks it ``interrupted``, and
enqueueing it again runs the file again from the start, which converges to the state of one
clean run (``sis.apply``).

Beside it: ``sis.spool`` (file names, tickets), ``sis.locks`` (the owner's lock),
``sis.queues`` (the queue protocols and the in-process queues), ``sis.upload`` (the checks
of an uploaded file).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import IO, Any, Protocol

import structlog

from bookplate.sis.apply import DEFAULT_BATCH, Progress
from bookplate.sis.errors import RunNotFound, RunNotQueueable
from bookplate.sis.locks import HANDOFF_WAIT, RunLock
from bookplate.sis.model import Mode, Report
from bookplate.sis.ports import SisStore
from bookplate.sis.queues import JobQueue
from bookplate.sis.report_out import ItemWriter, PlanWriter
from bookplate.sis.services import SisService
from bookplate.sis.spool import Spool, Ticket, mark_inbox_failed

log = structlog.get_logger("bookplate.sis.jobs")

PENDING, RUNNING, INTERRUPTED = "pending", "running", "interrupted"
FINISHED = frozenset({"done", "failed", "aborted"})
#: Runs that have an owner while all is well (probed by a look at the runs).
OWNED = frozenset({PENDING, RUNNING})
#: Runs that may be queued again.
REQUEUEABLE = frozenset({PENDING, RUNNING, INTERRUPTED})


class RunStore(SisStore, Protocol):
    """The SIS store, plus what re-running a run needs."""

    def clear_run_items(self, run_id: int) -> None: ...

    def run_ids(self, statuses: Collection[str], institution: str | None = None) -> list[int]:
        """The runs (of one institution, or all) in one of these states, oldest first."""
        ...


class _ResumeStore:
    """The store as a run sees it when its record exists already: ``start_run`` marks the
    pending run ``running`` (clearing what an interrupted attempt left) instead of adding
    a new one."""

    def __init__(self, store: RunStore, run_id: int) -> None:
        self._store = store
        self._run_id = run_id

    def start_run(self, report: Report) -> int:
        report.run_id = self._run_id
        report.status = RUNNING
        self._store.clear_run_items(self._run_id)
        self._store.finish_run(report)
        return self._run_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class SisJobs:
    """Creates pending runs, queues them, and executes them (the job itself)."""

    def __init__(self, sis: SisService, store: RunStore, spool: Path, database: str = "") -> None:
        self.sis = sis
        self.store = store
        self.spool = spool
        self.files = Spool(spool, database)
        self.queue: JobQueue | None = None
        # Locks of runs this process owns but does not execute yet (created, or waiting in
        # its in-process queue); ``execute`` takes them over.
        self._held: dict[int, RunLock] = {}
        self._held_guard = threading.Lock()

    # -- creating runs -----------------------------------------------------------------

    def spool_file(self, suffix: str = ".part") -> tuple[IO[bytes], Path]:
        """A new temporary file in the spool (for a streamed upload)."""
        return self.files.new_file(suffix)

    def create(  # noqa: PLR0913 - keyword options of a run, as the CLI and API take them
        self,
        institution: str,
        code: str,
        path: Path,
        *,
        mode: Mode = Mode.SYNCHRONIZE,
        dry_run: bool = False,
        actor: str = "SIS",
        source_name: str | None = None,
        kind: str | None = None,
        move: bool = False,
        copy: bool = False,
        batch_size: int = DEFAULT_BATCH,
        inbox: Path | None = None,
    ) -> Report:
        """A pending run of ``path`` with a profile. ``move``/``copy`` put the file in the spool
        (needed when another process executes it); otherwise the run reads ``path`` itself."""
        self.sis.profile(institution, code)
        report = Report(
            None,
            code,
            institution,
            mode,
            dry_run,
            source=(source_name or path.name)[:1000],
            status=PENDING,
            started=self.sis.clock().isoformat(),
        )
        run_id = self.store.start_run(report)
        report.run_id = run_id
        # This process owns the run until it executes it or hands it on (``submit``); the
        # lock is taken before the ticket is written, so a look at the runs that finds a
        # pending run with a ticket and a free lock knows that its owner is gone.
        self._hold(run_id, HANDOFF_WAIT)
        try:
            target = path.resolve()
            if move or copy:
                target = self.files.take(run_id, path, kind, move=move)
            ticket = Ticket(
                str(target),
                actor,
                batch_size,
                owned=move or copy,
                inbox=str(inbox.resolve()) if inbox is not None else None,
            )
            self.files.write(run_id, ticket)
        except BaseException:
            self.release(run_id)
            raise
        return report

    def submit(self, report: Report) -> Report:
        """Hand a pending run to the queue. An in-process queue keeps it owned by this
        process; a queue of its own (procrastinate) owns it once its job is stored."""
        run_id = report.run_id
        assert run_id is not None
        if self.queue is None:
            raise RuntimeError("no job queue is configured")
        if self.queue.in_process:
            self._hold(run_id)
        try:
            self.queue.enqueue(run_id)
        finally:
            if not self.queue.in_process:
                # After the job is stored: a look that then finds the lock free finds the job.
                self.release(run_id)
        return report

    def release(self, run_id: int) -> None:
        """Let go of a run this process owns without executing it (a look at the runs may then
        find it ownerless)."""
        with self._held_guard:
            lock = self._held.pop(run_id, None)
        if lock is not None:
            lock.release()

    def _hold(self, run_id: int, wait: float = 0.0) -> None:
        with self._held_guard:
            if run_id in self._held:
                return
        lock = RunLock(self.lock_path(run_id))
        if not lock.acquire(wait):
            # Another owner (a process executing it): ``execute`` will wait or leave it.
            log.info("sis_run_owned_elsewhere", run_id=run_id)
            return
        with self._held_guard:
            self._held[run_id] = lock

    def requeue(self, run_id: int) -> Report:
        """Queue again a run that was interrupted (``pending``, ``running`` or
        ``interrupted``)."""
        report = self.sis.report(run_id)
        if report.status not in REQUEUEABLE:
            raise RunNotQueueable(run_id, report.status)
        return self.submit(report)

    def stalled(self, institution: str | None = None) -> list[int]:
        """Runs left pending, running or interrupted (candidates for ``requeue``)."""
        return self.store.run_ids(REQUEUEABLE, institution)

    def sweep(self) -> list[int]:
        """Mark ``interrupted`` every pending or running run whose owner is gone; the ids.
        Called by every look at the runs (CLI, API, a new sync, the inbox poll), when a
        process starts using the jobs on SQLite, and when a worker starts."""
        return self._probe(self.store.run_ids(OWNED))

    def refresh(self, reports: list[Report]) -> list[Report]:
        """``reports`` as they are once those of runs whose owner is gone are marked
        ``interrupted``. Only pending and running runs are probed (a lock each, no query
        when none is)."""
        gone = set(self._probe([r.run_id for r in reports if r.status in OWNED and r.run_id]))
        if not gone:
            return reports
        return [(self.store.get_run(r.run_id) or r) if r.run_id in gone else r for r in reports]

    def _probe(self, run_ids: Iterable[int]) -> list[int]:
        with self._held_guard:
            mine = set(self._held)
        locks: dict[int, RunLock] = {}
        try:
            for run_id in run_ids:
                lock = RunLock(self.lock_path(run_id))
                # Held: by its creator, an in-process queue or the process executing it.
                if run_id not in mine and lock.acquire():
                    locks[run_id] = lock
            if not locks:
                return []
            # Asked after the locks are taken: a run handed to the queue meanwhile (its
            # owner let go of the lock once the job was stored) is seen with its job.
            queued = self.queue.queued() if self.queue is not None else set()
            return [r for r, lock in locks.items() if r not in queued and self._interrupt(r, lock)]
        finally:
            for lock in locks.values():
                lock.release()

    def _interrupt(self, run_id: int, lock: RunLock) -> bool:
        """Mark a run whose lock the caller holds ``interrupted`` if it is still owned in
        name only."""
        report = self.store.get_run(run_id)
        if report is None or report.status not in OWNED:
            if report is not None and report.status in FINISHED:
                lock.release(remove=True)  # finished meanwhile: no lock file left behind
            return False
        if report.status == PENDING:
            if not self.files.ticket_path(run_id).exists():
                return False  # being created: its creator takes the lock, then writes this
            what = "the process that was to run it stopped before it started (killed or "
            what += "crashed) while the run was queued"
        else:
            what = "the process executing the run stopped before it finished (killed or crashed)"
        was, report.status = report.status, INTERRUPTED
        report.message = f"{what}; `bookplate sis requeue {run_id}` runs the file again"
        report.finished = self.sis.clock().isoformat()
        self.store.finish_run(report)
        log.warning("sis_run_interrupted", run_id=run_id, was=was)
        return True

    # -- the job -----------------------------------------------------------------------

    def execute(
        self,
        run_id: int,
        *,
        progress: Progress | None = None,
        plan_out: PlanWriter | None = None,
    ) -> Report:
        """Run a stored run's file. Finished runs are left alone (a duplicate delivery), and
        so is a run another live process is executing (it holds the run's lock)."""
        with self._held_guard:
            lock = self._held.pop(run_id, None)  # owned by this process: take it over
        try:
            pending = self.store.get_run(run_id)
            if pending is None:
                raise RunNotFound(run_id)
            if pending.status in FINISHED:
                log.info("sis_run_skipped", run_id=run_id, status=pending.status)
                if lock is not None:
                    lock.release(remove=True)
                return pending
            if lock is None:
                lock = RunLock(self.lock_path(run_id))
                if not lock.acquire(0.0 if pending.status == RUNNING else HANDOFF_WAIT):
                    log.info("sis_run_busy", run_id=run_id)
                    lock = None
                    return pending
            return self._execute_locked(run_id, lock, progress, plan_out)
        finally:
            if lock is not None:
                lock.release()

    def _execute_locked(
        self,
        run_id: int,
        lock: RunLock,
        progress: Progress | None,
        plan_out: PlanWriter | None,
    ) -> Report:
        pending = self.store.get_run(run_id)  # again: it may have finished meanwhile
        if pending is None:
            raise RunNotFound(run_id)
        if pending.status in FINISHED:
            log.info("sis_run_skipped", run_id=run_id, status=pending.status)
            lock.release(remove=True)
            return pending
        ticket = self.files.read(run_id)
        if ticket is None:
            pending.status = "failed"
            pending.message = "the run's file is no longer in the spool"
            pending.finished = self.sis.clock().isoformat()
            self.store.finish_run(pending)
            lock.release(remove=True)
            return pending
        resume = _ResumeStore(self.store, run_id)
        service = SisService(resume, self.sis.users, self.sis.roles, self.sis.clock)
        writer: PlanWriter | None = plan_out
        items: ItemWriter | None = None
        if pending.dry_run:
            # A dry run writes no users; its plan is the run's report.
            resume.start_run(pending)
            items = ItemWriter(self.store, pending, plan_out)
            writer = items
        log.info("sis_run_started", run_id=run_id, profile=pending.profile)
        try:
            report = service.run(
                pending.institution,
                pending.profile,
                Path(ticket.path),
                mode=pending.mode,
                dry_run=pending.dry_run,
                plan_out=writer,
                progress=progress,
                batch_size=ticket.batch_size,
                actor=ticket.actor,
                source_name=pending.source,
            )
        except Exception as exc:
            pending.status = "failed"
            pending.message = f"the run stopped: {exc}"[:4000]
            pending.finished = self.sis.clock().isoformat()
            self.store.finish_run(pending)
            log.exception("sis_run_crashed", run_id=run_id)
            mark_inbox_failed(ticket, pending)
            raise
        if items is not None:
            items.flush()
            report.run_id = run_id
            self.store.finish_run(report)
        log.info("sis_run_finished", run_id=run_id, status=report.status, total=report.total)
        if report.status in ("failed", "aborted"):
            mark_inbox_failed(ticket, report)
        self.files.discard(run_id, ticket)
        lock.release(remove=True)
        return report

    def lock_path(self, run_id: int) -> Path:
        return self.files.lock_path(run_id)
