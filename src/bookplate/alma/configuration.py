"""Alma configuration documents: the code-table list, libraries and circulation desks.

Shapes follow what Alma's configuration API returns:

* ``GET /conf/code-tables``: JSON ``{"code_table": [{"name", "description", "link"}],
  "total_record_count"}``, XML ``<code_tables total_record_count=".."><code_table link="..">
  <name/><description/></code_table></code_tables>``;
* ``GET /conf/libraries``: JSON ``{"library": [{"code", "path", "name", "description",
  "resource_sharing", "link"}]}``, XML ``<libraries><library link=".."><code/>..</library>
  </libraries>``;
* ``GET /conf/libraries/{code}/circ-desks``: JSON ``{"circ_desk": [{"code", "name", "link"}],
  "total_record_count"}``, XML ``<circ_desks total_record_count=".."><circ_desk link="..">
  <code/><name/></circ_desk></circ_desks>``.

* ``GET /conf/mapping-tables/UserRecordTypeUserGroup``: which user groups each record type
  may have, as Alma's mapping tables are written: JSON ``{"name", "description", "row":
  [{"column0": record type, "column1": user group, "enabled"}]}``, XML ``<mapping_table><name/>
  <description/><rows><row><column0/><column1/><enabled/></row></rows></mapping_table>``.

The readers take the same documents (as ``bookplate config import`` finds them in a folder) and
raise :class:`ConfigDocumentError` with the reason when a document does not have the shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from lxml import etree

from bookplate.alma.json import dump_json, parse_json
from bookplate.alma.xml import local_name, parse_xml, to_bytes
from bookplate.errors import InputError
from bookplate.users.errors import UnreadableRecord
from bookplate.users.ports import CodeRow


class ConfigDocumentError(InputError):
    """A configuration document that cannot be read; the message says why."""



@dataclass(frozen=True)
class LibraryDoc:
    code: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class DeskDoc:
    code: str
    name: str


@dataclass(frozen=True)
class CodeTableDoc:
    name: str
    description: str
    rows: list[CodeRow]


#: The mapping table that carries the user-group/record-type map (docs/operations.md).
GROUP_MAP_TABLE = "UserRecordTypeUserGroup"
GROUP_MAP_DESCRIPTION = "User record type - user group"


def group_map_to_json(pairs: Sequence[tuple[str, str]]) -> bytes:
    """``(record type, user group)`` pairs as a mapping-table document."""
    return dump_json(
        {
            "name": GROUP_MAP_TABLE,
            "description": GROUP_MAP_DESCRIPTION,
            "row": [{"column0": rt, "column1": g, "enabled": True} for rt, g in pairs],
        }
    )


def group_map_to_xml(pairs: Sequence[tuple[str, str]]) -> bytes:
    root = etree.Element("mapping_table")
    etree.SubElement(root, "name").text = GROUP_MAP_TABLE
    etree.SubElement(root, "description").text = GROUP_MAP_DESCRIPTION
    rows = etree.SubElement(root, "rows")
    for rt, g in pairs:
        row = etree.SubElement(rows, "row")
        etree.SubElement(row, "column0").text = rt
        etree.SubElement(row, "column1").text = g
        etree.SubElement(row, "enabled").text = "true"
    return to_bytes(root)


# --- writing -------------------------------------------------------------------------------


def code_table_list_to_json(names: Sequence[tuple[str, str]], base: str) -> bytes:
    return dump_json(
        {
            "code_table": [
                {"name": n, "description": d, "link": f"{base}/conf/code-tables/{n}"}
                for n, d in names
            ],
            "total_record_count": len(names),
        }
    )


def code_table_list_to_xml(names: Sequence[tuple[str, str]], base: str) -> bytes:
    root = etree.Element("code_tables", total_record_count=str(len(names)))
    for n, d in names:
        el = etree.SubElement(root, "code_table", link=f"{base}/conf/code-tables/{n}")
        etree.SubElement(el, "name").text = n
        etree.SubElement(el, "description").text = d
    return to_bytes(root)


def _library_dict(lib: LibraryDoc, base: str) -> dict[str, Any]:
    return {
        "code": lib.code,
        "path": lib.code,
        "name": lib.name,
        "description": lib.description,
        "resource_sharing": False,
        "link": f"{base}/conf/libraries/{lib.code}",
    }


def libraries_to_json(libraries: Sequence[LibraryDoc], base: str) -> bytes:
    return dump_json({"library": [_library_dict(lib, base) for lib in libraries]})


def libraries_to_xml(libraries: Sequence[LibraryDoc], base: str) -> bytes:
    root = etree.Element("libraries")
    for lib in libraries:
        data = _library_dict(lib, base)
        el = etree.SubElement(root, "library", link=data.pop("link"))
        for key, value in data.items():
            text = ("true" if value else "false") if isinstance(value, bool) else value
            etree.SubElement(el, key).text = text
    return to_bytes(root)


def desks_to_json(library: str, desks: Sequence[DeskDoc], base: str) -> bytes:
    return dump_json(
        {
            "circ_desk": [
                {
                    "code": d.code,
                    "name": d.name,
                    "link": f"{base}/conf/libraries/{library}/circ-desks/{d.code}",
                }
                for d in desks
            ],
            "total_record_count": len(desks),
        }
    )


def desks_to_xml(library: str, desks: Sequence[DeskDoc], base: str) -> bytes:
    root = etree.Element("circ_desks", total_record_count=str(len(desks)))
    for d in desks:
        link = f"{base}/conf/libraries/{library}/circ-desks/{d.code}"
        el = etree.SubElement(root, "circ_desk", link=link)
        etree.SubElement(el, "code").text = d.code
        etree.SubElement(el, "name").text = d.name
    return to_bytes(root)


# --- reading -------------------------------------------------------------------------------


def _parse(body: bytes) -> tuple[str, Any]:
    """("json", value) or ("xml", root element) of a document, by its first character."""
    head = body.lstrip()[:1]
    try:
        if head in (b"{", b"["):
            return "json", parse_json(body)
        if head == b"<":
            return "xml", parse_xml(body)
    except UnreadableRecord as exc:
        raise ConfigDocumentError(f"not readable: {exc}") from exc
    raise ConfigDocumentError("neither JSON nor XML")


def _text(value: Any, what: str, *, required: bool = True) -> str:
    if isinstance(value, dict):
        value = value.get("value")
    if value is None or value == "":
        if required:
            raise ConfigDocumentError(f"{what} is missing")
        return ""
    if not isinstance(value, str | int):
        raise ConfigDocumentError(f"{what} must be text")
    text = str(value).strip()
    if required and not text:
        raise ConfigDocumentError(f"{what} is missing")
    return text


def _bool(value: Any, what: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigDocumentError(f"{what} must be true or false")


def _child_text(el: Any, name: str) -> str | None:
    for child in el:
        if isinstance(child.tag, str) and local_name(child.tag) == name:
            return str(child.text or "")
    return None


def _xml_items(root: Any, outer: str, inner: str) -> list[Any]:
    if local_name(root.tag) == inner:
        return [root]
    if local_name(root.tag) != outer:
        raise ConfigDocumentError(f"expected <{outer}>, found <{local_name(root.tag)}>")
    return [c for c in root if isinstance(c.tag, str) and local_name(c.tag) == inner]


def _json_items(value: Any, key: str) -> list[Any]:
    if not isinstance(value, dict):
        raise ConfigDocumentError("a JSON object is expected")
    items = value.get(key, [])
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigDocumentError(f'"{key}" must be a list of objects')
    return items


def _unique(codes: list[str], what: str) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ConfigDocumentError(f"{what} {code} appears twice")
        seen.add(code)


def read_code_table(body: bytes) -> tuple[str, list[CodeRow]]:
    """The name and rows of a ``GET /conf/code-tables/{name}`` document."""
    table = read_code_table_doc(body)
    return table.name, table.rows


#: One record of a document (a row, a library, a desk): its field by name, whether the
#: document is JSON (the object's key) or XML (the first child element's text).
Get = Callable[[str], Any]


def _records(kind: str, doc: Any, outer: str, inner: str) -> list[Get]:
    """The ``inner`` records of a list document (``{"inner": [...]}`` or ``<outer><inner>``;
    a document of one bare record counts as a list of one)."""
    if kind == "json":
        return [row.get for row in _json_items(doc, inner)]
    return [partial(_child_text, el) for el in _xml_items(doc, outer, inner)]


def _table(kind: str, doc: Any, tag: str) -> Get:
    """A table document's own fields (``{"name", ..}`` or ``<tag><name/>..</tag>``)."""
    if kind == "json":
        if not isinstance(doc, dict):
            raise ConfigDocumentError("a JSON object is expected")
        return doc.get
    if local_name(doc.tag) != tag:
        raise ConfigDocumentError(f"expected <{tag}>, found <{local_name(doc.tag)}>")
    return partial(_child_text, doc)


