"""Storage of institutions, network settings, partners, linked accounts and the refresh
outbox. ``storage`` implements these."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bookplate.network.model import (
    IdClash,
    IdScope,
    Institution,
    MemberSettings,
    OutboxEntry,
    Partner,
)
from bookplate.users.model import User
from bookplate.users.ports import UnitOfWork


class InstitutionRepository(Protocol):
    def get(self, code: str) -> Institution | None: ...

    def list(self) -> list[Institution]: ...

    def add(self, institution: Institution) -> None: ...

    def id_scope(self) -> IdScope: ...

    def set_id_scope(self, scope: IdScope) -> None:
        """Recompute every stored ID's scope; raises DuplicateId if the new rule is broken."""
        ...

    def id_clashes(self, scope: IdScope, limit: int = 100_000) -> builtins.list[IdClash]:
        """Every ID value more than one user would hold under ``scope`` (none written)."""
        ...


@dataclass(frozen=True, slots=True)
class LinkHolders:
    """What a link checks in the host, read at once (``NetworkRepository.link_holders``):
    the primary ID of its copy of the source user, the (primary ID, source institution)
    of a user holding the linking ID, the primary ID of a user holding the source's ID, and
    the source's modification date when the source lives in this deployment."""

    copy: str | None
    by_linking_id: tuple[str, str | None] | None
    by_id: str | None
    source_modified: datetime | None = None
    source_found: bool = False


