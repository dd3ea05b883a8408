"""The SIS readers stream: no read of a whole file, no read larger than a bounded chunk, and a
huge input without record or line ends fails fast instead of being gathered in memory."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bookplate.sis.errors import SourceError
from bookplate.sis.model import CsvOptions, Profile
from bookplate.sis.sources import csv as csv_source
from bookplate.sis.sources import open_source

LIMIT = 1 << 20  # the largest read a reader may ask for
COUNT = 6000


class Guarded(io.BufferedIOBase):
    """A binary file that refuses ``read()`` without a size and reads above ``LIMIT``."""

    def __init__(self, inner: Any, log: list[int]) -> None:
        self._inner = inner
        self._log = log

    def _check(self, size: int | None) -> int:
        if size is None or size < 0:
            # "The rest" is fine near the end (zipfile reads the end record so).
            here = self._inner.tell()
            size = self._inner.seek(0, os.SEEK_END) - here
            self._inner.seek(here)
            if size > LIMIT:
                raise AssertionError(f"read() of the rest of the file ({size} bytes)")
        if size > LIMIT:
            raise AssertionError(f"a read of {size} bytes")
        self._log.append(size)
        return size

    def read(self, size: int | None = -1) -> bytes:
        data: bytes = self._inner.read(self._check(size))
        return data

    def read1(self, size: int = -1) -> bytes:
        data: bytes = self._inner.read1(self._check(size))
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        raise AssertionError("readline() of a binary file")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        position: int = self._inner.seek(offset, whence)
        return position

    def tell(self) -> int:
        position: int = self._inner.tell()
        return position

    def close(self) -> None:
        self._inner.close()
        super().close()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every binary open of a path in the test gives a Guarded file; the sizes read."""
    log: list[int] = []
    real_open = Path.open

    def guarded_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        return Guarded(handle, log) if mode == "rb" else handle

    monkeypatch.setattr(Path, "open", guarded_open)
    return log


def _xml_users(count: int, odd: bool = False) -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8"?>\n<users>\n'
    for i in range(count):
        comment = b"<!-- slow path -->" if odd and i == 1 else b""
        yield (
            f"<user><primary_id>p{i:06d}</primary_id>".encode()
            + comment
            + b"<first_name>Ann</first_name><last_name>"
            + b"L" * 200
            + b"</last_name></user>\n"
        )
    yield b"</users>\n"


def _csv_rows(count: int) -> Iterator[bytes]:
    yield b"primary_id,first_name,last_name\n"
    for i in range(count):
        yield f"p{i:06d},Ann,{'L' * 200}\n".encode()


def _write(path: Path, parts: Iterator[bytes], zipped: bool) -> Path:
    if not zipped:
        with open(path, "wb") as handle:  # builtin open: not through the guard
            handle.writelines(parts)
        return path
    member = "users.csv" if path.suffix == ".zip" and "csv" in path.stem else "users.xml"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, b"".join(parts))
    return path


@pytest.mark.parametrize(
    ("name", "parts", "zipped"),
    [
        ("fast.xml", lambda: _xml_users(COUNT), False),
        ("slow.xml", lambda: _xml_users(COUNT, odd=True), False),
        ("xml.zip", lambda: _xml_users(COUNT), True),
        ("users.csv", lambda: _csv_rows(COUNT), False),
        ("csv.zip", lambda: _csv_rows(COUNT), True),
    ],
)
def test_readers_read_in_bounded_chunks(
    tmp_path: Path, reads: list[int], name: str, parts: Any, zipped: bool
) -> None:
    path = _write(tmp_path / name, parts(), zipped)
    assert os.path.getsize(path) > LIMIT or zipped
    profile = Profile(code="SIS", institution="MAIN", csv=CsvOptions())
    source = open_source(path, profile)
    numbers = [r.number for r in source.records()]
    assert numbers == list(range(1, COUNT + 1))
    assert reads and max(reads) <= LIMIT


def _sparse(path: Path, head: bytes, size: int = 2 * 1024**3) -> Path:
    """A file of ``size`` bytes (2 GiB) that takes no disk: ``head`` then NUL bytes."""
    with open(path, "wb") as handle:  # builtin open: not through the guard
        handle.write(head)
    os.truncate(path, size)
    return path


@pytest.mark.parametrize(
    ("name", "head", "needle"),
    [
        ("a.xml", b"<users><user><primary_id>x</primary_id>", "not well-formed"),
        ("b.xml", b'<?xml version="1.0"?>\n<users>', "not well-formed"),
        ("c.csv", b"primary_id,first_name\n", "longer than"),
        ("d.zip", b"", "neither a zip"),
        ("e.bin", b"PK\x03\x04", "zip"),
    ],
)
def test_a_2_gib_file_without_record_ends_fails_after_a_bounded_read(
    tmp_path: Path, reads: list[int], name: str, head: bytes, needle: str
) -> None:
    path = _sparse(tmp_path / name, head)
    profile = Profile(code="SIS", institution="MAIN")
    with pytest.raises(SourceError, match=needle):
        for _ in open_source(path, profile).records():
            pass
    # Far less than the file was read: the readers' own bounds stopped it.
    assert sum(reads) < 64 * LIMIT, sum(reads)


def test_a_csv_line_longer_than_the_bound_fails_with_its_line(
    tmp_path: Path, reads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_source, "MAX_LINE", 1000)
    path = _write(
        tmp_path / "u.csv",
        iter([b"primary_id,first_name\n", b"p1,Ann\n", b"p2," + b"x" * 5000]),
        False,
    )
    source = open_source(path, Profile(code="SIS", institution="MAIN"))
    records = source.records()
    assert next(records).match_id == "p1"
    with pytest.raises(SourceError, match=r"line 3: the line is longer than 1000 characters"):
        next(records)
