"""Alma SIS XML version 2: ``<users><user>...</user>...</users>``, plain or in a zip.

Fast path: a document whose prolog is plain (no DOCTYPE, UTF-8, root exactly ``<users>``) is
cut into its ``<user>...</user>`` byte slices without parsing them; each slice is the record's
fingerprint input and its match ID is read from it by a strict pattern (any doubt: the slice is
parsed by lxml). A slice is only parsed in full when the run needs the user, i.e. when its
fingerprint is not the stored one; a slice that is not well-formed then fails the run as before.
Anything unusual (a comment or CDATA inside a record, text between records, a nested ``<user>``,
a record larger than :data:`MAX_SLICE`) switches the rest of the document to the slow path.

Slow path: ``lxml.etree.iterparse`` with the project's safe parser options (no DTD, no entity
expansion, no network); a DOCTYPE is refused outright. Each ``<user>`` is serialised to bytes
(its fingerprint input), its match ID is read, and the element is cleared at once, so memory
does not grow with the file.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from lxml import etree

from bookplate.alma.element import user_from_element
from bookplate.alma.tree import element_to_dict
from bookplate.alma.user import user_from_dict
from bookplate.alma.xml import MAX_DEPTH, PARSER_OPTIONS, check_depth, local_name, safe_parser
from bookplate.sis.errors import SourceError
from bookplate.sis.model import PRIMARY_ID_MATCH
from bookplate.sis.sources.base import (
    RECORD_ERRORS,
    Position,
    RawRecord,
    parse_each,
    zip_members,
)
from bookplate.sis.sources.formats import XML, ZIP, file_kind, member_kind
from bookplate.users.model import User

_ITER_OPTIONS = {k: v for k, v in PARSER_OPTIONS.items() if k != "dtd_validation"}

CHUNK = 1 << 20
MAX_SLICE = 16 << 20  # a longer record goes through iterparse (and its size limits)
_WS = b" \t\r\n"
_PROLOG = re.compile(
    rb"\A(?:\xef\xbb\xbf)?[ \t\r\n]*"
    rb"(?:<\?xml(?:\s+version\s*=\s*[\"']1\.[01][\"'])"
    rb"(?:\s+encoding\s*=\s*[\"'](?:utf-8|UTF-8|utf8|UTF8)[\"'])?"
    rb"(?:\s+standalone\s*=\s*[\"'](?:yes|no)[\"'])?\s*\?>)?[ \t\r\n]*<users>"
)
_SPACE = re.compile(rb"[ \t\r\n]*")
_PRIMARY = re.compile(rb"<primary_id>([^<&]*)</primary_id>")
_IDENT = re.compile(rb"<user_identifier(?:\s[^>]*)?>(.*?)</user_identifier>", re.S)
_ID_TYPE = re.compile(rb"<id_type>([^<&]*)</id_type>")
_ID_VALUE = re.compile(rb"<value>([^<&]*)</value>")
_ODD = (b"<!", b"<?", b"<user>", b"<user ", b"<user\t", b"<user\n", b"<user\r", b"<user/")


class _Fallback(Exception):
    """The fast scanner met something it does not handle: iterparse takes over."""


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


_FEED = 1 << 15  # bytes the pull parser is fed before its events are taken


def _events(stream: Any) -> Iterator[tuple[str, Any]]:
    """``etree.iterparse(stream, events=("start", "end"))`` with ``_ITER_OPTIONS``, by a pull
    parser: ``iterparse`` does not take every parser option (it keeps a table of ``xml:id``
    values whatever ``collect_ids`` says, and fails a file that repeats one as not
    well-formed). Fed ``_FEED`` bytes at a time, as ``iterparse`` reads, so the elements
    parsed before the caller clears them stay few."""
    parser = etree.XMLPullParser(events=("start", "end"), **_ITER_OPTIONS)
    while chunk := stream.read(CHUNK):
        for start in range(0, len(chunk), _FEED):
            parser.feed(chunk[start : start + _FEED])
            yield from parser.read_events()
    parser.close()
    yield from parser.read_events()


def _iterparse(
    stream: Any, match_id_type: str, start: int, member: str, line_offset: int
) -> Iterator[RawRecord]:
    """The slow path: every record through iterparse (lines shifted by ``line_offset``)."""
    number = start
    root_checked = False
    try:
        for event, element in _events(stream):
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
            line = element.sourceline + line_offset if element.sourceline else None
            raw: bytes = etree.tostring(element, with_tail=False)
            match = _match_id(element, match_id_type)
            element.clear()
            while element.getprevious() is not None:
                del parent[0]
            yield RawRecord(number, line, match, raw, member)
    except etree.XMLSyntaxError as exc:
        raise SourceError(
            f"the XML is not well-formed: {exc.msg}",
            number + 1,
            exc.lineno + line_offset if exc.lineno else exc.lineno,
        ) from None
    except (zlib.error, EOFError) as exc:
        raise SourceError(f"the compressed data is broken: {exc}", number + 1) from None
    if not root_checked:
        raise SourceError("the file holds no XML")


class _Prefixed:
    """A byte stream with some bytes already read put back in front."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size < 0 or size >= len(self._prefix):
                out, self._prefix = self._prefix, b""
                return out
            out, self._prefix = self._prefix[:size], self._prefix[size:]
            return out
        return self._stream.read(size)


