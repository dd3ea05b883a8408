"""The batch reads of a sync look each key up by index on PostgreSQL: how many rows they
read follows the batch, not the table (a hash join over all IDs of the scope made every batch
of a large sync slower than the one before)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bookplate.storage import sis_sql
from bookplate.storage.bulk import bulk_insert_users
from bookplate.users.model import Identifier, User

STORED = 6000


def _scans(plan: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The plan's nodes reading ``table``."""
    own = [plan] if plan.get("Relation Name") == table else []
    return own + [s for child in plan.get("Plans", []) for s in _scans(child, table)]


def _rows_read(plan: dict[str, Any], table: str) -> int:
    """Rows the plan's scans of ``table`` returned, summed over their loops (a node's count
    is its average per loop, rounded: exact when each loop finds one row)."""
    return sum(s["Actual Rows"] * s["Actual Loops"] for s in _scans(plan, table))


def _looked_up_by(plan: dict[str, Any], table: str, column: str) -> bool:
    """Whether every read of ``table`` is an index look-up on ``column`` (not a scan of a
    whole range of the table)."""
    scans = _scans(plan, table)
    return bool(scans) and all(
        s["Node Type"] in ("Index Scan", "Index Only Scan")
        and re.search(rf"\(?\b{column}\)?(::\w+)? = ", s.get("Index Cond", "")) is not None
        for s in scans
    )


def _explain(engine: Engine, statement: str, params: dict[str, Any]) -> dict[str, Any]:
    """The plan of a statement sent on the driver's cursor, as the batch sends it."""
    with engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
            found: dict[str, Any] = cursor.fetchone()[0][0]["Plan"]
        conn.rollback()
        return found


@pytest.fixture
def stored(engine: Engine) -> Iterator[Engine]:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statements")
    users = (
        User(
            f"p{i}",
            institution="MAIN",
            identifiers=[Identifier("BARCODE", f"b{i}"), Identifier("UNIV_ID", f"u{i}")],
        )
        for i in range(STORED)
    )
    assert bulk_insert_users(engine, users) == STORED
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    yield engine


def test_the_id_check_reads_only_the_ids_asked_about(stored: Engine) -> None:
    asked = [f"new{i}" for i in range(3000)] + ["b7", "u8", "p9"]
    with stored.connect() as conn:
        scopes = list(conn.execute(text("SELECT DISTINCT scope FROM user_ids")).scalars())
    assert len(scopes) == 1  # all 18,000 IDs in one scope
    plan = _explain(stored, sis_sql.PG_HOLDERS, {"norms": asked, "scope": scopes[0]})
    # not a hash of the 18,000 IDs of the scope: one look-up per ID asked about
    assert _looked_up_by(plan, "user_ids", "value_norm"), plan
    assert _looked_up_by(plan, "users", "id"), plan
    assert _rows_read(plan, "users") == 3


def test_the_last_modified_read_reads_only_the_users_asked_about(stored: Engine) -> None:
    with stored.connect() as conn:
        pks = list(conn.execute(text("SELECT id FROM users ORDER BY id LIMIT 2500")).scalars())
    plan = _explain(stored, sis_sql.PG_MODIFIED, {"pks": pks})
    assert _looked_up_by(plan, "users", "id"), plan
    assert _rows_read(plan, "users") == 2500  # not the 6,000 stored
