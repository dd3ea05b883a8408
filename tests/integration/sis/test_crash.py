"""Crash safety: kill a real ``bookplate sis sync`` after some batches committed, run the same
file again, and compare with one clean run (PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.sis.model import Profile
from bookplate.storage.documents import user_to_document

from .helpers import user_xml, users_doc, write_zip

PG = os.environ.get("BOOKPLATE_TEST_POSTGRES_URL")
N = 4000
BOOKPLATE = str(Path(sys.executable).with_name("bookplate"))


@pytest.fixture
def two_schemas() -> Iterator[list[str]]:
    if not PG:
        pytest.skip("BOOKPLATE_TEST_POSTGRES_URL not set")
    admin = sa.create_engine(PG)
    names = [f"crash_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.begin() as conn:
        for name in names:
            conn.execute(sa.text(f"CREATE SCHEMA {name}"))
    sep = "&" if "?" in PG else "?"
    try:
        yield [f"{PG}{sep}options=-csearch_path%3D{name}" for name in names]
    finally:
        with admin.begin() as conn:
            for name in names:
                conn.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def _prepare(url: str) -> None:
    c = build_container(Settings(database_url=url, redis_url=None, cache_seconds=0), migrate=True)
    c.add_institution("MAIN", "Main")
    c.sis.create_profile(Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD"))
    c.close()


def _sync(url: str, path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BOOKPLATE_DATABASE_URL": url}
    return subprocess.Popen(
        [
            BOOKPLATE,
            "sis",
            "sync",
            str(path),
            "--profile",
            "SIS",
            "--batch-size",
            "200",
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _state(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    c = build_container(Settings(database_url=url, redis_url=None, cache_seconds=0))
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, primary_id FROM users")).all()
        ids = conn.execute(sa.text("SELECT count(*) FROM user_ids")).scalar_one()
        terms = conn.execute(sa.text("SELECT count(*) FROM user_terms")).scalar_one()
        # The terms on the user row (PostgreSQL, storage/term_vector.py), user by user.
        vectors = dict(conn.execute(sa.text("SELECT primary_id, search_terms FROM users")).all())
    for _pk, primary_id in rows:
        user = c.users.get("MAIN", primary_id)
        doc = user_to_document(user)
        for key in ("created_date", "last_modified_date"):
            doc.pop(key, None)
        out[primary_id] = doc
    out["__counts__"] = (len(rows), ids, terms)
    out["__vectors__"] = vectors
    c.close()
    engine.dispose()
    return out


def test_killed_run_then_rerun_equals_one_clean_run(two_schemas: list[str], tmp_path: Path) -> None:
    crashed, clean = two_schemas
    users = [
        user_xml(f"p{i:05d}", first=f"F{i}", barcode=f"B{i:05d}", email=f"p{i}@x.edu")
        for i in range(N)
    ]
    users.insert(100, user_xml("p00001", first="dup"))  # rejected both times
    path = write_zip(tmp_path / "users.zip", {"users.xml": users_doc(*users)})
    for url in two_schemas:
        _prepare(url)

    proc = _sync(crashed, path)
    engine = sa.create_engine(crashed)
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            committed = conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
        if committed >= 600 or proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    engine.dispose()
    assert 0 < committed < N, "the kill must land mid-run"

    again = _sync(crashed, path)
    _, errors = again.communicate(timeout=300)
    assert again.returncode == 1, errors
    ref = _sync(clean, path)
    ref.communicate(timeout=300)
    assert ref.returncode == 1

    got, want = _state(crashed), _state(clean)
    assert got["__counts__"] == want["__counts__"]
    assert got["__counts__"][0] == N  # no duplicate user, none lost
    assert all(got["__vectors__"].values())  # every user's terms are on its row
    assert got == want
