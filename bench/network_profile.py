"""Where the network's write paths spend their time, in-process on PostgreSQL (issue 18):

    .venv/bin/python bench/network_profile.py refresh [--users 1000] [--profile]
    .venv/bin/python bench/network_profile.py link [--users 300] [--profile]

``refresh``: N sources at MAIN with one copy each at HOST, every source changed by an SIS
sync, then one ``process_outbox`` pass in this process. ``link``: N ``NetworkService.link``
calls (home and host in this deployment). Prints wall and CPU seconds, and the statements and
commits sent to PostgreSQL per copy (counted on psycopg's cursor and connection, so the
statements sent past SQLAlchemy — COPY, the driver-level arrays — are counted too).
``--profile`` adds pyinstrument's tree (``pip install pyinstrument``) of the timed part.
Runs in a fresh schema of ``BENCH_PG`` (default the ``test`` database), dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from network import sources  # the network benchmark's users
from sis import drop_pg, fresh_pg, write_file

import bookplate
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.network.model import new_copy
from bookplate.sis.model import Profile
from bookplate.storage import tables as t
from bookplate.storage.bulk import bulk_insert_users


def container(url: str) -> Container:
    """As the servers and workers run: the code tables' default cache."""
    return build_container(Settings(database_url=url, redis_url=None), migrate=True)


STATE = Path(os.environ.get("BENCH_STATE", "/tmp/bookplate-bench"))
COUNTS: Counter[str] = Counter()


TEXTS: Counter[str] = Counter()


def _counted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        COUNTS[name] += 1
        if len(args) > 1:
            TEXTS[" ".join(str(args[1]).split())[:90]] += 1
        return method(*args, **kwargs)

    return wrapper


def _install_counters() -> None:
    for cls in (psycopg.Cursor, psycopg.ServerCursor):
        for name in ("execute", "executemany", "copy"):
            if hasattr(cls, name):
                setattr(cls, name, _counted(name, getattr(cls, name)))
    psycopg.Connection.commit = _counted("commit", psycopg.Connection.commit)  # type: ignore[method-assign]


@contextmanager
def measured(label: str, per: int, profile: bool) -> Iterator[dict[str, Any]]:
    out: dict[str, Any] = {"what": label, "n": per}
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    COUNTS.clear()
    TEXTS.clear()
    wall, cpu = time.perf_counter(), time.process_time()
    yield out
    out["wall_s"] = round(time.perf_counter() - wall, 2)
    out["cpu_s"] = round(time.process_time() - cpu, 2)
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False), flush=True)
    if profile:
        for text, n in TEXTS.most_common(40):
            print(f"{n:7d}  {text}")
    statements = COUNTS["execute"] + COUNTS["executemany"] + COUNTS["copy"]
    out.update(statements=statements, commits=COUNTS["commit"],
               statements_per_item=round(statements / max(per, 1), 2),
               ms_per_item=round(1000 * out["wall_s"] / max(per, 1), 2),
               cpu_ms_per_item=round(1000 * out["cpu_s"] / max(per, 1), 2),
               load=" ".join(f"{x:.2f}" for x in os.getloadavg()))


def refresh(users: int, profile: bool) -> dict[str, Any]:
    STATE.mkdir(parents=True, exist_ok=True)
    first = write_file(STATE / f"netprof-{users}.zip", users)
    changed = write_file(STATE / f"netprof-{users}-changed.zip", users, changed_share=1.0)
    url, schema = fresh_pg()
    try:
        c = container(url)
        c.network_refresh.close()  # this process works the outbox in the foreground
        c.add_institution("MAIN", "Main")
        c.add_institution("HOST", "Host")
        c.sis.create_profile(Profile(code="SIS", institution="MAIN"))
        c.network.put_partner("HOST", "MAIN", {"user_group": "GRAD"}, "bench")
        assert c.sis.run("MAIN", "SIS", first, batch_size=5000).status == "done"
        partner = next(p for p in c.network.partners("HOST") if p.code == "MAIN")
        with c.engine.connect() as conn:
            pks = list(conn.execute(sa.select(t.users.c.id).where(
                t.users.c.institution == "MAIN")).scalars())
        copies = []
        with c.uow_factory() as uow:
            for pk in pks:
                src = uow.network.load(pk)
                assert src is not None
                copies.append(new_copy(src, partner, f"L{pk}", True))
        bulk_insert_users(c.engine, copies)
        assert c.sis.run("MAIN", "SIS", changed, batch_size=1000).status == "done"
        with c.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        assert c.network.waiting() == users
        _install_counters()
        with measured("refresh", users, profile) as out:
            report = c.network.process_outbox()
        out.update(entries=report.entries, refreshed=report.refreshed,
                   failed=len(report.failed))
        c.close()
        return out
    finally:
        drop_pg(schema)


def link(users: int, profile: bool) -> dict[str, Any]:
    url, schema = fresh_pg()
    try:
        c = container(url)
        c.network_refresh.close()
        c.add_institution("HOME", "Home")
        c.add_institution("HOST", "Host")
        c.network.put_partner("HOST", "HOME", {"user_group": "GRAD"}, "bench")
        bulk_insert_users(c.engine, sources("HOME", users + 20))
        with c.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        for i in range(users, users + 20):  # warm-up: statement caches, code tables
            c.network.link("HOST", "HOME", f"n{i:06d}", "bench")
        _install_counters()
        with measured("link", users, profile) as out:
            for i in range(users):
                c.network.link("HOST", "HOME", f"n{i:06d}", "bench")
        c.close()
        return out
    finally:
        drop_pg(schema)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["refresh", "link"])
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(json.dumps({"bookplate": bookplate.__file__, "cpus": os.cpu_count(),
                      "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}), flush=True)
    if args.what == "refresh":
        print(json.dumps(refresh(args.users or 1000, args.profile)), flush=True)
    else:
        print(json.dumps(link(args.users or 300, args.profile)), flush=True)


if __name__ == "__main__":
    main()
