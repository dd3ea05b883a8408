"""Streaming readers of SIS files: Alma SIS XML v2 (plain or zipped) and CSV (plain or
zipped). ``formats`` knows the formats; ``open_source`` picks the reader of a file by it;
``base`` holds what the readers share (``RawRecord``, the ``Source`` protocol, zip members)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bookplate.sis.errors import SourceError
from bookplate.sis.model import Profile
from bookplate.sis.sources.base import Position, RawRecord, Source
from bookplate.sis.sources.csv import CsvSource
from bookplate.sis.sources.formats import CSV, ZIP, archive_kind, file_kind
from bookplate.sis.sources.xml import XmlSource
from bookplate.users.model import User


def open_source(path: Path, profile: Profile) -> Source:
    """XML (plain or zipped) or CSV (plain or zipped), by content and name."""
    kind = file_kind(path)
    if kind == ZIP:
        kind = archive_kind(path)
    if kind == CSV:
        return CsvSource(path, profile.csv, profile.match_id_type)
    return XmlSource(path, profile.match_id_type)


class FailedSource:
    """A file that could not even be opened: the run fails with its reason."""

    def __init__(self, error: SourceError) -> None:
        self.error = error
        self.position = Position()

    def records(self) -> Iterator[RawRecord]:
        raise self.error

    def parse(self, record: RawRecord) -> User:  # pragma: no cover - no records
        raise self.error
