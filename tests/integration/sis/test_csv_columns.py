"""CSV headers against the profile's mapping (docs/sis.md, "CSV"): a column the profile maps
that the file lacks is never read as blank cells; types taken from another column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bookplate.bootstrap import Container
from bookplate.sis.errors import InvalidProfile
from bookplate.sis.model import KEEP_MISSING, Profile
from bookplate.users.errors import UserNotFound

COLUMNS = {
    "Student ID": "primary_id",
    "Given": "first_name",
    "Family": "last_name",
    "Card": "identifier.BARCODE",
    "Mail": "email.school",
    "Group": "user_group",
}
FULL = (
    "Student ID,Given,Family,Card,Mail,Group\n"
    "s1,Ann,Lee,C1,ann@x.edu,UNDERGRAD\n"
    "s2,Bo,Li,C2,bo@x.edu,GRAD\n"
)


@pytest.fixture
def mapped(c: Container) -> Profile:
    profile = c.sis.profile("MAIN", "SIS")
    profile.csv.columns = dict(COLUMNS)
    c.sis.update_profile(profile)
    return profile


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _load(c: Container, tmp_path: Path) -> None:
    report = c.sis.run("MAIN", "SIS", _file(tmp_path, "full.csv", FULL))
    assert (report.status, report.counts["create"]) == ("done", 2), report.message


def _barcodes(c: Container, primary_id: str) -> list[str]:
    return [i.value for i in c.users.get("MAIN", primary_id).identifiers]


def test_header_without_the_primary_id_column_fails_the_run_naming_the_column(
    c: Container, mapped: Profile, tmp_path: Path
) -> None:
    f = _file(tmp_path, "noid.csv", "ID,Given,Family\ns1,Ann,Lee\n")
    report = c.sis.run("MAIN", "SIS", f)
    assert report.status == "failed" and report.exit_code == 2
    assert "'Student ID'" in report.message and "primary_id" in report.message
    assert "Invalid users integration profile" not in report.message  # the file, not the profile
    assert c.sis.report(report.run_id or 0).status == "failed"


def test_header_without_a_primary_id_column_and_no_mapping(c: Container, tmp_path: Path) -> None:
    report = c.sis.run("MAIN", "SIS", _file(tmp_path, "u.csv", "first_name\nAnn\n"))
    assert report.status == "failed"
    assert "no primary_id column" in report.message


@pytest.mark.parametrize(
    ("dropped", "needle"), [("Card", "'Card'"), ("Family", "'Family'")], ids=["barcode", "name"]
)
def test_header_lacking_a_mapped_column_is_refused_and_changes_nothing(
    c: Container, mapped: Profile, tmp_path: Path, dropped: str, needle: str
) -> None:
    _load(c, tmp_path)
    header = [h for h in COLUMNS if h != dropped]
    keep = [list(COLUMNS).index(h) for h in header]
    rows = [line.split(",") for line in FULL.splitlines()[1:]]
    # A new user too: a missing last_name column must not load users without last names.
    rows.append(["s3", "Cy", "Wu", "C3", "cy@x.edu", "UNDERGRAD"])
    text = ",".join(header) + "\n" + "".join(",".join(r[i] for i in keep) + "\n" for r in rows)
    report = c.sis.run("MAIN", "SIS", _file(tmp_path, "part.csv", text))
    assert report.status == "failed" and report.exit_code == 2
    assert needle in report.message and "missing_columns" in report.message
    assert report.counts["update"] == report.counts["create"] == 0
    assert _barcodes(c, "s1") == ["C1"] and c.users.get("MAIN", "s1").last_name == "Lee"
    with pytest.raises(UserNotFound):
        c.users.get("MAIN", "s3")


def test_keep_setting_leaves_the_missing_columns_fields_untouched(
    c: Container, mapped: Profile, tmp_path: Path
) -> None:
    _load(c, tmp_path)
    mapped.csv.missing_columns = KEEP_MISSING
    c.sis.update_profile(mapped)
    # No Card, Mail, Group columns; a changed first name.
    text = "Student ID,Given,Family\ns1,Annie,Lee\ns2,Bo,Li\ns3,Cy,Wu\n"
    report = c.sis.run("MAIN", "SIS", _file(tmp_path, "part.csv", text))
    assert report.status == "done", report.message
    counts = report.counts
    assert (counts["update"], counts["unchanged"], counts["create"]) == (1, 1, 1)
    s1 = c.users.get("MAIN", "s1")
    assert s1.first_name == "Annie"
    assert _barcodes(c, "s1") == ["C1"]
    assert [e.email_address for e in s1.contact_info.emails] == ["ann@x.edu"]
    assert s1.contact_info.emails[0].preferred
    assert c.users.get("MAIN", "s2").user_group == "GRAD"
    assert _barcodes(c, "s2") == ["C2"]
    s3 = c.users.get("MAIN", "s3")  # new: the missing fields are simply not there
    assert s3.identifiers == [] and s3.user_group == "UNDERGRAD"
    # A column present but blank still clears (swap-all).
    text = "Student ID,Given,Family,Card\ns1,Annie,Lee,\n"
    assert c.sis.run("MAIN", "SIS", _file(tmp_path, "blank.csv", text)).status == "done"
    assert _barcodes(c, "s1") == []


def test_types_from_another_column(c: Container, tmp_path: Path) -> None:
    profile = c.sis.profile("MAIN", "SIS")
    profile.csv.columns = {
        "id": "primary_id",
        "last": "last_name",
        "phone": "phone.{phone_type}",
        "identifier_1": "identifier.{identifier_1_type}",
        "street": "address.{address_type}.line1",
    }
    profile.csv.multi_separator = "|"
    c.sis.update_profile(profile)
    text = (
        "id,last,phone,phone_type,identifier_1,identifier_1_type,street,address_type\n"
        "s1,Lee,555-1|555-2,mobile|office,B1,BARCODE,1 Main St,work\n"
        "s2,Li,555-3,home,U2,UNIV_ID,,\n"
        "s3,Wu,555-4,,,,,\n"
        "s4,Ng,555-5|555-6|555-7,home|office,,,,\n"
    )
    report = c.sis.run("MAIN", "SIS", _file(tmp_path, "typed.csv", text))
    assert report.counts["create"] == 2 and report.counts["reject"] == 2, report.message
    s1 = c.users.get("MAIN", "s1")
    assert [(p.phone_number, p.phone_types) for p in s1.contact_info.phones] == [
        ("555-1", ["mobile"]),
        ("555-2", ["office"]),
    ]
    assert [(i.id_type, i.value) for i in s1.identifiers] == [("BARCODE", "B1")]
    assert s1.contact_info.addresses[0].address_types == ["work"]
    s2 = c.users.get("MAIN", "U2")
    assert s2.primary_id == "s2"
    assert [(p.phone_number, p.phone_types) for p in s2.contact_info.phones] == [
        ("555-3", ["home"])
    ]
    reasons = {i.record_no: i.detail or "" for i in c.sis.items(report.run_id or 0, "reject")}
    assert "has no type (phone_type is blank)" in reasons[3]
    assert "3 phone values but 2 types" in reasons[4]


def test_type_column_missing_from_the_header_is_a_missing_column(
    c: Container, tmp_path: Path
) -> None:
    profile = c.sis.profile("MAIN", "SIS")
    profile.csv.columns = {"id": "primary_id", "phone": "phone.{phone_type}"}
    c.sis.update_profile(profile)
    report = c.sis.run("MAIN", "SIS", _file(tmp_path, "t.csv", "id,phone\ns1,555\n"))
    assert report.status == "failed" and "'phone_type'" in report.message


def test_type_from_a_column_needs_a_column_name(c: Container) -> None:
    profile = c.sis.profile("MAIN", "SIS")
    profile.csv.columns = {"phone": "phone.{}"}
    with pytest.raises(InvalidProfile):
        c.sis.update_profile(profile)
