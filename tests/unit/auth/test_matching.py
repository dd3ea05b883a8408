from __future__ import annotations

from datetime import date

from bookplate.auth.matching import Action, apply_identity, decide, user_from_identity
from bookplate.auth.model import Identity, Method, UserMapping
from bookplate.users.model import Email, Identifier, Role, SegmentType, User

TODAY = date(2026, 11, 26)


def ident(subject: str = "jdoe", **attrs: str) -> Identity:
    return Identity(Method.SAML, "IDP1", "MAIN", subject,
                    {k: (v,) for k, v in attrs.items()})


def stored(**kw: object) -> User:
    user = User(primary_id="jdoe", institution="MAIN", user_group="UNDERGRAD")
    for k, v in kw.items():
        setattr(user, k, v)
    return user


MAPPING = UserMapping(
    create_users=True,
    fields={"first_name": "givenName", "last_name": "sn", "email": "mail",
            "user_group": "group"},
    identifiers={"UNIV_ID": "univId"},
    default_user_group="UNDERGRAD",
    expiry_days=365,
)


def test_decide_every_branch() -> None:
    assert decide(ident(), MAPPING, None, TODAY).action == Action.CREATE
    assert decide(ident(), UserMapping(), None, TODAY).action == Action.DENY
    assert decide(ident(), UserMapping(), stored(), TODAY).action == Action.LOGIN
    external = stored(account_type="EXTERNAL", external_id="IDP1")
    assert decide(ident(), UserMapping(update_users=True), external, TODAY).action == Action.UPDATE
    # an internal account is signed in as it is: provider data never overwrites it
    assert decide(ident(), UserMapping(update_users=True), stored(), TODAY).action == Action.LOGIN
    inactive = decide(ident(), UserMapping(), stored(status="INACTIVE"), TODAY)
    assert (inactive.action, inactive.reason) == (Action.DENY, "the user is inactive")
    expired = decide(ident(), UserMapping(), stored(expiry_date=date(2026, 1, 1)), TODAY)
    assert expired.action == Action.DENY and "expired" in expired.reason
    other = decide(ident(), UserMapping(), stored(institution="OTHER"), TODAY)
    assert other.action == Action.DENY
    assert decide(ident("  "), MAPPING, None, TODAY).action == Action.DENY
    assert decide(ident("x" * 256), MAPPING, None, TODAY).action == Action.DENY


def test_user_id_from_an_attribute() -> None:
    mapping = UserMapping(user_id_from="uid", create_users=True)
    assert decide(ident("opaque-nameid", uid="jdoe"), mapping, None, TODAY).user_id == "jdoe"
    assert decide(ident("opaque-nameid"), mapping, None, TODAY).action == Action.DENY


def test_user_from_identity_is_external_with_external_segments() -> None:
    user = user_from_identity(
        ident(givenName="Jane", sn="Doe", mail="jane@example.edu", univId="U1"),
        MAPPING, "jdoe", TODAY,
    )
    assert user.account_type == "EXTERNAL" and user.external_id == "IDP1"
    assert (user.first_name, user.last_name, user.user_group) == ("Jane", "Doe", "UNDERGRAD")
    assert user.expiry_date == date(2027, 11, 26)
    assert [(e.email_address, e.segment_type) for e in user.contact_info.emails] == [
        ("jane@example.edu", SegmentType.EXTERNAL)]
    assert [(i.id_type, i.value, i.segment_type) for i in user.identifiers] == [
        ("UNIV_ID", "U1", SegmentType.EXTERNAL)]
    grouped = user_from_identity(ident(group="GRAD"), MAPPING, "jdoe", TODAY)
    assert grouped.user_group == "GRAD"


def test_match_by_identifier_keeps_the_asserted_id_as_that_identifier() -> None:
    mapping = UserMapping(match_id_type="UNIV_ID", create_users=True)
    user = user_from_identity(ident("U77"), mapping, "U77", TODAY)
    assert [(i.id_type, i.value) for i in user.identifiers] == [("UNIV_ID", "U77")]


def test_apply_identity_replaces_external_keeps_internal() -> None:
    existing = stored(first_name="Old", last_name="Name", account_type="EXTERNAL",
                      external_id="IDP1", expiry_date=date(2026, 12, 1))
    existing.contact_info.emails = [
        Email("own@example.org", segment_type=SegmentType.INTERNAL, preferred=True),
        Email("old@example.edu", segment_type=SegmentType.EXTERNAL),
    ]
    existing.identifiers = [
        Identifier("UNIV_ID", "U0", segment_type=SegmentType.EXTERNAL),
        Identifier("BARCODE", "B1", segment_type=SegmentType.INTERNAL),
    ]
    fresh = apply_identity(existing, ident(givenName="New", mail="new@example.edu", univId="U1"),
                           MAPPING, TODAY)
    assert (fresh.first_name, fresh.last_name) == ("New", "Name")  # sn not sent: kept
    assert [e.email_address for e in fresh.contact_info.emails] == [
        "own@example.org", "new@example.edu"]
    assert [(i.id_type, i.value) for i in fresh.identifiers] == [("BARCODE", "B1"),
                                                                 ("UNIV_ID", "U1")]
    assert fresh.expiry_date == date(2027, 11, 26)
    assert existing.first_name == "Old"  # not changed in place


def test_unknown_mapping_fields_are_ignored() -> None:
    mapping = UserMapping(create_users=True, fields={"primary_id": "x", "account_type": "y"})
    user = user_from_identity(ident(x="evil", y="INTERNAL"), mapping, "jdoe", TODAY)
    assert (user.primary_id, user.account_type) == ("jdoe", "EXTERNAL")


def test_who_a_profile_may_sign_in_as() -> None:
    staff = stored(record_type="STAFF")
    refused = decide(ident(), UserMapping(), staff, TODAY)
    assert refused.action == Action.DENY and "STAFF record" in refused.reason
    desk = stored(roles=[Role("200", "MAIN"), Role("32", "LIB1", "INACTIVE")])
    assert "roles beyond Patron" in decide(ident(), UserMapping(), desk, TODAY).reason
    patron = stored(roles=[Role("200", "MAIN")])
    assert decide(ident(), UserMapping(), patron, TODAY).action == Action.LOGIN
    contact = stored(record_type="CONTACT")
    assert decide(ident(), UserMapping(), contact, TODAY).action == Action.DENY
    allowed = UserMapping(record_types=("PUBLIC", "STAFF"), staff_roles=True)
    assert decide(ident(), allowed, staff, TODAY).action == Action.LOGIN
    assert decide(ident(), allowed, desk, TODAY).action == Action.LOGIN
    only_external = UserMapping(account_types=("EXTERNAL",))
    internal = decide(ident(), only_external, stored(), TODAY)
    assert internal.action == Action.DENY and "INTERNAL account" in internal.reason
