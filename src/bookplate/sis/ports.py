"""What the SIS services need from storage (``storage.sis_repo`` implements it)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from bookplate.sis.model import Profile, Report
from bookplate.users.model import User


@dataclass(frozen=True, slots=True)
class Found:
    """A stored user found by a match ID, with what its last synchronisation left."""

    pk: int
    fingerprint: str | None  # None unless the record is exactly as the last sync wrote it
    primary_id: str | None = None  # the stored user's (for the report of an unchanged record)


@dataclass(frozen=True, slots=True)
class Holder:
    pk: int
    primary_id: str
    id_type: str


@dataclass(frozen=True, slots=True)
class ItemRow:
    seq: int
    kind: str
    record_no: int | None
    match_id: str | None
    primary_id: str | None
    detail: str | None  # the reason; of an update, its diff as stored (JSON text)

    def to_dict(self) -> dict[str, Any]:
        """The item as exported (CLI ``--json``, the API): an update's diff as an object
        (``diff``: field -> [old, new]), the reason of the others as text (``reason``;
        ``detail`` repeats it for older clients)."""
        diff: Any = None
        reason = self.detail
        if self.kind == "update" and self.detail and self.detail.startswith("{"):
            try:
                diff = json.loads(self.detail)
                reason = None
            except ValueError:
                diff = None
        return {
            "action": self.kind,
            "record": self.record_no,
            "match_id": self.match_id,
            "primary_id": self.primary_id,
            "reason": reason,
            "detail": reason,
            "diff": diff,
        }


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One user's history line for a SIS write (``audit_log``)."""

    action: str  # sis.create / sis.update
    target: str  # the user's primary ID
    detail: dict[str, Any]


class SisBatch(Protocol):
    """One transaction of a run. Nothing is stored unless ``commit`` is called."""

    def lookup(
        self, institution: str, match_id_type: str, norms: Sequence[str]
    ) -> dict[str, Found]: ...

    def load(self, pks: Sequence[int]) -> dict[int, User]: ...

    def id_holders(self, institution: str, norms: Sequence[str]) -> dict[str, Holder]: ...

    def prepare(self, users: Sequence[User]) -> object:
        """Compute ahead what ``create`` of these users will write (their keys reserved,
        nothing written), so that a writer thread only sends it. Called only when the store
        has ``overlap_writes``."""
        ...

    def create(
        self, users: Sequence[tuple[User, str]], prepared: object | None = None
    ) -> list[int]:
        """Insert new users (with their fingerprints); returns their keys. ``prepared``: what
        ``prepare`` returned for the same user objects (ignored when they differ)."""
        ...

    def update(self, users: Sequence[tuple[int, User, str]]) -> None:
        """Swap the stored records (password kept) and their fingerprints."""
        ...

    def set_fingerprints(self, rows: Sequence[tuple[int, str]]) -> None:
        """Remember that these users are exactly what these file records give."""
        ...

    def add_items(self, run_id: int, rows: Sequence[ItemRow]) -> None: ...

    def update_run(self, report: Report) -> None: ...

    def audit(self, institution: str, actor: str, at: datetime, rows: Sequence[AuditRow]) -> None:
        """History rows of the users this batch wrote (one statement or COPY)."""
        ...

    def savepoint(self) -> Any:
        """A context manager: a nested transaction, rolled back alone on error."""
        ...

    def lock_institution(self, institution: str) -> None:
        """Take the institution's lock until this batch ends, as the user services do
        before they read the administrators (``users.ports.UserRepository``): a batch that
        takes an administrator away reads them after the lock, so it and a concurrent API
        change run one after the other."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class SisStore(Protocol):
    def batch(self, *, read_only: bool = False) -> Any:
        """A context manager giving a SisBatch (one transaction). ``read_only``: the batch
        only reads (a dry run, the guard's pass), so it takes no write lock and other
        writers (a dry run's own report items) are not kept waiting by it."""
        ...

    # profiles
    def get_profile(self, institution: str, code: str) -> Profile | None: ...

    def list_profiles(self, institution: str | None) -> list[Profile]: ...

    def put_profile(self, profile: Profile, *, create: bool, actor: str = "system") -> None:
        """Store the profile and its audit row (``sis.profile.create``/``update``) in one
        transaction."""
        ...

    def delete_profile(self, institution: str, code: str, actor: str = "system") -> bool:
        """Remove the profile and write its ``sis.profile.delete`` audit row; False when it
        did not exist (nothing written)."""
        ...

    # runs
    def start_run(self, report: Report) -> int: ...

    def finish_run(self, report: Report) -> None: ...

    def get_run(self, run_id: int) -> Report | None: ...

    def list_runs(self, institution: str, profile: str | None, limit: int) -> list[Report]: ...

    def run_items(
        self, run_id: int, kind: str | None, offset: int, limit: int
    ) -> list[ItemRow]: ...

    # users of a profile
    def profile_user_count(self, institution: str, code: str) -> int: ...

    def missing_users(
        self,
        institution: str,
        code: str,
        seen: Container[int],
        active_only: bool,
        expire_on: date | None,
    ) -> Iterator[tuple[int, str]]:
        """(pk, primary_id) of the profile's external users not in ``seen`` that the missing
        policy would still change, in key order, read a page at a time (no connection is held
        between pages, so the caller may write while it iterates)."""
        ...

    def deactivate(
        self,
        pks: Iterable[int],
        *,
        expire_on: date | None,
        actor: str,
        now: datetime,
        run_id: int | None = None,
        leave: Callable[[SisBatch], Collection[int]] | None = None,
    ) -> None:
        """Set status INACTIVE (``expire_on`` None) or the expiry date, with an audit row per
        user (``sis.deactivate`` / ``sis.expire``), in one transaction. ``leave`` runs first
        in that transaction and names the users to leave as they are (the last
        administrator, read under the institution's lock)."""
        ...
