"""Two processes migrating one empty PostgreSQL schema at once (``bookplate serve`` and
``bookplate worker`` of a new deployment): both end at the head, neither fails."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from bookplate.storage.migrate import current_revision, head_revision, upgrade
from tests.pg import PG_URL, postgres_schema

pytestmark = pytest.mark.skipif(not PG_URL, reason="BOOKPLATE_TEST_POSTGRES_URL is not set")

_UPGRADE = "import sys; from bookplate.storage.migrate import upgrade; upgrade(sys.argv[1])"


def test_two_processes_migrate_an_empty_schema_at_once() -> None:
    with postgres_schema("mlock") as url:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        runs = [subprocess.Popen([sys.executable, "-c", _UPGRADE, url], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(3)]
        results = []
        for run in runs:
            _out, err = run.communicate(timeout=300)
            results.append((run.returncode, err))
        assert [code for code, _ in results] == [0, 0, 0], [err[-2000:] for _, err in results]
        engine = sa.create_engine(url)
        try:
            assert current_revision(engine) == head_revision()
        finally:
            engine.dispose()


def test_upgrade_waits_for_the_migration_lock() -> None:
    """The lock is the one the upgrade takes: while another session holds it, the upgrade
    does not start; once it is released the upgrade finishes at the head."""
    with postgres_schema("mlock") as url:
        engine = sa.create_engine(url)
        done = threading.Event()
        failed: list[BaseException] = []

        def migrate() -> None:
            try:
                upgrade(url)
            except BaseException as exc:  # reported by the assertion below
                failed.append(exc)
            finally:
                done.set()

        try:
            with engine.begin() as holder:
                holder.execute(sa.text(
                    "SELECT pg_advisory_xact_lock(hashtext(current_schema()),"
                    " hashtext('bookplate-migrations'))"))
                worker = threading.Thread(target=migrate, daemon=True)
                worker.start()
                assert not done.wait(3), "the upgrade ran while the migration lock was held"
                assert current_revision(engine) is None
            assert done.wait(300)
            assert not failed, failed
            assert current_revision(engine) == head_revision()
        finally:
            engine.dispose()
