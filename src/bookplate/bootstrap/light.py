"""What the code-table commands of the CLI work with (``open_code_tables``): the units of
work and the audited service of the code tables, without SQLAlchemy on an embedded SQLite
file (``storage/sqlite_codes.py``); the full ``Container`` offers the same."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from bookplate.roles.codes import CodeTablesUnitOfWork
from bookplate.storage.sqlite_codes import SqliteCodesUnit

if TYPE_CHECKING:
    from bookplate.network.model import IdScope, Institution
    from bookplate.roles.codes import CodeTablesAdmin


class InstitutionLookup(Protocol):
    def get(self, code: str) -> Institution | None: ...

    def list(self) -> list[Institution]: ...

    def id_scope(self) -> IdScope: ...


class CodesUnitOfWork(CodeTablesUnitOfWork, Protocol):
    """``roles.codes.CodeTablesUnitOfWork`` with the institutions' look-up."""

    @property
    def institutions(self) -> InstitutionLookup: ...


class CodeTablesOnly(Protocol):
    @property
    def uow_factory(self) -> Callable[[], CodesUnitOfWork]: ...

    @property
    def code_tables(self) -> CodeTablesAdmin: ...

    def close(self) -> None: ...


class EmbeddedCodeTables:
    """``CodeTablesOnly`` on the SQLite file ``path`` (a connection per unit of work). No
    code book is cached in this process, so a change has none to clear."""

    def __init__(self, path: str) -> None:
        self.path = path

    def uow_factory(self) -> SqliteCodesUnit:
        return SqliteCodesUnit(self.path)

    @cached_property
    def code_tables(self) -> CodeTablesAdmin:
        from bookplate.roles.codes import CodeTablesAdmin  # noqa: PLC0415 (as the container)

        return CodeTablesAdmin(self.uow_factory, lambda: None)

    def close(self) -> None:
        """Nothing stays open between units of work."""
