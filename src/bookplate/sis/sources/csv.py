"""CSV files with a configurable column mapping (docs/sis.md, "CSV mapping").

The header row names the columns; ``CsvOptions.columns`` maps a header to a target path
(``mapping.TARGETS``); headers that already are target paths need no entry, other headers are
ignored. Rows are read one at a time; bad bytes for the declared encoding reject that row with
its line number, and the run goes on.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bookplate.sis.errors import RecordError, SourceError
from bookplate.sis.mapping import CsvMapper
from bookplate.sis.model import CsvOptions
from bookplate.sis.sources.base import Position, RawRecord, zip_members
from bookplate.sis.sources.formats import CSV, ZIP, head_kind, member_kind
from bookplate.users.model import User

_SEP = "\x1f"
_MAX_FIELD = 1_000_000
#: Longest line read (characters); a longer one fails the run (see ``_lines``).
MAX_LINE = 8 * _MAX_FIELD


class CsvSource:
    def __init__(self, path: Path, options: CsvOptions, match_id_type: str) -> None:
        self.path = path
        self.options = options
        self.match_id_type = match_id_type
        self.mappers: dict[str, CsvMapper] = {}  # by zip member ("" for a plain file)
        self.position = Position()

    def _rows(self, stream: IO[bytes], start: int, member: str) -> Iterator[RawRecord]:
        try:
            codecs.lookup(self.options.encoding)
        except LookupError:
            raise SourceError(f"unknown encoding {self.options.encoding}") from None
        text = io.TextIOWrapper(
            stream, encoding=self.options.encoding, errors="surrogateescape", newline=""
        )
        try:
            yield from self._read(text, start, member)
        finally:
            text.detach()

    def _read(self, text: IO[str], start: int, member: str) -> Iterator[RawRecord]:
        csv.field_size_limit(_MAX_FIELD)
        reader = csv.reader(_lines(text), delimiter=self.options.delimiter or ",")
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise SourceError(f"unreadable CSV header: {exc}", line=1) from None
        if header is None:
            raise SourceError("the CSV file is empty")
        mapper = CsvMapper(header, self.options, self.match_id_type)
        self.mappers[member] = mapper  # each member's rows are parsed by its own header
        untouched = mapper.untouched
        number = start
        line = reader.line_num
        while True:
            first_line = line + 1
            try:
                row = next(reader, None)
            except csv.Error as exc:
                raise SourceError(f"unreadable CSV: {exc}", number + 1, reader.line_num) from None
            except UnicodeDecodeError as exc:  # pragma: no cover - surrogateescape
                raise SourceError(f"bad bytes: {exc}", number + 1, reader.line_num) from None
            line = reader.line_num
            if row is None:
                return
            if not any(cell.strip() for cell in row):
                continue
            number += 1
            joined = _SEP.join(row)
            raw = joined.encode("utf-8", "surrogateescape")
            if _has_surrogates(joined):
                error = f"line {first_line}: bytes that are not valid {self.options.encoding}"
                yield RawRecord(number, first_line, None, raw, member, error, untouched)
                continue
            yield RawRecord(number, first_line, mapper.match_id(row), raw, member, None, untouched)

    def records(self) -> Iterator[RawRecord]:
        try:
            with self.path.open("rb") as handle:
                head = handle.read(4)  # enough for a zip's signature
        except OSError as exc:
            raise SourceError(f"cannot open {self.path.name}: {exc.strerror}") from None
        if head_kind(head) == ZIP:
            count = 0
            for name, reader in zip_members(self.path, self.position):
                if member_kind(name) != CSV:
                    continue
                for record in self._rows(reader, count, name):
                    count = record.number
                    yield record
            return
        with self.path.open("rb") as handle:
            self.position.handle = handle
            yield from self._rows(handle, 0, "")

    def parse(self, record: RawRecord) -> User:
        mapper = self.mappers.get(record.member)
        if mapper is None:  # pragma: no cover - records() runs first
            raise RecordError("the CSV header has not been read")
        text = record.raw.decode("utf-8", "surrogateescape")
        if _has_surrogates(text):
            raise RecordError(
                f"line {record.line}: bytes that are not valid {self.options.encoding}"
            )
        return mapper.user(text.split(_SEP), record.line)


def _lines(text: IO[str]) -> Iterator[str]:
    """The file's lines, each read with a bound: a file with no line ends (binary data, a
    huge sparse file) fails the run after ``MAX_LINE`` characters instead of being read
    into memory whole."""
    number = 0
    while True:
        line = text.readline(MAX_LINE)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE and not line.endswith(("\n", "\r")):
            raise SourceError(
                f"the line is longer than {MAX_LINE} characters (is this a CSV file?)",
                line=number,
            )
        yield line


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