class NetworkRepository(Protocol):
    def member(self, institution: str) -> MemberSettings: ...

    def member_of(self, institution: str) -> MemberSettings | None:
        """``member``, or None when there is no such institution (one read)."""
        ...

    def link_holders(self, institution: str, home: str, source_id: str, linking_id: str,
                     *, source_here: bool) -> LinkHolders: ...

    def give_linking_id(self, user: User, linking_id: str) -> bool:
        """``set_linking_id`` of the record just read, written only while it is unchanged
        (False: it changed; use ``set_linking_id``)."""
        ...

    def put_member(self, settings: MemberSettings) -> None: ...

    def partner(self, institution: str, code: str) -> Partner | None: ...

    def partners(self, institution: str) -> list[Partner]: ...

    def put_partner(self, partner: Partner) -> None: ...

    def remove_partner(self, institution: str, code: str) -> bool: ...

    def copies(self, source_institution: str, link_id: str) -> list[User]:
        """The linked accounts of one source user, in every institution of this deployment."""
        ...

    def copy_in(self, institution: str, source_institution: str, link_id: str) -> User | None:
        """``institution``'s linked account of that source user, if any."""
        ...

    def load(self, pk: int) -> User | None:
        """A user by its storage key (the outbox's ``source_pk``)."""
        ...

    def set_linking_id(self, institution: str, primary_id: str, linking_id: str) -> None:
        """Give a user a linking ID (its record and the look-up column), changing nothing
        else and leaving no refresh behind."""
        ...

    def record(
        self, institution: str, actor: str | None, action: str, target: str,
        detail: dict[str, Any],
    ) -> None:
        """One line of the user's history (``audit_log``)."""
        ...

    def history(self, institution: str, target: str) -> list[dict[str, Any]]:
        """The history lines of one user (by primary ID), oldest first."""
        ...

    # -- the refresh outbox (rows are written by storage with every change of a user that
    # has linked accounts, in the transaction of the change) --

    def pending(self, limit: int) -> list[OutboxEntry]:
        """The oldest waiting entries (in the order they were written)."""
        ...

    def lock_source(self, institution: str, link_id: str) -> None:
        """Hold, until the end of the transaction, the right to refresh one source user's
        copies: refreshes of one user are applied one after the other, in order."""
        ...

    def entries_of(self, institution: str, link_id: str, up_to: int) -> list[OutboxEntry]:
        """The waiting entries of one source user up to id ``up_to`` (locked for this
        transaction where the database can)."""
        ...

    # -- the same for a group of source users at once (the outbox pass) --

    def try_lock_sources(self, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """``lock_source`` for each ``(institution, link_id)`` without waiting: the keys
        this transaction now holds; the others are being refreshed by another transaction
        (their entries stay waiting for a later pass)."""
        ...

    def entries_of_sources(self, sources: Sequence[tuple[str, str, int]]) -> list[OutboxEntry]:
        """``entries_of`` for each ``(institution, link_id, up_to)`` (whose locks this
        transaction holds), oldest first."""
        ...

    def load_many(self, pks: Sequence[int]) -> dict[int, User]:
        """``load`` for each key (missing users left out)."""
        ...

    def copies_of_sources(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[User]]:
        """``copies`` for each ``(source institution, link_id)``."""
        ...

    def record_many(
        self, lines: Sequence[tuple[str, str | None, str, str, dict[str, Any] | None]]
    ) -> None:
        """``record`` for each ``(institution, actor, action, target, detail)``."""
        ...

    def done(self, ids: Sequence[int]) -> None: ...

    def failed(self, entry_id: int, error: str) -> None:
        """Count a failed attempt (the entry stays waiting)."""
        ...

    def waiting(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PushEntry:
    """A push owed by a home to a host on another deployment (one per source user and host):
    ``seq`` grows with every change carried, ``link_id`` is the ID the host knows."""

    institution: str
    source_pk: int
    host: str
    link_id: str
    seq: int
    deleted: bool
    attempts: int
    last_error: str | None
    #: A host's blocks owed to the home of its copy ``source_pk`` (``host`` is that home,
    #: ``link_id`` its user): ``network.host_blocks``.
    host_blocks: bool = False


class PushRepository(Protocol):
    """Pushes to linked accounts on other deployments (home side) and the newest push
    applied (host side)."""

    def record_remote_copy(self, institution: str, primary_id: str, host: str) -> None:
        """Remember that ``host`` (on another deployment) holds a copy of this user."""
        ...

    def remote_hosts(self, institution: str, source_pk: int) -> list[str]: ...

    def remote_hosts_of(
        self, users: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], list[str]]:
        """``remote_hosts`` of each ``(institution, source_pk)`` that has any."""
        ...

    def forget_remote_copy(self, institution: str, source_pk: int, host: str) -> None: ...

    def owe(self, institution: str, source_pk: int, host: str, link_id: str, seq: int,
            deleted: bool) -> None:
        """Owe ``host`` a push of this user up to ``seq`` (a waiting push keeps its link ID,
        the one the host still knows)."""
        ...

    def owe_host_blocks(self, institution: str, primary_id: str, home: str,
                        home_user_id: str) -> None:
        """Owe ``home`` (on another deployment) the blocks of this institution's copy
        ``primary_id`` of its user ``home_user_id``, numbered after every push so far."""
        ...

    def due(self, now: datetime, limit: int) -> list[PushEntry]: ...

    def delivered(self, entry: PushEntry) -> bool:
        """Drop the push if no newer change was owed meanwhile (False: one was)."""
        ...

    def push_failed(self, entry: PushEntry, error: str, next_at: datetime) -> None: ...

    def waiting_pushes(self) -> list[PushEntry]: ...

    def seen(self, institution: str, source_institution: str, source_pk: int) -> int | None:
        """The ``seq`` of the newest push applied to this host's copy, if any."""
        ...

    def set_seen(self, institution: str, source_institution: str, source_pk: int,
                 seq: int) -> None: ...


class ZoneRepository(Protocol):
    """The deployment's Network Zone: its central institution and its members."""

    def central(self) -> str | None: ...

    def set_central(self, code: str | None) -> None: ...

    def members(self) -> list[str]: ...

    def is_member(self, code: str) -> bool: ...

    def add_member(self, code: str, actor: str | None) -> bool:
        """False when it was a member already."""
        ...

    def remove_member(self, code: str) -> bool: ...


class NetworkUnitOfWork(UnitOfWork, Protocol):
    institutions: InstitutionRepository
    network: NetworkRepository
    pushes: PushRepository
    zone: ZoneRepository
