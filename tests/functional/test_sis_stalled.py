"""Runs whose process died do not stay "running": a killed foreground run is found by its free
lock and marked interrupted, then run again with ``bookplate sis requeue``; on PostgreSQL the
job of a killed worker is queued again by the next worker and the run finishes. Real processes,
killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.sis.jobs import INTERRUPTED, RUNNING, RunLock
from bookplate.sis.model import Profile
from tests.integration.sis.helpers import user_xml, users_doc, write_zip

BOOKPLATE = str(Path(sys.executable).with_name("bookplate"))
N = 4000


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def c(database_url: str, spool: Path) -> Iterator[Container]:
    settings = Settings(
        database_url=database_url, redis_url=None, cache_seconds=0, sis_spool=str(spool)
    )
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main")
    container.sis.create_profile(
        Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD")
    )
    try:
        yield container
    finally:
        container.close()


def _fresh(database_url: str, spool: Path) -> Container:
    """Another process's view: a new container (on SQLite its first use of the jobs sweeps)."""
    settings = Settings(
        database_url=database_url, redis_url=None, cache_seconds=0, sis_spool=str(spool)
    )
    return build_container(settings)


def _file(tmp_path: Path) -> Path:
    users = [user_xml(f"p{i:05d}", barcode=f"B{i:05d}") for i in range(N)]
    return write_zip(tmp_path / "users.zip", {"users.xml": users_doc(*users)})


