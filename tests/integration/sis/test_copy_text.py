"""Text the COPY formats treat specially (backslashes, tabs and line ends in a note, quotes,
letters beyond ASCII and beyond the first Unicode plane) is stored as sent, in the users'
documents and in the rows search reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bookplate.bootstrap import Container
from bookplate.users.queries import UserSearch, parse_q

from .helpers import user_xml, users_doc, write_zip

NAME = 'Zoë \\N "Ō\'Brien" \U0001f600'
NOTE = "line one\nline\ttwo \\ back\\slash \\N"


def test_awkward_text_is_stored_as_sent(c: Container, tmp_path: Path) -> None:
    note = (
        '<user_notes><user_note segment_type="External"><note_type>CIRCULATION</note_type>'
        f"<note_text>{NOTE.replace('&', '&amp;')}</note_text></user_note></user_notes>"
    )
    f = write_zip(
        tmp_path / "a.zip",
        {"users.xml": users_doc(user_xml("u\\1", last=NAME, barcode="B\\1", extra=note))},
    )
    report = c.sis.run("MAIN", "SIS", f)
    assert report.counts["create"] == 1, report
    user = c.users.get("MAIN", "u\\1")
    assert user.last_name == NAME
    assert [n.note_text for n in user.notes] == [NOTE]
    assert c.users.get("MAIN", "B\\1").primary_id == "u\\1"
    found = c.users.search(UserSearch("MAIN", parse_q("last_name~zoe")))
    assert [u.primary_id for u in found.users] == ["u\\1"]


def test_a_clock_without_a_time_zone_is_taken_as_utc(c: Container, tmp_path: Path) -> None:
    """Timestamps are packed as UTC in the binary COPY; a naive clock (UTC by convention) is
    stored as such, not refused."""
    c.sis.clock = lambda: datetime(2026, 12, 3, 9, 30)  # naive on purpose
    for name, last in (("a.zip", "Lee"), ("b.zip", "Park")):  # a create, then an update
        f = write_zip(tmp_path / name, {"users.xml": users_doc(user_xml("u1", last=last))})
        report = c.sis.run("MAIN", "SIS", f)
        assert report.status == "done" and report.counts["reject"] == 0, report
    user = c.users.get("MAIN", "u1")
    assert user.last_name == "Park"
    assert user.last_modified_date is not None
    assert user.last_modified_date.replace(tzinfo=UTC) == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
