"""``storage.transaction``, the one opener every store uses: what a block keeps, what it
drops, and what a read-only one refuses. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, func, insert, select

from bookplate.storage import tables as t
from bookplate.storage.engine import ReadOnlyViolation
from bookplate.storage.transaction import commit, connection, transaction

_ROW = {"bucket": "opener", "second": 1, "count": 1}


def _count(engine: Engine) -> int:
    with transaction(engine, read_only=True) as conn:
        rows = select(func.count()).select_from(t.rate_counts)
        return int(conn.execute(rows.where(t.rate_counts.c.bucket == "opener")).scalar_one())


def test_a_transaction_keeps_what_it_wrote_when_it_ends_without_error(engine: Engine) -> None:
    with transaction(engine) as conn:
        conn.execute(insert(t.rate_counts).values(**_ROW))
    assert _count(engine) == 1


def test_a_transaction_that_raises_keeps_nothing(engine: Engine) -> None:
    with pytest.raises(LookupError), transaction(engine) as conn:
        conn.execute(insert(t.rate_counts).values(**_ROW))
        raise LookupError("half-way")
    assert _count(engine) == 0


def test_a_connection_keeps_only_what_was_committed(engine: Engine) -> None:
    with connection(engine) as conn:
        conn.execute(insert(t.rate_counts).values(**_ROW))
        commit(conn)
        # After commit the next statement begins a new transaction, dropped at the end.
        conn.execute(insert(t.rate_counts).values(**{**_ROW, "second": 2}))
    assert _count(engine) == 1


@pytest.mark.parametrize("opener", ["transaction", "connection"])
def test_a_read_only_block_refuses_a_write_before_it_is_sent(
    engine: Engine, opener: str
) -> None:
    opened = transaction if opener == "transaction" else connection
    with pytest.raises(ReadOnlyViolation), opened(engine, read_only=True) as conn:
        conn.execute(select(func.count()).select_from(t.rate_counts)).scalar_one()
        conn.execute(delete(t.rate_counts))
    assert _count(engine) == 0


def test_read_only_and_single_write_do_not_mix(engine: Engine) -> None:
    with (
        pytest.raises(ValueError, match="read-only or single-write"),
        connection(engine, read_only=True, single_write=True),
    ):
        pass


def test_a_sqlite_read_does_not_take_the_write_lock(engine: Engine) -> None:
    """On SQLite a read-only block begins DEFERRED: a writer goes on while it is open."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    with transaction(engine, read_only=True) as reader:
        reader.execute(select(func.count()).select_from(t.rate_counts)).scalar_one()
        with transaction(engine) as writer:
            writer.execute(insert(t.rate_counts).values(**_ROW))
    assert _count(engine) == 1
