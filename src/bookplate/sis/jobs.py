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
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Collection, Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import structlog

from bookplate.errors import ConflictError, InputError
from bookplate.sis.apply import DEACTIVATE_SEQ, DEFAULT_BATCH, PlanWriter, Progress
from bookplate.sis.errors import RunNotFound, SourceError
from bookplate.sis.model import Action, ActionKind, Mode, Report
from bookplate.sis.ports import ItemRow, SisStore
from bookplate.sis.services import SisService
from bookplate.sis.sources import MAX_RATIO

log = structlog.get_logger("bookplate.sis.jobs")

PENDING, RUNNING, INTERRUPTED = "pending", "running", "interrupted"
FINISHED = frozenset({"done", "failed", "aborted"})
#: Runs that have an owner while all is well (probed by a look at the runs).
OWNED = frozenset({PENDING, RUNNING})
#: Runs that may be queued again.
REQUEUEABLE = frozenset({PENDING, RUNNING, INTERRUPTED})
KINDS = ("zip", "xml", "csv")
#: How much of an XML file (or zip member) the upload check reads for a DOCTYPE.
HEAD_BYTES = 64 * 1024
#: Seconds a process waits for the lock of a run that is not running: its holder is a
#: process creating the run or handing it to the queue, or a look at the runs, each of which
#: lets go within moments (a running run's lock is held for the whole run: no wait).
HANDOFF_WAIT = 10.0


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


class RunStore(SisStore, Protocol):
    """The SIS store, plus what re-running a run needs."""

    def clear_run_items(self, run_id: int) -> None: ...

    def run_ids(self, statuses: Collection[str], institution: str | None = None) -> list[int]:
        """The runs (of one institution, or all) in one of these states, oldest first."""
        ...


class UploadError(SourceError):
    """An upload that is refused before any run is created."""


class EmptyUpload(UploadError):
    def __init__(self) -> None:
        super().__init__("the uploaded file is empty")


