"""Runs whose process died do not stay "running": a killed foreground run is found by its free
lock and marked interrupted, then run again with ``bookplate sis requeue``; on PostgreSQL the
job of a killed worker is queued again by the next worker and the run finishes. Real processes,
killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.sis.jobs import INTERRUPTED, PENDING, RUNNING
from bookplate.sis.locks import RunLock
from bookplate.sis.model import Profile
from bookplate.storage.engine import SQLITE_BEGIN_OPTION
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
    """A bookplate command in the background; its log lines (standard error) go to a file,
    never to a pipe nobody reads while it runs (a full pipe would stall it)."""
    env = {**os.environ, "BOOKPLATE_DATABASE_URL": database_url, "BOOKPLATE_SIS_SPOOL": str(spool)}
    said = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _finish
    proc = subprocess.Popen([BOOKPLATE, *args], env=env, stdout=subprocess.DEVNULL, stderr=said)
    _SAID[proc.pid] = said
    return proc


_SAID: dict[int, IO[bytes]] = {}


def _finish(proc: subprocess.Popen[bytes], timeout: float = 300) -> str:
    """Wait for a command of ``_bookplate``; the end of what it wrote to standard error."""
    proc.wait(timeout=timeout)
    said = _SAID.pop(proc.pid)
    said.seek(0)
    text = said.read().decode(errors="replace")[-3000:]
    said.close()
    return text


def _look(database_url: str, spool: Path, *args: str) -> str:
    """The output of a bookplate command that must succeed (wide: no wrapped cells)."""
    env = {
        **os.environ,
        "BOOKPLATE_DATABASE_URL": database_url,
        "BOOKPLATE_SIS_SPOOL": str(spool),
        "COLUMNS": "250",
    }
    done = subprocess.run(
        [BOOKPLATE, *args], env=env, capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def _table(out: str) -> str:
    """The rows of a table the CLI printed (without the log lines around it)."""
    return "\n".join(line for line in out.splitlines() if line.startswith("│"))


def _users(c: Container) -> int:
    # A reader that does not queue for SQLite's write lock (BEGIN IMMEDIATE, the engine's
    # default): it must see the committed batches of a run in progress, not wait for its end.
    with c.engine.connect().execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"}) as conn:
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
    said = _finish(proc)
    assert 0 < _users(c) < N, f"the kill must land mid-run; exit {proc.returncode}: {said}"


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

    # Looking at the runs is enough (no worker, on PostgreSQL either): the run's lock is free.
    listed = _table(_look(database_url, spool, "sis", "runs", "-i", "MAIN"))
    assert "interrupted" in listed and "running" not in listed
    other = _fresh(database_url, spool)
    try:
        swept = other.sis.report(run.run_id)  # what the listing recorded
        assert swept.status == INTERRUPTED and swept.exit_code == 2
        assert f"bookplate sis requeue {run.run_id}" in swept.message
        assert other.sis_jobs.sweep() == []  # once
        assert other.sis_jobs.stalled("MAIN") == [run.run_id]
    finally:
        other.close()

    again = _bookplate(database_url, spool, "sis", "requeue", str(run.run_id))
    errors = _finish(again)
    assert again.returncode == 0, errors
    if database_url.startswith("postgresql"):
        worker = _bookplate(database_url, spool, "worker", "--burst")
        errors = _finish(worker)
        assert worker.returncode == 0, errors
    _finished_like_one_clean_run(c, run.run_id)


def test_a_run_whose_process_lives_is_not_swept(c: Container, tmp_path: Path) -> None:
    path = write_zip(tmp_path / "u.zip", {"users.xml": users_doc(user_xml("u1"))})
    pending = c.sis_jobs.create("MAIN", "SIS", path)
    assert pending.run_id is not None
    held = RunLock(c.sis_jobs.lock_path(pending.run_id))
    assert not held.acquire()  # the process that creates a run owns it ...
    c.sis_jobs.release(pending.run_id)  # ... until it lets go
    pending.status = RUNNING
    c.sis_jobs.store.finish_run(pending)
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
    errors = _finish(worker)
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
    assert c.sis_jobs.sweep() == []  # its owner (this process) lives
    c.sis_jobs.release(pending.run_id)  # as if this process had died
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


# -- a look at the runs notices a dead owner ---------------------------------------------------

#: A process that owns a run: it creates it (``running`` or left ``pending``), holds its lock,
#: says so, and waits to be killed.
OWNER = """
import sys, time
from pathlib import Path
from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.sis.jobs import RUNNING
from bookplate.sis.locks import RunLock
url, spool, path, status = sys.argv[1:]
c = build_container(Settings(database_url=url, redis_url=None, cache_seconds=0, sis_spool=spool))
run = c.sis_jobs.create("MAIN", "SIS", Path(path), copy=True)
lock = RunLock(c.sis_jobs.lock_path(run.run_id))
lock.acquire()  # (may be held already: the process that creates a run owns it)
if status == RUNNING:
    run.status = RUNNING
    c.sis_jobs.store.finish_run(run)
