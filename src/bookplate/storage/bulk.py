"""Set-based loading of many users (benchmark seeding, first imports).

Each batch is one transaction: user primary keys are reserved for the whole batch at once,
then the four tables are written with one COPY each on PostgreSQL (psycopg 3) or one
multi-row ``executemany`` each elsewhere. No audit rows are written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import IdScope, uniqueness_scope
from bookplate.storage import tables as t
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.rows import id_entries, identifier_pairs, term_pairs, user_row
from bookplate.users.errors import DuplicateId
from bookplate.users.model import User

_USER_COLUMNS = (
    "id",
    "institution",
    "primary_id",
    "primary_id_norm",
    "record",
    "password_hash",
    "last_name_sort",
    "first_name_sort",
    "user_group",
    "record_type",
    "account_type",
    "external_id",
    "status",
    "linking_id",
    "source_institution_code",
    "source_link_id",
    "created_date",
    "last_modified_date",
    "expiry_date",
    "purge_date",
)
_ID_COLUMNS = ("scope", "value_norm", "user_pk", "id_type")
_IDENTIFIER_COLUMNS = ("user_pk", "id_type", "value_norm")
_TERM_COLUMNS = ("user_pk", "institution", "field", "term")

_KEY_DETAIL = re.compile(r"\)=\((.*)\) already exists")


def _batches(items: Iterable[User], size: int) -> Iterator[list[User]]:
    chunk: list[User] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Batch:
    """The rows of one batch, as dicts (column name -> value)."""

    def __init__(self, users: list[User], pks: list[int], mode: IdScope) -> None:
        self.users: list[dict[str, Any]] = []
        self.ids: list[dict[str, Any]] = []
        self.identifiers: list[dict[str, Any]] = []
        self.terms: list[dict[str, Any]] = []
        for pk, user in zip(pks, users, strict=True):
            row = user_row(user, None)
            row["id"] = pk
            self.users.append(row)
            scope = uniqueness_scope(mode, user.institution)
            self.ids.extend(
                {"scope": scope, "value_norm": norm, "user_pk": pk, "id_type": id_type}
                for norm, _raw, id_type in id_entries(user)
            )
            self.identifiers.extend(
                {"user_pk": pk, "id_type": k, "value_norm": v} for k, v in identifier_pairs(user)
            )
            inst = user.institution
            self.terms.extend(
                {"user_pk": pk, "institution": inst, "field": f, "term": v}
                for f, v in term_pairs(user)
            )


def _reserve_pks(conn: Connection, count: int) -> list[int]:
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('users', 'id')) FROM generate_series(1, :n)"
            ),
            {"n": count},
        ).scalars()
        return sorted(int(v) for v in rows)
    # SQLite: the batch's transaction holds the write lock (BEGIN IMMEDIATE).
    top = conn.execute(select(func.coalesce(func.max(t.users.c.id), 0))).scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + count))


def _copy(conn: Connection, batch: _Batch) -> None:
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cursor:
        for table, columns, rows in (
            ("users", _USER_COLUMNS, batch.users),
            ("user_ids", _ID_COLUMNS, batch.ids),
            ("user_identifiers", _IDENTIFIER_COLUMNS, batch.identifiers),
            ("user_terms", _TERM_COLUMNS, batch.terms),
        ):
            if not rows:
                continue
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(sql) as copy:
                if table == "users":
                    for row in rows:
                        copy.write_row(
                            tuple(
                                json.dumps(row[c], separators=(",", ":"))
                                if c == "record"
                                else row[c]
                                for c in columns
                            )
                        )
                else:
                    for row in rows:
                        copy.write_row(tuple(row[c] for c in columns))


def _insert(conn: Connection, batch: _Batch) -> None:
    conn.execute(insert(t.users), batch.users)
    conn.execute(insert(t.user_ids), batch.ids)
    if batch.identifiers:
        conn.execute(insert(t.user_identifiers), batch.identifiers)
    if batch.terms:
        conn.execute(insert(t.user_terms), batch.terms)


def _duplicate(error: BaseException) -> DuplicateId:
    detail = getattr(getattr(error, "diag", None), "message_detail", None) or str(error)
    match = _KEY_DETAIL.search(detail)
    value = match.group(1).split(", ")[-1] if match else "?"
    return DuplicateId(value, "all_unique")


def bulk_insert_users(engine: Engine, users: Iterable[User], batch: int = 5000) -> int:
    """Insert ``users`` (new, with ``institution`` set) in batches; returns how many.

    Raises DuplicateId when an ID is taken (the failing batch is rolled back; earlier
    batches stay). Passwords are not set."""
    total = 0
    for chunk in _batches(users, max(batch, 1)):
        try:
            with engine.begin() as conn:
                mode = read_id_scope(conn)
                rows = _Batch(chunk, _reserve_pks(conn, len(chunk)), mode)
                if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
                    _copy(conn, rows)
                else:
                    _insert(conn, rows)
        except IntegrityError as error:
            raise _duplicate(error.orig or error) from None
        except psycopg.errors.UniqueViolation as error:
            raise _duplicate(error) from None
        total += len(chunk)
    return total
