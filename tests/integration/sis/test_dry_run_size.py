"""A dry run of more records than one chunk of its stored plan (1,000 report items).

A dry run stores its plan as the run's report items, a chunk at a time, on a connection of
its own. On SQLite every batch used to begin IMMEDIATE and so hold the database's write lock
while it was planned; the first chunk of items (at record 1,000) then waited for that lock
until ``database is locked`` failed the run. A dry run's batches only read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.sis.model import MissingPolicy, Profile
from tests.integration.sis.helpers import user_xml, users_doc

RECORDS = 2_600  # above two chunks of stored plan items


@pytest.fixture
def jobs_c(database_url: str, tmp_path: Path) -> Container:
    settings = Settings(
        database_url=database_url,
        redis_url=None,
        cache_seconds=0,
        sis_spool=str(tmp_path / "spool"),
    )
    c = build_container(settings, migrate=True)
    c.add_institution("MAIN", "Main")
    c.sis.create_profile(Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD"))
    yield c
    c.close()


def _count(c: Container, sql: str) -> int:
    with c.engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


@pytest.mark.parametrize("missing", [MissingPolicy.OFF, MissingPolicy.DEACTIVATE])
def test_a_dry_run_above_a_thousand_records_finishes(
    jobs_c: Container, tmp_path: Path, missing: MissingPolicy
) -> None:
    c = jobs_c
    # 300 users already loaded (a real run), so the dry run has updates and unchanged too.
    first = tmp_path / "first.xml"
    first.write_bytes(users_doc(*(user_xml(f"u{i}") for i in range(300))))
    loaded = c.sis.run("MAIN", "SIS", first)
    assert loaded.status == "done", loaded.message
    profile = c.sis.profile("MAIN", "SIS")
    profile.missing_policy = missing
    profile.guard_share = 1.0
    c.sis.update_profile(profile)

    big = tmp_path / "big.xml"
    records = [user_xml(f"u{i}", last="Changed" if i < 100 else "Lee") for i in range(RECORDS)]
    big.write_bytes(users_doc(*records))
    pending = c.sis_jobs.create("MAIN", "SIS", big, dry_run=True, actor="test")
    assert pending.run_id is not None
    report = c.sis_jobs.execute(pending.run_id)

    assert report.status == "done", report.message
    assert report.total == RECORDS
    assert report.counts["update"] == 100
    assert report.counts["unchanged"] == 200
    assert report.counts["create"] == RECORDS - 300
    # The whole plan is stored as the run's lists; no user was written.
    assert _count(c, f"SELECT count(*) FROM sis_run_items WHERE run_id = {pending.run_id}") == (
        RECORDS
    )
    assert _count(c, "SELECT count(*) FROM users") == 300
    stored = c.sis.report(pending.run_id)
    assert (stored.status, stored.dry_run, stored.total) == ("done", True, RECORDS)
