"""A code table as ``GET /almaws/v1/conf/code-tables/{name}`` returns it, in JSON and XML.

JSON: ``{"name", "description", "row": [{"code", "description", "default", "enabled"}]}``;
XML: ``<code_table><name/><description/><rows><row>..</row></rows></code_table>`` with the
booleans written ``true``/``false``. Rows keep the order they are given in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

from bookplate.alma.json import dump_json
from bookplate.alma.xml import to_bytes
from bookplate.users.ports import CodeRow


def code_table_to_dict(name: str, description: str, rows: Sequence[CodeRow]) -> dict[str, Any]:
    """The JSON shape of one code table."""
    return {
        "name": name,
        "description": description,
        "row": [
            {
                "code": row.code,
                "description": row.description,
                "default": row.default,
                "enabled": row.enabled,
            }
            for row in rows
        ],
    }


def code_table_to_json(name: str, description: str, rows: Sequence[CodeRow]) -> bytes:
    """The JSON body of one code table."""
    return dump_json(code_table_to_dict(name, description, rows))


def code_table_to_xml(name: str, description: str, rows: Sequence[CodeRow]) -> bytes:
    """The XML body of one code table."""
    data = code_table_to_dict(name, description, rows)
    root = etree.Element("code_table")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "description").text = description
    rows_element = etree.SubElement(root, "rows")
    for row in data["row"]:
        row_element = etree.SubElement(rows_element, "row")
        for key in ("code", "description", "default", "enabled"):
            value = row[key]
            text = ("true" if value else "false") if isinstance(value, bool) else value
            etree.SubElement(row_element, key).text = text
    return to_bytes(root)