_NESTED = re.compile(rb"<user[\s>/]")


def _text(value: bytes) -> str | None:
    """The stripped text of a simple element's content; _Fallback when not simple."""
    if b"\r" in value:
        raise _Fallback
    try:
        text = value.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise _Fallback from None
    return text or None


def _fast_match_id(raw: bytes, match_id_type: str) -> str | None:
    """The match ID read from the slice by pattern, exactly as ``_match_id`` would read it
    from the parsed element; _Fallback whenever that is not certain."""
    if match_id_type == PRIMARY_ID_MATCH:
        count = raw.count(b"<primary_id")
        if count == 0:
            return None
        found = _PRIMARY.search(raw)
        if count != 1 or found is None:
            raise _Fallback
        return _text(found.group(1))
    lists = raw.count(b"<user_identifiers")
    if lists == 0:
        return None
    blocks = _IDENT.findall(raw)
    if lists != 1 or raw.count(b"<user_identifier") - 1 != len(blocks):
        raise _Fallback
    for block in blocks:
        if block.count(b"<id_type") > 1 or block.count(b"<value") > 1:
            raise _Fallback
        id_type = _ID_TYPE.search(block)
        if id_type is None:
            if b"<id_type" in block:
                raise _Fallback
            continue
        if (_text(id_type.group(1)) or "") != match_id_type:
            continue
        value = _ID_VALUE.search(block)
        if value is None:
            if b"<value" in block:
                raise _Fallback
            continue
        text = _text(value.group(1))
        if text:
            return text
    return None


def _slice_match_id(raw: bytes, match_id_type: str, number: int, line: int) -> str | None:
    try:
        return _fast_match_id(raw, match_id_type)
    except _Fallback:
        pass
    try:
        element = etree.fromstring(raw, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"the XML is not well-formed: {exc.msg}", number, line) from None
    return _match_id(element, match_id_type)


_AFTER_NAME = (b">", b" ", b"\t", b"\n", b"\r")


def _tail(buf: bytes, end: int, stream: IO[bytes], eof: bool) -> bytes:
    """``buf`` up to ``end`` (just after the root's end tag) and what follows it, read until
    the end of the stream or the first bytes that are not white space."""
    while not eof and not buf[end:].strip(_WS):
        chunk = stream.read(CHUNK)
        buf, eof = buf[:end] + chunk, not chunk
    return buf


def _read_head(stream: IO[bytes]) -> tuple[bytes, bool]:
    head = b""
    while len(head) < 4096:
        chunk = stream.read(CHUNK)
        if not chunk:
            return head, True
        head += chunk
    return head, False


