"""``SqlUnitOfWork``: one connection, one transaction, the repositories bound to it.

Each repository is built the first time the unit's code asks for it, and its module is
imported then: a ``bookplate codes list`` needs the code tables and the institutions, not
the user documents, keys or network stores (docs/benchmarks.md, "CLI")."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Self, TypeVar, overload

from sqlalchemy import Connection, Engine

from bookplate.storage import transaction

if TYPE_CHECKING:
    from bookplate.auth.ports import StaffTokenRepository
    from bookplate.keys.ports import ApiKeyRepository
    from bookplate.network.ports import (
        InstitutionRepository,
        NetworkRepository,
        PushRepository,
        ZoneRepository,
    )
    from bookplate.roles.ports import RolesRepository
    from bookplate.users.ports import CodeTables, UserRepository

R = TypeVar("R")


class _Repository(Generic[R]):
    """A repository of the unit, built on first use within its ``with`` block and kept in
    the unit until the block ends (a non-data descriptor: the instance's value wins after)."""

    def __init__(self, build: Callable[[Connection], R]) -> None:
        self._build = build
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        _REPOSITORIES.append(name)

    @overload
    def __get__(self, unit: None, owner: type) -> Self: ...
    @overload
    def __get__(self, unit: SqlUnitOfWork, owner: type) -> R: ...
    def __get__(self, unit: SqlUnitOfWork | None, owner: type) -> Self | R:
        if unit is None:
            return self
        repository = self._build(unit.connection)
        unit.__dict__[self._name] = repository
        return repository


_REPOSITORIES: list[str] = []


def _users(conn: Connection) -> UserRepository:
    from bookplate.storage.users_repo import SqlUserRepository  # noqa: PLC0415 (on first use)
    return SqlUserRepository(conn)


def _codes(conn: Connection) -> CodeTables:
    from bookplate.storage.codes_repo import SqlCodeTables  # noqa: PLC0415 (on first use)
    return SqlCodeTables(conn)


def _institutions(conn: Connection) -> InstitutionRepository:
    from bookplate.storage.network_repo import SqlInstitutionRepository  # noqa: PLC0415 (on first use)
    return SqlInstitutionRepository(conn)


def _keys(conn: Connection) -> ApiKeyRepository:
    from bookplate.storage.keys_repo import SqlApiKeyRepository  # noqa: PLC0415 (on first use)
    return SqlApiKeyRepository(conn)


def _roles(conn: Connection) -> RolesRepository:
    from bookplate.storage.roles_repo import SqlRolesRepository  # noqa: PLC0415 (on first use)
    return SqlRolesRepository(conn)


def _staff_tokens(conn: Connection) -> StaffTokenRepository:
    from bookplate.storage.roles_repo import SqlStaffTokenRepository  # noqa: PLC0415 (on first use)
    return SqlStaffTokenRepository(conn)


def _network(conn: Connection) -> NetworkRepository:
    from bookplate.storage.network_repo import SqlNetworkRepository  # noqa: PLC0415 (on first use)
    return SqlNetworkRepository(conn)


def _pushes(conn: Connection) -> PushRepository:
    from bookplate.storage.network_pushes import SqlPushRepository  # noqa: PLC0415 (on first use)
    return SqlPushRepository(conn)


def _zone(conn: Connection) -> ZoneRepository:
    from bookplate.storage.network_zone import SqlZoneRepository  # noqa: PLC0415 (on first use)
    return SqlZoneRepository(conn)


class SqlUnitOfWork:
    """Implements ``users.ports.UnitOfWork`` (plus ``institutions`` and ``keys``).

    ``with SqlUnitOfWork(engine) as uow: ...; uow.commit()`` — anything not committed is
    rolled back on exit. After ``commit()`` a new transaction starts, so the unit can go on.

    ``read_only=True`` is for reads only: a write statement raises ``ReadOnlyViolation`` and
    ``commit()`` raises RuntimeError. On SQLite the transaction starts DEFERRED (no write
    lock; one snapshot for the unit). On PostgreSQL the connection runs in AUTOCOMMIT mode:
    no BEGIN / ROLLBACK round trips, each statement sees the data committed when it starts —
    the same visibility as the READ COMMITTED transaction it replaces.

    ``single_write=True`` is for a use case whose only write is one repository call that
    PostgreSQL does in one statement (``users.add``): there the connection runs in AUTOCOMMIT
    mode, so the unit costs no BEGIN / COMMIT round trips and the statement is atomic by
    itself. Any other write — a second one, or one not marked ``ATOMIC_WRITE_OPTION`` by its
    repository — raises ``SingleWriteViolation`` before it is sent, so nothing can be
    half-written. On SQLite it is an ordinary unit (one transaction).
    """

    users = _Repository(_users)
    codes = _Repository(_codes)
    institutions = _Repository(_institutions)
    keys = _Repository(_keys)
    roles = _Repository(_roles)
    staff_tokens = _Repository(_staff_tokens)
    network = _Repository(_network)
    pushes = _Repository(_pushes)
    zone = _Repository(_zone)

    def __init__(
        self, engine: Engine, *, read_only: bool = False, single_write: bool = False
    ) -> None:
        if read_only and single_write:
            raise ValueError("a unit of work is read-only or single-write, not both")
        self.engine = engine
        self.read_only = read_only
        self.single_write = single_write
        self._connection: Connection | None = None
        self._opened: ExitStack | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("SqlUnitOfWork used outside its 'with' block")
        return self._connection

    def __enter__(self) -> Self:
        opened = ExitStack()
        connection = opened.enter_context(
            transaction.connection(
                self.engine, read_only=self.read_only, single_write=self.single_write
            )
        )
        self._forget_repositories()
        self._opened, self._connection = opened, connection
        return self

    def _forget_repositories(self) -> None:
        """Drop the repositories bound to the previous connection (built again on use)."""
        for name in _REPOSITORIES:
            self.__dict__.pop(name, None)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        opened, self._opened, self._connection = self._opened, None, None
        if opened is not None:
            # Rolls back what was not committed; a write failure becomes StorageUnavailable.
            opened.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("SqlUnitOfWork.commit() outside its 'with' block")
        if self.read_only:
            raise RuntimeError("SqlUnitOfWork.commit() on a read-only unit of work")
        transaction.commit(self._connection)

    def rollback(self) -> None:
        if self._connection is None:
            raise RuntimeError("SqlUnitOfWork.rollback() outside its 'with' block")
        transaction.rollback(self._connection)
