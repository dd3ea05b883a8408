"""Two databases may share one spool directory (two deployments on one host, test databases):
their runs have the same ids, so everything a run keeps in the spool — its ticket, its copy of
the file, its lock — is named after the database as well as the run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.sis.model import Profile
from tests.integration.sis.helpers import user_xml, users_doc, write_zip
from tests.pg import postgres_schema


def _container(database_url: str, spool: Path, *, migrate: bool = True) -> Container:
    settings = Settings(
        database_url=database_url, redis_url=None, cache_seconds=0, sis_spool=str(spool)
    )
    c = build_container(settings, migrate=migrate)
    if migrate:
        c.add_institution("MAIN", "Main")
        c.sis.create_profile(
            Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD")
        )
    return c


@pytest.fixture
def two(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The URLs of two empty databases of the kind under test."""
    if database_url.startswith("sqlite"):
        yield database_url, f"sqlite:///{tmp_path / 'second.db'}"
        return
    with postgres_schema() as second:
        yield database_url, second


def _primary_ids(c: Container) -> list[str]:
    with c.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT primary_id FROM users")).scalars())


def test_two_databases_sharing_a_spool_keep_their_own_run_1(
    two: tuple[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    with ExitStack() as stack:
        first, second = (_container(url, spool) for url in two)
        stack.callback(first.close)
        stack.callback(second.close)
        files = {
            name: write_zip(tmp_path / f"{name}.zip", {"u.xml": users_doc(user_xml(name))})
            for name in ("first", "second")
        }
        # Both pending at once, each with its copy of the file in the shared spool.
        one = first.sis_jobs.create("MAIN", "SIS", files["first"], copy=True)
        two_ = second.sis_jobs.create("MAIN", "SIS", files["second"], copy=True)
        assert one.run_id == two_.run_id == 1
        assert first.sis_jobs.lock_path(1) != second.sis_jobs.lock_path(1)

        for c, name in ((first, "first"), (second, "second")):
            report = c.sis_jobs.execute(1)
            assert (report.status, report.counts["create"]) == ("done", 1), report.message
            assert _primary_ids(c) == [name]
        assert list(spool.iterdir()) == []


def test_the_database_not_its_url_names_the_spool_files(database_url: str, tmp_path: Path) -> None:
    """Two spellings of one database's URL share the runs, so they share the lock too (else a
    sweep through one spelling would not see the lock a run holds through the other)."""
    spool = tmp_path / "spool"
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        other_url = f"sqlite:///{path.parent}/./{path.name}"
    else:
        other_url = database_url.replace("@127.0.0.1", "@localhost")
        assert other_url != database_url
    a = _container(database_url, spool)
    b = _container(other_url, spool, migrate=False)
    try:
        assert a.sis_jobs.lock_path(7) == b.sis_jobs.lock_path(7)
    finally:
        a.close()
        b.close()
