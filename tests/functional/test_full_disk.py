"""Issue 14 item 17: on a full disk (SQLite), reads keep being answered; writes answer 503 in
Alma's format and change nothing.

The disk is full for real: the database lives on a tmpfs of 16 MiB mounted for the test (root
only; skipped elsewhere), and a filler file takes the rest of it. The WAL is checkpointed and
truncated first, so any write needs space the file system no longer has.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.users.model import User, UserInput


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "mnt"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path) -> Path:
    filler = mount / "filler"
    # Unbuffered: a write cut short by the full disk leaves nothing in a buffer for close() to
    # try again (which would raise once more, outside the suppress).
    with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
    return filler


def test_reads_keep_working_when_the_disk_is_full(small_disk: Path) -> None:
    db = small_disk / "bookplate.db"
    settings = Settings(database_url=f"sqlite:///{db}", cache_seconds=0, redis_url=None)
    c = build_container(settings, migrate=True)
    try:
        c.add_institution("MAIN", "Main University")
        # 30 calls a second: every call asks the shared counter (no claimed share to spend).
        _, key = c.keys.create("MAIN", "rw", parse_areas(["users:rw"]), 30)
        c.users.create("MAIN", UserInput(User("jdoe", first_name="Jane", last_name="Doe",
                                              user_group="UNDERGRAD")), "t")
        h = {"Authorization": f"apikey {key}", "Accept": "application/json"}
        with TestClient(create_app(settings, c), raise_server_exceptions=False) as client:
            assert client.get("/almaws/v1/users/jdoe", headers=h).status_code == 200
            raw = sqlite3.connect(db)
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.close()
            filler = fill(small_disk)
            assert shutil.disk_usage(small_disk).free < 65536

            for path in ("/almaws/v1/users/jdoe", "/almaws/v1/users?q=last_name~Doe",
                         "/almaws/v1/users/operation/test"):
                r = client.get(path, headers=h)
                assert r.status_code == 200, (path, r.text)
            assert client.get("/almaws/v1/users/jdoe", headers=h).json()["last_name"] == "Doe"

            current = client.get("/almaws/v1/users/jdoe", headers=h).json()
            put = client.put("/almaws/v1/users/jdoe", json=dict(current, last_name="Full"),
                             headers=h)
            assert put.status_code == 503
            assert put.json()["errorList"]["error"][0]["errorCode"] == "60101"
            assert "cannot be written" in put.json()["errorList"]["error"][0]["errorMessage"]
            new = dict(current, primary_id="newbie", user_identifier=[])
            made = client.post("/almaws/v1/users", json=new,
                               headers={**h, "Accept": "application/xml"})
            assert made.status_code == 503
            assert b"<errorCode>60101</errorCode>" in made.content

            filler.unlink()  # space again: writes work, nothing of the refused ones stayed
            assert client.get("/almaws/v1/users/newbie", headers=h).status_code == 400
            assert client.get("/almaws/v1/users/jdoe", headers=h).json()["last_name"] == "Doe"
            again = client.put("/almaws/v1/users/jdoe", json=dict(current, last_name="Room"),
                               headers=h)
            assert again.status_code == 200, again.text
    finally:
        c.close()