class UploadTooLarge(InputError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The uploaded file is larger than the {limit} bytes allowed.")
        self.limit = limit


class RunNotQueueable(ConflictError):
    def __init__(self, run_id: int, status: str) -> None:
        super().__init__(
            f"SIS run {run_id} is {status}; only pending, running or interrupted runs can "
            "be queued."
        )


def kind_of(content_type: str | None, filename: str | None) -> str | None:
    """'zip' / 'xml' / 'csv' from a Content-Type or a file name (None: sniff the content)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in ("application/zip", "application/x-zip-compressed", "application/x-zip"):
        return "zip"
    if ctype in ("application/xml", "text/xml"):
        return "xml"
    if ctype in ("text/csv", "application/csv"):
        return "csv"
    suffix = Path(filename or "").suffix.lower().lstrip(".")
    return suffix if suffix in KINDS else None


def _refuse_dtd(head: bytes, where: str) -> None:
    upper = head.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise UploadError(f"{where}: a DOCTYPE or entity declaration is not allowed (XML bomb?)")


def check_upload(path: Path, declared: str | None) -> str:
    """Cheap checks before a run is created; the kind ('zip', 'xml', 'csv') of the file.

    Refuses an empty file, a declared zip that is not one, an archive without .xml/.csv
    members or with a member compressed more than the bomb ratio, and XML with a DOCTYPE.
    The run's reader applies every guard again while streaming the whole file."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head:
        raise EmptyUpload()
    found: str | None = None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        found = "zip"
    elif head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        found = "xml"
    elif declared == "csv":
        found = "csv"
    if declared == "zip" and found != "zip":
        raise UploadError("the file is not a zip archive")
    if declared == "xml" and found != "xml":
        raise UploadError("the file is not XML")
    if found is None:
        raise UploadError(
            "the file is neither a zip archive nor XML (send CSV as text/csv or name it .csv)"
        )
    if found == "zip":
        _check_zip(path)
    elif found == "xml":
        _refuse_dtd(head, "the file")
    return found


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                i
                for i in archive.infolist()
                if not i.is_dir() and i.filename.lower().endswith((".xml", ".csv"))
            ]
            if not members:
                raise UploadError("the zip archive holds no .xml or .csv file")
            for info in members:
                if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                    raise UploadError(
                        f"zip member {info.filename} is compressed more than {MAX_RATIO}:1 "
                        "(zip bomb?)"
                    )
                if info.filename.lower().endswith(".xml"):
                    with archive.open(info) as member:
                        _refuse_dtd(member.read(HEAD_BYTES), f"zip member {info.filename}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise UploadError(f"the file is not a readable zip archive ({exc})") from None
    except NotImplementedError as exc:  # unsupported compression method
        raise UploadError(f"the zip archive cannot be read ({exc})") from None


class _ItemWriter(PlanWriter):
    """Stores the plan of a dry run as the run's report items (in chunks), passing each
    action on to an export writer when there is one."""

    CHUNK = 1000

    def __init__(self, store: SisStore, run: Report, inner: PlanWriter | None) -> None:
        # No stream of its own: ``write`` is overridden.
        self.store = store
        self.run = run
        self.run_id = run.run_id or 0
        self.inner = inner
        self.rows: list[ItemRow] = []
        self.seq = 0
        self.deactivations = 0

    def write(self, action: Action) -> None:
        if self.inner is not None:
            self.inner.write(action)
        detail: str | None = action.reason or None
        if action.kind is ActionKind.UPDATE and action.diff:
            detail = json.dumps(action.diff, ensure_ascii=False, default=str)
        if action.kind is ActionKind.DEACTIVATE:
            seq = DEACTIVATE_SEQ + self.deactivations
            self.deactivations += 1
        else:
            self.seq += 1
            seq = self.seq
        self.rows.append(
            ItemRow(
                seq, action.kind.value, action.record_no, action.match_id, action.primary_id, detail
            )
        )
        if len(self.rows) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        with self.store.batch() as batch:
            # The run's row first: it opens the transaction the items are copied in.
            batch.update_run(self.run)
            batch.add_items(self.run_id, self.rows)
            batch.commit()
        self.rows = []


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


@dataclass(frozen=True, slots=True)
class Ticket:
    """What the spool keeps beside a run's file."""

    path: str
    actor: str
    batch_size: int
    owned: bool  # the spool's copy (deleted when the run finishes), not the caller's file
    #: The inbox file the run came from, renamed ``.handled`` when queued: a run that ends
    #: failed or aborted renames it ``.failed`` with the reason beside it (``.failed.txt``).
    inbox: str | None = None


class SisJobs:
    """Creates pending runs, queues them, and executes them (the job itself)."""

    def __init__(self, sis: SisService, store: RunStore, spool: Path, database: str = "") -> None:
        self.sis = sis
        self.store = store
        self.spool = spool
        self.queue: JobQueue | None = None
        # Run ids are per database: every spool name carries the database too, so that two
        # databases sharing a spool (deployments, tests) never read each other's tickets nor
        # take each other's locks. ``database`` is its identity (``storage.identity``), the
        # same however a process spells the URL.
        self._tag = hashlib.blake2b(database.encode(), digest_size=5).hexdigest()
        # Locks of runs this process owns but does not execute yet (created, or waiting in
        # its in-process queue); ``execute`` takes them over.
        self._held: dict[int, RunLock] = {}
        self._held_guard = threading.Lock()

    # -- creating runs -----------------------------------------------------------------

    def spool_file(self, suffix: str = ".part") -> tuple[IO[bytes], Path]:
        """A new temporary file in the spool (for a streamed upload)."""
        self.spool.mkdir(parents=True, exist_ok=True)
        path = self.spool / f"upload-{os.urandom(8).hex()}{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb"), path

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
                self.spool.mkdir(parents=True, exist_ok=True)
                suffix = f".{kind}" if kind in KINDS else path.suffix
                target = (self.spool / f"{self._name(run_id)}{suffix}").resolve()
                if move:
                    os.replace(path, target)
                else:
                    shutil.copyfile(path, target)
            ticket = Ticket(
                str(target),
                actor,
                batch_size,
                owned=move or copy,
                inbox=str(inbox.resolve()) if inbox is not None else None,
            )
            self._ticket_path(run_id).parent.mkdir(parents=True, exist_ok=True)
            self._ticket_path(run_id).write_text(json.dumps(_ticket_dict(ticket)))
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
            if not self._ticket_path(run_id).exists():
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
        ticket = self._ticket(run_id)
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
        items: _ItemWriter | None = None
        if pending.dry_run:
            # A dry run writes no users; its plan is the run's report.
            resume.start_run(pending)
            items = _ItemWriter(self.store, pending, plan_out)
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
            _mark_inbox_failed(ticket, pending)
            raise
        if items is not None:
            items.flush()
            report.run_id = run_id
            self.store.finish_run(report)
        log.info("sis_run_finished", run_id=run_id, status=report.status, total=report.total)
        if report.status in ("failed", "aborted"):
            _mark_inbox_failed(ticket, report)
        self._discard(run_id, ticket)
        lock.release(remove=True)
        return report

    # -- spool -------------------------------------------------------------------------

    def _name(self, run_id: int) -> str:
        return f"{run_id}.{self._tag}"

    def _ticket_path(self, run_id: int) -> Path:
        return self.spool / f"{self._name(run_id)}.json"

    def lock_path(self, run_id: int) -> Path:
        return self.spool / f"{self._name(run_id)}.lock"

    def _ticket(self, run_id: int) -> Ticket | None:
        try:
            data = json.loads(self._ticket_path(run_id).read_text())
        except (OSError, ValueError):
            return None
        inbox = data.get("inbox")
        ticket = Ticket(
            str(data["path"]),
            str(data["actor"]),
            int(data["batch_size"]),
            bool(data["owned"]),
            str(inbox) if inbox else None,
        )
        return ticket if Path(ticket.path).is_file() else None

    def _discard(self, run_id: int, ticket: Ticket) -> None:
        with suppress(OSError):
            if ticket.owned:
                Path(ticket.path).unlink()
            self._ticket_path(run_id).unlink()


def _ticket_dict(ticket: Ticket) -> dict[str, Any]:
    return {
        "path": ticket.path,
        "actor": ticket.actor,
        "batch_size": ticket.batch_size,
        "owned": ticket.owned,
        "inbox": ticket.inbox,
    }


def _mark_inbox_failed(ticket: Ticket, report: Report) -> None:
    """Rename a failed run's inbox file from ``.handled`` to ``.failed`` and write why beside
    it (``NAME.failed.txt``). Best effort: a worker that cannot see the inbox leaves it."""
    if ticket.inbox is None:
        return
    handled = Path(ticket.inbox)
    failed = handled.with_name(handled.name.removesuffix(".handled") + ".failed")
    try:
        os.replace(handled, failed)
        failed.with_name(failed.name + ".txt").write_text(
            f"run {report.run_id} {report.status}: {report.message}\n", encoding="utf-8"
        )
    except OSError as exc:
        log.warning("sis_inbox_not_marked", run_id=report.run_id, path=str(handled), error=str(exc))


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
