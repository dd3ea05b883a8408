"""The spool: a run's file (``<run id>.<db>.<zip|xml|csv>``), its ticket beside it
(``<run id>.<db>.json``: the file, the actor, the batch size) and its lock file. ``<db>``
stands for the database: run ids are per database, and databases may share a spool."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import structlog

from bookplate.sis.model import Report
from bookplate.sis.sources.formats import spool_suffix

log = structlog.get_logger("bookplate.sis.jobs")


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "actor": self.actor,
            "batch_size": self.batch_size,
            "owned": self.owned,
            "inbox": self.inbox,
        }


class Spool:
    def __init__(self, directory: Path, database: str = "") -> None:
        self.directory = directory
        # Run ids are per database: every spool name carries the database too, so that two
        # databases sharing a spool (deployments, tests) never read each other's tickets nor
        # take each other's locks. ``database`` is its identity (``storage.identity``), the
        # same however a process spells the URL.
        self._tag = hashlib.blake2b(database.encode(), digest_size=5).hexdigest()

    def name(self, run_id: int) -> str:
        return f"{run_id}.{self._tag}"

    def ticket_path(self, run_id: int) -> Path:
        return self.directory / f"{self.name(run_id)}.json"

    def lock_path(self, run_id: int) -> Path:
        return self.directory / f"{self.name(run_id)}.lock"

    def new_file(self, suffix: str = ".part") -> tuple[IO[bytes], Path]:
        """A new temporary file in the spool (for a streamed upload)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"upload-{os.urandom(8).hex()}{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb"), path

    def take(self, run_id: int, path: Path, kind: str | None, *, move: bool) -> Path:
        """Move (or copy) a run's file into the spool, named for the run and its kind (the
        file's own ending when the kind is not known)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = (self.directory / f"{self.name(run_id)}{spool_suffix(kind, path)}").resolve()
        if move:
            os.replace(path, target)
        else:
            shutil.copyfile(path, target)
        return target

    def write(self, run_id: int, ticket: Ticket) -> None:
        path = self.ticket_path(run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ticket.to_dict()))

    def read(self, run_id: int) -> Ticket | None:
        """The run's ticket, when it and the file it names are there."""
        try:
            data = json.loads(self.ticket_path(run_id).read_text())
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

    def discard(self, run_id: int, ticket: Ticket) -> None:
        with suppress(OSError):
            if ticket.owned:
                Path(ticket.path).unlink()
            self.ticket_path(run_id).unlink()


def mark_inbox_failed(ticket: Ticket, report: Report) -> None:
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
