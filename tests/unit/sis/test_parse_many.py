"""``XmlSource.parse_many`` (slices parsed together, read by the direct reader) gives what
``parse`` gives one record at a time: the same users, the same per-record errors, and the same
run-failing error for a slice that is not well-formed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bookplate.sis.errors import SourceError
from bookplate.sis.sources.base import RawRecord, parse_each, parse_many
from bookplate.sis.sources.xml import XmlSource, iter_users


def _user(i: int, extra: str = "") -> bytes:
    return (
        f"<user><primary_id>p{i}</primary_id><first_name>F{i}</first_name>"
        f"<user_identifiers><user_identifier segment_type='External'><id_type>BARCODE</id_type>"
        f"<value>B{i}</value></user_identifier></user_identifiers>{extra}</user>"
    ).encode()


ODD = [
    "<expiry_date>2030-13-01</expiry_date>",  # refused by the codec: an error for this record
    "<first_name>x</first_name>",  # repeated: the general reader decides
    "<foo><bar>deep</bar></foo>",  # unknown with children: the general reader
    '<contact_info><emails><email preferred="maybe"/></emails></contact_info>',
    "<user_roles><user_role><role_type>200</role_type></user_role></user_roles>",
]


def _records(*users: bytes) -> list[RawRecord]:
    data = b"<users>" + b"\n".join(users) + b"</users>"
    return list(iter_users(io.BytesIO(data), "primary_id"))


def _same(a: object, b: object) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    return a == b


@pytest.mark.parametrize("count", [1, 499, 500, 501, 1203])
def test_many_records_give_what_one_at_a_time_gives(count: int) -> None:
    users = [_user(i, ODD[i % 7] if i % 7 < len(ODD) else "") for i in range(count)]
    records = _records(*users)
    source = XmlSource(Path("unused.xml"), "primary_id")
    together = parse_many(source, records)
    alone = parse_each(source, records)
    assert len(together) == len(alone) == count
    assert all(_same(a, b) for a, b in zip(together, alone, strict=True))
    assert any(isinstance(r, Exception) for r in alone) == (count > 0)


def test_a_slice_that_is_not_well_formed_fails_as_it_does_alone() -> None:
    good = [_user(i) for i in range(600)]
    records = _records(*good)
    broken = RawRecord(550, 7, "p549", b"<user><primary_id>p549</user>")
    records[549] = broken
    source = XmlSource(Path("unused.xml"), "primary_id")
    with pytest.raises(SourceError) as together:
        parse_many(source, records)
    with pytest.raises(SourceError) as alone:
        parse_each(source, records)
    assert str(together.value) == str(alone.value)
    assert "not well-formed" in str(together.value)


def test_slices_sharing_an_xml_id_are_parsed_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """A repeated ``xml:id`` does not make the joined slices fail to parse (which would send
    every record of the batch through the one-at-a-time path)."""
    import bookplate.sis.sources.xml as xml_source

    def alone(*_args: object) -> list[object]:
        raise AssertionError("parsed one at a time")

    users = [_user(i).replace(b"<user>", b'<user xml:id="same">') for i in range(3)]
    records = _records(*users)
    monkeypatch.setattr(xml_source, "parse_each", alone)
    parsed = parse_many(XmlSource(Path("unused.xml"), "primary_id"), records)
    assert [getattr(u, "primary_id", u) for u in parsed] == ["p0", "p1", "p2"]
