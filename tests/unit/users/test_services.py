"""The user services over in-memory storage: the rules of SPEC sections 1 and 3."""

from __future__ import annotations

from datetime import date

import pytest

from bookplate.users import errors
from bookplate.users.model import (
    ContactInfo,
    Email,
    Identifier,
    Note,
    Role,
    SegmentType,
    User,
    UserInput,
)
from bookplate.users.services import UserService, merge_for_put, parse_override
from tests.unit.fakes import MemoryCodes, MemoryUsers

INST = "MAIN"


def patron(primary_id: str = "jdoe", **kw: object) -> User:
    fields: dict[str, object] = {
        "first_name": "Jane",
        "last_name": "Doe",
        "user_group": "UNDERGRAD",
    }
    fields.update(kw)
    return User(primary_id=primary_id, **fields)  # type: ignore[arg-type]


def external(primary_id: str = "ext1", **kw: object) -> User:
    fields: dict[str, object] = {"account_type": "EXTERNAL", "external_id": "SIS"}
    fields.update(kw)
    return patron(primary_id, **fields)


def test_create_stamps_and_stores(
    service: UserService, memory: tuple[MemoryUsers, MemoryCodes]
) -> None:
    user = service.create(INST, UserInput(patron()), "api:k1")
    assert user.created_by == "api:k1"
    assert user.created_date is not None
    assert user.institution == INST
    assert service.get(INST, "JDOE").primary_id == "jdoe"


def test_internal_user_segments_are_internal(service: UserService) -> None:
    u = patron(identifiers=[Identifier("BARCODE", "123", segment_type=SegmentType.EXTERNAL)])
    created = service.create(INST, UserInput(u), "t")
    assert created.identifiers[0].segment_type is SegmentType.INTERNAL


def test_external_user_keeps_external_segments(service: UserService) -> None:
    u = external(identifiers=[Identifier("BARCODE", "123", segment_type=SegmentType.EXTERNAL)])
    created = service.create(INST, UserInput(u), "t")
    assert created.identifiers[0].segment_type is SegmentType.EXTERNAL


