"""Fulfillment network benchmark (issue 18), PostgreSQL:

(a) create a linked copy (``POST /almaws/v1/users?source_institution_code=…``), one request at
    a time: in one deployment (home and host in one ``bookplate serve``) and across two
    ``bookplate serve`` processes on loopback (the host fetches the source over HTTP);
(b) live refresh: 10,000 sources with one linked copy each, all changed by an SIS sync; the
    time from the sync's start until every copy holds its source's new record, with the sync
    running at the same time as the ``bookplate network worker`` processes.

    .venv/bin/python bench/network.py [--links 500] [--users 10000] [--workers 2]
                                      [--scenarios link,refresh]

Each scenario runs in fresh schemas of ``BENCH_PG`` (default the ``test`` database), dropped
afterwards; logs of the servers and workers go to ``$BENCH_STATE`` (/tmp/bookplate-bench).
Prints one JSON line per scenario and a summary; docs/benchmarks.md ("Networks") holds the
figures of the last run with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

import bookplate

sys.path.insert(0, str(Path(__file__).parent))
from sis import drop_pg, fresh_pg, write_file  # the SIS benchmark's file and schemas

from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.network.model import new_copy
from bookplate.sis.model import Profile
from bookplate.storage import tables as t
from bookplate.storage.bulk import bulk_insert_users
from bookplate.users.model import ContactInfo, Email, User

STATE = Path(os.environ.get("BENCH_STATE", "/tmp/bookplate-bench"))
BIN = Path(sys.executable).parent


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


SERVERS: list[int] = []  # pids of the running ``bookplate serve`` processes
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds so far of these processes and their live children (from /proc)."""
    stats = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(status.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])))
    wanted, total = set(pids), 0
    for pid, (parent, ticks) in stats.items():
        if pid in wanted or parent in wanted:
            total += ticks
    return total / TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def container(url: str) -> Container:
    return build_container(Settings(database_url=url, redis_url=None, cache_seconds=0),
                           migrate=True)


def env(url: str) -> dict[str, str]:
    out = {**os.environ, "BOOKPLATE_DATABASE_URL": url, "BOOKPLATE_LOG_LEVEL": "warning"}
    out.pop("BOOKPLATE_REDIS_URL", None)
    return out


@contextmanager
def server(url: str, name: str) -> Iterator[str]:
    port = free_port()
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / f"network-{name}.log").open("ab") as log:
        proc = subprocess.Popen([str(BIN / "bookplate"), "serve", "--port", str(port)],
                                env=env(url), stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    SERVERS.append(proc.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"bookplate serve ({name}) did not start")
            time.sleep(0.2)
        yield base
    finally:
        SERVERS.remove(proc.pid)
        proc.terminate()
        proc.wait(30)


def key(c: Container, institution: str) -> str:
    return c.keys.create(institution, "bench", parse_areas(["users:rw", "conf:rw"]),
                         100_000)[1]


def sources(institution: str, n: int) -> Iterator[User]:
    for i in range(n):
        user = User(primary_id=f"n{i:06d}", first_name="Jo", last_name=f"Walker{i}",
                    user_group="UNDERGRAD", contact_info=ContactInfo(emails=[
                        Email(f"jo{i}@a.example.edu", preferred=True, email_types=["school"])]))
        user.institution = institution
        yield user


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 1)}


def time_links(host_url: str, host_key: str, home: str, n: int, warmup: int) -> dict[str, float]:
    headers = {"Authorization": f"apikey {host_key}", "Accept": "application/json"}
    samples = []
    cpu = 0.0
    with httpx.Client(timeout=30) as http:
        for i in range(n + warmup):
            if i == warmup:
                cpu = cpu_seconds(SERVERS)
            began = time.perf_counter()
            r = http.post(f"{host_url}/almaws/v1/users?source_institution_code={home}"
                          f"&source_user_id=n{i:06d}", headers=headers)
            took = time.perf_counter() - began
            if r.status_code != 200:
                raise RuntimeError(f"link {i}: {r.status_code} {r.text[:300]}")
            if i >= warmup:
                samples.append(took)
    # The servers' own CPU per link (PostgreSQL's not counted): steadier than the latency
    # on a shared machine.
    server_cpu_ms = round(1000 * (cpu_seconds(SERVERS) - cpu) / max(n, 1), 2)
    return {**percentiles(samples), "server_cpu_ms_per_link": server_cpu_ms}


def bench_link_one(n: int, warmup: int) -> dict[str, Any]:
    url, schema = fresh_pg()
    try:
        c = container(url)
        c.add_institution("HOME", "Home")
        c.add_institution("HOST", "Host")
        c.network.put_partner("HOST", "HOME", {"user_group": "GRAD"}, "bench")
        bulk_insert_users(c.engine, sources("HOME", n + warmup))
        host_key = key(c, "HOST")
        c.close()
        with server(url, "one") as base:
            return {"scenario": "link_one_deployment", "load_before": load(),
                    **time_links(base, host_key, "HOME", n, warmup), "load_after": load()}
    finally:
        drop_pg(schema)


