"""What the user services need from the outside world. ``storage`` implements these."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bookplate.transactions import Transactional
from bookplate.users.model import Role, User
from bookplate.users.queries import SearchResult, UserSearch

# ``id_type`` values understood by UserRepository.find besides identifier type codes.
ALL_UNIQUE = "all_unique"
PRIMARY_ID = "primary_id"
LINKING_ID = "linking_id"


@dataclass(frozen=True, slots=True)
class Version:
    """A stored record's version: its last modification date-time (None for none)."""

    last_modified: datetime | None


class UserRepository(Protocol):
    def find(self, institution: str, user_id: str, id_type: str = ALL_UNIQUE) -> User | None:
        """One user by primary ID or identifier (``all_unique``), by ``primary_id`` only, by
        ``linking_id``, or by one identifier type code. Matching uses ``normalise_id``."""
        ...

    def add(self, user: User, password_hash: str | None) -> None:
        """Store a new user. Raises DuplicateId when an ID value is taken in its scope.
        Sets nothing on ``user``: the service stamps dates before calling."""
        ...

    def replace(
        self,
        previous_primary_id: str,
        user: User,
        password_hash: str | None,
        *,
        if_version: Version | None = None,
    ) -> None:
        """Swap the stored record whose primary ID was ``previous_primary_id`` for ``user``.
        ``password_hash`` None keeps the stored hash. Raises DuplicateId like ``add``.
        ``if_version``: write only while the stored record is still that version, else raise
        PreconditionFailed (checked by the write itself, so that a concurrent writer cannot
        slip in between the read and the write)."""
        ...

    def replace_many(self, items: Sequence[tuple[str, User]]) -> None:
        """``replace`` (password kept, no version check) for each ``(previous primary ID,
        user)``, written together in a few statements. Raises UserNotFound when one of them
        is gone (none written) and DuplicateId like ``add``."""
        ...

    def remove(self, institution: str, primary_id: str) -> None: ...

    def lock_institution(self, institution: str) -> None:
        """Hold, until the transaction ends, the institution's lock: the writes that check
        an invariant over all of its users (the last administrator) take it before they
        read, so two of them run one after the other and the second sees the first's
        change. Only inside a write transaction."""
        ...

    def search(self, search: UserSearch) -> SearchResult: ...

    def password_hash(self, institution: str, primary_id: str) -> str | None: ...

    def history(self, institution: str, primary_id: str, limit: int) -> list[HistoryRow]:
        """The user's newest ``limit`` history rows (audit log), newest first."""
        ...


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One change of a user (who, when, what: user.add / user.replace / sis.update ...)."""

    at: datetime
    actor: str | None
    action: str
    detail: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class CodeRow:
    code: str
    description: str
    enabled: bool = True
    default: bool = False


class CodeTables(Protocol):
    """The institution's code tables (SPEC section 1.8) and the user-group/record-type map."""

    def rows(self, institution: str, table: str) -> list[CodeRow]: ...

    def table_names(self, institution: str) -> list[str]: ...

    def descriptions(self, institution: str) -> dict[str, str]:
        """table name -> the table's own description, for the tables that have one."""
        ...

    def describe_table(self, institution: str, table: str, description: str) -> None:
        """Set a table's own description (an empty one removes it: the name describes it)."""
        ...

    def allowed_groups(self, institution: str) -> Mapping[str, frozenset[str]]:
        """record type -> user groups enabled for it."""
        ...

    def put_row(self, institution: str, table: str, row: CodeRow) -> None:
        """Add or change one code (upsert on (institution, table, code))."""
        ...

    def remove_row(self, institution: str, table: str, code: str) -> bool: ...

    def set_group_record_types(
        self, institution: str, user_group: str, record_types: frozenset[str]
    ) -> None: ...

    def seed(
        self, institution: str, tables: Mapping[str, tuple[tuple[str, str], ...]] | None = None
    ) -> dict[str, int]:
        """Fill an institution's tables with ``tables`` (default ``users.defaults``), only the
        rows not yet there; returns how many codes each table gained."""
        ...


class UnitOfWork(Transactional, Protocol):
    users: UserRepository
    codes: CodeTables


class RoleHooks(Protocol):
    """What the roles area does on every create and update (wired in by bootstrap)."""

    def roles_for_new_user(self, institution: str, user: User) -> list[Role]:
        """The user's roles plus those the assignment rules give."""
        ...

    def check(
        self, uow: UnitOfWork, institution: str, before: User | None, after: User | None
    ) -> None:
        """Raise when ``after``'s roles are invalid or the change breaks a role invariant."""
        ...


# Called inside the write transaction, after the record's checks and before it is written,
# with the unit of work, the stored and the new record (None for create / delete): another
# area's work that belongs to the same transaction (bootstrap wires them in; the network's
# host blocks). Raises to refuse the write.
WriteHook = Callable[[UnitOfWork, User | None, User | None], None]

# Called inside the write transaction with the stored and the new record (None for create /
# delete); raises to refuse. The staff policy uses it to see exactly what would be written.
Guard = Callable[[User | None, User | None], None]
