"""``sis.plan.plan_sync``, the pure planner, record by record: every action it gives, the
protected fields and their manual marks, the profile's field rules and the fields a CSV file
has no column for. No store: the stored users are the ``existing`` map."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bookplate.errors import InputError
from bookplate.sis.model import (
    Action,
    ActionKind,
    Existing,
    FieldRule,
    Incoming,
    Mode,
    Profile,
)
from bookplate.sis.plan import plan_sync
from bookplate.users.model import (
    AccountType,
    ContactInfo,
    Email,
    Identifier,
    Note,
    Role,
    SegmentType,
    User,
)

TODAY = date(2026, 3, 1)
PROFILE = Profile(code="SIS", institution="MAIN", default_user_group="UG")


def _file_user(primary_id: str = "p1", **fields: object) -> User:
    values: dict[str, object] = {"first_name": "Ann", "last_name": "Lee", "user_group": "STUD"}
    values.update(fields)
    return User(primary_id=primary_id, **values)  # type: ignore[arg-type]


def _stored(primary_id: str = "p1", external_id: str | None = "SIS", **fields: object) -> User:
    values: dict[str, object] = {
        "first_name": "Ann",
        "last_name": "Lee",
        "user_group": "STUD",
        "institution": "MAIN",
        "account_type": AccountType.EXTERNAL.value,
        "external_id": external_id,
        "roles": [Role(role_type="200", scope="MAIN", status="ACTIVE")],
    }
    values.update(fields)
    return User(primary_id=primary_id, **values)  # type: ignore[arg-type]


def _incoming(user: User | None, number: int = 1, **extra: object) -> Incoming:
    match_id = extra.pop("match_id", user.primary_id if user is not None else "p1")
    return Incoming(number, match_id, user, fingerprint=f"fp{number}", **extra)  # type: ignore[arg-type]


def _one(
    item: Incoming,
    stored: User | None = None,
    profile: Profile = PROFILE,
    **kwargs: object,
) -> Action:
    existing = {"p1": Existing(7, stored)} if stored is not None else {}
    (action,) = plan_sync([item], existing, profile, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return action


# -- the five actions ----------------------------------------------------------------------


def test_an_unmatched_record_is_created_as_an_external_user_of_the_profile() -> None:
    profile = Profile(
        code="SIS", institution="MAIN", default_user_group="UG", expiry_days=30, purge_days=10
    )
    incoming = _file_user(user_group=None, roles=[Role(role_type="221")])
    action = _one(_incoming(incoming), None, profile)
    assert action.kind is ActionKind.CREATE
    user = action.user
    assert (user.institution, user.account_type, user.external_id) == ("MAIN", "EXTERNAL", "SIS")
    assert user.user_group == "UG"  # the profile's default for a blank group
    assert user.expiry_date == TODAY + timedelta(days=30)
    assert user.purge_date == TODAY + timedelta(days=40)
    assert user.roles == []  # roles never come from the file (the runner assigns them)
    assert action.fingerprint == "fp1" and action.pk is None


def test_a_changed_record_updates_with_the_diff_and_an_equal_one_is_unchanged() -> None:
    action = _one(_incoming(_file_user(last_name="Li")), _stored())
    assert action.kind is ActionKind.UPDATE and action.pk == 7
    assert action.diff == {"last_name": ["Lee", "Li"]}
    assert action.user.roles == [Role(role_type="200", scope="MAIN", status="ACTIVE")]  # kept

    same = _one(_incoming(_file_user()), _stored())
    assert same.kind is ActionKind.UNCHANGED and same.diff == {} and same.user is not None


def test_import_mode_leaves_matched_users_unchanged() -> None:
    action = _one(_incoming(_file_user(last_name="Li")), _stored(), mode=Mode.IMPORT)
    assert action.kind is ActionKind.UNCHANGED and action.user is None
    assert action.reason == "exists already (import creates new users only)"


@pytest.mark.parametrize(
    ("item", "stored", "profile", "reason"),
    [
        (_incoming(None, error="record 1: unreadable record: bad date"), None, PROFILE,
         "record 1: unreadable record: bad date"),
        (_incoming(_file_user(), match_id=None), None, PROFILE,
         "the record has no match ID (primary_id)"),
        (_incoming(_file_user()), _stored(account_type="INTERNAL", external_id=None), PROFILE,
         "matches the internal user p1; the SIS never changes internal users"),
        (_incoming(_file_user()), _stored(external_id="HR"), PROFILE,
         "matches p1, a user of the profile HR"),
        (_incoming(_file_user()), None, Profile(code="X", institution="MAIN", add_unmatched=False),
         "no user matches and the profile does not add unmatched users"),
    ],
)
def test_records_that_may_not_be_written_are_rejected_with_the_reason(
    item: Incoming, stored: User | None, profile: Profile, reason: str
) -> None:
    action = _one(item, stored, profile)
    assert action.kind is ActionKind.REJECT
    assert action.reason == reason
    assert action.user is None and action.diff == {}


def test_a_record_the_check_refuses_is_rejected_and_a_match_id_met_twice_once() -> None:
    def check(user: User) -> None:
        if user.last_name == "Bad":
            raise InputError("last name refused")

    first, again, bad = plan_sync(
        [
            _incoming(_file_user("p1"), 1),
            _incoming(_file_user(" P1 "), 2),  # the same match ID, normalised
            _incoming(_file_user("p2", last_name="Bad"), 3),
        ],
        {},
        PROFILE,
        today=TODAY,
        check=check,
    )
    assert first.kind is ActionKind.CREATE
    assert (again.kind, again.reason) == (
        ActionKind.REJECT,
        "match ID  P1  appears earlier in the same file",
    )
    assert (bad.kind, bad.reason) == (ActionKind.REJECT, "last name refused")


# -- what a synchronize keeps --------------------------------------------------------------


def test_internal_segments_stay_and_external_ones_are_swapped() -> None:
    stored = _stored(
        identifiers=[
            Identifier("BARCODE", "OLD", segment_type=SegmentType.EXTERNAL),
            Identifier("STAFF", "S1", segment_type=SegmentType.INTERNAL),
        ],
        notes=[Note(note_type="POPUP", note_text="staff note")],
        contact_info=ContactInfo(emails=[Email("staff@x.org")]),
    )
    incoming = _file_user(identifiers=[Identifier("BARCODE", "NEW")])
    action = _one(_incoming(incoming), stored)
    assert action.kind is ActionKind.UPDATE
    user = action.user
    assert [(i.value, i.segment_type) for i in user.identifiers] == [
        ("NEW", SegmentType.EXTERNAL),
        ("S1", SegmentType.INTERNAL),
    ]
    assert [n.note_text for n in user.notes] == ["staff note"]
    assert [e.email_address for e in user.contact_info.emails] == ["staff@x.org"]
    assert set(action.diff) == {"identifiers"}


def test_a_protected_field_changed_by_hand_keeps_the_staff_value() -> None:
    """Staff set the group to STAFF by hand while the SIS sent STUD: loads keep STAFF and
    remember the SIS's latest value, until the file sends STAFF itself (attached again)."""
    stored = _stored(user_group="STAFF", manual_fields={"user_group": "STUD"})
    kept = _one(_incoming(_file_user(user_group="GRAD")), stored)
    assert kept.kind is ActionKind.UPDATE
    assert kept.user.user_group == "STAFF"
    assert kept.user.manual_fields == {"user_group": "GRAD"}
    assert set(kept.diff) == {"manual_fields"}  # the group itself did not change

    attached = _one(_incoming(_file_user(user_group="STAFF")), stored)
    assert attached.user.user_group == "STAFF"
    assert attached.user.manual_fields == {}


