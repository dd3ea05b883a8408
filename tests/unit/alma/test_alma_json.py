"""Safe JSON parsing and dumping."""

from __future__ import annotations

import pytest

from bookplate.alma.json import dump_json, parse_json, parse_json_object
from bookplate.alma.user import user_from_json
from bookplate.users.errors import UnreadableRecord


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \n",
        b"{",
        b'{"primary_id": "x"',
        b'{"primary_id": "x",}',
        b"{'primary_id': 'x'}",
        b"nul",
        b"\xff\xfe\x00garbage",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": "\\ud800"}',
        b'{"a": 1' + b"1" * 5000 + b"}",
    ],
)
def test_unreadable_json(body: bytes) -> None:
    with pytest.raises(UnreadableRecord):
        parse_json(body)


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"1", b"null", b"true", b'[{"primary_id":"x"}]'])
def test_top_level_must_be_an_object(body: bytes) -> None:
    with pytest.raises(UnreadableRecord):
        parse_json_object(body)
    with pytest.raises(UnreadableRecord):
        user_from_json(body)


@pytest.mark.parametrize("depth", [100, 10_000, 1_000_000])
def test_deep_nesting_gives_unreadable_record_not_recursion_error(depth: int) -> None:
    body = b'{"a":' * depth + b"1" + b"}" * depth
    with pytest.raises(UnreadableRecord):
        parse_json(body)
    body = b"[" * depth + b"]" * depth
    with pytest.raises(UnreadableRecord):
        parse_json(body)


def test_truncations_of_a_record_are_all_unreadable() -> None:
    full = b'{"primary_id": "abc", "first_name": "Ann", "user_role": [{"role_type": "200"}]}'
    for cut in range(len(full) - 1):
        with pytest.raises(UnreadableRecord):
            user_from_json(full[:cut])


def test_dump_keeps_unicode_and_is_compact() -> None:
    out = dump_json({"first_name": "Åse 李", "n": 1})
    assert out == '{"first_name":"Åse 李","n":1}'.encode()
    assert parse_json(out) == {"first_name": "Åse 李", "n": 1}


def test_utf16_json_is_accepted() -> None:
    assert parse_json_object('{"a": "b"}'.encode("utf-16")) == {"a": "b"}
