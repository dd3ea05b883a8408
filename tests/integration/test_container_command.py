"""The container's command lines run as they are, without a container engine (none can run
here: docs/operations.md, "Containers"): the API command of the Dockerfile's CMD and of
compose.yaml, with compose's environment, starts, migrates PostgreSQL and answers /health and
/ready; the worker command starts and keeps running. Only what an engine would change is
changed: the database and Redis URLs point at the test services instead of the compose hosts
``db`` and ``redis``, the port is a free one, and ``XDG_DATA_HOME`` and the spool are
temporary folders."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import PG_URL, postgres_schema

ROOT = Path(__file__).resolve().parents[2]
yaml = pytest.importorskip("yaml")
REDIS_URL = os.environ.get("BOOKPLATE_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="BOOKPLATE_TEST_POSTGRES_URL not set")


def _dockerfile() -> tuple[list[str], dict[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]  # the Dockerfile has one CMD
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV (.*?)(?<!\\)$", text, re.M | re.S):
        for key, value in re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")):
            env[key] = value
    return cmd, env


def _compose(service: str) -> tuple[list[str], dict[str, str]]:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    return list(services[service]["command"]), dict(services[service]["environment"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database() -> Iterator[str]:
    with postgres_schema("container") as url:
        yield url


def _environment(compose_env: dict[str, str], image_env: dict[str, str], url: str,
                 tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKPLATE_")}
    env.update(image_env)
    env.update(compose_env)
    assert env["BOOKPLATE_DATABASE_URL"].startswith("postgresql+psycopg://")
    env["BOOKPLATE_DATABASE_URL"] = url  # the compose host "db" -> the test PostgreSQL
    if REDIS_URL:
        env["BOOKPLATE_REDIS_URL"] = REDIS_URL  # the compose host "redis" -> the test Redis
    else:
        env.pop("BOOKPLATE_REDIS_URL", None)
    env["BOOKPLATE_SIS_SPOOL"] = str(tmp_path / "spool")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    # the image's PATH puts its venv first; here that is this checkout's venv
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")


@pytest.mark.parametrize("source", ["dockerfile", "compose"])
def test_the_api_command_answers_ready(database: str, tmp_path: Path, source: str) -> None:
    image_cmd, image_env = _dockerfile()
    compose_cmd, compose_env = _compose("api")
    assert image_cmd == compose_cmd  # one command line, two places
    cmd = list(image_cmd if source == "dockerfile" else compose_cmd)
    port = _free_port()
    cmd[cmd.index("--port") + 1] = str(port)
    cmd[cmd.index("--host") + 1] = "127.0.0.1"  # 0.0.0.0 in the container; loopback here
    env = _environment(compose_env, image_env, database, tmp_path)
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        status, body = 0, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/ready")
            except OSError:
                time.sleep(0.5)
                continue
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, (status, body, proc.poll())
        assert json.loads(body) == {"status": "ready"}
        assert _get(f"http://127.0.0.1:{port}/health")[0] == 200
        # the image's HEALTHCHECK, as the engine would run it (against this port)
        check = (ROOT / "Dockerfile").read_text().split("HEALTHCHECK CMD ", 1)[1].splitlines()[0]
        check = check.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        ran = subprocess.run(check, check=False, shell=True, env=env, timeout=30)
        assert ran.returncode == 0
    finally:
        out = _stop(proc)
    assert "worker_started" in out, out[-2000:]
    assert "Traceback" not in out, out[-4000:]


def test_the_worker_command_starts_and_keeps_running(database: str, tmp_path: Path) -> None:
    cmd, compose_env = _compose("worker")
    _, image_env = _dockerfile()
    env = _environment(compose_env, image_env, database, tmp_path)
    # compose starts the worker after the api, which has migrated the database
    subprocess.run(["bookplate", "db", "upgrade"], env=env, check=True, timeout=120,
                   capture_output=True)
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        time.sleep(8)
        assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")[-3000:]
    finally:
        out = _stop(proc)
    assert "Traceback" not in out, out[-4000:]