def bench_link_two(n: int, warmup: int) -> dict[str, Any]:
    url_a, schema_a = fresh_pg()
    url_b, schema_b = fresh_pg()
    try:
        a = container(url_a)
        a.add_institution("A", "Home")
        bulk_insert_users(a.engine, sources("A", n + warmup))
        key_a = key(a, "A")
        b = container(url_b)
        b.add_institution("B", "Host")
        key_b = key(b, "B")
        with server(url_a, "a") as base_a, server(url_b, "b") as base_b:
            b.network.put_partner("B", "A", {"user_group": "GRAD", "base_url": base_a,
                                             "api_key": key_a}, "bench")
            a.network.put_partner("A", "B", {"base_url": base_b, "api_key": key_b}, "bench")
            a.close()
            b.close()
            return {"scenario": "link_two_deployments", "load_before": load(),
                    **time_links(base_b, key_b, "A", n, warmup), "load_after": load()}
    finally:
        drop_pg(schema_a)
        drop_pg(schema_b)


# The copies whose name differs from their source's. Each source found through its unique
# index (a lateral look-up per copy; the bench's IDs are already normalised). Joined on
# ``primary_id``, which has no index, one count read every pair of the 20,000 rows and took
# minutes of a core, so the first progress sample came when the run was over.
STALE_COPIES = sa.text(
    "SELECT count(*) FROM users c CROSS JOIN LATERAL (SELECT last_name_sort FROM users"
    " WHERE institution = 'MAIN' AND primary_id_norm = c.source_link_id COLLATE \"C\""
    " OFFSET 0) AS s WHERE c.institution = 'HOST' AND c.source_institution_code = 'MAIN'"
    " AND c.last_name_sort <> s.last_name_sort"
)


def bench_refresh(users: int, workers: int) -> dict[str, Any]:
    STATE.mkdir(parents=True, exist_ok=True)
    first = write_file(STATE / f"network-sis-{users}.zip", users)
    changed = write_file(STATE / f"network-sis-{users}-changed.zip", users, changed_share=1.0)
    url, schema = fresh_pg()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        c = container(url)
        c.add_institution("MAIN", "Main")
        c.add_institution("HOST", "Host")
        c.sis.create_profile(Profile(code="SIS", institution="MAIN"))
        c.network.put_partner("HOST", "MAIN", {"user_group": "GRAD"}, "bench")
        began = time.perf_counter()
        report = c.sis.run("MAIN", "SIS", first, batch_size=5000)
        assert report.status == "done", report.message
        initial = time.perf_counter() - began
        # The copies, as `link` makes them (new_copy), written in bulk: linking 10,000 users
        # one by one is measured by scenario (a), not here.
        partner = next(p for p in c.network.partners("HOST") if p.code == "MAIN")
        with c.engine.connect() as conn:
            pks = list(conn.execute(sa.select(t.users.c.id).where(
                t.users.c.institution == "MAIN").order_by(t.users.c.id)).scalars())
        copies = []
        for pk in pks:
            with c.uow_factory() as uow:
                src = uow.network.load(pk)
            assert src is not None
            copies.append(new_copy(src, partner, f"L{pk}", True))
        bulk_insert_users(c.engine, copies)
        with c.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        with c.engine.connect() as conn:
            assert conn.execute(STALE_COPIES).scalar_one() == 0
        with (STATE / "network-workers.log").open("ab") as log:
            for _ in range(workers):
                procs.append(subprocess.Popen([str(BIN / "bookplate"), "network", "worker"],
                                              env=env(url), stdout=log, stderr=log))
        time.sleep(5)  # the workers connect and listen
        load_before = load()
        done: dict[str, float] = {}

        def sync() -> None:
            t0 = time.perf_counter()
            result = c.sis.run("MAIN", "SIS", changed, batch_size=1000)
            done["sis"] = time.perf_counter() - t0
            done["sis_updates"] = float(result.counts.get("update", 0))

        start = time.perf_counter()
        runner = threading.Thread(target=sync)
        runner.start()
        samples = []
        while True:
            time.sleep(0.5)
            with c.engine.connect() as conn:
                stale = conn.execute(STALE_COPIES).scalar_one()
                waiting = conn.execute(sa.select(sa.func.count()).select_from(
                    t.network_outbox)).scalar_one()
            elapsed = time.perf_counter() - start
            samples.append((round(elapsed, 1), stale, waiting))
            if "sis" in done and stale == 0 and waiting == 0:
                break
            if elapsed > 900:
                raise RuntimeError(f"copies still stale after 900 s: {stale}")
        current = time.perf_counter() - start
        runner.join()
        c.close()
        return {"scenario": "refresh_after_sis", "users": users, "workers": workers,
                "initial_sync_s": round(initial, 1), "sis_sync_s": round(done["sis"], 1),
                "sis_updates": int(done["sis_updates"]),
                "all_copies_current_s": round(current, 1),
                "copies_per_s": round(users / current),
                "load_before": load_before, "load_after": load(),
                "progress": samples[:: max(1, len(samples) // 12)]}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_pg(schema)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenarios", default="link,refresh")
    args = parser.parse_args()
    wanted = set(args.scenarios.split(","))
    print(json.dumps({"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      "bookplate": bookplate.__file__, "cpus": os.cpu_count(),
                      "load": load()}), flush=True)
    if "link" in wanted:
        print(json.dumps(bench_link_one(args.links, args.warmup)), flush=True)
        print(json.dumps(bench_link_two(args.links, args.warmup)), flush=True)
    if "refresh" in wanted:
        print(json.dumps(bench_refresh(args.users, args.workers)), flush=True)


if __name__ == "__main__":
    main()
