"""SIS sync benchmark (issue 4): initial sync, unchanged re-sync, 10 % changed re-sync, peak
memory on a large file, each beside a raw COPY of the same rows; PostgreSQL and SQLite.

    .venv/bin/python bench/sis.py [--users 100000] [--memory-users 1000000] [--sqlite]

Users are generated with a fixed seed: two identifiers, one or two emails, an address, a phone,
a note. Files are written streamed into a zip (never held in memory).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import sqlalchemy as sa

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.sis.model import Profile

sys.path.insert(0, str(Path(__file__).parent))
from sis_floor import floor  # the floor lives beside this benchmark

SEED = 20240601
PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "Zoë",
    "Hugo",
    "Aiko",
    "Priya",
    "Chen",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Müller",
    "Tanaka",
    "Okafor",
]
GROUPS = ["UNDERGRAD", "GRAD", "FACULTY", "STAFF"]


def user_xml(i: int, rng: random.Random, variant: int = 0) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    emails = [f"{first.lower()}.{last.lower()}{i}@uni.example.edu"]
    if rng.random() < 0.5:
        emails.append(f"{first.lower()}{i}@mail.example.com")
    email_xml = "".join(
        f'<email preferred="{str(n == 0).lower()}" segment_type="External">'
        f"<email_address>{escape(e)}</email_address><email_types><email_type>"
        f"{'school' if n == 0 else 'personal'}</email_type></email_types></email>"
        for n, e in enumerate(emails)
    )
    street = f"{rng.randint(1, 9999)} {rng.choice(LAST)} Street"
    return (
        f"<user><record_type>PUBLIC</record_type><primary_id>s{i:07d}</primary_id>"
        f"<first_name>{escape(first)}</first_name><last_name>{escape(last)}"
        f"{'-' + str(variant) if variant else ''}</last_name>"
        f"<user_group>{rng.choice(GROUPS)}</user_group><preferred_language>en</preferred_language>"
        f"<expiry_date>2030-08-30Z</expiry_date><account_type>EXTERNAL</account_type>"
        f"<external_id>SIS</external_id><status>ACTIVE</status><contact_info><addresses>"
        f'<address preferred="true" segment_type="External"><line1>{escape(street)}</line1>'
        f"<city>Portland</city><state_province>OR</state_province><postal_code>97201"
        f"</postal_code><country>USA</country><address_types><address_type>home</address_type>"
        f"</address_types></address></addresses><emails>{email_xml}</emails><phones>"
        f'<phone preferred="true" segment_type="External"><phone_number>+1 503 555 '
        f"{i % 10000:04d}</phone_number><phone_types><phone_type>mobile</phone_type>"
        f"</phone_types></phone></phones></contact_info><user_identifiers>"
        f'<user_identifier segment_type="External"><id_type>BARCODE</id_type>'
        f"<value>21{i:010d}</value></user_identifier>"
        f'<user_identifier segment_type="External"><id_type>UNIV_ID</id_type>'
        f"<value>u{i:07d}</value></user_identifier></user_identifiers><user_notes>"
        f'<user_note segment_type="External"><note_type>CIRCULATION</note_type>'
        f"<note_text>Enrolled {2020 + i % 5}</note_text></user_note></user_notes></user>\n"
    )


def write_file(path: Path, count: int, changed_share: float = 0.0) -> Path:
    rng = random.Random(SEED)
    change_rng = random.Random(SEED + 1)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("users.xml", "w", force_zip64=True) as raw,
    ):
        out = io.BufferedWriter(raw, 1 << 20)  # type: ignore[arg-type]
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<users>\n')
        for i in range(count):
            variant = 1 if change_rng.random() < changed_share else 0
            out.write(user_xml(i, rng, variant).encode())
        out.write(b"</users>\n")
        out.flush()
    return path


def fresh_pg() -> tuple[str, str]:
    schema = f"bench_sis_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return f"{PG}?options=-csearch_path%3D{schema}&application_name={APP_NAME}", schema


def drop_pg(schema: str) -> None:
    admin = sa.create_engine(PG)
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def setup(url: str):  # type: ignore[no-untyped-def]
    c = build_container(Settings(database_url=url, redis_url=None, cache_seconds=60), migrate=True)
    c.add_institution("MAIN", "Main")
    c.sis.create_profile(Profile(code="SIS", institution="MAIN"))
    return c


CPU: list[float] = []  # this process's CPU seconds of each timed run
DB_CPU: list[float] = []  # CPU seconds of the run's PostgreSQL backends (0 on SQLite)
# application_name of the benchmark's connections: with the process id, so that the backends of
# another run of this benchmark at the same time are not counted in its CPU figures
APP_NAME = f"bookplate_bench_sis_{os.getpid()}"
TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving this benchmark (found by its
    application_name; same machine, read from /proc). Empty on SQLite."""
    if not url.startswith("postgresql"):
        return {}
    admin = sa.create_engine(PG)
    with admin.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
            {"n": APP_NAME},
        ).scalars()
        out = {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / TICK
    admin.dispose()
    return out


def timed_run(c, path: Path, url: str) -> tuple[float, dict[str, int]]:  # type: ignore[no-untyped-def]
    before = backend_cpu(url)
    start, cpu = time.perf_counter(), time.process_time()
    report = c.sis.run("MAIN", "SIS", path, batch_size=5000)
    elapsed = time.perf_counter() - start
    CPU.append(time.process_time() - cpu)
    after = backend_cpu(url)  # the pool keeps its connections: backends are still there
    DB_CPU.append(sum(v - before.get(pid, 0.0) for pid, v in after.items()))
    assert report.status == "done", report.message
    return elapsed, dict(report.counts)


TABLES = ("users", "user_ids", "user_identifiers", "user_terms")


def raw_copy_pg(url: str) -> float:
    """COPY the rows the initial sync wrote into empty copies of the tables (ordinary tables
    with the same indexes, in the benchmark's schema; written to the WAL like the real ones)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        buffers = {}
        with raw.cursor() as cur:
            for table in TABLES:
                buf = io.BytesIO()
                with cur.copy(f"COPY {table} TO STDOUT") as copy:
                    for block in copy:
                        buf.write(block)
                buffers[table] = buf.getvalue()
                cur.execute(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
        start = time.perf_counter()
        with raw.cursor() as cur:
            for table in TABLES:
                with cur.copy(f"COPY raw_{table} FROM STDIN") as copy:
                    copy.write(buffers[table])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def raw_insert_sqlite(url: str) -> float:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"CREATE TEMP TABLE raw_{table} AS SELECT * FROM {table} WHERE 0")
        rows = {t: conn.exec_driver_sql(f"SELECT * FROM {t}").all() for t in TABLES}
        start = time.perf_counter()
        raw = conn.connection.driver_connection
        for table in TABLES:
            if rows[table]:
                marks = ",".join("?" * len(rows[table][0]))
                raw.executemany(f"INSERT INTO raw_{table} VALUES ({marks})", rows[table])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def _vm_hwm_kb(pid: int) -> int:
    """The peak resident set of a live process (VmHWM in /proc/PID/status), 0 once gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def peak_memory(url: str, path: Path, dry_run: bool) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of a ``bookplate sis sync`` of ``path`` in a child process:
    the child's own VmHWM sampled every 0.1 s until it exits (not getrusage of the parent)."""
    env = {**os.environ, "BOOKPLATE_DATABASE_URL": url}
    exe = str(Path(sys.executable).with_name("bookplate"))
    argv = [exe, "sis", "sync", str(path), "-p", "SIS", "--no-progress", "--batch-size", "5000"]
    if dry_run:
        argv.append("--dry-run")
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _vm_hwm_kb(child.pid))
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    return peak / 1024, elapsed


