"""Latency of own-password checks: ``POST /almaws/v1/users/{id}?op=auth`` and the web sign-in
(``POST /auth/login``), in process through the ASGI app (no network), on SQLite or on the
database in BOOKPLATE_BENCH_DATABASE_URL. Prints p50/p95/p99 in milliseconds.

    .venv/bin/python bench/auth.py [--n 200]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from urllib.parse import quote

from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.users.model import User, UserInput

PASSWORD = "correct-horse-battery"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, times: list[float]) -> None:
    ms = [t * 1000 for t in times]
    print(f"{name:<22} n={len(ms):<5} p50={statistics.median(ms):6.1f} ms  "
          f"p95={pct(ms, 0.95):6.1f} ms  p99={pct(ms, 0.99):6.1f} ms  max={max(ms):6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = os.environ.get("BOOKPLATE_BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.db")
    settings = Settings(database_url=url, cache_seconds=5, redis_url=os.environ.get(
        "BOOKPLATE_BENCH_REDIS_URL"), session_cookie_secure=False)
    c = build_container(settings, migrate=True)
    c.add_institution("BENCH", "Bench")
    _, key = c.keys.create("BENCH", "ro", parse_areas(["users:ro"]), 100_000)
    if not _exists(c):
        c.users.create("BENCH", UserInput(User("bench1", first_name="B", last_name="Ench",
                                               user_group="UNDERGRAD"), PASSWORD), "bench")
    client = TestClient(create_app(settings, c), follow_redirects=False)
    headers = {"Authorization": f"apikey {key}", "Exl-User-Pw": quote(PASSWORD)}
    for _ in range(5):
        client.post("/almaws/v1/users/bench1?op=auth", headers=headers)
    times = []
    for _ in range(args.n):
        start = time.perf_counter()
        r = client.post("/almaws/v1/users/bench1?op=auth", headers=headers)
        times.append(time.perf_counter() - start)
        assert r.status_code == 204, r.text
    report("op=auth", times)
    times = []
    for _ in range(args.n):
        page = client.get("/auth/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        start = time.perf_counter()
        r = client.post("/auth/login", data={"csrf_token": token.group(1), "username": "bench1",
                                             "password": PASSWORD, "institution": "BENCH"})
        times.append(time.perf_counter() - start)
        assert r.status_code == 303, r.text
        client.cookies.clear()
    report("web password login", times)
    c.close()


def _exists(c: object) -> bool:
    from bookplate.users.errors import UserNotFound

    try:
        c.users.get("BENCH", "bench1")  # type: ignore[attr-defined]
        return True
    except UserNotFound:
        return False


if __name__ == "__main__":
    main()
