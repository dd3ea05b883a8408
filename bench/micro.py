"""In-process micro-benchmark of the service read paths on ``bookplate_bench`` (no HTTP).

    .venv/bin/python bench/micro.py [--calls 3000]
        [--scenarios get_id,get_barcode,get_json,get_xml,search,search_all,search_general,post]
        [--profile]

One thread calls ``UserService.get`` / ``search`` / ``code_book`` and ``KeyService.authenticate``
the way a GET request does, and reports per call: CPU time of this process (less sensitive to
a loaded machine than wall time), wall time, and the database round trips as SQLAlchemy sees
them (statements, BEGIN/COMMIT/ROLLBACK outside AUTOCOMMIT, SAVEPOINT/RELEASE, pool
pre-pings; psycopg skips a ROLLBACK when no statement ran, so the count is an upper bound).
Use it to compare code changes in the same minute; the end-to-end figures come from
``bench/api.py``.

``post`` does what ``POST /almaws/v1/users`` does around the HTTP layer: key check, the Alma
JSON body through the codec, ``UserService.create`` and the JSON response. Its users (IDs
``bwm…``) are deleted at the end (and by ``bench/api.py``'s clean-up, like its own ``bw…``).
``--profile`` runs each scenario under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import _SURNAME_BASE, DB_URL, INSTITUTION, PSYCOPG_URL, barcode, primary_id

from bookplate.api.wire import read_user, user_response
from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.model import Area
from bookplate.keys.services import MAX_PER_SECOND, parse_areas
from bookplate.users.queries import UserSearch, parse_q

POST_BODY = (
    '{"record_type":{"value":"PUBLIC"},"primary_id":"%s","first_name":"Ada",'
    '"last_name":"Okafor","account_type":{"value":"INTERNAL"},"status":{"value":"ACTIVE"},'
    '"user_group":{"value":"UNDERGRAD"},"expiry_date":"2030-08-30Z","contact_info":{"email":'
    '[{"email_address":"%s@example.edu","preferred":true,"email_type":[{"value":"school"}]}],'
    '"phone":[{"phone_number":"+1 555 010 0001","preferred":true,"phone_type":'
    '[{"value":"mobile"}]}]},"user_identifier":[{"id_type":{"value":"BARCODE"},'
    '"value":"%s-bc"},{"id_type":{"value":"UNIV_ID"},"value":"%s-un"}]}'
)


def _profiler() -> Any:
    """A cProfile profiler on CPU time (waiting for the database is not what is profiled).
    ``bench/profile.py`` would shadow the standard library's ``profile``, which cProfile
    imports: the bench folder is left out of the path for that import."""
    here = Path(__file__).resolve().parent
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.modules.pop("profile", None)
    try:
        import cProfile
    finally:
        sys.path[:] = saved
    return cProfile.Profile(time.process_time)


class RoundTrips:
    """Counts what goes to the server: statements, transaction control, pings."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._hit)
        event.listen(engine, "begin", self._tx)
        event.listen(engine, "commit", self._tx)
        event.listen(engine, "rollback", self._tx)
        for name in ("savepoint", "release_savepoint", "rollback_savepoint"):
            event.listen(engine, name, self._nested)
        event.listen(engine.pool, "checkout", self._checkout)
        self._pings = bool(getattr(engine.pool, "_pre_ping", False))

    def _hit(self, *_args: Any, **_kw: Any) -> None:
        self.count += 1

    def _tx(self, conn: Any, *_args: Any) -> None:
        # BEGIN / COMMIT / ROLLBACK reach the server unless the connection is in AUTOCOMMIT.
        if conn._execution_options.get("isolation_level") != "AUTOCOMMIT":
            self.count += 1

    def _nested(self, *_args: Any) -> None:
        self.count += 1

    def _checkout(self, *_args: Any) -> None:
        if self._pings:
            self.count += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--scenarios", default="get_id,get_barcode,search")
    parser.add_argument("--profile", action="store_true", help="cProfile each scenario")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    container = build_container(Settings(database_url=DB_URL))
    trips = RoundTrips(container.engine)
    users = container.users
    keys = container.keys
    _key, secret = keys.create(
        INSTITUTION, "micro", parse_areas(["users:rw"]), per_second=MAX_PER_SECOND
    )
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

    def get_json() -> None:
        # get_id plus the response body, as GET /almaws/v1/users/{id} builds it (no HTTP).
        keys.authenticate(secret)
        user = users.get(INSTITUTION, primary_id(rng.randrange(args.users)))
        book = users.code_book(INSTITUTION)
        user_response(user, book, True, link=f"http://x/almaws/v1/users/{user.primary_id}")

    def get_xml() -> None:
        keys.authenticate(secret)
        user = users.get(INSTITUTION, primary_id(rng.randrange(args.users)))
        book = users.code_book(INSTITUTION)
        user_response(user, book, False, link=f"http://x/almaws/v1/users/{user.primary_id}")

    def search() -> None:
        keys.authenticate(secret)
        conditions = parse_q(f"last_name~{rng.choice(surnames)}")
        users.search(UserSearch(INSTITUTION, conditions, limit=10))
        users.code_book(INSTITUTION)

    def search_q(field: str) -> Any:
        # q=ALL~<surname> / q=general_info~<surname>: every field, or the general ones
        # (on PostgreSQL through users.search_terms since issue 20).
        def call() -> None:
            keys.authenticate(secret)
            conditions = parse_q(f"{field}~{rng.choice(surnames)}")
            users.search(UserSearch(INSTITUTION, conditions, limit=10))
            users.code_book(INSTITUTION)

        return call

    run = f"bwm{int(time.time())}"
    posted = [0]

    def post() -> None:
        key = keys.authenticate(secret)
        keys.authorise(key, Area.USERS, write=True)
        keys.throttle(key)
        posted[0] += 1
        new = f"{run}-{posted[0]}"
        data = read_user((POST_BODY % (new, new, new, new)).encode(), True)
        user = users.create(key.institution, data, f"api:{key.key_id}")
        book = users.code_book(key.institution)
        user_response(user, book, True, link=f"http://x/almaws/v1/users/{user.primary_id}")

    calls = {
        "get_id": get_id,
        "get_barcode": get_barcode,
        "get_json": get_json,
        "get_xml": get_xml,
        "search": search,
        "search_all": search_q("ALL"),
        "search_general": search_q("general_info"),
        "post": post,
    }
    try:
        for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
            fn = calls[name]
            n = args.calls if not name.startswith("search") else max(50, args.calls // 20)
            for _ in range(min(200, n)):  # warm caches and the statement cache
                fn()
            trips.count = 0
            lat: list[float] = []
            profiler = _profiler() if args.profile else None
            c0, w0 = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                lat.append(time.perf_counter() - t0)
            if profiler is not None:
                profiler.disable()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            lat.sort()
            print(
                f"{name:12s} {n:6d} calls  cpu {cpu / n * 1e6:7.0f} us/call  "
                f"wall {wall / n * 1e6:7.0f} us/call  p99 {lat[int(n * 0.99)] * 1e3:6.2f} ms  "
                f"round trips {trips.count / n:4.1f}/call",
                flush=True,
            )
            if profiler is not None:
                stats = pstats.Stats(profiler)
                stats.sort_stats("tottime").print_stats(args.top)
                stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        keys.revoke(_key.key_id)
        container.close()
        if posted[0]:
            _delete_posted(run)


def _delete_posted(run: str) -> None:
    import psycopg

    with psycopg.connect(PSYCOPG_URL, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE primary_id LIKE %s", (run + "-%",))
        conn.execute("DELETE FROM audit_log WHERE target LIKE %s", (run + "-%",))


if __name__ == "__main__":
    main()