def bench(url: str, name: str, n: int, tmp: Path, raw: bool, t_floor: float) -> list[float]:
    c = setup(url)
    initial, changed = tmp / "initial.zip", tmp / "changed.zip"
    CPU.clear()
    DB_CPU.clear()
    t1, counts1 = timed_run(c, initial, url)
    t2, counts2 = timed_run(c, initial, url)
    t3, counts3 = timed_run(c, changed, url)
    us = [
        f"  CPU us/user: Python {cpu / n * 1e6:4.0f}"
        + (f", PostgreSQL {db / n * 1e6:4.0f}" if raw else " (SQLite's included)")
        for cpu, db in zip(CPU, DB_CPU, strict=True)
    ]
    c.close()
    t_raw = raw_copy_pg(url) if raw else raw_insert_sqlite(url)
    label = "COPY" if raw else "executemany"
    print(f"## {name}, {n} users")
    print(f"initial sync      {t1:7.2f} s  {n / t1:9,.0f} users/s{us[0]}  {counts1}")
    print(f"re-sync unchanged {t2:7.2f} s  {n / t2:9,.0f} users/s{us[1]}  {counts2}")
    print(f"re-sync 10% chg   {t3:7.2f} s  {n / t3:9,.0f} users/s{us[2]}  {counts3}")
    print(
        f"raw {label} of the same rows {t_raw:7.2f} s  ({n / t_raw:,.0f} rows/s); "
        f"initial sync / raw = {t1 / t_raw:.1f}x"
    )
    print(
        f"floor (bench/sis_floor.py, same file) {t_floor:7.2f} s  ({n / t_floor:,.0f} users/s); "
        f"speed / floor: initial {t_floor / t1:.2f}x, unchanged {t_floor / t2:.2f}x, "
        f"10% changed {t_floor / t3:.2f}x"
    )
    sys.stdout.flush()
    return [t1, t2, t3]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--memory-users", type=int, default=1_000_000)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument(
        "--memory-dry-run", action="store_true", help="measure memory with --dry-run (no writes)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sis-") as tmpdir:
        tmp = Path(tmpdir)
        pg_times: list[float] = []
        if args.users and (args.sqlite or not args.skip_pg):
            write_file(tmp / "initial.zip", args.users)
            write_file(tmp / "changed.zip", args.users, 0.10)
            t_floor = floor(tmp / "initial.zip", PG)
        if args.users and not args.skip_pg:
            url, schema = fresh_pg()
            try:
                pg_times = bench(url, "PostgreSQL", args.users, tmp, True, t_floor)
            finally:
                drop_pg(schema)
            # The machine's speed moves within minutes: the floor again after the runs.
            t_after = floor(tmp / "initial.zip", PG)
            n = args.users
            print(
                f"floor after the PostgreSQL runs {t_after:7.2f} s  ({n / t_after:,.0f} users/s); "
                "speed / mean floor: "
                + ", ".join(f"{(t_floor + t_after) / 2 / x:.2f}x" for x in pg_times)
            )
        if args.users and args.sqlite:
            db = tmp / "bench.db"
            lite = bench(f"sqlite:///{db}", "SQLite", args.users, tmp, False, t_floor)
            if pg_times:
                ratios = ", ".join(f"{a / b:.2f}" for a, b in zip(lite, pg_times, strict=True))
                print(f"SQLite / PostgreSQL times (initial, unchanged, 10% changed): {ratios}")
        if args.memory_users:
            big = write_file(tmp / "big.zip", args.memory_users)
            url, schema = fresh_pg()
            try:
                setup(url).close()
                mb, secs = peak_memory(url, big, args.memory_dry_run)
            finally:
                drop_pg(schema)
                big.unlink()
            what = "dry-run" if args.memory_dry_run else "initial sync"
            print(
                f"peak RSS (child VmHWM), {what} of {args.memory_users} users: "
                f"{mb:.0f} MB in {secs:.0f} s"
            )


if __name__ == "__main__":
    main()