@pytest.mark.parametrize(
    ("user", "error"),
    [
        (patron(""), errors.MandatoryFieldMissing),
        (patron(user_group="NOPE"), errors.InvalidCode),
        (patron(record_type="ROBOT"), errors.InvalidCode),
        (
            patron(
                record_type="CONTACT", user_group=None, identifiers=[Identifier("BARCODE", "1")]
            ),
            errors.NotSupportedForRecordType,
        ),
        (
            patron(record_type="CONTACT", user_group=None, roles=[Role("200")]),
            errors.NotSupportedForRecordType,
        ),
        (patron(record_type="CONTACT"), errors.NotSupportedForRecordType),
        (patron(record_type="STAFF", user_group="UNDERGRAD"), errors.IllegalUserGroup),
        (patron(external_id="SIS"), errors.ExternalIdMustBeEmpty),
        (patron(account_type="EXTERNAL"), errors.ExternalIdRequired),
        (
            patron(account_type="INTERNAL_WITH_EXTERNAL_AUTHENTICATION"),
            errors.UnsupportedAccountType,
        ),
        (patron(account_type="SOMETHING"), errors.IllegalAccountType),
        (patron(first_name="x" * 10_000), errors.InvalidFieldValue),
        (patron(last_name="bad\x00name"), errors.InvalidFieldValue),
        (
            patron(identifiers=[Identifier("BARCODE", "1"), Identifier("UNIV_ID", "1")]),
            errors.RepeatedIdentifier,
        ),
        (patron(identifiers=[Identifier("NOT_A_TYPE", "1")]), errors.InvalidCode),
        (patron(identifiers=[Identifier("BARCODE", "")]), errors.MandatoryFieldMissing),
        (
            patron(contact_info=ContactInfo(emails=[Email("not-an-email")])),
            errors.InvalidFieldValue,
        ),
        (patron(notes=[Note("NOPE", "x")]), errors.InvalidCode),
        (patron(roles=[Role("200", status="SLEEPING")]), errors.InvalidCode),
    ],
)
def test_create_refuses_and_stores_nothing(
    service: UserService,
    memory: tuple[MemoryUsers, MemoryCodes],
    user: User,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        service.create(INST, UserInput(user), "t")
    assert memory[0].rows == {}


def test_contact_user_with_notes_and_email_is_fine(service: UserService) -> None:
    u = User(
        primary_id="vendor1",
        record_type="CONTACT",
        last_name="Acme",
        contact_info=ContactInfo(emails=[Email("sales@acme.example")]),
        notes=[Note("GENERAL", "call first")],
    )
    assert service.create(INST, UserInput(u), "t").record_type == "CONTACT"


def test_contact_user_may_not_have_a_password(service: UserService) -> None:
    u = User(primary_id="vendor2", record_type="CONTACT", last_name="Acme")
    with pytest.raises(errors.NotSupportedForRecordType):
        service.create(INST, UserInput(u, password="long enough pass"), "t")


@pytest.mark.parametrize(
    "password",
    ["short", "password123", "xxjdoexx-long", "JDOE-and-more", "baseball1", "Sunshine1",
     "superman123", "trustno1trustno1"[:8]],
)
def test_password_rules(service: UserService, password: str) -> None:
    with pytest.raises(errors.PasswordRejected):
        service.create(INST, UserInput(patron(), password=password), "t")


def test_duplicate_primary_id_case_insensitive(service: UserService) -> None:
    service.create(INST, UserInput(patron("Ann")), "t")
    with pytest.raises(errors.DuplicateId):
        service.create(INST, UserInput(patron("aNN")), "t")


def test_identifier_clashing_with_other_primary_id(service: UserService) -> None:
    service.create(INST, UserInput(patron("ann")), "t")
    with pytest.raises(errors.DuplicateId):
        service.create(
            INST, UserInput(patron("bob", identifiers=[Identifier("BARCODE", "ANN")])), "t"
        )


def test_get_missing(service: UserService) -> None:
    with pytest.raises(errors.UserNotFound, match=r"User with identifier nobody was not found\."):
        service.get(INST, "nobody")
    with pytest.raises(errors.UserNotFound, match="of type BARCODE"):
        service.get(INST, "nobody", "BARCODE")


def test_put_keeps_roles_when_absent_and_replaces_when_sent(service: UserService) -> None:
    service.create(INST, UserInput(patron(roles=[Role("200", INST, "ACTIVE")])), "t")
    kept = service.replace(INST, "jdoe", UserInput(patron(first_name="Janet")), "t")
    assert [r.role_type for r in kept.roles] == ["200"]
    assert kept.first_name == "Janet"
    swapped = service.replace(INST, "jdoe", UserInput(patron(roles=[Role("204", INST)])), "t")
    assert [r.role_type for r in swapped.roles] == ["204"]


def test_put_is_swap_all_for_lists(service: UserService) -> None:
    service.create(INST, UserInput(patron(identifiers=[Identifier("BARCODE", "111")])), "t")
    after = service.replace(INST, "jdoe", UserInput(patron()), "t")
    assert after.identifiers == []
    # the freed barcode can be used by someone else now
    service.create(
        INST, UserInput(patron("other", identifiers=[Identifier("BARCODE", "111")])), "t"
    )


def test_put_password_empty_keeps_nonempty_sets(
    service: UserService, memory: tuple[MemoryUsers, MemoryCodes]
) -> None:
    service.create(INST, UserInput(patron(), password="first-secret-1"), "t")
    service.replace(INST, "jdoe", UserInput(patron(), password=None), "t")
    assert memory[0].password_hash(INST, "jdoe") == "plain:first-secret-1"
    service.replace(INST, "jdoe", UserInput(patron(), password="second-secret-2"), "t")
    assert memory[0].password_hash(INST, "jdoe") == "plain:second-secret-2"
    assert service.check_password(INST, "jdoe", "all_unique", "second-secret-2")
    assert not service.check_password(INST, "jdoe", "all_unique", "first-secret-1")


def test_check_password_refuses_inactive_and_expired(service: UserService) -> None:
    service.create(INST, UserInput(patron(status="INACTIVE"), password="good-secret-1"), "t")
    assert not service.check_password(INST, "jdoe", "all_unique", "good-secret-1")
    service.create(
        INST, UserInput(patron("old", expiry_date=date(2020, 1, 1)), password="good-secret-1"), "t"
    )
    assert not service.check_password(INST, "old", "all_unique", "good-secret-1")


def test_external_protected_fields_kept_when_empty_or_manual(
    service: UserService, memory: tuple[MemoryUsers, MemoryCodes]
) -> None:
    service.create(
        INST, UserInput(external(job_category="Librarian", preferred_language="en")), "t"
    )
    # staff changed user_group by hand earlier
    stored, _pw = memory[0].rows["ext1"]
    stored.user_group = "GRAD"
    stored.manual_fields = {"user_group": "UNDERGRAD"}
    incoming = external(user_group="FACULTY", job_category=None, preferred_language="de")
    after = service.replace(INST, "ext1", UserInput(incoming), "t")
    assert after.user_group == "GRAD"  # manual change wins
    assert after.job_category == "Librarian"  # empty incoming keeps
    assert after.preferred_language == "de"  # not manual, not empty: replaced
    overridden = service.replace(
        INST, "ext1", UserInput(incoming), "t", override=parse_override("user_group,job_category")
    )
    assert overridden.user_group == "FACULTY"
    assert overridden.job_category is None
    # Every PUT is a person's edit: what it changed is manual, with the SIS's last value.
    assert overridden.manual_fields == {
        "user_group": "UNDERGRAD",
        "job_category": "Librarian",
        "preferred_language": "en",
    }
    # Setting a field back to the SIS's last value attaches it again.
    back = service.replace(
        INST,
        "ext1",
        UserInput(external(user_group="UNDERGRAD", preferred_language="en")),
        "t",
        override=parse_override("user_group,preferred_language"),
    )
    assert back.manual_fields == {"job_category": "Librarian"}


def test_put_restore_and_sign_in_updates(service: UserService) -> None:
    """``restore`` gives manual fields back their last SIS value; an identity system's update
    (``by_hand=False``) marks nothing and ``override`` then hands the field to the SIS."""
    service.create(INST, UserInput(external(preferred_language="en", rs_libraries=["L1"])), "t")
    edited = service.replace(
        INST,
        "ext1",
        UserInput(external(user_group="GRAD", preferred_language="de", rs_libraries=["L2"])),
        "t",
    )
    assert set(edited.manual_fields) == {"user_group", "preferred_language", "rs_libraries"}
    restored = service.replace(
        INST,
        "ext1",
        UserInput(external(user_group="GRAD", preferred_language="de", rs_libraries=["L2"])),
        "t",
        restore=frozenset({"user_group", "rs_libraries"}),
    )
    assert (restored.user_group, restored.rs_libraries) == ("UNDERGRAD", ["L1"])
    assert restored.manual_fields == {"preferred_language": "en"}
    by_login = service.replace(
        INST, "ext1", UserInput(external(preferred_language="fr")), "t", by_hand=False
    )
    assert by_login.preferred_language == "de"  # still manual: the sign-in does not win
    assert by_login.manual_fields == {"preferred_language": "en"}
    handed = service.replace(
        INST,
        "ext1",
        UserInput(external(preferred_language="fr")),
        "t",
        override=parse_override("preferred_language"),
        by_hand=False,
    )
    assert handed.preferred_language == "fr" and handed.manual_fields == {}


def test_internal_user_protected_fields_are_plain_swap_all(service: UserService) -> None:
    service.create(INST, UserInput(patron(job_category="Librarian")), "t")
    after = service.replace(INST, "jdoe", UserInput(patron(job_category=None)), "t")
    assert after.job_category is None


def test_external_id_rules_on_put(service: UserService) -> None:
    service.create(INST, UserInput(external()), "t")
    with pytest.raises(errors.ExternalIdImmutable):
        service.replace(INST, "ext1", UserInput(external(external_id="OTHER")), "t")
    with pytest.raises(errors.ActionNotSupported):
        service.replace(INST, "ext1", UserInput(patron("ext1")), "t")
    # internal -> external is allowed
    service.create(INST, UserInput(patron("int1")), "t")
    assert service.replace(INST, "int1", UserInput(external("int1")), "t").is_external


def test_put_can_rename_primary_id(service: UserService) -> None:
    service.create(INST, UserInput(patron("before")), "t")
    service.replace(INST, "before", UserInput(patron("after")), "t")
    assert service.get(INST, "after").primary_id == "after"
    with pytest.raises(errors.UserNotFound):
        service.get(INST, "before")


def test_parse_override_rejects_unknown() -> None:
    assert parse_override("user_group, rs_library") == {"user_group", "rs_libraries"}
    with pytest.raises(errors.InvalidParameter):
        parse_override("primary_id")


def test_merge_does_not_alias_input() -> None:
    stored = external(roles=[Role("200")])
    incoming = external()
    merged = merge_for_put(stored, incoming, frozenset())
    merged.roles[0].role_type = "21"
    assert stored.roles[0].role_type == "200"


def test_delete(service: UserService) -> None:
    service.create(INST, UserInput(patron()), "t")
    service.delete(INST, "jdoe")
    with pytest.raises(errors.UserNotFound):
        service.delete(INST, "jdoe")