def _rows(kind: str, doc: Any) -> list[Get]:
    """A table document's rows (``"row": [..]`` or ``<rows><row>..</row></rows>``)."""
    if kind == "json":
        return _records(kind, doc, "rows", "row")
    holder = next((c for c in doc if isinstance(c.tag, str) and local_name(c.tag) == "rows"),
                  None)
    return _records(kind, holder, "rows", "row") if holder is not None else []


def read_code_table_doc(body: bytes) -> CodeTableDoc:
    """Name, description and rows of a ``GET /conf/code-tables/{name}`` document."""
    kind, doc = _parse(body)
    table = _table(kind, doc, "code_table")
    name = _text(table("name"), "the table name")
    description = _text(table("description"), "the table description", required=False)
    rows: list[CodeRow] = []
    for i, row in enumerate(_rows(kind, doc), 1):
        code = _text(row("code"), f"row {i}: code")
        rows.append(CodeRow(
            code,
            _text(row("description"), f"row {i}: description", required=False) or code,
            _bool(row("enabled"), f"row {i}: enabled", True),
            _bool(row("default"), f"row {i}: default", False),
        ))
    _unique([r.code for r in rows], "code")
    return CodeTableDoc(name, description, rows)


def read_libraries(body: bytes) -> list[LibraryDoc]:
    """The libraries of a ``GET /conf/libraries`` document."""
    out: list[LibraryDoc] = []
    for i, lib in enumerate(_records(*_parse(body), "libraries", "library"), 1):
        code = _text(lib("code"), f"library {i}: code")
        out.append(LibraryDoc(code, _text(lib("name"), f"library {code}: name"),
                              _text(lib("description"), "description", required=False)))
    _unique([lib.code for lib in out], "library")
    return out


