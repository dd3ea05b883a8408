"""Server time and size of the staff pages on ``bookplate_bench`` (1,000,000 users).

    .venv/bin/python bench/seed.py --reuse          # once: loads the users (minutes)
    .venv/bin/python bench/staff_ui.py [--requests 300] [--warmup 30]

Signs a User Manager in through the sign-in form, then asks for the find-users page by name
(the start of a surname; a first-name start plus a surname start), by barcode (a scan: the
answer is the redirect to the user's page), and for user pages (General and History tabs) of
random seeded users. Server time is measured inside the ASGI app, from the request's arrival
to the last byte of the answer (no client, no network); the app runs in this process on
the PostgreSQL database with its usual thread pools. Prints p50/p95/p99/max in ms and the
page sizes (HTML only; the assets are fixed: see docs/staff-ui.md). The staff member it
creates (``bench-staff``) is left for the next run.
"""

from __future__ import annotations

import argparse
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DB_URL, FIRST_NAMES, INSTITUTION, barcode, primary_id, surnames

from bookplate.api.app import create_app
from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.users.errors import UserNotFound
from bookplate.users.model import Role, User, UserInput

STAFF = "bench-staff"
PASSWORD = "correct-horse-battery-41"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Timed:
    """ASGI wrapper: the server time of each answer, from arrival to its last body byte."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - start

        await self.app(scope, receive, timed_send)


def staff_member(container: Any) -> None:
    try:
        container.users.get(INSTITUTION, STAFF)
    except UserNotFound:
        container.users.create(INSTITUTION, UserInput(User(
            STAFF, record_type="STAFF", user_group="STAFF", first_name="Bench",
            last_name="Staff", roles=[Role("21", INSTITUTION)]), PASSWORD), "bench")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1] * 1000,
            "mean": statistics.fmean(ordered) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--users", type=int, default=1_000_000)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    settings = Settings(database_url=DB_URL, redis_url=None, session_cookie_secure=False)
    container = build_container(settings)
    staff_member(container)
    timed = Timed(create_app(settings, container))
    rng = random.Random(7)
    names = surnames()
    results: dict[str, dict[str, float]] = {}
    with TestClient(timed, raise_server_exceptions=True) as client:  # type: ignore[arg-type]
        page = client.get("/auth/login")
        token = CSRF.search(page.text)
        assert token is not None
        signed = client.post("/auth/login", data={
            "csrf_token": token.group(1), "institution": INSTITUTION, "username": STAFF,
            "password": PASSWORD, "next": "/auth/me"}, follow_redirects=False)
        assert signed.headers.get("location") == "/staff/", signed.text[:300]
        scenarios: dict[str, tuple[Callable[[], str], int]] = {
            "find by surname start": (lambda: f"/staff/users?q={rng.choice(names)[:4]}", 200),
            "find by first + surname start": (
                lambda: f"/staff/users?q={rng.choice(FIRST_NAMES)[:3]}+{rng.choice(names)[:3]}",
                200),
            "find by barcode (scan)": (
                lambda: f"/staff/users?q={barcode(rng.randrange(args.users))}", 303),
            "user page (General)": (
                lambda: f"/staff/users/{primary_id(rng.randrange(args.users))}", 200),
            "user page (History)": (
                lambda: f"/staff/users/{primary_id(rng.randrange(args.users))}?tab=history",
                200),
        }
        for name, (url_of, status) in scenarios.items():
            times: list[float] = []
            sizes: list[int] = []
            for n in range(args.warmup + args.requests):
                r = client.get(url_of(), follow_redirects=False)
                assert r.status_code == status, (name, r.status_code, r.text[:300])
                if n >= args.warmup:
                    times.append(timed.last)
                    sizes.append(len(r.content))
            results[name] = {**percentiles(times), "bytes_mean": statistics.fmean(sizes),
                             "bytes_max": max(sizes)}
    container.close()
    print(f"{platform.node()} {platform.processor() or platform.machine()}, "
          f"{time.strftime('%Y-%m-%d')}, {args.requests} requests per scenario")
    print("| Page | p50 ms | p95 ms | p99 ms | max ms | HTML bytes (mean / max) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['max']:.1f} "
              f"| {r['bytes_mean']:,.0f} / {r['bytes_max']:,.0f} |")


if __name__ == "__main__":
    main()
