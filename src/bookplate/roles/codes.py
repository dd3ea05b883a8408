"""Changing an institution's code tables (SPEC section 1.8): add or edit a code, disable it,
make it the table's default, and, for a user group, the record types it is enabled for — in
one call, checked, audited (``audit_log``: ``codes.set``, target ``code:TABLE:CODE``).

Decided here (docs/admin-ui.md): a table has at most one default (making a code the default
takes the mark from the others); a disabled code cannot be the default; codes are disabled,
never removed here (stored records may still hold them); a user group enabled for no record
type is refused with a sentence that says so (no user could be given it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bookplate.errors import InputError, NotFoundError
from bookplate.roles.errors import PermissionDenied
from bookplate.roles.model import Actor
from bookplate.roles.policy import Action, decide
from bookplate.transactions import Transactional
from bookplate.users.model import RecordType
from bookplate.users.ports import CodeRow

GROUP_TABLE = "UserGroups"
RECORD_TYPES = tuple(r.value for r in RecordType)


class CodeTableStore(Protocol):
    """What changing a code table needs of ``users.ports.CodeTables``."""

    def rows(self, institution: str, table: str) -> list[CodeRow]: ...

    def table_names(self, institution: str) -> list[str]: ...

    def allowed_groups(self, institution: str) -> Mapping[str, frozenset[str]]: ...

    def put_row(self, institution: str, table: str, row: CodeRow) -> None: ...

    def remove_row(self, institution: str, table: str, code: str) -> bool: ...

    def set_group_record_types(
        self, institution: str, user_group: str, record_types: frozenset[str]
    ) -> None: ...


class HistoryLog(Protocol):
    """``roles.ports.RolesRepository.record``: one change in the audit log."""

    def record(
        self, institution: str, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None: ...


class CodeTablesUnitOfWork(Transactional, Protocol):
    """The code tables and the history: the SQL unit of work, or on an embedded SQLite file
    the CLI's ``storage/sqlite_codes.py``."""

    @property
    def codes(self) -> CodeTableStore: ...

    @property
    def roles(self) -> HistoryLog: ...


class CodeTableNotFound(NotFoundError):
    def __init__(self, table: str) -> None:
        super().__init__(f"No code table {table}.")


class InvalidCode(InputError):
    pass


@dataclass(frozen=True, slots=True)
class TableView:
    name: str
    rows: list[CodeRow]
    #: Of ``UserGroups``: group -> the record types it is enabled for.
    group_types: dict[str, frozenset[str]]