def read_desks(body: bytes) -> list[DeskDoc]:
    """The circulation desks of a ``GET /conf/libraries/{code}/circ-desks`` document."""
    out: list[DeskDoc] = []
    for i, desk in enumerate(_records(*_parse(body), "circ_desks", "circ_desk"), 1):
        code = _text(desk("code"), f"desk {i}: code")
        out.append(DeskDoc(code, _text(desk("name"), "name", required=False) or code))
    _unique([d.code for d in out], "desk")
    return out


def read_group_map(body: bytes) -> list[tuple[str, str]]:
    """``(record type, user group)`` pairs of the enabled rows of the
    ``UserRecordTypeUserGroup`` mapping table."""
    kind, doc = _parse(body)
    name = _text(_table(kind, doc, "mapping_table")("name"), "the table name")
    rows = _rows(kind, doc)
    if name != GROUP_MAP_TABLE:
        raise ConfigDocumentError(f"expected the mapping table {GROUP_MAP_TABLE}, found {name}")
    pairs: list[tuple[str, str]] = []
    for i, row in enumerate(rows, 1):
        pair = (_text(row("column0"), f"row {i}: column0 (record type)"),
                _text(row("column1"), f"row {i}: column1 (user group)"))
        if _bool(row("enabled"), f"row {i}: enabled", True):
            pairs.append(pair)
    _unique([f"{rt}/{g}" for rt, g in pairs], "row")
    return pairs
