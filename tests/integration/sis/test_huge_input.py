"""Huge and garbage inputs fail the run with a clear message, fast, and lose nothing stored
(SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import pytest

from bookplate.bootstrap import Container
from bookplate.sis.model import MissingPolicy

from .helpers import user_xml, users_doc, write_zip

GIB2 = 2 * 1024**3


def _stored(c: Container) -> list[tuple[str, str, str | None]]:
    out = []
    for pid in ("u1", "u2", "u3"):
        user = c.users.get("MAIN", pid)
        out.append((user.primary_id, user.status or "", user.last_name))
    return out


def _sparse(path: Path, head: bytes) -> Path:
    with open(path, "wb") as handle:
        handle.write(head)
    os.truncate(path, GIB2)  # 2 GiB that take no disk
    return path


def _garbage_zip(tmp: Path) -> Path:
    path = tmp / "garbage.zip"
    rng = random.Random(4)
    noise = rng.randbytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.xml", b'<?xml version="1.0"?>\n<users>' + noise)
    return path


@pytest.mark.parametrize("policy", [MissingPolicy.OFF, MissingPolicy.DEACTIVATE])
@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: _sparse(p / "huge.xml", b"<users><user><primary_id>u1"), "not well-formed"),
        (lambda p: _sparse(p / "huge.csv", b"primary_id,last_name\n"), "longer than"),
        (lambda p: _sparse(p / "huge.zip", b""), "neither a zip"),
        (_garbage_zip, "not well-formed"),
    ],
)
def test_huge_or_garbage_input_fails_the_run_and_keeps_stored_users(
    c: Container, tmp_path: Path, make: object, needle: str, policy: MissingPolicy
) -> None:
    good = write_zip(
        tmp_path / "good.zip",
        {"users.xml": users_doc(user_xml("u1"), user_xml("u2"), user_xml("u3"))},
    )
    assert c.sis.run("MAIN", "SIS", good).counts["create"] == 3
    profile = c.sis.profile("MAIN", "SIS")
    profile.missing_policy = policy
    profile.guard_share = 1.0  # only the file's failure may protect the stored users
    c.sis.update_profile(profile)
    before = _stored(c)

    bad = make(tmp_path)  # type: ignore[operator]
    report = c.sis.run("MAIN", "SIS", bad)
    assert report.status == "failed" and report.exit_code == 2
    assert needle in report.message
    assert report.counts["deactivate"] == 0
    assert _stored(c) == before
    assert all(status == "ACTIVE" for _, status, _ in before)