def iter_users(
    stream: IO[bytes], match_id_type: str, start: int = 0, member: str = ""
) -> Iterator[RawRecord]:
    """The ``<user>`` records of one XML document, numbered from ``start + 1``."""
    try:
        buf, eof = _read_head(stream)
    except (zlib.error, EOFError) as exc:
        raise SourceError(f"the compressed data is broken: {exc}", start + 1) from None
    prolog = _PROLOG.match(buf)
    if prolog is None:
        yield from _iterparse(_Prefixed(buf, stream), match_id_type, start, member, 0)
        return
    pos = prolog.end()
    line = 1 + buf.count(b"\n", 0, pos)
    number = start
    try:
        while True:
            space = _SPACE.match(buf, pos)
            end_space = space.end() if space else pos
            line += buf.count(b"\n", pos, end_space)
            pos = end_space
            if len(buf) - pos < 16 and not eof:
                chunk = stream.read(CHUNK)
                buf, pos, eof = buf[pos:] + chunk, 0, not chunk
                continue
            if buf.startswith(b"<user", pos) and buf[pos + 5 : pos + 6] in _AFTER_NAME:
                end = buf.find(b"</user>", pos)
                while end < 0:
                    if eof or len(buf) - pos > MAX_SLICE:
                        raise _Fallback
                    chunk = stream.read(CHUNK)
                    searched = len(buf) - pos
                    buf, pos, eof = buf[pos:] + chunk, 0, not chunk
                    end = buf.find(b"</user>", max(searched - 7, 0))
                raw = buf[pos : end + 7]
                if b"<!" in raw or b"<?" in raw or _NESTED.search(raw, 5) is not None:
                    raise _Fallback
                number += 1
                match = _slice_match_id(raw, match_id_type, number, line)
                yield RawRecord(number, line, match, raw, member)
                line += raw.count(b"\n")
                pos = end + 7
                continue
            if buf.startswith(b"</users>", pos):
                buf = _tail(buf, pos + 8, stream, eof)
                if not buf[pos + 8 :].strip(_WS):
                    return
            raise _Fallback
    except _Fallback:
        pass
    except (zlib.error, EOFError) as exc:
        raise SourceError(f"the compressed data is broken: {exc}", number + 1) from None
    yield from _iterparse(
        _Prefixed(b"<users>" + buf[pos:], stream), match_id_type, number, member, line - 1
    )


class XmlSource:
    """Plain XML, or every .xml member of a zip (in name order)."""

    def __init__(self, path: Path, match_id_type: str) -> None:
        self.path = path
        self.match_id_type = match_id_type
        self.position = Position()

    def records(self) -> Iterator[RawRecord]:
        kind = file_kind(self.path)
        if kind == XML:
            with self.path.open("rb") as handle:
                self.position.handle = handle
                yield from iter_users(handle, self.match_id_type)
            return
        if kind != ZIP:
            raise SourceError("expected a zip archive or an XML file")
        count = 0
        for name, reader in zip_members(self.path, self.position):
            if member_kind(name) != XML:
                continue
            for record in iter_users(reader, self.match_id_type, count, name):
                count = record.number
                yield record

    def parse(self, record: RawRecord) -> User:
        return parse_user(record.raw, record.number, record.line)

    def parse_many(self, records: Sequence[RawRecord]) -> list[User | Exception]:
        """``parse`` of each record: up to 500 slices at a time are parsed by lxml together,
        wrapped in one ``<users>`` element (a slice is a whole ``<user>`` element, so this
        gives the elements parsing them one by one gives), and turned into users before the
        next 500 are parsed; if parsing them together fails, they are parsed one by one,
        which names the bad slice."""
        out: list[User | Exception] = []
        for start in range(0, len(records), _TOGETHER):
            part = records[start : start + _TOGETHER]
            elements = _parse_together([r.raw for r in part])
            if elements is None:
                out.extend(parse_each(self, part))
                continue
            for element in elements:
                try:
                    out.append(user_of_element(element))
                except RECORD_ERRORS as exc:
                    out.append(exc)
        return out


_PARSERS = threading.local()
_TOGETHER = 500  # slices per lxml call


def _parser() -> Any:
    """One safe parser per thread (an lxml parser may be reused, not shared by threads)."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = safe_parser()
    return parser


def _parse_together(raws: Sequence[bytes]) -> list[Any] | None:
    try:
        root = etree.fromstring(b"<users>" + b"".join(raws) + b"</users>", _parser())
    except etree.XMLSyntaxError:
        return None
    children = list(root)
    if len(children) != len(raws) or not all(
        isinstance(c.tag, str) and local_name(c.tag) == "user" for c in children
    ):
        return None
    return children


def user_of_element(element: Any) -> User:
    """The user of a parsed ``<user>`` element: the direct reader when it recognises the
    element, else the general codec (depth check, Alma's JSON shape, ``user_from_dict``)."""
    user = user_from_element(element)
    if user is not None:
        return user
    check_depth(element, MAX_DEPTH)
    return user_from_dict(element_to_dict(element)).user


def parse_user(raw: bytes, number: int | None = None, line: int | None = None) -> User:
    """The user of one ``<user>`` slice; a slice that is not well-formed fails the run
    (SourceError), as iterparse would have failed it."""
    try:
        element = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"the XML is not well-formed: {exc.msg}", number, line) from None
    return user_of_element(element)
