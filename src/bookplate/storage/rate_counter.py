"""A per-second call counter shared by every worker, kept in the database."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import Connection, Engine, delete
from sqlalchemy.dialects import postgresql, sqlite

from bookplate.storage import tables as t
from bookplate.storage.transaction import transaction


def _increment(conn: Connection, bucket: str, second: int, amount: int) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE SET count = count + amount RETURNING count."""
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(t.rate_counts).values(bucket=bucket, second=second, count=amount)
    return stmt.on_conflict_do_update(
        index_elements=["bucket", "second"],
        set_={"count": t.rate_counts.c.count + amount},
    ).returning(t.rate_counts.c.count)


class SqlRateCounter:
    """``keys.ports.RateCounter`` on the ``rate_counts`` table: one upsert per call, in its
    own short transaction; old seconds are deleted every ``cleanup_every`` calls."""

    def __init__(self, engine: Engine, keep_seconds: int = 10, cleanup_every: int = 500) -> None:
        self._engine = engine
        self._keep = keep_seconds
        self._cleanup_every = cleanup_every
        self._calls = itertools.count(1)

    def hit(self, bucket: str, second: int, amount: int = 1) -> int:
        """Raises StorageUnavailable when the database cannot take the write (raised by the
        transaction opener; the caller then counts on its own,
        ``keys.services.KeyService.throttle``)."""
        with transaction(self._engine) as conn:
            count = conn.execute(_increment(conn, bucket, second, amount)).scalar_one()
        if next(self._calls) % self._cleanup_every == 0:
            self.cleanup(second)
        return int(count)

    def cleanup(self, now_second: int) -> int:
        """Delete counts older than ``keep_seconds``; returns how many rows went."""
        with transaction(self._engine) as conn:
            result = conn.execute(
                delete(t.rate_counts).where(t.rate_counts.c.second < now_second - self._keep)
            )
            return int(result.rowcount)
