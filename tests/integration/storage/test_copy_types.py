"""Binary COPY types come from the table definitions, and every column of the tables the
set-based writes COPY into has one."""

from __future__ import annotations

import pytest
from sqlalchemy import LargeBinary

from bookplate.storage import tables as t
from bookplate.storage.copy_types import _type_name, copy_types

COPIED = (
    "users",
    "user_ids",
    "user_identifiers",
    "user_terms",
    "sis_fingerprints",
    "sis_run_items",
    "audit_log",
)


@pytest.mark.parametrize("table", COPIED)
def test_every_copied_column_has_a_type(table: str) -> None:
    columns = tuple(c.name for c in t.metadata.tables[table].c)
    assert len(copy_types(table, columns)) == len(columns)


def test_types_follow_the_columns() -> None:
    assert copy_types("users", ("id", "record", "created_date", "expiry_date")) == (
        "int4",
        "text",  # JSON: the document's text as it is
        "timestamptz",
        "date",
    )
    assert copy_types("sis_user_updates", ("id",)) == ("int4",)  # made LIKE users


def test_a_column_type_without_a_binary_form_here_is_refused() -> None:
    with pytest.raises(TypeError, match="no binary COPY type"):
        _type_name(LargeBinary())