def test_a_blank_protected_field_is_reset_and_an_unprotected_one_cleared() -> None:
    stored = _stored(user_group="GRAD", user_title="Dr", job_description="Lab")
    action = _one(_incoming(_file_user(user_group=None)), stored)
    assert action.user.user_group == "UG"  # the profile's default group
    assert action.user.user_title is None
    assert action.user.job_description is None  # swap-all: absent from the file
    assert action.diff["user_group"] == ["GRAD", "UG"]


@pytest.mark.parametrize(
    ("rule", "sent", "result"),
    [
        (FieldRule.ERASE, None, None),
        (FieldRule.REPLACE, None, "Lab"),
        (FieldRule.REPLACE, "Office", "Office"),
        (FieldRule.KEEP, "Office", "Lab"),
    ],
)
def test_the_profiles_field_rules(rule: FieldRule, sent: str | None, result: str | None) -> None:
    profile = Profile(code="SIS", institution="MAIN", field_rules={"job_description": rule})
    stored = _stored(job_description="Lab")
    action = _one(_incoming(_file_user(job_description=sent)), stored, profile)
    assert action.user.job_description == result


def test_a_keep_rule_fills_a_blank_stored_field() -> None:
    profile = Profile(
        code="SIS", institution="MAIN", field_rules={"job_description": FieldRule.KEEP}
    )
    action = _one(_incoming(_file_user(job_description="Office")), _stored(), profile)
    assert action.user.job_description == "Office"


def test_fields_without_a_column_keep_their_stored_values() -> None:
    """CSV ``missing_columns: keep``: a core field, a protected one with its manual mark and
    the external emails of the missing column's type stay as stored."""
    stored = _stored(
        user_title="Dr",
        job_description="Lab",
        manual_fields={"user_title": "Prof"},
        contact_info=ContactInfo(
            emails=[
                Email("work@x.org", email_types=["work"], segment_type=SegmentType.EXTERNAL),
                Email("home@x.org", email_types=["personal"], segment_type=SegmentType.EXTERNAL),
            ]
        ),
    )
    incoming = _file_user(
        contact_info=ContactInfo(emails=[Email("new@x.org", email_types=["personal"])])
    )
    untouched = frozenset({("job_description", ""), ("user_title", ""), ("email", "work")})
    action = _one(_incoming(incoming, untouched=untouched), stored)
    user = action.user
    assert user.job_description == "Lab"
    assert (user.user_title, user.manual_fields) == ("Dr", {"user_title": "Prof"})
    assert [e.email_address for e in user.contact_info.emails] == ["new@x.org", "work@x.org"]
    # Without the untouched fields the file's blanks would have cleared them.
    swapped = _one(_incoming(_file_user(contact_info=incoming.contact_info)), stored)
    assert swapped.user.job_description is None
    assert [e.email_address for e in swapped.user.contact_info.emails] == ["new@x.org"]
