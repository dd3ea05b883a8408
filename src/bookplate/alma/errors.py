"""Alma's error envelope, in JSON and in XML (SPEC 2.3, samples 03-05).

Each error is ``(code, message, tracking_id)``. The code is always written as a string (clients
compare it with ``"401861"``), ``errorList.error`` is always a list, and ``result`` is ``null``.
A ``tracking_id`` of ``None`` leaves ``trackingId`` out, as Alma does for governance errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

from bookplate.alma.json import dump_json
from bookplate.alma.xml import to_bytes

#: The namespace of Alma's ``web_service_result`` document.
XMLBEANS_NS = "http://com/exlibris/urm/general/xmlbeans"

ErrorEntry = tuple[str | int, str, str | None]


def error_body_dict(errors: Sequence[ErrorEntry]) -> dict[str, Any]:
    """The JSON-shaped envelope for ``errors``."""
    entries: list[dict[str, str]] = []
    for code, message, tracking_id in errors:
        entry = {"errorCode": str(code), "errorMessage": message}
        if tracking_id is not None:
            entry["trackingId"] = tracking_id
        entries.append(entry)
    return {"errorsExist": True, "errorList": {"error": entries}, "result": None}


def error_body_json(errors: Sequence[ErrorEntry]) -> bytes:
    """``{"errorsExist": true, "errorList": {"error": [..]}, "result": null}`` as bytes."""
    return dump_json(error_body_dict(errors))


def error_body_xml(errors: Sequence[ErrorEntry]) -> bytes:
    """``<web_service_result xmlns="..xmlbeans">`` with one ``<error>`` per entry."""
    root = etree.Element(f"{{{XMLBEANS_NS}}}web_service_result", nsmap={None: XMLBEANS_NS})
    etree.SubElement(root, f"{{{XMLBEANS_NS}}}errorsExist").text = "true"
    error_list = etree.SubElement(root, f"{{{XMLBEANS_NS}}}errorList")
    for entry in error_body_dict(errors)["errorList"]["error"]:
        error = etree.SubElement(error_list, f"{{{XMLBEANS_NS}}}error")
        for name in ("errorCode", "errorMessage", "trackingId"):
            if name in entry:
                etree.SubElement(error, f"{{{XMLBEANS_NS}}}{name}").text = _xml_safe(entry[name])
    return to_bytes(root)


def _xml_safe(text: str) -> str:
    """Messages may quote what a caller sent; drop characters XML 1.0 cannot hold."""
    return "".join(
        ch
        for ch in text
        if ch in "\t\n\r"
        or "\x20" <= ch <= "\ud7ff"
        or "\ue000" <= ch <= "\ufffd"
        or "\U00010000" <= ch <= "\U0010ffff"
    )
