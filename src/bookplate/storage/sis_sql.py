"""The SIS storage's SQL: PostgreSQL statements that go key by key through an index, the
helpers that send statements, arrays and COPY on the driver's cursor (``SisConnection``), and
the chunking of IN lists elsewhere."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from bookplate.storage.batch_rows import USER_COLUMNS
from bookplate.storage.copy_types import copy_binary
from bookplate.storage.engine import READ_ONLY_OPTION, SQLITE_BEGIN_OPTION
from bookplate.storage.term_vector import on_vector

CHUNK = 900  # bound parameters per IN list (SQLite's limit is far above)

# PostgreSQL: a batch's keys as one array, each key looked up through its index by a lateral
# subquery (``OFFSET 0`` keeps it from being flattened into a join). Planned as joins, these
# read the whole table when its statistics were stale after a load (an IN list was a
# sequential scan; an unnest join a hash join over every user of the institution). Sent on the
# driver's cursor with the array in binary (``SqlSisBatch._driver_rows``): as text, each of a
# batch's tens of thousands of keys was escaped by psycopg and parsed by the server, about
# twice the time of the binary form.
# A read-only batch: any write raises before it is sent; on SQLite it begins DEFERRED.
READ_ONLY = {READ_ONLY_OPTION: True, SQLITE_BEGIN_OPTION: "DEFERRED"}

PG_LOOKUP_PRIMARY = (
    "SELECT k.norm, u.id, u.last_modified_date, f.fingerprint, f.modified, u.primary_id"
    " FROM unnest(CAST(%(norms)b AS text[])) AS k(norm)"
    " CROSS JOIN LATERAL (SELECT id, last_modified_date, primary_id FROM users"
    ' WHERE institution = %(institution)s AND primary_id_norm = k.norm COLLATE "C" OFFSET 0) AS u'
    " LEFT JOIN LATERAL (SELECT fingerprint, modified FROM sis_fingerprints"
    " WHERE user_pk = u.id OFFSET 0) AS f ON true"
)
PG_LOOKUP_IDENTIFIER = (
    "SELECT k.norm, u.id, u.last_modified_date, f.fingerprint, f.modified, u.primary_id"
    " FROM unnest(CAST(%(norms)b AS text[])) AS k(norm)"
    " CROSS JOIN LATERAL (SELECT user_pk FROM user_identifiers"
    ' WHERE id_type = %(id_type)s AND value_norm = k.norm COLLATE "C" OFFSET 0) AS i'
    " CROSS JOIN LATERAL (SELECT id, last_modified_date, primary_id FROM users"
    " WHERE id = i.user_pk AND institution = %(institution)s OFFSET 0) AS u"
    " LEFT JOIN LATERAL (SELECT fingerprint, modified FROM sis_fingerprints"
    " WHERE user_pk = u.id OFFSET 0) AS f ON true"
)
# One index look-up per ID, forced by the lateral subqueries (OFFSET 0 keeps them apart): as
# a plain join the planner hashed every ID of the scope (all of them when IDs are unique
# network-wide), so each batch's check read the whole table and a sync slowed down as it
# went (docs/benchmarks.md, "Figures behind code choices").
PG_HOLDERS = (
    "SELECT i.value_norm, i.user_pk, u.primary_id, i.id_type"
    " FROM unnest(CAST(%(norms)b AS text[])) AS k(norm)"
    " CROSS JOIN LATERAL (SELECT value_norm, user_pk, id_type FROM user_ids"
    ' WHERE scope = %(scope)s AND value_norm = k.norm COLLATE "C" OFFSET 0) AS i'
    " CROSS JOIN LATERAL (SELECT primary_id FROM users WHERE id = i.user_pk OFFSET 0) AS u"
)


PG_MODIFIED = (
    "SELECT u.id, u.last_modified_date FROM unnest(CAST(%(pks)b AS integer[])) AS k(pk)"
    " CROSS JOIN LATERAL (SELECT id, last_modified_date FROM users WHERE id = k.pk OFFSET 0) AS u"
)
# Fingerprints of users that may have one: updated in place, inserted where missing. Sent on
# the driver's cursor with its arrays in binary (``SqlSisBatch._driver_execute``). Only for
# users still there: one removed since the plan read it gets no row (the side tables have no
# foreign keys, nothing would remove it).
PG_UPSERT_FINGERPRINTS = (
    "INSERT INTO sis_fingerprints (user_pk, fingerprint, modified) SELECT k.* FROM unnest("
    "CAST(%(pks)b AS integer[]), CAST(%(fps)b AS text[]), CAST(%(modified)b AS timestamptz[]))"
    " AS k(pk, fp, modified) WHERE EXISTS (SELECT 1 FROM users WHERE id = k.pk)"
    " ON CONFLICT (user_pk) DO UPDATE"
    " SET fingerprint = excluded.fingerprint, modified = excluded.modified"
)
UPSERT_FINGERPRINTS = (
    "INSERT INTO sis_fingerprints (user_pk, fingerprint, modified)"
    " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)"
    " ON CONFLICT (user_pk) DO UPDATE"
    " SET fingerprint = excluded.fingerprint, modified = excluded.modified"
)
# An update's new rows go through a temporary table of the session (``_update_users_pg``).
PG_UPDATES = "sis_user_updates"
PG_UPDATE_TABLE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {PG_UPDATES} (LIKE users) ON COMMIT DELETE ROWS"
)
PG_UPDATE_COLUMNS = tuple(c for c in USER_COLUMNS if c != "password_hash")
PG_UPDATE_USERS = (
    "UPDATE users AS u SET "  # noqa: S608 - column names of the table definition
    + ", ".join(f"{c} = s.{c}" for c in PG_UPDATE_COLUMNS if c != "id")
    + f" FROM {PG_UPDATES} AS s WHERE u.id = s.id"
)


# The key each side table's rows are deleted by in an update (the primary key; on user_ids the
# user too), with the PostgreSQL array type its values are sent as.
SIDE_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "user_ids": (("scope", "text"), ("value_norm", "text"), ("user_pk", "integer")),
    "user_identifiers": (("user_pk", "integer"), ("id_type", "text"), ("value_norm", "text")),
    "user_terms": (("user_pk", "integer"), ("field", "text"), ("term", "text")),
}


def pg_side_rows(table: str, columns: Sequence[str]) -> str:
    """A batch's rows of a side table, found key by key through the table's index on
    ``user_pk``: a lateral subquery per key (``OFFSET 0`` keeps it from being flattened into a
    join), so a table whose statistics are stale (just filled by a load) is never read whole
    by a hash join. In psycopg's parameter style: it is sent on the driver's cursor."""
    return (
        f"SELECT {', '.join('x.' + c for c in columns)}"  # noqa: S608 - table definition names
        " FROM unnest(CAST(%(pks)b AS integer[])) AS k(pk)"
        f" CROSS JOIN LATERAL (SELECT {', '.join(columns)} FROM {table}"
        " WHERE user_pk = k.pk OFFSET 0) AS x"
    )


def pg_delete_rows(table: str, keys: Sequence[tuple[str, str]]) -> str:
    """Delete rows of a side table named by their key columns (one array per column), each
    found through the primary key's index by a lateral subquery (as in ``pg_side_rows``)."""
    arrays = ", ".join(f"CAST(%({c})b AS {kind}[])" for c, kind in keys)
    match = " AND ".join(f"{c} = k.{c}" for c, _ in keys)
    return (
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("  # noqa: S608 - names from SIDE_KEYS
        f" SELECT x.ctid FROM unnest({arrays}) AS k({', '.join(c for c, _ in keys)})"
        f" CROSS JOIN LATERAL (SELECT ctid FROM {table} WHERE {match} OFFSET 0) AS x))"
    )


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def same_time(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    if a.tzinfo is None:
        a = a.replace(tzinfo=UTC)
    if b.tzinfo is None:
        b = b.replace(tzinfo=UTC)
    return a == b


class SisConnection:
    """A connection of the SIS storage, with the way past SQLAlchemy on PostgreSQL."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pg = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
        self._vector = on_vector(conn.dialect)  # the terms on the user row (term_vector)

    def _driver(self) -> Any:
        """The psycopg connection under the batch's, for work past SQLAlchemy (COPY, reads of
        many rows). The batch's transaction is opened first, or a batch whose first statement
        went this way would leave SQLAlchemy's commit() a no-op."""
        if not self.conn.in_transaction():
            self.conn.begin()
        return self.conn.connection.driver_connection

    def _driver_execute(self, statement: str, params: dict[str, Any]) -> None:
        """Run a statement on the driver's cursor. Its arrays go in psycopg's binary format
        (``%(name)b``): dumped as text, every element of a batch's arrays went through
        psycopg's escaping, which cost more Python time than the rest of the statement."""
        with self._driver().cursor() as cursor:
            cursor.execute(statement, params)

    def _driver_rows(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of a statement run as ``_driver_execute`` runs it."""
        with self._driver().cursor() as cursor:
            cursor.execute(statement, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    def _copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self._pg:
            with self._driver().cursor() as cursor:
                copy_binary(cursor, table, columns, rows)
            return
        marks = ", ".join("?" for _ in columns)
        self.conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 - names from code
            [tuple(r) for r in rows],
        )
