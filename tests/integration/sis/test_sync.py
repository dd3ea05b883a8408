"""SIS synchronize on SQLite and PostgreSQL: Alma's rules (SPEC section 4.3), reports, dry run,
guard, bad input."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from bookplate.bootstrap import Container
from bookplate.sis.errors import InvalidProfile
from bookplate.sis.model import FieldRule, MissingPolicy, Mode, Profile
from bookplate.sis.report_out import plan_writer
from bookplate.users.model import Identifier, Note, SegmentType, User, UserInput

from .helpers import user_xml, users_doc, write_lying_zip, write_zip


def run(c: Container, path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return c.sis.run("MAIN", "SIS", path, **kwargs)  # type: ignore[arg-type]


def zipped(tmp_path: Path, *users: str, name: str = "users.zip") -> Path:
    return write_zip(tmp_path / name, {"users.xml": users_doc(*users)})


def test_initial_sync_creates_external_users_with_default_role(
    c: Container, tmp_path: Path
) -> None:
    f = zipped(tmp_path, user_xml("u1", barcode="B1", email="u1@x.edu"), user_xml("u2"))
    report = run(c, f)
    assert report.status == "done" and report.exit_code == 0
    assert report.counts["create"] == 2 and report.total == 2
    u1 = c.users.get("MAIN", "B1")
    assert u1.primary_id == "u1"
    assert u1.account_type == "EXTERNAL" and u1.external_id == "SIS"
    assert [(r.role_type, r.scope, r.status) for r in u1.roles] == [("200", "MAIN", "ACTIVE")]
    assert u1.identifiers[0].segment_type == SegmentType.EXTERNAL
    assert u1.contact_info.emails[0].segment_type == SegmentType.EXTERNAL
    items = c.sis.items(report.run_id or 0)
    assert [(i.kind, i.match_id) for i in items] == [("create", "u1"), ("create", "u2")]


def test_resync_unchanged_then_changed(c: Container, tmp_path: Path) -> None:
    run(c, zipped(tmp_path, user_xml("u1"), user_xml("u2")))
    again = run(c, zipped(tmp_path, user_xml("u1"), user_xml("u2"), name="b.zip"))
    assert again.counts["unchanged"] == 2 and again.counts["update"] == 0
    changed = run(c, zipped(tmp_path, user_xml("u1", last="Park"), user_xml("u2"), name="c.zip"))
    assert changed.counts["update"] == 1 and changed.counts["unchanged"] == 1
    assert c.users.get("MAIN", "u1").last_name == "Park"
    item = next(i for i in c.sis.items(changed.run_id or 0) if i.kind == "update")
    assert json.loads(item.detail or "{}")["last_name"] == ["Lee", "Park"]


def test_swap_all_removes_absent_fields(c: Container, tmp_path: Path) -> None:
    run(c, zipped(tmp_path, user_xml("u1", extra="<job_description>Chem</job_description>")))
    assert c.users.get("MAIN", "u1").job_description == "Chem"
    run(c, zipped(tmp_path, user_xml("u1"), name="b.zip"))
    assert c.users.get("MAIN", "u1").job_description is None


def test_internal_users_are_never_touched(c: Container, tmp_path: Path) -> None:
    c.users.create(
        "MAIN", UserInput(User(primary_id="staff1", first_name="Int", user_group="STAFF")), "t"
    )
    before = c.users.get("MAIN", "staff1")
    report = run(c, zipped(tmp_path, user_xml("staff1", first="Changed")))
    assert report.counts["reject"] == 1 and report.exit_code == 1
    assert "internal user" in (c.sis.items(report.run_id or 0)[0].detail or "")
    assert c.users.get("MAIN", "staff1") == before


def test_internal_segments_kept_external_replaced(c: Container, tmp_path: Path) -> None:
    run(c, zipped(tmp_path, user_xml("u1", barcode="B1")))

    def add_internal(user: User) -> None:
        user.identifiers.append(Identifier("INST_ID", "LOCAL9", segment_type=SegmentType.INTERNAL))
        user.notes.append(Note("CIRCULATION", "kept note", segment_type=SegmentType.INTERNAL))

    c.users.staff_update("MAIN", "u1", add_internal, "staff")
    run(c, zipped(tmp_path, user_xml("u1", barcode="B2"), name="b.zip"))
    user = c.users.get("MAIN", "u1")
    assert sorted((i.id_type, i.value, i.segment_type.value) for i in user.identifiers) == [
        ("BARCODE", "B2", "External"),
        ("INST_ID", "LOCAL9", "Internal"),
    ]
    assert [n.note_text for n in user.notes] == ["kept note"]
    assert c.users.get("MAIN", "LOCAL9").primary_id == "u1"


def test_manual_protected_field_survives_until_sis_sends_the_staff_value(
    c: Container, tmp_path: Path
) -> None:
    run(c, zipped(tmp_path, user_xml("u1", group="UNDERGRAD")))

    def to_grad(user: User) -> None:
        user.user_group = "GRAD"

    staffed = c.users.staff_update("MAIN", "u1", to_grad, "staff")
    assert staffed.manual_fields == {"user_group": "UNDERGRAD"}
    # The same SIS value again (the nightly file): the staff value stays.
    run(c, zipped(tmp_path, user_xml("u1", group="UNDERGRAD"), name="a.zip"))
    assert c.users.get("MAIN", "u1").user_group == "GRAD"
    # The SIS sends another value: the staff value stays; the SIS value is remembered.
    run(c, zipped(tmp_path, user_xml("u1", group="FACULTY"), name="b.zip"))
    user = c.users.get("MAIN", "u1")
    assert user.user_group == "GRAD" and user.manual_fields == {"user_group": "FACULTY"}
    # A blank: the manual field still stays, and so does the remembered SIS value.
    run(c, zipped(tmp_path, user_xml("u1", group=None), name="c.zip"))
    user = c.users.get("MAIN", "u1")
    assert user.user_group == "GRAD" and user.manual_fields == {"user_group": "FACULTY"}
    # The SIS sends its value of before the edit again: still the staff value.
    run(c, zipped(tmp_path, user_xml("u1", group="UNDERGRAD"), name="d.zip"))
    assert c.users.get("MAIN", "u1").user_group == "GRAD"
    # The SIS sends the staff value itself: attached again, SIS value wins from now on.
    run(c, zipped(tmp_path, user_xml("u1", group="GRAD"), name="e.zip"))
    user = c.users.get("MAIN", "u1")
    assert user.user_group == "GRAD" and user.manual_fields == {}
    run(c, zipped(tmp_path, user_xml("u1", group="FACULTY"), name="f.zip"))
    assert c.users.get("MAIN", "u1").user_group == "FACULTY"


def test_staff_restore_reattaches(c: Container, tmp_path: Path) -> None:
    run(c, zipped(tmp_path, user_xml("u1", group="UNDERGRAD")))

    def to_grad(user: User) -> None:
        user.user_group = "GRAD"

    c.users.staff_update("MAIN", "u1", to_grad, "staff")
    restored = c.users.staff_update(
        "MAIN", "u1", lambda u: None, "staff", restore=frozenset({"user_group"})
    )
    assert restored.user_group == "UNDERGRAD" and restored.manual_fields == {}


def test_blank_protected_fields_cleared_or_defaulted(c: Container, tmp_path: Path) -> None:
    extra = "<pref_first_name>Annie</pref_first_name>"
    run(c, zipped(tmp_path, user_xml("u1", group="GRAD", extra=extra)))
    run(c, zipped(tmp_path, user_xml("u1", group=None), name="b.zip"))
    user = c.users.get("MAIN", "u1")
    assert user.pref_first_name is None  # cleared
    assert user.user_group == "UNDERGRAD"  # reset to the profile's default


def test_identifier_clash_rejects_that_record_only(c: Container, tmp_path: Path) -> None:
    c.users.create(
        "MAIN",
        UserInput(
            User(
                primary_id="other", user_group="STAFF", identifiers=[Identifier("BARCODE", "TAKEN")]
            )
        ),
        "t",
    )
    report = run(
        c,
        zipped(
            tmp_path,
            user_xml("u1", barcode="TAKEN"),
            user_xml("u2", barcode="SAME"),
            user_xml("u3", barcode="same"),
            user_xml("u4"),
        ),
    )
    assert report.counts == {"create": 2, "update": 0, "unchanged": 0, "reject": 2, "deactivate": 0}
    reasons = {i.match_id: i.detail for i in c.sis.items(report.run_id or 0, "reject")}
    assert "already held by user other" in (reasons["u1"] or "")
    assert "record 2" in (reasons["u3"] or "")


def test_bad_records_are_rejected_with_reasons(c: Container, tmp_path: Path) -> None:
    ident = (
        "<user_identifiers><user_identifier><id_type>NOSUCH</id_type><value>v</value>"
        "</user_identifier></user_identifiers>"
    )
    report = run(
        c,
        zipped(
            tmp_path,
            user_xml("u1"),
            user_xml("u1", first="Again"),
            "<user><first_name>No id</first_name></user>",
            user_xml("u3", group="NOSUCH"),
            user_xml("u4", group="UNDERGRAD", extra=ident),
            user_xml("u5", extra="<expiry_date>not a date</expiry_date>"),
            user_xml("u6"),
        ),
    )
    assert report.counts["create"] == 2 and report.counts["reject"] == 5
    reasons = {i.record_no: i.detail or "" for i in c.sis.items(report.run_id or 0, "reject")}
    assert "appears earlier" in reasons[2]
    assert "no match ID" in reasons[3]
    assert "NOSUCH" in reasons[4] and "NOSUCH" in reasons[5]
    assert reasons[6].startswith("record 6")
    assert c.users.get("MAIN", "u1").first_name == "Ann"


def test_match_by_identifier_type(c: Container, tmp_path: Path) -> None:
    c.sis.create_profile(Profile(code="BYBC", institution="MAIN", match_id_type="BARCODE"))
    f = zipped(tmp_path, user_xml("p1", barcode="BC1"))
    c.sis.run("MAIN", "BYBC", f)
    # The primary ID changes; the barcode still finds the user.
    report = c.sis.run(
        "MAIN", "BYBC", zipped(tmp_path, user_xml("p1new", barcode="BC1"), name="b.zip")
    )
    assert report.counts["update"] == 1
    assert c.users.get("MAIN", "BC1").primary_id == "p1new"


def test_other_profiles_users_are_not_touched(c: Container, tmp_path: Path) -> None:
    c.sis.create_profile(Profile(code="HR", institution="MAIN", default_user_group="STAFF"))
    c.sis.run("MAIN", "HR", zipped(tmp_path, user_xml("u1", group="STAFF")))
    report = run(c, zipped(tmp_path, user_xml("u1", first="X"), name="b.zip"))
    assert report.counts["reject"] == 1
    assert c.users.get("MAIN", "u1").first_name == "Ann"


def test_import_only_creates_and_leaves_existing(c: Container, tmp_path: Path) -> None:
    run(c, zipped(tmp_path, user_xml("u1")))
    report = run(
        c,
        zipped(tmp_path, user_xml("u1", first="Z"), user_xml("u2"), name="b.zip"),
        mode=Mode.IMPORT,
    )
    assert report.counts["create"] == 1 and report.counts["unchanged"] == 1
    assert c.users.get("MAIN", "u1").first_name == "Ann"


def test_add_unmatched_off_rejects_new(c: Container, tmp_path: Path) -> None:
    c.sis.create_profile(Profile(code="NOADD", institution="MAIN", add_unmatched=False))
    report = c.sis.run("MAIN", "NOADD", zipped(tmp_path, user_xml("u9")))
    assert report.counts["reject"] == 1


def test_field_rules(c: Container, tmp_path: Path) -> None:
    profile = c.sis.profile("MAIN", "SIS")
    profile.field_rules = {"job_description": FieldRule.KEEP, "middle_name": FieldRule.REPLACE}
    c.sis.update_profile(profile)
    extra = "<middle_name>M</middle_name><job_description>one</job_description>"
    run(c, zipped(tmp_path, user_xml("u1", extra=extra)))
    run(
        c,
        zipped(
            tmp_path, user_xml("u1", extra="<job_description>two</job_description>"), name="b.zip"
        ),
    )
    user = c.users.get("MAIN", "u1")
    assert user.job_description == "one" and user.middle_name == "M"
    with pytest.raises(InvalidProfile):
        profile.field_rules = {"user_group": FieldRule.KEEP}
        c.sis.update_profile(profile)


def test_dry_run_writes_nothing_and_exports_plan(c: Container, tmp_path: Path) -> None:
    run(c, zipped(tmp_path, user_xml("u1")))
    f = zipped(tmp_path, user_xml("u1", last="New"), user_xml("u2"), user_xml("u2"), name="b.zip")
    for name in ("plan.jsonl", "plan.csv"):
        with (tmp_path / name).open("w", newline="") as out:
            report = run(c, f, dry_run=True, plan_out=plan_writer(out, name))
        assert report.run_id is None
        assert report.counts["update"] == 1 and report.counts["create"] == 1
    lines = [json.loads(x) for x in (tmp_path / "plan.jsonl").read_text().splitlines()]
    assert [x["action"] for x in lines] == ["update", "create", "reject"]
    assert lines[0]["diff"]["last_name"] == ["Lee", "New"]
    with (tmp_path / "plan.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["action"] for r in rows] == ["update", "create", "reject"]
    assert c.users.get("MAIN", "u1").last_name == "Lee"
    assert c.sis.runs("MAIN") and len(c.sis.runs("MAIN")) == 1


def test_guard_aborts_a_file_that_would_deactivate_everyone(c: Container, tmp_path: Path) -> None:
    run(c, zipped(tmp_path, *(user_xml(f"u{i}") for i in range(20))))
    profile = c.sis.profile("MAIN", "SIS")
    profile.missing_policy = MissingPolicy.DEACTIVATE
    c.sis.update_profile(profile)
    report = run(c, zipped(tmp_path, user_xml("u0"), user_xml("new"), name="b.zip"))
    assert report.status == "aborted" and report.exit_code == 2
    assert "would be deactivated" in report.message
    assert c.users.get("MAIN", "u5").status == "ACTIVE"
    with pytest.raises(Exception):  # noqa: B017
        c.users.get("MAIN", "new")
    # Within the share: the missing user is deactivated and listed.
    ok = run(c, zipped(tmp_path, *(user_xml(f"u{i}") for i in range(19)), name="c.zip"))
    assert ok.status == "done" and ok.counts["deactivate"] == 1
    assert c.users.get("MAIN", "u19").status == "INACTIVE"
    assert [i.primary_id for i in c.sis.items(ok.run_id or 0, "deactivate")] == ["u19"]


def test_expire_policy(c: Container, tmp_path: Path) -> None:
    profile = c.sis.profile("MAIN", "SIS")
    profile.missing_policy = MissingPolicy.EXPIRE
    profile.guard_share = 1.0
    c.sis.update_profile(profile)
    run(c, zipped(tmp_path, user_xml("u1"), user_xml("u2")))
    report = run(c, zipped(tmp_path, user_xml("u1"), name="b.zip"))
    assert report.counts["deactivate"] == 1
    assert c.users.get("MAIN", "u2").expiry_date is not None


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"hello, this is not an archive", "neither a zip"),
        (b"PK\x03\x04 broken", "zip"),
        (b"<users><user><primary_id>x</primary_id></user>", "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE users [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><users><user><primary_id>&b;'
            b"</primary_id></user></users>",
            "DTD",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE users [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<users><user><primary_id>&x;</primary_id></user></users>",
            "DTD",
        ),
        (b"<userRecords><userRecord/></userRecords>", "version 1"),
    ],
)
def test_unreadable_files_fail_the_run_and_change_nothing(
    c: Container, tmp_path: Path, content: bytes, needle: str
) -> None:
    f = tmp_path / "in.dat"
    f.write_bytes(content)
    report = run(c, f)
    assert report.status == "failed" and report.exit_code == 2
    assert needle in report.message
    assert c.sis.report(report.run_id or 0).status == "failed"


def test_zip_bomb_is_refused(c: Container, tmp_path: Path) -> None:
    f = tmp_path / "bomb.zip"
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.xml", b"<users>" + b" " * 50_000_000 + b"</users>")
    report = run(c, f)
    assert report.status == "failed" and "zip bomb" in report.message


@pytest.mark.parametrize("member", ["users.xml", "users.csv"])
def test_zip_member_lying_about_its_size_fails_the_run(
    c: Container, tmp_path: Path, member: str
) -> None:
    """Declared small, the member passes the ratio check; its reader stops at the declared
    size with a bad checksum, which fails the run with its reason (not a crash)."""
    if member.endswith(".xml"):
        data = users_doc(*(user_xml(f"b{i}") for i in range(20_000)))
    else:
        data = (
            "primary_id,first_name,last_name\n" + "".join(f"b{i},Ann,Lee\n" for i in range(20_000))
        ).encode()
    f = write_lying_zip(tmp_path / "bomb.zip", member, data)
    report = run(c, f)
    assert report.status == "failed" and report.exit_code == 2
    assert f"zip member {member}: the archive is damaged or declares false sizes" in (
        report.message
    )
    assert c.sis.report(report.run_id or 0).status == "failed"
    with c.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM users").scalar_one() == 0


def test_several_xml_files_in_one_zip(c: Container, tmp_path: Path) -> None:
    f = write_zip(
        tmp_path / "two.zip",
        {
            "a.xml": users_doc(user_xml("u1")),
            "b.xml": users_doc(user_xml("u2")),
            "readme.txt": b"x",
        },
    )
    report = run(c, f)
    assert report.counts["create"] == 2
    assert [i.record_no for i in c.sis.items(report.run_id or 0)] == [1, 2]


def test_plain_xml_is_accepted(c: Container, tmp_path: Path) -> None:
    f = tmp_path / "users.xml"
    f.write_bytes(users_doc(user_xml("u1")))
    assert run(c, f).counts["create"] == 1


def test_csv_with_mapping(c: Container, tmp_path: Path) -> None:
    profile = c.sis.profile("MAIN", "SIS")
    profile.csv.columns = {
        "ID": "primary_id",
        "Given": "first_name",
        "Family": "last_name",
        "Card": "identifier.BARCODE",
        "Univ": "identifier.UNIV_ID",
        "Mail": "email.personal",
        "Work": "email.work",
        "Tel": "phone.mobile",
        "Street": "address.home.line1",
        "Town": "address.home.city",
        "Group": "user_group",
        "Ends": "expiry_date",
    }
    profile.csv.multi_separator = "|"
    c.sis.update_profile(profile)
    f = tmp_path / "users.csv"
    f.write_bytes(
        "ID,Given,Family,Card,Univ,Mail,Work,Tel,Street,Town,Group,Ends,Ignored\n"
        "s1,Zoë,Ng,C1,U1,z@x.edu|z2@x.edu,zw@x.edu,555,1 Main St,Town,UNDERGRAD,2030-01-31,x\n"
        "s2,Bo,Li,C2,,,,,,,NOPE,,\n"
        "s3,Al,Wu,C3,,,,,,,UNDERGRAD,31/01/2030,\n".encode()
        + b"s4,Bad\xff,Enc,C4,,,,,,,UNDERGRAD,,\n"
    )
    report = run(c, f)
    assert report.counts["create"] == 1 and report.counts["reject"] == 3
    user = c.users.get("MAIN", "U1")
    assert user.first_name == "Zoë"
    assert [e.email_address for e in user.contact_info.emails] == [
        "z@x.edu",
        "z2@x.edu",
        "zw@x.edu",
    ]
    assert user.contact_info.emails[0].preferred
    assert user.contact_info.addresses[0].city == "Town"
    assert str(user.expiry_date) == "2030-01-31"
    reasons = {i.record_no: i.detail or "" for i in c.sis.items(report.run_id or 0, "reject")}
    assert "NOPE" in reasons[2]
    assert "line 4" in reasons[3] and "not a date" in reasons[3]
    assert "line 5" in reasons[4] and "not valid" in reasons[4]


def test_profiles_crud(c: Container) -> None:
    assert [p.code for p in c.sis.profiles("MAIN")] == ["SIS"]
    with pytest.raises(InvalidProfile):
        c.sis.create_profile(Profile(code="X", institution="MAIN", match_id_type="NOSUCH"))
    c.sis.delete_profile("MAIN", "SIS")
    assert c.sis.profiles("MAIN") == []