class CodeTablesAdmin:
    def __init__(
        self, uow_factory: Callable[[], CodeTablesUnitOfWork], changed: Callable[[], None]
    ) -> None:
        self._uow_factory = uow_factory
        self._changed = changed  # clears the cached code books

    @staticmethod
    def _allowed(actor: Actor | None) -> None:
        if actor is None:  # the CLI
            return
        decision = decide(actor, Action.CONFIGURE)
        if not decision:
            raise PermissionDenied(Action.CONFIGURE.value, decision.reason)

    def tables(self, actor: Actor | None, institution: str) -> list[str]:
        self._allowed(actor)
        with self._uow_factory() as uow:
            return sorted(uow.codes.table_names(institution))

    def table(self, actor: Actor | None, institution: str, name: str) -> TableView:
        self._allowed(actor)
        with self._uow_factory() as uow:
            if name not in uow.codes.table_names(institution):
                raise CodeTableNotFound(name)
            rows = uow.codes.rows(institution, name)
            types: dict[str, set[str]] = {}
            if name == GROUP_TABLE:
                for record_type, groups in uow.codes.allowed_groups(institution).items():
                    for group in groups:
                        types.setdefault(group, set()).add(record_type)
        return TableView(name, rows, {g: frozenset(t) for g, t in types.items()})

    def put(
        self,
        actor: Actor | None,
        who: str,
        institution: str,
        table: str,
        row: CodeRow,
        record_types: Iterable[str] | None = None,
    ) -> None:
        """Adds or changes one code; of ``UserGroups`` also the record types it is enabled
        for (``record_types``; None keeps them)."""
        self._allowed(actor)
        checked = _checked(row)
        code, description = checked.code, checked.description
        chosen: frozenset[str] | None = None
        if record_types is not None:
            chosen = frozenset(record_types)
            if table != GROUP_TABLE:
                raise InvalidCode("Only user groups are enabled per record type.")
            if not chosen <= set(RECORD_TYPES):
                raise InvalidCode(f"Record types must be among {', '.join(RECORD_TYPES)}.")
            if row.enabled and not chosen:
                raise InvalidCode(
                    f"The user group {code} must be enabled for at least one record type "
                    "(PUBLIC, STAFF or CONTACT), or no user could be given it."
                )
        with self._uow_factory() as uow:
            if table not in uow.codes.table_names(institution):
                raise CodeTableNotFound(table)
            before = {r.code: r for r in uow.codes.rows(institution, table)}
            if row.default:
                for other in before.values():
                    if other.default and other.code != code:
                        uow.codes.put_row(
                            institution, table,
                            CodeRow(other.code, other.description, other.enabled, False),
                        )
            uow.codes.put_row(institution, table, CodeRow(code, description, row.enabled,
                                                          row.default))
            detail: dict[str, object] = {
                "table": table, "code": code, "description": description,
                "enabled": row.enabled, "default": row.default,
                "new": code not in before,
            }
            if chosen is not None:
                uow.codes.set_group_record_types(institution, code, chosen)
                detail["record_types"] = sorted(chosen)
            uow.roles.record(institution, who, "codes.set", f"code:{table}:{code}", detail)
            uow.commit()
        self._changed()

    def put_many(
        self, actor: Actor | None, who: str, institution: str, table: str, rows: list[CodeRow]
    ) -> int:
        """Adds or changes several codes of one table in one transaction, each checked as
        ``put`` checks one and audited as one ``codes.set`` (``bookplate codes set`` with
        several codes or a file): a bad row changes nothing. How many codes were written."""
        self._allowed(actor)
        checked = [_checked(row) for row in rows]
        if not checked:
            raise InvalidCode("Give at least one code.")
        seen: set[str] = set()
        for row in checked:
            if row.code in seen:
                raise InvalidCode(f"The code {row.code} is given twice.")
            seen.add(row.code)
        defaults = [row.code for row in checked if row.default]
        if len(defaults) > 1:
            raise InvalidCode(f"A table has one default; {', '.join(defaults)} are all marked.")
        with self._uow_factory() as uow:
            if table not in uow.codes.table_names(institution):
                raise CodeTableNotFound(table)
            before = {r.code: r for r in uow.codes.rows(institution, table)}
            if defaults:
                for other in before.values():
                    if other.default and other.code != defaults[0]:
                        uow.codes.put_row(
                            institution, table,
                            CodeRow(other.code, other.description, other.enabled, False),
                        )
            for row in checked:
                uow.codes.put_row(institution, table, row)
                uow.roles.record(institution, who, "codes.set", f"code:{table}:{row.code}", {
                    "table": table, "code": row.code, "description": row.description,
                    "enabled": row.enabled, "default": row.default,
                    "new": row.code not in before,
                })
            uow.commit()
        self._changed()
        return len(checked)

    def remove(self, actor: Actor | None, who: str, institution: str, table: str,
               code: str) -> bool:
        """Removes a code (``bookplate codes remove``; the pages disable codes instead).
        False when the table has no such code. Audited as ``codes.remove``."""
        self._allowed(actor)
        with self._uow_factory() as uow:
            if table not in uow.codes.table_names(institution):
                raise CodeTableNotFound(table)
            if not uow.codes.remove_row(institution, table, code):
                return False
            uow.roles.record(institution, who, "codes.remove", f"code:{table}:{code}",
                             {"table": table, "code": code})
            uow.commit()
        self._changed()
        return True

    def set_group_types(self, actor: Actor | None, who: str, institution: str, group: str,
                        record_types: Iterable[str]) -> None:
        """Enables a user group for these record types and no others (``bookplate codes
        group``). Audited as ``codes.group``."""
        self._allowed(actor)
        chosen = frozenset(record_types)
        if not chosen:
            raise InvalidCode("Give at least one record type (PUBLIC, STAFF or CONTACT).")
        if not chosen <= set(RECORD_TYPES):
            raise InvalidCode(f"Record types must be among {', '.join(RECORD_TYPES)}.")
        with self._uow_factory() as uow:
            if GROUP_TABLE not in uow.codes.table_names(institution):
                raise CodeTableNotFound(GROUP_TABLE)
            if group not in {r.code for r in uow.codes.rows(institution, GROUP_TABLE)}:
                raise InvalidCode(f"{GROUP_TABLE} has no code {group}; add it first.")
            uow.codes.set_group_record_types(institution, group, chosen)
            uow.roles.record(institution, who, "codes.group", f"code:{GROUP_TABLE}:{group}",
                             {"record_types": sorted(chosen)})
            uow.commit()
        self._changed()


def _checked(row: CodeRow) -> CodeRow:
    """The row with its code and description trimmed; InvalidCode when either is unfit."""
    code, description = row.code.strip(), row.description.strip()
    if not code or len(code) > 255 or any(ch.isspace() for ch in code):
        raise InvalidCode("A code must be 1 to 255 characters without spaces.")
    if any(ord(ch) < 32 for ch in description):
        raise InvalidCode(f"The description of {code} holds a control character (such as NUL).")
    if not description or len(description) > 1000:
        raise InvalidCode(f"The code {code} needs a description of at most 1000 characters.")
    if row.default and not row.enabled:
        raise InvalidCode(f"The code {code} is disabled, so it cannot be the default.")
    return CodeRow(code, description, row.enabled, row.default)
