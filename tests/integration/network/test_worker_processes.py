"""Refresh workers as real processes (SQLite and PostgreSQL): one killed with SIGKILL in
the middle of a source user's transaction loses nothing and applies nothing twice (checked
by a digest of every copy against what a clean refresh makes of it, and by the history
lines); two workers and request refreshes at once keep each user's changes in order, lose
no update and write one history line per change."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bookplate.bootstrap import Container
from bookplate.network.model import refreshed_copy
from bookplate.storage import tables as t
from bookplate.users.model import User, UserInput
from tests.integration.auth.peers import wait_until

ROOT = Path(__file__).resolve().parents[3]
HOSTS = ("HOST1", "HOST2")


def _user(primary_id: str, last: str = "Lee") -> UserInput:
    return UserInput(User(primary_id=primary_id, first_name="Ann", last_name=last,
                          user_group="UNDERGRAD", expiry_date=date(2030, 1, 31)))


def _worker(database_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.network.worker_proc", database_url, *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "BOOKPLATE_REDIS_URL"},
    )


def _finish(proc: subprocess.Popen[str]) -> dict[str, int]:
    out, errors = proc.communicate(timeout=300)
    assert proc.returncode == 0, errors
    counts: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return counts


def _linked(c: Container, ids: list[str]) -> list[str]:
    """Source users at MAIN, each with a copy in both hosts."""
    for primary_id in ids:
        c.users.create("MAIN", _user(primary_id), "api")
        for host in HOSTS:
            c.network.link(host, "MAIN", primary_id, "test")
    return ids


def _rename(c: Container, primary_id: str, last: str) -> None:
    stored = c.users.get("MAIN", primary_id)
    stored.last_name = last
    c.users.replace("MAIN", primary_id, UserInput(stored), "api")


def _refresh_lines(c: Container, institution: str, primary_id: str) -> list[dict[str, Any]]:
    a = t.audit_log.c
    with c.engine.connect() as conn:
        return [d for d in conn.execute(
            sa.select(a.detail).where(a.institution == institution, a.target == primary_id,
                                      a.action == "network.refresh").order_by(a.id)
        ).scalars() if d.get("changed")]


def _digest(users: list[User]) -> str:
    """The copies' content, the stamps of who/when aside."""
    plain = sorted(repr(replace(u, last_modified_by=None, last_modified_date=None))
                   for u in users)
    return hashlib.sha256("\n".join(plain).encode()).hexdigest()


def _copies(c: Container, ids: list[str]) -> list[User]:
    return [c.users.get(host, primary_id) for host in HOSTS for primary_id in ids]


def _expected(c: Container, before: list[User]) -> list[User]:
    """What a clean worker makes of each copy: refreshed from its source's current record by
    its host's rule (the pure function the worker applies)."""
    out = []
    share = c.network.member("MAIN").share_blocks
    partners = {host: next(p for p in c.network.partners(host) if p.code == "MAIN")
                for host in HOSTS}
    for copy_ in before:
        source = c.users.get("MAIN", copy_.source_link_id or "")
        out.append(refreshed_copy(copy_, source, partners[copy_.institution], share))
    return out


def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    c: Container, database_url: str, tmp_path: Path
) -> None:
    ids = _linked(c, [f"k{i}" for i in range(8)])
    for primary_id in ids:
        _rename(c, primary_id, "Changed")
    _rename(c, "k5", "Changed-Again")  # two entries for one user, taken together
    assert c.network.waiting() == 9
    before = _copies(c, ids)
    marker = tmp_path / "paused"
    # Killed just after the group write that reaches its 7th copy: the second group's
    # copies (the 4th to 6th source users) are written but not committed (the first three
    # users done, their entries deleted with them).
    proc = _worker(database_url, "--pause-after-writes", "7", "--marker", str(marker),
                   "--limit", "3")
    try:
        wait_until(marker.exists, "the worker paused mid-transaction", 120)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert c.network.waiting() == 6  # three users' entries (k5 has two) still waiting
    assert c.users.get("HOST1", "k3").last_name == "Lee"  # its write was rolled back
    assert c.users.get("HOST1", "k2").last_name == "Changed"
    counts = _finish(_worker(database_url))
    assert (counts["entries"], counts["failed"]) == (6, 0)
    assert c.network.waiting() == 0
    after = _copies(c, ids)
    assert _digest(after) == _digest(_expected(c, before))
    assert c.users.get("HOST2", "k5").last_name == "Changed-Again"
    for primary_id in ids:
        for host in HOSTS:
            lines = _refresh_lines(c, host, primary_id)
            assert len(lines) == 1, (host, primary_id, lines)
            assert lines[0]["trigger"] == "live"
    # A third run has nothing to do and writes nothing.
    assert _finish(_worker(database_url))["entries"] == 0
    assert _digest(_copies(c, ids)) == _digest(after)


