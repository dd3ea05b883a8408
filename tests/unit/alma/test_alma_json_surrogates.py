"""Lone surrogates are refused however they are written, and depth is checked on the path
that skips the string check (plain UTF-8 bodies)."""

from __future__ import annotations

import pytest

from bookplate.alma.json import MAX_DEPTH, parse_json, parse_json_object
from bookplate.users.errors import UnreadableRecord


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\\ud800"}',  # escape
        b'{"a": "x\\uDFFFy"}',
        b'{"a": "\xed\xa0\x80"}',  # UTF-8 bytes of U+D800 (json.loads passes them through)
        b'{"\xed\xb0\x80": 1}',  # in a key
        '{"a": "\ud800"}'.encode("utf-16", "surrogatepass"),
        '{"a": ["\udc00"]}'.encode("utf-32", "surrogatepass"),
        b'"\xed\xa0\x80"',  # a bare string
    ],
)
def test_lone_surrogates_are_refused(body: bytes) -> None:
    with pytest.raises(UnreadableRecord, match="surrogate"):
        parse_json(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"name": "함께"}'.encode(), {"name": "함께"}),  # ED bytes of real Hangul
        (b'{"name": "\\ud83d\\ude00"}', {"name": "\U0001f600"}),  # an escaped pair
        ('{"name": "\U0001f600"}'.encode(), {"name": "\U0001f600"}),
        ('{"name": "Åse"}'.encode("utf-16"), {"name": "Åse"}),
    ],
)
def test_good_text_is_read(body: bytes, expected: dict[str, str]) -> None:
    assert parse_json_object(body) == expected


@pytest.mark.parametrize("escape", [False, True])
def test_depth_limit_with_and_without_the_string_check(escape: bool) -> None:
    leaf = '"\\u00e9"' if escape else '"e"'
    ok = "[" * (MAX_DEPTH - 1) + "{" + f'"k": {leaf}' + "}" + "]" * (MAX_DEPTH - 1)
    assert parse_json(ok.encode()) is not None
    deep = "[" * MAX_DEPTH + "{" + f'"k": {leaf}' + "}" + "]" * MAX_DEPTH
    with pytest.raises(UnreadableRecord, match="deeper"):
        parse_json(deep.encode())
    objects = '{"a": ' * (MAX_DEPTH + 1) + leaf + "}" * (MAX_DEPTH + 1)
    with pytest.raises(UnreadableRecord, match="deeper"):
        parse_json(objects.encode())
