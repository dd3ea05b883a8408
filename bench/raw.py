"""The raw-SQL baseline: the queries behind each API scenario, through psycopg, no HTTP.

Each of ``processes`` processes holds one connection and runs its scenario in a closed loop
for ``warmup + duration`` seconds; latencies of the last ``duration`` seconds are kept.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INSTITUTION, PSYCOPG_URL, barcode, primary_id

# What UserRepository.find(..., ALL_UNIQUE) sends.
GET_SQL = (
    "SELECT u.institution, u.record FROM users u JOIN user_ids i ON i.user_pk = u.id "
    "WHERE u.institution = %(inst)s AND (i.scope = '*' OR i.scope = %(inst)s) "
    "AND i.value_norm = %(v)s ORDER BY u.id LIMIT 1"
)
# What UserRepository.search sends for q=last_name~<word>&limit=10: one statement, the page
# read in order from the term index (the name terms carry the user's order_key) with its count
# from the same index range as a scalar subquery; records read for the page only.
_TERM = "t.institution = %(inst)s AND t.field = 'last_name' AND t.term = %(term)s"
SEARCH_SQL = (
    f"SELECT (SELECT count(*) FROM user_terms t WHERE {_TERM}) AS total, "
    "u.institution, u.record FROM users u JOIN ("
    f"SELECT t.user_pk, t.order_key FROM user_terms t WHERE {_TERM} "
    "ORDER BY t.order_key LIMIT 10 OFFSET 0"
    ") AS page ON page.user_pk = u.id ORDER BY page.order_key"
)
MARK = "zzmark"


def _post_template() -> tuple[str, dict[str, Any]]:
    """What ``SqlUserRepository.add`` sends on PostgreSQL for one new user (the one statement
    of ``storage.user_insert``: user, side rows, audit row), with MARK where the ID goes."""
    from datetime import UTC, date, datetime

    from sqlalchemy.dialects.postgresql import psycopg as pg_dialect

    from bookplate.storage.user_insert import insert_user
    from bookplate.users.model import ContactInfo, Email, Identifier, Phone, User

    now = datetime.now(UTC)
    user = User(
        primary_id=MARK,
        institution=INSTITUTION,
        first_name="Ada",
        last_name="Okafor",
        user_group="UNDERGRAD",
        expiry_date=date(2030, 8, 30),
        identifiers=[Identifier("BARCODE", MARK + "-bc"), Identifier("UNIV_ID", MARK + "-un")],
        contact_info=ContactInfo(
            emails=[Email(MARK + "@example.edu", email_types=["school"], preferred=True)],
            phones=[Phone("+1 555 010 0001", phone_types=["mobile"], preferred=True)],
        ),
        created_by="api:raw",
        created_date=now,
        last_modified_by="api:raw",
        last_modified_date=now,
    )
    statement, params = insert_user(user, None, "api:raw", now)
    return str(statement.compile(dialect=pg_dialect.dialect())), params


def _sub(value: Any, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(MARK, new)
    if isinstance(value, list):
        return [_sub(v, new) for v in value]
    return value


def _worker(
    scenario: str,
    users: int,
    surnames: list[str],
    warmup: float,
    duration: float,
    seq: int,
    out: Any,
) -> None:
    rng = random.Random(seq * 7919 + int(time.time()))
    lat: list[int] = []
    extra = 0
    template = _post_template() if scenario == "post" else None
    with psycopg.connect(PSYCOPG_URL, autocommit=True) as conn:
        start = time.perf_counter()
        measure_from = start + warmup
        end = measure_from + duration
        n = 0
        while True:
            t0 = time.perf_counter()
            if t0 >= end:
                break
            if scenario in ("get_id", "get_barcode"):
                i = rng.randrange(users)
                value = primary_id(i) if scenario == "get_id" else barcode(i)
                row = conn.execute(GET_SQL, {"inst": INSTITUTION, "v": value}).fetchone()
                assert row is not None
            elif scenario == "search":
                args = {"inst": INSTITUTION, "term": rng.choice(surnames).lower()}
                page = conn.execute(SEARCH_SQL, args).fetchall()
                extra += int(page[0][0]) if page else 0
            else:
                assert template is not None
                n += 1
                new = f"br{seq}-{int(start)}-{n}"
                sql, params = template
                # One statement in AUTOCOMMIT mode, as the API's single-write unit sends it.
                conn.execute(sql, {k: _sub(v, new) for k, v in params.items()}).fetchone()
            t1 = time.perf_counter()
            if t0 >= measure_from:
                lat.append(int((t1 - t0) * 1_000_000))
    out.put({"lat": lat, "extra": extra})


def run(
    scenario: str,
    processes: int,
    users: int,
    surnames: list[str],
    warmup: float,
    duration: float,
) -> dict[str, float]:
    """Throughput (per second) and latency percentiles (ms) of the raw query loop."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(scenario, users, surnames, warmup, duration, i, queue))
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        parts = [queue.get(timeout=warmup + duration + 120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    lat = sorted(x for part in parts for x in part["lat"])
    if not lat:
        return {"rps": 0.0}

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(len(lat) * q / 100))] / 1000

    return {
        "rps": len(lat) / duration,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "mean_ms": sum(lat) / len(lat) / 1000,
        "avg_matches": (sum(p["extra"] for p in parts) / len(lat)) if scenario == "search" else 0,
    }
