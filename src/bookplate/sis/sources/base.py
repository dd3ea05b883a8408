"""What every streaming reader of SIS files shares.

A source yields :class:`RawRecord` one at a time (never the whole file): the record's number,
its match ID (read cheaply, before full parsing) and its raw bytes, which are fingerprinted.
``parse`` turns a raw record into a ``User`` only when the run needs it.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from bookplate.errors import BookplateError
from bookplate.sis.errors import RecordError, SourceError
from bookplate.sis.sources.formats import member_kind
from bookplate.users.model import User

#: What reading one record may raise that rejects only that record (a SourceError, which is
#: a BookplateError too, fails the run instead).
RECORD_ERRORS: tuple[type[Exception], ...] = (
    RecordError,
    BookplateError,
    ValueError,
    TypeError,
    RecursionError,
)

#: Largest total uncompressed size of a zip's members, and largest compression ratio.
MAX_UNZIPPED_BYTES = 8 * 1024**3
MAX_RATIO = 200


@dataclass(slots=True)
class RawRecord:
    number: int  # 1-based position in the file(s)
    line: int | None  # source line where the record starts, when known
    match_id: str | None
    raw: bytes
    member: str = ""  # the zip member it came from
    error: str | None = None  # why the record cannot be read (it is then rejected)
    #: Fields the file has no column for (CSV, ``mapping.untouched_key``): kept as stored.
    untouched: frozenset[tuple[str, str]] = frozenset()


class Position:
    """How far into the file on disk a source has read (for progress bars)."""

    def __init__(self) -> None:
        self.handle: IO[bytes] | None = None

    def __call__(self) -> int:
        handle = self.handle
        if handle is None or handle.closed:
            return 0
        try:
            return handle.tell()
        except (OSError, ValueError):
            return 0


class Source(Protocol):
    position: Position

    def records(self) -> Iterator[RawRecord]: ...

    def parse(self, record: RawRecord) -> User:
        """The mapped user; raises RecordError (or a users.errors InputError) when the
        record cannot be read."""
        ...


def parse_many(source: Source, records: Sequence[RawRecord]) -> list[User | Exception]:
    """``source.parse`` of each record, in order: the user, or the RECORD_ERRORS exception
    ``parse`` raises for it; a SourceError (or anything unexpected) is raised. A source may
    offer a faster ``parse_many(records)`` of its own with the same result."""
    own = getattr(source, "parse_many", None)
    if own is not None:
        result: list[User | Exception] = own(records)
        return result
    return parse_each(source, records)


def parse_each(source: Source, records: Sequence[RawRecord]) -> list[User | Exception]:
    """``parse_many`` the plain way: one ``source.parse`` after the other."""
    out: list[User | Exception] = []
    for record in records:
        try:
            out.append(source.parse(record))
        except SourceError:
            raise
        except RECORD_ERRORS as exc:
            out.append(exc)
    return out


class LimitedReader(io.RawIOBase):
    """Reads a zip member, refusing more than ``limit`` bytes in all (zip-bomb guard that
    does not trust the sizes the archive declares)."""

    def __init__(self, inner: IO[bytes], budget: list[int], name: str) -> None:
        self._inner = inner
        self._budget = budget
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # io takes a buffer
        try:
            data = self._inner.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            # A member whose declared size or checksum lies (a bomb that passes the ratio
            # check by declaring a small size ends with "Bad CRC-32" once that size is read).
            raise SourceError(
                f"zip member {self._name}: the archive is damaged or declares false sizes "
                f"({exc})"
            ) from None
        self._budget[0] -= len(data)
        if self._budget[0] < 0:
            raise SourceError(
                f"zip member {self._name}: the archive unpacks to more than the "
                f"{MAX_UNZIPPED_BYTES} bytes allowed (zip bomb?)"
            )
        buffer[: len(data)] = data
        return len(data)


def zip_members(path: Path, position: Position | None = None) -> Iterator[tuple[str, IO[bytes]]]:
    """(name, reader) of each member that is read (``formats.member_kind``), in name order,
    with the bomb guards."""
    handle = path.open("rb")
    if position is not None:
        position.handle = handle
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError) as exc:
        handle.close()
        raise SourceError(f"not a readable zip archive: {exc}") from None
    with handle, archive:
        infos = sorted((i for i in archive.infolist() if not i.is_dir()), key=lambda i: i.filename)
        wanted = [i for i in infos if member_kind(i.filename) is not None]
        if not wanted:
            raise SourceError("the zip archive holds no .xml or .csv file")
        declared = sum(i.file_size for i in wanted)
        if declared > MAX_UNZIPPED_BYTES:
            raise SourceError(
                f"the archive declares {declared} uncompressed bytes, more than the "
                f"{MAX_UNZIPPED_BYTES} allowed"
            )
        for info in wanted:
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                ratio = info.file_size // info.compress_size
                raise SourceError(
                    f"zip member {info.filename} is compressed {ratio}:1, more than the "
                    f"{MAX_RATIO}:1 allowed (zip bomb?)"
                )
        budget = [min(declared, MAX_UNZIPPED_BYTES)]
        for info in wanted:
            try:
                inner = archive.open(info)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
                raise SourceError(f"zip member {info.filename}: {exc}") from None
            with inner:
                reader = io.BufferedReader(LimitedReader(inner, budget, info.filename), 1 << 16)
                yield info.filename, reader
