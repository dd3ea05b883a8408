"""Create and seed the ``bookplate_bench`` PostgreSQL database (1M users by default).

    .venv/bin/python bench/seed.py [--users 1000000] [--reuse]

Drops and re-creates the database (never the ``test`` one), runs the migrations, creates
institution BENCH with its default code tables and loads the users through
``bookplate.storage.bulk.bulk_insert_users``. With ``--reuse`` an existing database that
already holds the requested number of users is kept as is.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ADMIN_URL,
    DB_NAME,
    DB_URL,
    FIRST_NAMES,
    INSTITUTION,
    PSYCOPG_URL,
    SEED,
    barcode,
    primary_id,
    surnames,
    univ_id,
)

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.storage.bulk import bulk_insert_users
from bookplate.storage.migrate import current_revision, upgrade
from bookplate.users.model import ContactInfo, Email, Identifier, Phone, User

GROUPS = ("UNDERGRAD",) * 6 + ("GRAD",) * 3 + ("FACULTY",)


def generate(count: int, start: int = 0, seed: int = SEED) -> Iterator[User]:
    """``count`` deterministic, realistic users (index ``start`` onwards)."""
    rng = random.Random(seed + start)
    last_names = surnames()
    created = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
    for i in range(start, start + count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(last_names)
        group = rng.choice(GROUPS)
        when = created + timedelta(minutes=i % 500_000)
        yield User(
            primary_id=primary_id(i),
            institution=INSTITUTION,
            first_name=first,
            last_name=last,
            user_group=group,
            identifiers=[Identifier("BARCODE", barcode(i)), Identifier("UNIV_ID", univ_id(i))],
            contact_info=ContactInfo(
                emails=[
                    Email(
                        f"{first}.{last}.{i}@example.edu".lower(),
                        email_types=["school"],
                        preferred=True,
                    )
                ],
                phones=[
                    Phone(
                        f"+1 555 {rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}",
                        phone_types=["mobile"],
                        preferred=True,
                    )
                ],
            ),
            expiry_date=date(2027 + i % 4, 8, 31),
            created_by="bench-seed",
            created_date=when,
            last_modified_by="bench-seed",
            last_modified_date=when,
        )


def user_count() -> int | None:
    """The seeded users: those a POST run is writing at the same moment (IDs ``bw…``/``br…``,
    removed after each run) do not count, so a concurrent ``--reuse`` does not re-seed."""
    try:
        with psycopg.connect(PSYCOPG_URL, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM users WHERE institution = %s "
                "AND primary_id NOT LIKE 'bw%%' AND primary_id NOT LIKE 'br%%'",
                (INSTITUTION,),
            ).fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return None


def recreate_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (DB_NAME,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def seed(users: int, reuse: bool) -> dict[str, float]:
    """Seed (or reuse) the database; returns timings in seconds."""
    if reuse and user_count() == users:
        print(f"reusing {DB_NAME}: {users} users already there")
        before = current_revision(DB_URL)
        t0 = time.perf_counter()
        upgrade(DB_URL)  # a database seeded by an older commit gets the newer migrations
        if current_revision(DB_URL) != before:
            migrate = time.perf_counter() - t0
            t_an = time.perf_counter()
            with psycopg.connect(PSYCOPG_URL, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")  # migrated rows: visibility map and statistics
            print(
                f"migrated from {before} in {migrate:.1f} s, "
                f"VACUUM ANALYZE {time.perf_counter() - t_an:.1f} s"
            )
        return {"reused": 1.0}
    t0 = time.perf_counter()
    recreate_database()
    container = build_container(Settings(database_url=DB_URL), migrate=True)
    try:
        container.add_institution(INSTITUTION, "Bookplate benchmark university")
        t_load = time.perf_counter()
        written = bulk_insert_users(container.engine, generate(users))
        load = time.perf_counter() - t_load
    finally:
        container.close()
    t_an = time.perf_counter()
    with psycopg.connect(PSYCOPG_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    analyse = time.perf_counter() - t_an
    total = time.perf_counter() - t0
    print(
        f"seeded {written} users: bulk_insert_users {load:.1f} s "
        f"({written / load:,.0f} users/s), VACUUM ANALYZE {analyse:.1f} s, total {total:.1f} s"
    )
    return {"load_s": load, "vacuum_analyze_s": analyse, "total_s": total, "users": written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep a database already seeded")
    args = parser.parse_args()
    seed(args.users, args.reuse)


if __name__ == "__main__":
    main()
