"""In-process micro-benchmark of the service read paths on ``bookplate_bench`` (no HTTP).

    .venv/bin/python bench/micro.py [--calls 3000] [--scenarios get_id,get_barcode,search]

One thread calls ``UserService.get`` / ``search`` / ``code_book`` and ``KeyService.authenticate``
the way a GET request does, and reports per call: CPU time of this process (less sensitive to
a loaded machine than wall time), wall time, and the database round trips as SQLAlchemy sees
them (statements, BEGIN/COMMIT/ROLLBACK outside AUTOCOMMIT, pool pre-pings; psycopg skips a
ROLLBACK when no statement ran, so the count is an upper bound). Use it to compare
code changes in the same minute; the end-to-end figures come from ``bench/api.py``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import _SURNAME_BASE, DB_URL, INSTITUTION, barcode, primary_id

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.users.queries import UserSearch, parse_q


class RoundTrips:
    """Counts what goes to the server: statements, transaction control, pings."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._hit)
        event.listen(engine, "begin", self._tx)
        event.listen(engine, "commit", self._tx)
        event.listen(engine, "rollback", self._tx)
        event.listen(engine.pool, "checkout", self._checkout)
        self._pings = bool(getattr(engine.pool, "_pre_ping", False))

    def _hit(self, *_args: Any, **_kw: Any) -> None:
        self.count += 1

    def _tx(self, conn: Any, *_args: Any) -> None:
        # BEGIN / COMMIT / ROLLBACK reach the server unless the connection is in AUTOCOMMIT.
        if conn._execution_options.get("isolation_level") != "AUTOCOMMIT":
            self.count += 1

    def _checkout(self, *_args: Any) -> None:
        if self._pings:
            self.count += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--scenarios", default="get_id,get_barcode,search")
    args = parser.parse_args()
    container = build_container(Settings(database_url=DB_URL))
    trips = RoundTrips(container.engine)
    users = container.users
    keys = container.keys
    _key, secret = keys.create(INSTITUTION, "micro", {}, per_second=1_000_000)
    rng = random.Random(1)
    surnames = sorted(set(_SURNAME_BASE))

    def get_id() -> None:
        keys.authenticate(secret)
        users.get(INSTITUTION, primary_id(rng.randrange(args.users)))
        users.code_book(INSTITUTION)

    def get_barcode() -> None:
        keys.authenticate(secret)
        users.get(INSTITUTION, barcode(rng.randrange(args.users)))
        users.code_book(INSTITUTION)

    def search() -> None:
        keys.authenticate(secret)
        conditions = parse_q(f"last_name~{rng.choice(surnames)}")
        users.search(UserSearch(INSTITUTION, conditions, limit=10))
        users.code_book(INSTITUTION)

    calls = {"get_id": get_id, "get_barcode": get_barcode, "search": search}
    try:
        for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
            fn = calls[name]
            n = args.calls if name != "search" else max(50, args.calls // 20)
            for _ in range(min(200, n)):  # warm caches and the statement cache
                fn()
            trips.count = 0
            lat: list[float] = []
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                lat.append(time.perf_counter() - t0)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            lat.sort()
            print(
                f"{name:12s} {n:6d} calls  cpu {cpu / n * 1e6:7.0f} us/call  "
                f"wall {wall / n * 1e6:7.0f} us/call  p99 {lat[int(n * 0.99)] * 1e3:6.2f} ms  "
                f"round trips {trips.count / n:4.1f}/call",
                flush=True,
            )
    finally:
        keys.revoke(_key.key_id)
        container.close()


if __name__ == "__main__":
    main()