def _bookplate(database_url: str, spool: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BOOKPLATE_DATABASE_URL": database_url, "BOOKPLATE_SIS_SPOOL": str(spool)}
    return subprocess.Popen(
        [BOOKPLATE, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _users(c: Container) -> int:
    with c.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one())


def _kill_mid_run(c: Container, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        committed = _users(c)
        if committed >= 100:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert 0 < _users(c) < N, "the kill must land mid-run"


def _finished_like_one_clean_run(c: Container, run_id: int) -> None:
    report = c.sis.report(run_id)
    assert report.status == "done", report.message
    assert report.total == N
    assert report.counts["create"] + report.counts["unchanged"] == N
    assert _users(c) == N
    assert not list(c.sis_jobs.spool.glob(f"{run_id}.*"))  # ticket, copy and lock removed


def test_a_killed_foreground_run_is_marked_interrupted_and_runs_again(
    c: Container, database_url: str, spool: Path, tmp_path: Path
) -> None:
    proc = _bookplate(
        database_url, spool, "sis", "sync", str(_file(tmp_path)), "-p", "SIS",
        "--batch-size", "50", "--no-progress",
    )  # fmt: skip
    _kill_mid_run(c, proc)
    (run,) = c.sis.runs("MAIN")
    assert run.run_id is not None and run.status == RUNNING

    other = _fresh(database_url, spool)
    try:
        if database_url.startswith("postgresql"):
            # No process sweeps on PostgreSQL but a starting worker (and this call).
            assert other.sis_jobs.sweep() == [run.run_id]
        else:
            other.sis_jobs  # noqa: B018 - its first use sweeps
        swept = other.sis.report(run.run_id)
        assert swept.status == INTERRUPTED and swept.exit_code == 2
        assert f"bookplate sis requeue {run.run_id}" in swept.message
        assert other.sis_jobs.sweep() == []  # once
        assert other.sis_jobs.stalled("MAIN") == [run.run_id]
    finally:
        other.close()

    again = _bookplate(database_url, spool, "sis", "requeue", str(run.run_id))
    _, errors = again.communicate(timeout=300)
    assert again.returncode == 0, errors
    if database_url.startswith("postgresql"):
        worker = _bookplate(database_url, spool, "worker", "--burst")
        _, errors = worker.communicate(timeout=300)
        assert worker.returncode == 0, errors
    _finished_like_one_clean_run(c, run.run_id)


def test_a_run_whose_process_lives_is_not_swept(c: Container, tmp_path: Path) -> None:
    path = write_zip(tmp_path / "u.zip", {"users.xml": users_doc(user_xml("u1"))})
    pending = c.sis_jobs.create("MAIN", "SIS", path)
    assert pending.run_id is not None
    pending.status = RUNNING
    c.sis_jobs.store.finish_run(pending)
    held = RunLock(c.sis_jobs.lock_path(pending.run_id))
    assert held.acquire()  # as the executing process holds it
    try:
        assert c.sis_jobs.sweep() == []
        assert c.sis.report(pending.run_id).status == RUNNING
        # The same run delivered to this process meanwhile is left to its owner.
        assert c.sis_jobs.execute(pending.run_id).status == RUNNING
        assert _users(c) == 0
    finally:
        held.release()
    assert c.sis_jobs.sweep() == [pending.run_id]
    assert c.sis.report(pending.run_id).status == INTERRUPTED
    assert c.sis_jobs.requeue(pending.run_id).run_id == pending.run_id
    if c.engine.dialect.name == "sqlite":  # the thread queue runs it here
        c.sis_jobs.queue.join()  # type: ignore[union-attr]
        assert c.sis.report(pending.run_id).status == "done"
        assert _users(c) == 1


def test_a_killed_workers_job_is_queued_again_and_finishes(
    c: Container, database_url: str, spool: Path, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the worker queue is PostgreSQL's")
    pending = c.sis_jobs.create("MAIN", "SIS", _file(tmp_path), copy=True, batch_size=50)
    assert pending.run_id is not None
    c.sis_jobs.submit(pending)

    _kill_mid_run(c, _bookplate(database_url, spool, "worker", "--burst"))
    assert c.sis.report(pending.run_id).status == RUNNING
    with c.engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM procrastinate_jobs WHERE task_name = 'bookplate.sis_run'")
        ).scalar_one()
    assert status == "doing"  # the job of a worker that no longer beats
    assert c.sis_jobs.sweep() == []  # the queue's business, not the sweep's

    time.sleep(1.5)  # longer than --stalled-after without a heartbeat
    worker = _bookplate(database_url, spool, "worker", "--burst", "--stalled-after", "1")
    _, errors = worker.communicate(timeout=300)
    assert worker.returncode == 0, errors
    _finished_like_one_clean_run(c, pending.run_id)
    with c.engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'bookplate.sis_run'")
        ).scalar_one()
    assert left == 0  # succeeded (and deleted), not waiting or stuck


def test_the_api_requeues_an_interrupted_run(c: Container, tmp_path: Path) -> None:
    c.add_institution("OTHER", "Other")
    _, key = c.keys.create("MAIN", "rw", parse_areas(["users:rw"]), 10_000)
    _, ro = c.keys.create("MAIN", "ro", parse_areas(["users:ro"]), 10_000)
    _, other = c.keys.create("OTHER", "rw", parse_areas(["users:rw"]), 10_000)
    path = write_zip(tmp_path / "u.zip", {"users.xml": users_doc(user_xml("u1"))})
    pending = c.sis_jobs.create("MAIN", "SIS", path)
    assert pending.run_id is not None
    pending.status = RUNNING
    c.sis_jobs.store.finish_run(pending)
    assert c.sis_jobs.sweep() == [pending.run_id]

    url = f"/bookplate/v1/sis/runs/{pending.run_id}/requeue"
    with TestClient(create_app(c.settings, c), raise_server_exceptions=False) as client:

        def post(path: str, k: str) -> Any:
            headers = {"Authorization": f"apikey {k}", "Accept": "application/json"}
            return client.post(path, headers=headers)

        refused = post(url, ro)  # a read-only key
        assert refused.status_code == 400 and "UNAUTHORIZED" in refused.text
        foreign = post(url, other)  # another institution's key: no such run there
        assert foreign.status_code == 400 and f"No SIS run {pending.run_id}" in foreign.text
        bad = post("/bookplate/v1/sis/runs/0/requeue", key)
        assert bad.status_code == 400
        ok = post(url, key)
        assert ok.status_code == 202, ok.text
        assert ok.headers["location"].endswith(f"/runs/{pending.run_id}")
        if c.engine.dialect.name == "sqlite":
            c.sis_jobs.queue.join()  # type: ignore[union-attr]
        else:
            c.sis_jobs.queue.run_worker(wait=False, install_signal_handlers=False)  # type: ignore[union-attr]
        assert c.sis.report(pending.run_id).status == "done"
        again = post(url, key)
        assert again.status_code == 400
        assert "only pending, running or interrupted" in again.text
