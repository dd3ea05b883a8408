"""Issue 14 item 15: a worker killed under load is replaced, the replacement stays up, and the
service keeps answering; worker starts and deaths are logged.

A real ``bookplate serve --workers 2`` process on 127.0.0.1, loaded by client threads; one
worker gets SIGKILL. Nothing here measures time: the deadlines only bound how long the test
waits before it fails.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.users.model import User, UserInput

DEADLINE = 180.0  # seconds: generous, for a 2-core machine shared with other work


@dataclass
class Served:
    process: subprocess.Popen[str]
    port: int
    key: str
    lines: list[str] = field(default_factory=list)

    def started_pids(self) -> list[int]:
        pids = []
        for line in list(self.lines):
            if line.startswith("{") and '"worker_started"' in line:
                pids.append(int(json.loads(line)["pid"]))
        return pids

    def died(self) -> list[int]:
        return [int(m) for line in list(self.lines)
                for m in re.findall(r"Child process \[(\d+)\] died", line)]

    def wait_for(self, what: str, check: object) -> None:
        deadline = time.monotonic() + DEADLINE
        while not check():  # type: ignore[operator]
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what}; log:\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    url = f"sqlite:///{tmp_path}/bookplate.db"
    c = build_container(Settings(database_url=url, redis_url=None), migrate=True)
    c.add_institution("MAIN", "Main University")
    _, key = c.keys.create("MAIN", "load", parse_areas(["users:ro"]), 100_000)
    c.users.create("MAIN", UserInput(User("jdoe", first_name="Jane", last_name="Doe",
                                          user_group="UNDERGRAD")), "t")
    c.close()
    port = free_port()
    env = {**os.environ, "BOOKPLATE_DATABASE_URL": url, "BOOKPLATE_LOG_JSON": "true",
           "BOOKPLATE_REDIS_URL": "", "PYTHONUNBUFFERED": "1"}
    cli = Path(sys.executable).with_name("bookplate")
    process = subprocess.Popen(
        [str(cli), "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out = Served(process, port, key)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            out.lines.append(line.strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield out
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(10)
        assert process.stdout is not None
        process.stdout.close()


def get_user(port: int, key: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/almaws/v1/users/jdoe",
                     headers={"Authorization": f"apikey {key}", "Accept": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.slow
def test_a_killed_worker_is_replaced_under_load_and_requests_go_on(served: Served) -> None:
    served.wait_for("two workers did not start", lambda: len(set(served.started_pids())) >= 2)
    first = set(served.started_pids())
    assert get_user(served.port, served.key) == 200

    answered: list[int] = []  # statuses of completed requests, in order
    failed: list[str] = []  # connections refused or reset (the killed worker's own ones)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                answered.append(get_user(served.port, served.key))
            except (OSError, http.client.HTTPException) as exc:
                failed.append(repr(exc))

    clients = [threading.Thread(target=load) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        served.wait_for("no load reached the workers", lambda: len(answered) >= 50)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        at_kill = len(answered)
        served.wait_for("the supervisor did not log the death", lambda: victim in served.died())
        served.wait_for("no replacement started",
                        lambda: len(set(served.started_pids()) - first) >= 1)
        (replacement,) = set(served.started_pids()) - first
        at_replacement = len(answered)
        # Keep the load on for a while longer: the replacement must not be killed in turn.
        served.wait_for("requests stopped after the replacement",
                        lambda: len(answered) >= at_replacement + 400)
    finally:
        stop.set()
        for client in clients:
            client.join(60)
    assert served.died() == [victim]  # one death: the replacement was not killed again
    assert set(served.started_pids()) == first | {replacement}
    os.kill(replacement, 0)  # still alive (raises if not)
    assert len(answered) > at_kill  # requests went on being answered
    assert set(answered[at_replacement:]) == {200}
    assert set(answered) == {200}, failed[:5]
