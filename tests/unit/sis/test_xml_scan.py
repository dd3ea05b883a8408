"""The fast ``<user>`` scanner gives the records iterparse gives (number, line, match ID), and
hands anything unusual to iterparse."""

from __future__ import annotations

import io

import pytest

from bookplate.sis.errors import SourceError
from bookplate.sis.sources.xml import _iterparse, iter_users, parse_user

U1 = (
    b"<user><primary_id> a1 </primary_id><user_identifiers>"
    b"<user_identifier><id_type>BARCODE</id_type><value>B1</value></user_identifier>"
    b"<user_identifier><id_type>UNIV_ID</id_type><value>U1</value></user_identifier>"
    b"</user_identifiers></user>"
)
U2 = b'<user segment="x">\n<primary_id>a2</primary_id>\n</user>'
CASES = [
    b'<?xml version="1.0" encoding="UTF-8"?>\n<users>\n' + U1 + b"\n" + U2 + b"\n</users>\n",
    b"<users>" + U1 + U2 + b"</users>",
    b"<users>" + U1 + b"<!-- c -->" + U2 + b"</users>",  # comment between records
    b"<users>" + U1 + b"<user><!-- c --><primary_id>a3</primary_id></user></users>",
    b"<users>" + U1 + b"<user><primary_id><![CDATA[</user>]]></primary_id></user></users>",
    b"<users>" + U1 + b"<user><primary_id>a&amp;b</primary_id></user></users>",
    b"<users>" + U1 + b"<user><primary_id>x</primary_id><primary_id>y</primary_id></user></users>",
    b"<users>" + U1 + b"<other>skip</other>" + U2 + b"</users>",
    b"<users>" + U1 + b"</users><!-- end -->\n",
    b"<users>" + U1 + b"text between" + U2 + b"</users>",
    b"<users>" + U1 + b"<user><first_name>n</first_name></user></users>",
    b"\xef\xbb\xbf<users>\r\n" + U1 + b"\r\n</users>",
]


def _records(data: bytes, match: str, fast: bool) -> list[tuple[int, int | None, str | None]]:
    stream = io.BytesIO(data)
    source = iter_users(stream, match) if fast else _iterparse(stream, match, 0, "", 0)
    return [(r.number, r.line, r.match_id) for r in source]


@pytest.mark.parametrize("data", CASES)
@pytest.mark.parametrize("match", ["primary_id", "UNIV_ID", "BARCODE", "OTHER"])
def test_same_records_as_iterparse(data: bytes, match: str) -> None:
    assert _records(data, match, True) == _records(data, match, False)


@pytest.mark.parametrize(
    "data",
    [
        b"<users>" + U1,  # truncated
        b"<users>" + U1 + b"</users>trailing",
        b"<users>" + U1 + b"<user><primary_id>x</primary_id></users>",
    ],
)
def test_not_well_formed_fails(data: bytes) -> None:
    with pytest.raises(SourceError, match="not well-formed"):
        _records(data, "primary_id", True)


def test_fast_slices_parse_and_a_broken_slice_fails_the_run() -> None:
    records = list(iter_users(io.BytesIO(b"<users>" + U1 + b"</users>"), "primary_id"))
    assert parse_user(records[0].raw).primary_id.strip() == "a1"
    with pytest.raises(SourceError, match="not well-formed"):
        parse_user(b"<user><primary_id>x</user>", 3, 7)


def test_records_sharing_an_xml_id_are_read() -> None:
    """Unique ``xml:id`` values are a validity rule, not a well-formedness one: a file whose
    records repeat one is read, by the scanner and by iterparse alike (no parser keeps a
    table of IDs, ``alma.xml.PARSER_OPTIONS``)."""
    data = (
        b"<users>"
        b'<user xml:id="u"><primary_id>a1</primary_id></user>'
        b'<user xml:id="u"><!-- c --><primary_id>a2</primary_id></user>'
        b'<user xml:id="u"><primary_id>a3</primary_id></user>'
        b"</users>"
    )
    for fast in (True, False):
        assert [r[2] for r in _records(data, "primary_id", fast)] == ["a1", "a2", "a3"]


def test_the_slow_path_parses_a_little_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pull parser behind the slow path gets small pieces of each 1 MiB read, so only the
    elements of a piece wait to be cleared (fed whole reads, a 86 MB file of 60,000 users
    made it hold 19 MB where ``iterparse`` held 3)."""
    from lxml import etree

    import bookplate.sis.sources.xml as xml_source

    fed: list[int] = []

    class Recording(etree.XMLPullParser):  # type: ignore[misc]
        def feed(self, data: bytes) -> None:
            fed.append(len(data))
            super().feed(data)

    monkeypatch.setattr(xml_source.etree, "XMLPullParser", Recording)
    users = b"".join(b"<user><primary_id>p%d</primary_id></user>" % i for i in range(40_000))
    data = b"<users><!-- slow path -->" + users + b"</users>"
    assert len(data) > 1 << 20
    found = [r[2] for r in _records(data, "primary_id", False)]
    assert found[0] == "p0" and found[-1] == "p39999" and len(found) == 40_000
    assert max(fed) <= 1 << 16 < sum(fed)
