"""Pushes between two ``bookplate serve`` processes on PostgreSQL (each with a schema of its
own): home A's live refresh runs in its procrastinate worker (``bookplate network worker``),
which sends the push to host B after its outbox pass. B down → the push waits in A's
database with its error and arrives once B is back (the worker's periodic pass); a worker
killed with SIGKILL after B applied a push but before A recorded it sends it again, and B
answers it as stale (applied once); an older or repeated sequence changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.auth.peers import stop, wait_until
from tests.integration.network.test_pushes import (
    Side,
    _copy_name,
    _h,
    _rename,
    _side,
    _waiting,
    started_and_linked,
)
from tests.pg import PG_URL, postgres_schema

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not PG_URL, reason="BOOKPLATE_TEST_POSTGRES_URL is not set")]

ROOT = Path(__file__).resolve().parents[3]


def _env(database: str) -> dict[str, str]:
    env = {**os.environ, "BOOKPLATE_DATABASE_URL": database}
    env.pop("BOOKPLATE_REDIS_URL", None)
    return env


def _network_worker(a: Side) -> subprocess.Popen[bytes]:
    command = str(Path(sys.executable).parent / "bookplate")
    with a.log.open("ab") as out:
        return subprocess.Popen([command, "network", "worker"], env=_env(a.database),
                                stdout=out, stderr=out)


@pytest.fixture
def linked(tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    with ExitStack() as stack:
        a = _side(tmp_path, "a", "A", True, stack.enter_context(postgres_schema("pa")))
        b = _side(tmp_path, "b", "B", False, stack.enter_context(postgres_schema("pb")))
        yield from started_and_linked(a, b)


def _push_lines(http: httpx.Client, b: Side) -> list[dict[str, Any]]:
    history = http.get(f"{b.url}/bookplate/v1/network/history/walker",
                       headers=_h(b.key)).json()
    return [h for h in history["history"] if h["action"] == "network.refresh"
            and h["detail"].get("trigger") == "push"]


def test_the_worker_pushes_waits_for_a_host_that_is_down_then_delivers(
    linked: tuple[Side, Side],
) -> None:
    a, b = linked
    worker = _network_worker(a)
    try:
        with httpx.Client(timeout=30) as http:
            _rename(http, a, "Walker-Ng")
            wait_until(lambda: _copy_name(http, b) == "Walker-Ng", "the push reached B", 90)
            wait_until(lambda: _waiting(a) == [], "A's push dropped once delivered", 30)
            assert len(_push_lines(http, b)) == 1
            b.stop()
            _rename(http, a, "Walker-Down")

            def failed_once() -> bool:
                waiting = _waiting(a)
                return len(waiting) == 1 and bool(getattr(waiting[0], "last_error", None))

            wait_until(failed_once, "A's push waits with its error", 90)
            error = str(getattr(_waiting(a)[0], "last_error", ""))
            assert "Partner institution B is unavailable" in error and b.key not in error
            b.start()
            # The worker's periodic pass (every minute) sends it again.
            wait_until(lambda: _copy_name(http, b) == "Walker-Down",
                       "the push after B is back", 180)
            wait_until(lambda: _waiting(a) == [], "A's push dropped once delivered", 30)
            assert len(_push_lines(http, b)) == 2
    finally:
        stop(worker)


def test_a_worker_killed_after_the_host_applied_sends_again_and_b_applies_once(
    linked: tuple[Side, Side], tmp_path: Path,
) -> None:
    a, b = linked
    marker = tmp_path / "paused"
    with httpx.Client(timeout=30) as http:
        _rename(http, a, "Walker-Kill")  # no worker runs: the outbox entry waits
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.network.worker_proc", a.database,
             "--pause-after-pushes", "1", "--marker", str(marker)],
            cwd=ROOT, env=_env(a.database), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_until(marker.exists, "the worker paused after B's answer", 120)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=60)
        assert _copy_name(http, b) == "Walker-Kill"  # B applied it
        assert len(_waiting(a)) == 1  # A never recorded the delivery
        assert len(_push_lines(http, b)) == 1
        command = str(Path(sys.executable).parent / "bookplate")
        done = subprocess.run([command, "network", "process"], env=_env(a.database),
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert "0 changes" in done.stdout and "1 stale" in done.stdout, done.stdout
        assert _waiting(a) == []
        assert len(_push_lines(http, b)) == 1  # the second delivery applied nothing
        # The same sequence again, or an older one, by hand: stale, nothing changes.
        seq = 10**9
        body = {"source_institution_code": "A", "source_pk": 1, "source_user_id": "walker",
                "sequence": seq, "user": {"primary_id": "walker", "first_name": "Jo",
                                          "last_name": "Hand",
                                          "user_group": {"value": "UNDERGRAD"},
                                          "status": {"value": "ACTIVE"}}}
        url = f"{b.url}/bookplate/v1/network/pushes"
        assert http.post(url, json=body, headers=_h(b.key)).json() == {"outcome": "applied"}
        assert http.post(url, json=body, headers=_h(b.key)).json() == {"outcome": "stale"}
        older = {**body, "sequence": seq - 1, "user": {**body["user"],  # type: ignore[dict-item]  # a dict literal above
                                                       "last_name": "Older"}}
        assert http.post(url, json=older, headers=_h(b.key)).json() == {"outcome": "stale"}
        assert _copy_name(http, b) == "Hand"
