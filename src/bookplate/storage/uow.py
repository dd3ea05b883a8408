"""``SqlUnitOfWork``: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, RootTransaction

from bookplate.auth.ports import StaffTokenRepository
from bookplate.errors import StorageUnavailable
from bookplate.keys.ports import ApiKeyRepository
from bookplate.network.ports import InstitutionRepository, NetworkRepository
from bookplate.roles.ports import RolesRepository
from bookplate.storage import outbox
from bookplate.storage.codes_repo import SqlCodeTables
from bookplate.storage.engine import (
    READ_ONLY_OPTION,
    SINGLE_WRITE_OPTION,
    SQLITE_BEGIN_OPTION,
    SingleWrite,
    is_write_failure,
)
from bookplate.storage.keys_repo import SqlApiKeyRepository
from bookplate.storage.network_repo import SqlInstitutionRepository, SqlNetworkRepository
from bookplate.storage.roles_repo import SqlRolesRepository, SqlStaffTokenRepository
from bookplate.storage.users_repo import SqlUserRepository
from bookplate.users.ports import CodeTables, UserRepository

_PG_READ_OPTIONS = {"isolation_level": "AUTOCOMMIT", READ_ONLY_OPTION: True}
_SQLITE_READ_OPTIONS = {SQLITE_BEGIN_OPTION: "DEFERRED", READ_ONLY_OPTION: True}


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

    users: UserRepository
    codes: CodeTables
    institutions: InstitutionRepository
    keys: ApiKeyRepository
    roles: RolesRepository
    staff_tokens: StaffTokenRepository
    network: NetworkRepository

    def __init__(
        self, engine: Engine, *, read_only: bool = False, single_write: bool = False
    ) -> None:
        if read_only and single_write:
            raise ValueError("a unit of work is read-only or single-write, not both")
        self.engine = engine
        self.read_only = read_only
        self.single_write = single_write
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("SqlUnitOfWork used outside its 'with' block")
        return self._connection

    def __enter__(self) -> Self:
        connection = self.engine.connect()
        if self.read_only:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(**_PG_READ_OPTIONS)
            else:
                connection = connection.execution_options(**_SQLITE_READ_OPTIONS)
        elif self.single_write and connection.dialect.name == "postgresql":
            connection = connection.execution_options(
                isolation_level="AUTOCOMMIT", **{SINGLE_WRITE_OPTION: SingleWrite()}
            )
        self._connection = connection
        self._transaction = connection.begin()
        self.users = SqlUserRepository(connection)
        self.codes = SqlCodeTables(connection)
        self.institutions = SqlInstitutionRepository(connection)
        self.keys = SqlApiKeyRepository(connection)
        self.roles = SqlRolesRepository(connection)
        self.staff_tokens = SqlStaffTokenRepository(connection)
        self.network = SqlNetworkRepository(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
            if self._connection is not None:
                outbox.discard(self._connection)
        finally:
            self._transaction = None
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        if exc is not None and is_write_failure(exc):
            # Disk full, read-only database: a typed error the faces can word (503).
            raise StorageUnavailable() from exc

    def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("SqlUnitOfWork.commit() outside its 'with' block")
        if self.read_only:
            raise RuntimeError("SqlUnitOfWork.commit() on a read-only unit of work")
        self._transaction.commit()
        outbox.after_commit(self.connection)
        self._transaction = self.connection.begin()

    def rollback(self) -> None:
        if self._transaction is None:
            raise RuntimeError("SqlUnitOfWork.rollback() outside its 'with' block")
        self._transaction.rollback()
        outbox.discard(self.connection)
        self._transaction = self.connection.begin()
