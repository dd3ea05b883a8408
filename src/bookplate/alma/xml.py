"""Reading untrusted XML bytes safely and writing XML bytes.

Bodies arrive from anyone who holds an API key or drops a SIS file, so parsing is locked down:

* a document with a DOCTYPE is refused outright, which rules out entity tricks (billion laughs,
  external entities pointing at ``file://`` or ``http://``) as well as external DTDs;
* the parser itself never resolves entities, never loads a DTD and never touches the network,
  so even a DOCTYPE that slipped past the check could not expand anything;
* libxml2's "huge tree" mode stays off (it keeps its own limits on node size and depth) and
  the element depth is also capped here, so later recursive code cannot be driven too deep.

Anything that fails to parse, or is refused, raises
:class:`bookplate.users.errors.UnreadableRecord` (Alma error 401676).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from bookplate.users.errors import UnreadableRecord

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'

#: Deepest element nesting accepted. An Alma user is about seven levels deep.
MAX_DEPTH = 64

#: Options for every lxml parser that reads outside data; reuse them with ``etree.iterparse``.
PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_pis": True,
    "remove_comments": True,
    # No table of xml:id values: nothing looks elements up by ID, and building it is a large
    # share of the parse time of an SIS record (docs/benchmarks.md).
    "collect_ids": False,
}


def safe_parser() -> Any:
    """A fresh lxml parser configured with :data:`PARSER_OPTIONS`."""
    return etree.XMLParser(**PARSER_OPTIONS)


def _looks_like_doctype(body: bytes) -> bool:
    # A cheap early refusal for the ASCII-compatible encodings; the check after parsing
    # covers every other encoding.
    return b"<!DOCTYPE" in body or b"<!ENTITY" in body


def check_depth(root: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise UnreadableRecord when elements nest deeper than ``max_depth`` (no recursion)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise UnreadableRecord(f"The XML is nested deeper than {max_depth} levels.")
        stack.extend((child, depth + 1) for child in element)


def parse_xml(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``body`` and return its root element (an ``lxml`` element).

    Refuses DTDs and entity declarations, bad or truncated XML, and too deep nesting.
    """
    if not isinstance(body, bytes | bytearray):
        raise UnreadableRecord("The body is not bytes.")
    if not body.strip():
        raise UnreadableRecord("The body is empty.")
    if _looks_like_doctype(bytes(body)):
        raise UnreadableRecord("DTDs and entity declarations are not accepted.")
    try:
        root = etree.fromstring(bytes(body), safe_parser())
    except etree.XMLSyntaxError as exc:
        raise UnreadableRecord(f"The XML is not well-formed: {exc}") from None
    except (ValueError, etree.LxmlError) as exc:
        raise UnreadableRecord(f"The XML could not be read: {exc}") from None
    if root is None:
        raise UnreadableRecord("The XML has no root element.")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnreadableRecord("DTDs and entity declarations are not accepted.")
    check_depth(root, max_depth)
    return root


def local_name(tag: str) -> str:
    """The tag without its ``{namespace}`` part."""
    return tag.rpartition("}")[2]


def to_bytes(root: Any) -> bytes:
    """Serialise ``root`` as UTF-8 with Alma's XML declaration in front."""
    text: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return XML_DECLARATION + text
