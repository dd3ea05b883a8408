"""The rows of many users at once, as tuples in the column order the set-based writers send
them (COPY on PostgreSQL, multi-row inserts elsewhere): the bulk load (``bulk``) and the SIS
batches (``sis_batch``) build their rows here, so both write exactly what the repository's
one-user path (``rows``) writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, text

from bookplate.network.model import IdScope, uniqueness_scope
from bookplate.storage import tables as t
from bookplate.storage.documents import document_text
from bookplate.storage.rows import id_entries, identifier_pairs, row_order_key, term_rows, user_row
from bookplate.users.model import User
from bookplate.users.queries import search_terms

USER_COLUMNS = (
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
    "search_terms",
)
ID_COLUMNS = ("scope", "value_norm", "user_pk", "id_type")
IDENTIFIER_COLUMNS = ("user_pk", "id_type", "value_norm")
TERM_COLUMNS = ("user_pk", "institution", "field", "term", "order_key")

Row = tuple[Any, ...]


class BatchRows:
    """The rows of one batch of users as tuples in the column order of the ``*_COLUMNS``
    above. ``json_text``: the record as JSON text (what COPY sends), else as a dict.
    ``vector`` (PostgreSQL): the terms on the user row, only the names' in ``user_terms``
    (``term_vector``)."""

    def __init__(
        self, users: list[User], pks: list[int], mode: IdScope, json_text: bool, vector: bool
    ) -> None:
        self.users: list[Row] = []
        self.ids: list[Row] = []
        self.identifiers: list[Row] = []
        self.terms: list[Row] = []
        for pk, user in zip(pks, users, strict=True):
            pairs = search_terms(user)
            row = user_row(user, None, vector=vector, pairs=pairs)
            row["id"] = pk
            if json_text:
                row["record"] = document_text(row["record"])
            self.users.append(tuple(row[c] for c in USER_COLUMNS))
            scope = uniqueness_scope(
                mode, user.institution, linked=user.source_institution_code is not None
            )
            self.ids += [(scope, norm, pk, id_type) for norm, _raw, id_type in id_entries(user)]
            self.identifiers += [(pk, k, v) for k, v in identifier_pairs(user)]
            inst = user.institution
            key = row_order_key(row)
            found = term_rows(user, key, vector=vector, pairs=pairs)
            self.terms += [(pk, inst, f, v, k) for f, v, k in found]

    def tables(self) -> list[tuple[str, tuple[str, ...], list[Row]]]:
        return [
            ("users", USER_COLUMNS, self.users),
            ("user_ids", ID_COLUMNS, self.ids),
            ("user_identifiers", IDENTIFIER_COLUMNS, self.identifiers),
            ("user_terms", TERM_COLUMNS, self.terms),
        ]


def reserve_pks(conn: Connection, count: int) -> list[int]:
    """Primary keys for ``count`` new users, taken before their rows are written."""
    if conn.dialect.name == "postgresql":
        # One array, not a row per key: a batch's thousands of rows cost more than the rest.
        found = conn.execute(
            text(
                "SELECT array_agg(v ORDER BY v) FROM (SELECT nextval("
                "pg_get_serial_sequence('users', 'id')) AS v FROM generate_series(1, :n)) AS s"
            ),
            {"n": count},
        ).scalar_one()
        return [int(v) for v in found or ()]
    # SQLite: the batch's transaction holds the write lock (BEGIN IMMEDIATE).
    top = conn.execute(select(func.coalesce(func.max(t.users.c.id), 0))).scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + count))