def test_two_workers_and_request_refreshes_at_once(
    c: Container, database_url: str, tmp_path: Path
) -> None:
    ids = _linked(c, [f"w{i}" for i in range(6)])
    stop = tmp_path / "stop"
    errors: list[BaseException] = []

    def refreshes() -> None:
        try:
            while not stop.exists():
                for primary_id in ids:
                    c.network.refresh("HOST1", primary_id, "all_unique", "api:desk")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # Phase 1: the source changes round after round while two worker processes and a desk
    # refreshing HOST1's copies work at the same time.
    workers = [_worker(database_url, "--limit", "2", "--until", str(stop)) for _ in range(2)]
    desk = threading.Thread(target=refreshes)
    desk.start()
    rounds = 5
    try:
        for round_ in range(rounds):
            for primary_id in ids:
                _rename(c, primary_id, f"Round{round_}")
    finally:
        stop.write_text("stop", encoding="utf-8")
        desk.join(120)
        results = [_finish(w) for w in workers]
    assert errors == []
    assert sum(r["failed"] for r in results) == 0
    assert c.network.waiting() == 0
    for primary_id in ids:
        for host in HOSTS:
            assert c.users.get(host, primary_id).last_name == f"Round{rounds - 1}"
            assert 1 <= len(_refresh_lines(c, host, primary_id)) <= rounds
    # Phase 2: one more change, worked by two processes and refreshed at the desk at once:
    # each copy changes once and says so once.
    lines_before = {(h, p): len(_refresh_lines(c, h, p)) for h in HOSTS for p in ids}
    for primary_id in ids:
        _rename(c, primary_id, "Final")
    stop.unlink()
    workers = [_worker(database_url, "--limit", "1") for _ in range(2)]
    desk = threading.Thread(target=refreshes)
    desk.start()
    try:
        results = [_finish(w) for w in workers]
    finally:
        stop.write_text("stop", encoding="utf-8")
        desk.join(120)
    assert errors == []
    assert sum(r["entries"] for r in results) == len(ids)  # each entry taken by one worker
    for primary_id in ids:
        for host in HOSTS:
            assert c.users.get(host, primary_id).last_name == "Final"
            assert len(_refresh_lines(c, host, primary_id)) == lines_before[host, primary_id] + 1


def test_a_request_refresh_racing_a_live_one_never_writes_the_older_record(
    c: Container,
) -> None:
    """The desk's refresh read the source before a change; the live refresh of that change
    is applied first; the desk's then must not put the older record back (the change's
    outbox entry is gone, nothing would repair it)."""
    c.users.create("MAIN", _user("race"), "api")
    c.network.link("HOST1", "MAIN", "race", "test")
    network = c.network
    fetch = network._fetch  # the race is injected between fetch and write
    done = {"n": 0}

    def fetch_then_change(*args: Any, **kwargs: Any) -> Any:
        found = fetch(*args, **kwargs)
        if not done["n"]:
            done["n"] = 1
            _rename(c, "race", "Newer")
            network.process_outbox()
        return found

    network._fetch = fetch_then_change  # type: ignore[method-assign]  # the race, as above
    try:
        network.refresh("HOST1", "race", "all_unique", "api:desk")
    finally:
        del network._fetch
    assert c.network.waiting() == 0
    assert c.users.get("HOST1", "race").last_name == "Newer"


def test_one_failing_user_of_a_group_holds_up_no_other(c: Container) -> None:
    ids = ["g0", "g1", "bad", "g3"]
    for primary_id in ids:
        c.users.create("MAIN", _user(primary_id), "api")
        c.network.link("HOST1", "MAIN", primary_id, "test")
        _rename(c, primary_id, "Grouped")
    network = c.network
    store_many_in = c.users.store_many_in

    def refuse_bad(uow: Any, pairs: list[tuple[User, User]], actor: str) -> list[User]:
        if any(stored.primary_id == "bad" for stored, _ in pairs):
            raise RuntimeError("refused")
        return store_many_in(uow, pairs, actor)

    c.users.store_many_in = refuse_bad  # type: ignore[method-assign]  # the failure under test
    try:
        report = network.process_outbox(group=4)
    finally:
        del c.users.store_many_in
    assert report.refreshed == 3 and len(report.failed) == 1 and "refused" in report.failed[0]
    assert c.network.waiting() == 1
    assert [c.users.get("HOST1", p).last_name for p in ids] == ["Grouped", "Grouped", "Lee",
                                                               "Grouped"]
    assert all(len(_refresh_lines(c, "HOST1", p)) == 1 for p in ids if p != "bad")
    assert network.process_outbox().refreshed == 1
