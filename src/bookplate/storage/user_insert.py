"""A new user on PostgreSQL in one statement: the ``users`` row, its side rows and the audit row.

``SqlUserRepository.add`` sends this instead of one INSERT per table (ten round trips become
one): data-modifying CTEs insert the user, then its ``user_ids``, ``user_identifiers`` and
``user_terms`` rows of its names (its other terms are on the row: ``term_vector``) from arrays
(``unnest``) with the new id, and the ``audit_log`` row. The ID
uniqueness scope is read from ``network_settings`` inside the statement, so it is the one in
force when the statement runs (``set_id_scope`` changes it in a transaction of its own).

One statement is atomic: a clash on a unique key (``DuplicateId``) leaves nothing behind,
even without a transaction around it. SQLite has no data-modifying CTEs; there the repository
keeps its separate statements (round trips cost nothing in process).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Dialect, TextClause, text

from bookplate.network.model import NETWORK_SCOPE_KEY, IdScope
from bookplate.storage import tables as t
from bookplate.storage.network_repo import ID_SCOPE_KEY
from bookplate.storage.rows import id_entries, identifier_pairs, row_order_key, term_rows, user_row
from bookplate.users.model import User
from bookplate.users.queries import search_terms

# user_row's JSON columns; the other values are passed as they are (psycopg adapts them).
_JSON_COLUMNS = frozenset(c.name for c in t.users.columns if isinstance(c.type, JSON))

_STATEMENTS: dict[tuple[str, ...], TextClause] = {}


def _statement(columns: tuple[str, ...]) -> TextClause:
    """The statement for a ``users`` row with these columns (built once per column set)."""
    found = _STATEMENTS.get(columns)
    if found is not None:
        return found
    values = ", ".join(
        f"CAST(:u_{c} AS json)"
        if c in _JSON_COLUMNS
        else f"CAST(:u_{c} AS text[])"
        if c == "search_terms"
        else f":u_{c}"
        for c in columns
    )
    # The names are the table's own columns (user_row's keys), never input.
    sql = f"""
WITH new_user AS (
    INSERT INTO users ({", ".join(columns)}) VALUES ({values}) RETURNING id
), id_scope AS (
    SELECT CASE WHEN CAST(:linked AS boolean)
            OR (SELECT value FROM network_settings WHERE key = :scope_key) = :per_institution
        THEN CAST(:u_institution AS text) ELSE CAST(:network_scope AS text) END AS scope
), ids AS (
    INSERT INTO user_ids (scope, value_norm, user_pk, id_type)
    SELECT id_scope.scope, x.value_norm, new_user.id, x.id_type
    FROM new_user, id_scope,
        unnest(CAST(:id_values AS text[]), CAST(:id_types AS text[])) AS x(value_norm, id_type)
), identifiers AS (
    INSERT INTO user_identifiers (user_pk, id_type, value_norm)
    SELECT new_user.id, x.id_type, x.value_norm
    FROM new_user,
        unnest(CAST(:ident_types AS text[]), CAST(:ident_values AS text[]))
        AS x(id_type, value_norm)
), terms AS (
    INSERT INTO user_terms (user_pk, institution, field, term, order_key)
    SELECT new_user.id, :u_institution, x.field, x.term, x.order_key
    FROM new_user,
        unnest(CAST(:term_fields AS text[]), CAST(:term_values AS text[]),
               CAST(:term_keys AS text[])) AS x(field, term, order_key)
), audit AS (
    INSERT INTO audit_log (at, institution, actor, action, target)
    VALUES (:at, :u_institution, :actor, 'user.add', :u_primary_id)
)
SELECT id FROM new_user"""  # noqa: S608 - constant SQL, every value a bound parameter
    statement = text(sql)
    _STATEMENTS[columns] = statement
    return statement


_DRIVER_SQL: dict[tuple[int, str], tuple[TextClause, str]] = {}


def driver_sql(statement: TextClause, dialect: Dialect) -> str:
    """``statement`` as the driver's SQL text (``%(name)s`` parameters), rendered once."""
    key = (id(statement), dialect.name)
    found = _DRIVER_SQL.get(key)
    if found is None or found[0] is not statement:
        found = _DRIVER_SQL[key] = (statement, str(statement.compile(dialect=dialect)))
    return found[1]


def insert_user(
    user: User, password_hash: str | None, actor: str | None, at: datetime
) -> tuple[TextClause, dict[str, Any]]:
    """The statement and its parameters for ``user``; the result is the new id."""
    pairs = search_terms(user)
    row = user_row(user, password_hash, vector=True, pairs=pairs)
    params: dict[str, Any] = {
        f"u_{name}": json.dumps(value) if name in _JSON_COLUMNS and value is not None else value
        for name, value in row.items()
    }
    # Sorted: concurrent creates then take the unique keys in one order (no deadlock when
    # one's primary ID is the other's barcode and the reverse).
    entries = sorted(id_entries(user))
    identifiers = sorted(identifier_pairs(user))
    terms = term_rows(user, row_order_key(row), vector=True, pairs=pairs)  # the names' rows
    params.update(
        scope_key=ID_SCOPE_KEY,
        per_institution=IdScope.INSTITUTION.value,
        network_scope=NETWORK_SCOPE_KEY,
        # A linked copy's IDs are unique within its institution (network.model).
        linked=user.source_institution_code is not None,
        id_values=[norm for norm, _raw, _type in entries],
        id_types=[id_type for _norm, _raw, id_type in entries],
        ident_types=[k for k, _v in identifiers],
        ident_values=[v for _k, v in identifiers],
        term_fields=[f for f, _v, _k in terms],
        term_values=[v for _f, v, _k in terms],
        term_keys=[k for _f, _v, k in terms],
        at=at,
        actor=actor,
    )
    return _statement(tuple(row)), params
