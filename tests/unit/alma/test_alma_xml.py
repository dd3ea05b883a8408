"""Safe XML parsing: entity tricks, DTDs, malformed input, depth."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bookplate.alma.user import user_from_xml
from bookplate.alma.xml import XML_DECLARATION, parse_xml, to_bytes
from bookplate.users.errors import UnreadableRecord

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<user><primary_id>x</primary_id><first_name>&lol9;</first_name></user>"""


def _secret_file(tmp_path: Path) -> tuple[Path, str]:
    secret = "TOP-SECRET-CONTENT-4711"
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    return path, secret


def test_billion_laughs_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(UnreadableRecord) as info:
        user_from_xml(BILLION_LAUGHS)
    assert time.monotonic() - started < 2
    assert "lol" not in str(info.value)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_external_entity_is_refused_without_reading_the_file(tmp_path: Path, encoding: str) -> None:
    path, secret = _secret_file(tmp_path)
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{path}">]>'
        "<user><primary_id>x</primary_id><first_name>&e;</first_name></user>"
    ).encode(encoding)
    with pytest.raises(UnreadableRecord) as info:
        user_from_xml(doc)
    assert secret not in str(info.value)
    assert secret not in repr(info.value.__dict__)


def test_etc_passwd_entity_is_refused() -> None:
    doc = (
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<user><primary_id>x</primary_id><first_name>&e;</first_name></user>"
    )
    with pytest.raises(UnreadableRecord) as info:
        user_from_xml(doc)
    assert "root:" not in str(info.value)


def test_utf16_doctype_is_caught_after_parsing(tmp_path: Path) -> None:
    # The byte scan cannot see a UTF-16 DOCTYPE; the parsed document's docinfo must.
    doc = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE user><user/>'.encode("utf-16")
    assert b"<!DOCTYPE" not in doc
    with pytest.raises(UnreadableRecord):
        parse_xml(doc)


@pytest.mark.parametrize(
    "doc",
    [
        b'<!DOCTYPE user SYSTEM "http://127.0.0.1:9/evil.dtd"><user/>',
        b'<!DOCTYPE user [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]><user/>',
        b"<!DOCTYPE user><user/>",
    ],
)
def test_any_doctype_is_refused(doc: bytes) -> None:
    with pytest.raises(UnreadableRecord):
        parse_xml(doc)


@pytest.mark.parametrize(
    "doc",
    [
        b"",
        b"   ",
        b"<user>",
        b"<user><primary_id>x</primary_id>",
        b"<user><primary_id>x</user>",
        b"not xml at all",
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b"<user>\xff\xfe</user>",
        b"<user>&undefined;</user>",
    ],
)
def test_malformed_or_truncated_xml_is_unreadable(doc: bytes) -> None:
    with pytest.raises(UnreadableRecord):
        parse_xml(doc)


def test_truncated_sample_like_record_is_unreadable() -> None:
    full = b"<user><primary_id>abc</primary_id><first_name>Ann</first_name></user>"
    for cut in range(1, len(full) - 1):
        with pytest.raises(UnreadableRecord):
            user_from_xml(full[:cut])


def test_deep_nesting_is_refused() -> None:
    doc = b"<user>" + b"<a>" * 200 + b"</a>" * 200 + b"</user>"
    with pytest.raises(UnreadableRecord):
        parse_xml(doc)


def test_very_deep_nesting_is_refused_without_recursion_error() -> None:
    doc = b"<a>" * 100_000 + b"</a>" * 100_000
    with pytest.raises(UnreadableRecord):
        parse_xml(doc)


def test_root_must_be_user() -> None:
    with pytest.raises(UnreadableRecord):
        user_from_xml(b"<users/>")


def test_to_bytes_writes_alma_declaration() -> None:
    root = parse_xml(b"<user><first_name>\xc3\x85se</first_name></user>")
    out = to_bytes(root)
    assert out.startswith(XML_DECLARATION)
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    assert "Åse".encode() in out


def test_comments_and_processing_instructions_are_ignored() -> None:
    doc = b"<user><!-- hi --><?pi x?><primary_id>a<!-- c -->b</primary_id></user>"
    assert user_from_xml(doc).user.primary_id == "ab"
