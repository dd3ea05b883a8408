"""Storage of institutions, network settings, partners, linked accounts and the refresh
outbox. ``storage`` implements these."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
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


class NetworkRepository(Protocol):
    def member(self, institution: str) -> MemberSettings: ...

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

    def done(self, ids: Sequence[int]) -> None: ...

    def failed(self, entry_id: int, error: str) -> None:
        """Count a failed attempt (the entry stays waiting)."""
        ...

    def waiting(self) -> int: ...


class NetworkUnitOfWork(UnitOfWork, Protocol):
    institutions: InstitutionRepository
    network: NetworkRepository
