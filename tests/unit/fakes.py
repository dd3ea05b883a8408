"""In-memory stand-ins for the storage ports, for unit tests of the services."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from bookplate.users.defaults import DEFAULT_CODE_TABLES, DEFAULT_GROUP_RECORD_TYPES
from bookplate.users.errors import DuplicateId, PreconditionFailed
from bookplate.users.model import User, id_values, normalise_id
from bookplate.users.ports import ALL_UNIQUE, LINKING_ID, PRIMARY_ID, CodeRow, Version
from bookplate.users.queries import SearchResult, UserSearch


class MemoryUsers:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[User, str | None]] = {}
        self.locked: list[str] = []

    def _owner(self, value: str) -> str | None:
        for key, (user, _) in self.rows.items():
            if value in id_values(user):
                return key
        return None

    def find(self, institution: str, user_id: str, id_type: str = ALL_UNIQUE) -> User | None:
        norm = normalise_id(user_id)
        for user, _ in self.rows.values():
            if user.institution != institution:
                continue
            if id_type == ALL_UNIQUE and norm in id_values(user):
                return copy.deepcopy(user)
            if id_type == PRIMARY_ID and normalise_id(user.primary_id) == norm:
                return copy.deepcopy(user)
            if id_type == LINKING_ID and user.linking_id == user_id:
                return copy.deepcopy(user)
            if any(
                i.id_type == id_type and normalise_id(i.value or "") == norm
                for i in user.identifiers
            ):
                return copy.deepcopy(user)
        return None

    def _check(self, user: User, skip: str | None) -> None:
        for value in id_values(user):
            owner = self._owner(value)
            if owner is not None and owner != skip:
                raise DuplicateId(value)

    def add(self, user: User, password_hash: str | None) -> None:
        self._check(user, None)
        self.rows[normalise_id(user.primary_id)] = (copy.deepcopy(user), password_hash)

    def replace(
        self,
        previous_primary_id: str,
        user: User,
        password_hash: str | None,
        *,
        if_version: Version | None = None,
    ) -> None:
        old_key = normalise_id(previous_primary_id)
        if if_version is not None:
            current = self.rows.get(old_key)
            if current is None or current[0].last_modified_date != if_version.last_modified:
                raise PreconditionFailed(previous_primary_id)
        self._check(user, old_key)
        _, old_hash = self.rows.pop(old_key)
        self.rows[normalise_id(user.primary_id)] = (
            copy.deepcopy(user),
            password_hash if password_hash is not None else old_hash,
        )

    def replace_many(self, items: Sequence[tuple[str, User]]) -> None:
        for previous_primary_id, user in items:
            self.replace(previous_primary_id, user, None)

    def remove(self, institution: str, primary_id: str) -> None:
        del self.rows[normalise_id(primary_id)]

    def search(self, search: UserSearch) -> SearchResult:
        users = [copy.deepcopy(u) for u, _ in self.rows.values()]
        return SearchResult(users[search.offset : search.offset + search.limit], len(users))

    def lock_institution(self, institution: str) -> None:
        self.locked.append(institution)

    def password_hash(self, institution: str, primary_id: str) -> str | None:
        return self.rows[normalise_id(primary_id)][1]

    def history(self, institution: str, primary_id: str, limit: int) -> list[Any]:
        return []


class MemoryCodes:
    def __init__(self) -> None:
        self.tables = {
            name: [CodeRow(c, d) for c, d in rows] for name, rows in DEFAULT_CODE_TABLES.items()
        }
        self.groups: dict[str, set[str]] = {}
        for group, kinds in DEFAULT_GROUP_RECORD_TYPES.items():
            for kind in kinds:
                self.groups.setdefault(kind, set()).add(group)

    def rows(self, institution: str, table: str) -> list[CodeRow]:
        return list(self.tables.get(table, []))

    def table_names(self, institution: str) -> list[str]:
        return list(self.tables)

    def allowed_groups(self, institution: str) -> Mapping[str, frozenset[str]]:
        return {k: frozenset(v) for k, v in self.groups.items()}

    def put_row(self, institution: str, table: str, row: CodeRow) -> None:
        self.tables.setdefault(table, []).append(row)

    def remove_row(self, institution: str, table: str, code: str) -> bool:
        return False

    def set_group_record_types(
        self, institution: str, user_group: str, record_types: frozenset[str]
    ) -> None:
        for kind in record_types:
            self.groups.setdefault(kind, set()).add(user_group)

    def seed(
        self, institution: str, tables: Mapping[str, tuple[tuple[str, str], ...]] | None = None
    ) -> dict[str, int]:
        return {}


class MemoryUow:
    def __init__(self, users: MemoryUsers, codes: MemoryCodes) -> None:
        self.users = users
        self.codes = codes
        self.committed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def commit(self) -> None:
        self.committed = True


class PlainHasher:
    def hash(self, password: str) -> str:
        return "plain:" + password

    def verify(self, stored_hash: str, password: str) -> bool:
        return stored_hash == "plain:" + password
