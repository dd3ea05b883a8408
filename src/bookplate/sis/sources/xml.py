"""Alma SIS XML version 2: ``<users><user>...</user>...</users>``, plain or in a zip.

Read with ``lxml.etree.iterparse`` and the project's safe parser options (no DTD, no entity
expansion, no network); a DOCTYPE is refused outright. Each ``<user>`` is serialised to bytes
(its fingerprint input), its match ID is read, and the element is cleared at once, so memory
does not grow with the file.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lxml import etree

from bookplate.alma.tree import element_to_dict
from bookplate.alma.user import user_from_dict
from bookplate.alma.xml import MAX_DEPTH, PARSER_OPTIONS, check_depth, local_name, safe_parser
from bookplate.sis.errors import RecordError, SourceError
from bookplate.sis.model import PRIMARY_ID_MATCH
from bookplate.sis.sources import Position, RawRecord, sniff, zip_members
from bookplate.users.model import User

_ITER_OPTIONS = {k: v for k, v in PARSER_OPTIONS.items() if k != "dtd_validation"}


def _match_id(element: Any, match_id_type: str) -> str | None:
    if match_id_type == PRIMARY_ID_MATCH:
        value: str | None = element.findtext("primary_id")
        return (value.strip() or None) if value else None
    for ident in element.iterfind("user_identifiers/user_identifier"):
        id_type = ident.find("id_type")
        if id_type is not None and (id_type.text or "").strip() == match_id_type:
            found: str | None = ident.findtext("value")
            if found and found.strip():
                return found.strip()
    return None


def iter_users(
    stream: IO[bytes], match_id_type: str, start: int = 0, member: str = ""
) -> Iterator[RawRecord]:
    """The ``<user>`` records of one XML document, numbered from ``start + 1``."""
    number = start
    root_checked = False
    try:
        for event, element in etree.iterparse(stream, events=("start", "end"), **_ITER_OPTIONS):
            if not root_checked:
                root_checked = True
                tree = element.getroottree()
                info = tree.docinfo
                if info.doctype or info.internalDTD is not None:
                    raise SourceError("DTDs and entity declarations are not accepted")
                name = local_name(element.tag) if isinstance(element.tag, str) else ""
                if name == "userRecords":
                    raise SourceError("SIS file format version 1 is not supported; send version 2")
                if name != "users":
                    raise SourceError(f"the root element is <{name}>, not <users>")
                continue
            if event != "end" or not isinstance(element.tag, str):
                continue
            parent = element.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # not a child of <users>
            if local_name(element.tag) != "user":
                element.clear()
                continue
            number += 1
            line = element.sourceline
            raw: bytes = etree.tostring(element, with_tail=False)
            match = _match_id(element, match_id_type)
            element.clear()
            while element.getprevious() is not None:
                del parent[0]
            yield RawRecord(number, line, match, raw, member)
    except etree.XMLSyntaxError as exc:
        raise SourceError(
            f"the XML is not well-formed: {exc.msg}", number + 1, exc.lineno
        ) from None
    except (zlib.error, EOFError) as exc:
        raise SourceError(f"the compressed data is broken: {exc}", number + 1) from None
    if not root_checked:
        raise SourceError("the file holds no XML")


class XmlSource:
    """Plain XML, or every .xml member of a zip (in name order)."""

    def __init__(self, path: Path, match_id_type: str) -> None:
        self.path = path
        self.match_id_type = match_id_type
        self.position = Position()

    def records(self) -> Iterator[RawRecord]:
        kind = sniff(self.path)
        if kind == "xml":
            with self.path.open("rb") as handle:
                self.position.handle = handle
                yield from iter_users(handle, self.match_id_type)
            return
        if kind != "zip":
            raise SourceError("expected a zip archive or an XML file")
        count = 0
        for name, reader in zip_members(self.path, self.position):
            if not name.lower().endswith(".xml"):
                continue
            for record in iter_users(reader, self.match_id_type, count, name):
                count = record.number
                yield record

    def parse(self, record: RawRecord) -> User:
        return parse_user(record.raw)


def parse_user(raw: bytes) -> User:
    try:
        element = etree.fromstring(raw, safe_parser())
    except etree.XMLSyntaxError as exc:  # pragma: no cover - raw came from the parser
        raise RecordError(f"unreadable record: {exc}") from None
    check_depth(element, MAX_DEPTH)
    return user_from_dict(element_to_dict(element)).user
