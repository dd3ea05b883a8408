"""SIS runs as jobs: a stored *pending* run, its file in the spool, and a queue that executes it.

A run is created ``pending`` (``sis_runs``) with its file under the spool directory
(``<spool>/<run id>.<zip|xml|csv>``) and a small description beside it (``<run id>.json``:
the file, the actor, the batch size). ``JobQueue.enqueue(run_id)`` hands it to a queue:
procrastinate on PostgreSQL (``sis.queue``), a background thread or the caller itself on
SQLite. ``SisJobs.execute`` is the job: ``pending`` -> ``running`` -> ``done`` / ``failed`` /
``aborted``. A process executing a run holds an advisory lock on ``<spool>/<run id>.<db>.lock``
(the kernel drops it when the process dies). A run left ``running`` by a process that is gone
is found by that free lock and marked ``interrupted`` (``SisJobs.sweep``; on PostgreSQL the
queue also re-queues the jobs of dead workers by itself, ``sis.queue``); enqueueing it again
runs the file again from the start, which converges to the state of one clean run
(``sis.apply``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import shutil
import threading
import zipfile
from collections.abc import Callable, Collection
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
#: Runs that may be queued again.
REQUEUEABLE = frozenset({PENDING, RUNNING, INTERRUPTED})
KINDS = ("zip", "xml", "csv")
#: How much of an XML file (or zip member) the upload check reads for a DOCTYPE.
HEAD_BYTES = 64 * 1024


class JobQueue(Protocol):
    """Where pending runs go to be executed."""

    def enqueue(self, run_id: int) -> None: ...

    def queued(self) -> set[int]:
        """Runs the queue still holds a job for, waiting or being executed (their jobs are
        the queue's business, not the sweep's)."""
        ...

    def close(self) -> None: ...


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

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
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


class SisJobs:
    """Creates pending runs, queues them, and executes them (the job itself)."""

    def __init__(self, sis: SisService, store: RunStore, spool: Path, database: str = "") -> None:
        self.sis = sis
        self.store = store
        self.spool = spool
        self.queue: JobQueue | None = None
        # Run ids are per database: the lock's name carries the database too, so that two
        # databases sharing a spool (tests, benchmarks) never take each other's locks.
        self._lock_tag = hashlib.blake2b(database.encode(), digest_size=5).hexdigest()

    # -- creating runs -----------------------------------------------------------------

    def spool_file(self, suffix: str = ".part") -> tuple[IO[bytes], Path]:
        """A new temporary file in the spool (for a streamed upload)."""
        self.spool.mkdir(parents=True, exist_ok=True)
        path = self.spool / f"upload-{os.urandom(8).hex()}{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb"), path

    def create(
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
        target = path.resolve()
        if move or copy:
            self.spool.mkdir(parents=True, exist_ok=True)
            suffix = f".{kind}" if kind in KINDS else path.suffix
            target = (self.spool / f"{run_id}{suffix}").resolve()
            if move:
                os.replace(path, target)
            else:
                shutil.copyfile(path, target)
        ticket = Ticket(str(target), actor, batch_size, owned=move or copy)
        self._ticket_path(run_id).parent.mkdir(parents=True, exist_ok=True)
        self._ticket_path(run_id).write_text(json.dumps(_ticket_dict(ticket)))
        return report

    def submit(self, report: Report) -> Report:
        """Hand a pending run to the queue."""
        assert report.run_id is not None
        if self.queue is None:
            raise RuntimeError("no job queue is configured")
        self.queue.enqueue(report.run_id)
        return report

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
        """Mark ``interrupted`` every run left ``running`` by a process that is gone (its
        lock is free) and that no queue job will resume; the ids. Called when a process
        starts using the jobs (SQLite) and when a worker starts (PostgreSQL)."""
        queued = self.queue.queued() if self.queue is not None else set()
        found: list[int] = []
        for run_id in self.store.run_ids([RUNNING]):
            if run_id in queued:
                continue
            lock = RunLock(self.lock_path(run_id))
            if not lock.acquire():
                continue  # a live process is executing it
            try:
                report = self.store.get_run(run_id)
                if report is None or report.status != RUNNING:
                    continue
                report.status = INTERRUPTED
                report.message = (
                    "the process executing the run stopped before it finished (killed or "
                    f"crashed); `bookplate sis requeue {run_id}` runs the file again"
                )
                report.finished = self.sis.clock().isoformat()
                self.store.finish_run(report)
                found.append(run_id)
                log.warning("sis_run_interrupted", run_id=run_id)
            finally:
                lock.release()
        return found

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
        pending = self.store.get_run(run_id)
        if pending is None:
            raise RunNotFound(run_id)
        if pending.status in FINISHED:
            log.info("sis_run_skipped", run_id=run_id, status=pending.status)
            return pending
        lock = RunLock(self.lock_path(run_id))
        if not lock.acquire():
            log.info("sis_run_busy", run_id=run_id)
            return pending
        try:
            return self._execute_locked(run_id, lock, progress, plan_out)
        finally:
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
            raise
        if items is not None:
            items.flush()
            report.run_id = run_id
            self.store.finish_run(report)
        log.info("sis_run_finished", run_id=run_id, status=report.status, total=report.total)
        self._discard(run_id, ticket)
        lock.release(remove=True)
        return report

    # -- spool -------------------------------------------------------------------------

    def _ticket_path(self, run_id: int) -> Path:
        return self.spool / f"{run_id}.json"

    def lock_path(self, run_id: int) -> Path:
        return self.spool / f"{run_id}.{self._lock_tag}.lock"

    def _ticket(self, run_id: int) -> Ticket | None:
        try:
            data = json.loads(self._ticket_path(run_id).read_text())
        except (OSError, ValueError):
            return None
        ticket = Ticket(
            str(data["path"]), str(data["actor"]), int(data["batch_size"]), bool(data["owned"])
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
    }


class InlineQueue:
    """Executes each run at once, in the caller (CLI on SQLite)."""

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
        # A run this thread executes holds its lock; the waiting ones are still pending.
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
