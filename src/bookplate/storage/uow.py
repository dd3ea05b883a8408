"""``SqlUnitOfWork``: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from bookplate.auth.ports import StaffTokenRepository
from bookplate.keys.ports import ApiKeyRepository
from bookplate.network.ports import (
    InstitutionRepository,
    NetworkRepository,
    PushRepository,
    ZoneRepository,
)
from bookplate.roles.ports import RolesRepository
from bookplate.storage import transaction
from bookplate.storage.codes_repo import SqlCodeTables
from bookplate.storage.keys_repo import SqlApiKeyRepository
from bookplate.storage.network_pushes import SqlPushRepository
from bookplate.storage.network_repo import SqlInstitutionRepository, SqlNetworkRepository
from bookplate.storage.network_zone import SqlZoneRepository
from bookplate.storage.roles_repo import SqlRolesRepository, SqlStaffTokenRepository
from bookplate.storage.users_repo import SqlUserRepository
from bookplate.users.ports import CodeTables, UserRepository


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
    pushes: PushRepository
    zone: ZoneRepository

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
        self._opened, self._connection = opened, connection
        self.users = SqlUserRepository(connection)
        self.codes = SqlCodeTables(connection)
        self.institutions = SqlInstitutionRepository(connection)
        self.keys = SqlApiKeyRepository(connection)
        self.roles = SqlRolesRepository(connection)
        self.staff_tokens = SqlStaffTokenRepository(connection)
        self.network = SqlNetworkRepository(connection)
        self.pushes = SqlPushRepository(connection)
        self.zone = SqlZoneRepository(connection)
        return self

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