print(run.run_id, flush=True)
time.sleep(600)
"""


class Owner:
    """A live process owning one run (see ``OWNER``); ``kill`` ends it with SIGKILL."""

    def __init__(self, database_url: str, spool: Path, file: Path, status: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", OWNER, database_url, str(spool), str(file), status],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip().isdigit(), self.proc.stderr.read() if self.proc.stderr else ""
        self.run_id = int(line)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate()


#: (how the runs are looked at, the state the owner leaves its run in while it lives)
LOOKS = [
    *((look, RUNNING) for look in ("cli-runs", "cli-report", "api-run", "api-runs")),
    *((look, RUNNING) for look in ("new-sync", "inbox-poll")),
    ("cli-runs", PENDING),
    ("api-run", PENDING),
]


@pytest.mark.parametrize(("look", "status"), LOOKS)
def test_a_look_at_the_runs_notices_that_their_owner_is_gone(
    c: Container, database_url: str, spool: Path, tmp_path: Path, look: str, status: str
) -> None:
    """Every way of looking at the runs marks a run whose owning process was killed
    ``interrupted``, on PostgreSQL without any worker; while the owner lives, it is left
    alone."""
    small = write_zip(tmp_path / "small.zip", {"u.xml": users_doc(user_xml("s1"))})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _, key = c.keys.create("MAIN", "ro", parse_areas(["users:ro"]), 10_000)
    headers = {"Authorization": f"apikey {key}", "Accept": "application/json"}

    def seen(run_id: int) -> str:
        """The status the look shows (or, for a sync or a poll, what it leaves stored)."""
        if look == "cli-runs":  # the table lists this one run
            out = _table(_look(database_url, spool, "sis", "runs", "-i", "MAIN"))
            (shown,) = [s for s in (RUNNING, PENDING, INTERRUPTED) if s in out]
            return shown
        if look == "cli-report":
            out = _look(database_url, spool, "sis", "report", str(run_id), "--json")
            return str(json.loads(out)["status"])  # log lines go to stderr: stdout is JSON
        if look in ("api-run", "api-runs"):
            with TestClient(create_app(c.settings, c)) as client:
                if look == "api-run":
                    got = client.get(f"/bookplate/v1/sis/runs/{run_id}", headers=headers)
                    assert got.status_code == 200, got.text
                    return str(got.json()["status"])
                got = client.get("/bookplate/v1/sis/runs", headers=headers)
                assert got.status_code == 200, got.text
                (run,) = [r for r in got.json()["run"] if r["run_id"] == run_id]
                return str(run["status"])
        if look == "new-sync":
            _look(database_url, spool, "sis", "sync", str(small), "-p", "SIS", "--no-progress")
        else:
            _look(database_url, spool, "sis", "watch", str(inbox), "-p", "SIS", "--once")
        return c.sis.report(run_id).status

    owner = Owner(database_url, spool, small, status)
    try:
        assert seen(owner.run_id) == status  # a live owner: untouched
        assert c.sis.report(owner.run_id).status == status
    finally:
        owner.kill()
    assert seen(owner.run_id) == INTERRUPTED
    stored = c.sis.report(owner.run_id)
    assert stored.status == INTERRUPTED and stored.exit_code == 2
    assert f"bookplate sis requeue {owner.run_id}" in stored.message


def test_runs_queued_in_a_killed_sqlite_process_are_interrupted(
    c: Container, database_url: str, spool: Path, tmp_path: Path
) -> None:
    """The inbox queues two files; on SQLite this process runs them one after the other in a
    thread, and is killed during the first: the running one and the one still waiting in its
    queue both become ``interrupted`` at the next look, and run again. On PostgreSQL both wait
    in procrastinate's queue: a look leaves them ``pending`` and a worker runs them."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _file(tmp_path).rename(inbox / "a.zip")
    write_zip(inbox / "b.zip", {"u.xml": users_doc(user_xml("later"))})
    watch = _bookplate(database_url, spool, "sis", "watch", str(inbox), "-p", "SIS", "--once")
    if database_url.startswith("postgresql"):
        errors = _finish(watch)
        assert watch.returncode == 0, errors
    else:
        _kill_mid_run(c, watch)
    first, second = sorted(c.sis.runs("MAIN"), key=lambda r: r.run_id or 0)
    assert first.run_id is not None and second.run_id is not None
    before = (first.status, second.status)
    listed = _table(_look(database_url, spool, "sis", "runs", "-i", "MAIN"))
    after = (c.sis.report(first.run_id).status, c.sis.report(second.run_id).status)
    if database_url.startswith("postgresql"):
        assert before == after == (PENDING, PENDING)  # the queue's business
        worker = _bookplate(database_url, spool, "worker", "--burst")
        errors = _finish(worker)
        assert worker.returncode == 0, errors
    else:
        assert before == (RUNNING, PENDING)
        assert after == (INTERRUPTED, INTERRUPTED) and "interrupted" in listed
        assert "queued" in c.sis.report(second.run_id).message  # it never started
        again = _bookplate(database_url, spool, "sis", "requeue", "--stalled")
        errors = _finish(again)
        assert again.returncode == 0, errors
    done = c.sis.report(first.run_id)
    assert (done.status, done.total) == ("done", N), done.message
    assert done.counts["create"] + done.counts["unchanged"] == N
    assert c.sis.report(second.run_id).counts["create"] == 1
    assert _users(c) == N + 1
    assert list(spool.iterdir()) == []  # tickets, copies and locks removed
