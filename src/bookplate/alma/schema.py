"""The JSON Schema of a user request body, derived from the record's declaration.

The API reads bodies with the codec, not with FastAPI, so this is what OpenAPI shows of them:
every member a caller may send (output-only members are left out), codes as ``{"value",
"desc"}`` objects naming their code table, text with its length limit. A code's ``enum`` lists
the codes a new institution starts with (``users.defaults``): what a client or a fuzzer can
rely on, though staff may add others to their tables. The codec's liberal reading (booleans
as text, a bare string for a code) is documented in ``alma.user`` and not repeated here.
"""

from __future__ import annotations

from typing import Any

from bookplate.users import shape
from bookplate.users.defaults import DEFAULT_CODE_TABLES
from bookplate.users.shape import Field, Kind, Record


def _code(table: str | None) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string"}
    out: dict[str, Any] = {
        "type": "object",
        "required": ["value"],
        "properties": {"value": value, "desc": {"type": "string"}},
    }
    if table:
        out["description"] = f"A code of the institution's {table} code table."
        defaults = DEFAULT_CODE_TABLES.get(table)
        if defaults:
            value["enum"] = [code for code, _ in defaults]
            value["description"] = "The codes a new institution starts with."
    return out


_PLAIN: dict[Kind, dict[str, Any]] = {
    Kind.LOOSE_CODE: {"type": "string"},
    Kind.WRITE_ONLY: {"type": "string"},
    Kind.DATE: {"type": "string", "format": "date", "description": "e.g. 2030-08-30Z"},
    Kind.DATETIME: {"type": "string", "format": "date-time"},
    Kind.BOOLEAN: {"type": "boolean"},
    Kind.FLAG: {"type": "string", "enum": ["TRUE", "FALSE", ""]},
    Kind.SEGMENT: {"type": "string", "enum": ["Internal", "External"]},
}


def _member(f: Field) -> dict[str, Any]:
    kind = f.kind
    if kind in _PLAIN:
        return dict(_PLAIN[kind])
    if kind is Kind.TEXT:
        text: dict[str, Any] = {"type": "string", "maxLength": f.max_length}
        if f.mandatory:
            text["minLength"] = 1
        return text
    if kind is Kind.CODE:
        return _code(f.table)
    if kind is Kind.CODES:
        return {"type": "array", "items": _code(f.table)}
    assert f.record is not None
    if kind is Kind.RECORDS:
        return {"type": "array", "items": record_schema(f.record)}
    return record_schema(f.record)


def _sent(f: Field) -> bool:
    """A member a caller sends: read by the codec (the password too)."""
    if not f.input or f.kind is Kind.LINK:
        return False
    return f.target is not None or f.kind is Kind.WRITE_ONLY


def record_schema(record: Record) -> dict[str, Any]:
    fields = [f for f in record.fields if _sent(f)]
    out: dict[str, Any] = {"type": "object", "properties": {f.name: _member(f) for f in fields}}
    required = [f.name for f in fields if f.mandatory]
    if required:
        out["required"] = required
    return out


def user_body_schema() -> dict[str, Any]:
    """The schema of a ``POST``/``PUT /almaws/v1/users`` JSON body."""
    out = record_schema(shape.USER)
    out["description"] = "A user in Alma's rest_user JSON shape."
    return out
