"""Reading untrusted JSON bytes and writing JSON bytes.

The reader refuses, with :class:`bookplate.users.errors.UnreadableRecord`: bytes that are not
JSON text (malformed, truncated, not UTF-8/16/32), a top level that is not an object, the
non-standard constants ``NaN``/``Infinity``, numbers too long to convert, strings holding lone
UTF-16 surrogates (they cannot be written back as UTF-8) and nesting deeper than
:data:`MAX_DEPTH` -- the last one checked both inside the standard decoder (whose own limit
surfaces as ``RecursionError``) and afterwards without recursion.
"""

from __future__ import annotations

import json
from typing import Any

from bookplate.users.errors import UnreadableRecord

#: Deepest nesting of arrays and objects accepted. An Alma user is about six levels deep.
MAX_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise UnreadableRecord(f"The JSON holds the non-standard constant {name}.", "JSON")


def _check(value: Any, max_depth: int, *, strings: bool = True) -> None:
    """Depth of every container and, with ``strings``, every string (keys too)."""
    if not strings:
        _check_depth(value, max_depth)
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[Any] = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        elif isinstance(item, str):
            _check_string(item)
            continue
        else:
            continue
        if depth > max_depth:
            raise UnreadableRecord(f"The JSON is nested deeper than {max_depth} levels.", "JSON")
        stack.extend((child, depth + 1) for child in children)


def _check_depth(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > max_depth:
            raise UnreadableRecord(f"The JSON is nested deeper than {max_depth} levels.", "JSON")
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def _may_hold_surrogates(body: bytes | bytearray | str) -> bool:
    """Whether ``json.loads(body)`` can give a string with a lone surrogate.

    It decodes bytes with the ``surrogatepass`` handler, so a surrogate gets through written
    as a ``\\u`` escape, as UTF-16/32 text or as UTF-8 bytes (ED A0..BF ..). Bytes holding no
    backslash-u, no NUL (every JSON text in UTF-16/32 has NUL bytes: its brackets and quotes
    are ASCII) and no ED byte are UTF-8 without any: their strings need no check.
    """
    if isinstance(body, str):
        return True
    return b"\\u" in body or b"\x00" in body or b"\xed" in body


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnreadableRecord("The JSON holds a lone surrogate character.", "JSON") from None


def parse_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode any JSON value from ``body`` (bytes or str) with the checks above."""
    if isinstance(body, bytes | bytearray) and not bytes(body).strip():
        raise UnreadableRecord("The body is empty.", "JSON")
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise UnreadableRecord("The JSON is nested too deeply.", "JSON") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError included
        raise UnreadableRecord(f"The JSON could not be read: {exc}", "JSON") from None
    if isinstance(value, dict | list):
        _check(value, max_depth, strings=_may_hold_surrogates(body))
    elif isinstance(value, str):
        _check_string(value)
    return value


def parse_json_object(body: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Like :func:`parse_json` but the top level must be an object."""
    value = parse_json(body, max_depth=max_depth)
    if not isinstance(value, dict):
        raise UnreadableRecord(f"The JSON body is a {type(value).__name__}, not an object.", "JSON")
    return value


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII characters written as themselves)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
