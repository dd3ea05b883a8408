"""Profiles, assignment rules and role validation (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from bookplate.roles.assignment import default_profile, default_rule, roles_from_rules
from bookplate.roles.model import AssignmentRule, Library, ProfileRole, RoleProfile
from bookplate.roles.validation import check_roles
from bookplate.users.errors import InvalidCode, InvalidFieldValue, MandatoryFieldMissing
from bookplate.users.model import Role, RoleParameter, User

INST = "MAIN"
TODAY = date(2026, 11, 25)
LIBS = {"LIB_A": Library("LIB_A", "Library A", frozenset({"DESK1"}))}

FACULTY = RoleProfile(
    "FACULTY",
    "Faculty",
    (
        ProfileRole("200"),
        ProfileRole("231", "LIB_A"),
        ProfileRole("21", status="INACTIVE"),
        ProfileRole("204", expiry_date=date(2020, 1, 1)),
    ),
)
PROFILES = {"PATRON": default_profile(), "FACULTY": FACULTY}
RULES = [
    default_rule(),
    AssignmentRule(
        "fac",
        "FACULTY",
        user_groups=frozenset({"FACULTY"}),
        campuses=frozenset({"Main"}),
        position=5,
    ),
]


def test_default_rule_gives_patron_to_public_users_only() -> None:
    public = roles_from_rules(User("p", user_group="UNDERGRAD"), INST, RULES, PROFILES, TODAY)
    assert [(r.role_type, r.scope, r.status) for r in public] == [("200", INST, "ACTIVE")]
    assert roles_from_rules(User("s", record_type="STAFF"), INST, RULES, PROFILES, TODAY) == []
    assert roles_from_rules(User("c", record_type="CONTACT"), INST, RULES, PROFILES, TODAY) == []


def test_matching_rules_combine_and_copy_only_active_roles() -> None:
    user = User("f", user_group="FACULTY", campus_code="Main")
    roles = roles_from_rules(user, INST, RULES, PROFILES, TODAY)
    assert [(r.role_type, r.scope) for r in roles] == [("200", INST), ("231", "LIB_A")]
    other_campus = User("g", user_group="FACULTY", campus_code="North")
    assert [r.role_type for r in roles_from_rules(other_campus, INST, RULES, PROFILES, TODAY)] == [
        "200"
    ]


def test_rule_with_missing_profile_is_skipped() -> None:
    rules = [AssignmentRule("x", "GONE")]
    assert roles_from_rules(User("p"), INST, rules, PROFILES, TODAY) == []


@pytest.mark.parametrize(
    ("role", "error"),
    [
        (Role("99999", INST), InvalidCode),
        (Role(None, INST), MandatoryFieldMissing),
        (Role("26", "LIB_A"), InvalidCode),  # administrator is institution-wide
        (Role("32", INST), InvalidCode),  # a desk role needs a library
        (Role("21", "OTHER_INST"), InvalidCode),
        (Role("21", "LIB_Z"), InvalidCode),
        (
            Role("200", INST, parameters=[RoleParameter("CirculationDesk", "LIB_A", "DESK1")]),
            InvalidFieldValue,
        ),
        (
            Role("32", "LIB_A", parameters=[RoleParameter("CirculationDesk", "LIB_A", "NOPE")]),
            InvalidCode,
        ),
        (
            Role("32", "LIB_A", parameters=[RoleParameter("ServiceUnit", "LIB_A", "DESK1")]),
            InvalidCode,
        ),
        (
            Role("37", "LIB_A", parameters=[RoleParameter("ServiceUnit", "LIB_A", "")]),
            MandatoryFieldMissing,
        ),
    ],
)
def test_bad_roles(role: Role, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_roles(User("u", roles=[role]), INST, LIBS)


def test_good_roles_and_past_expiry_accepted() -> None:
    check_roles(
        User(
            "u",
            roles=[
                Role("21", INST),
                Role("21", "LIB_A"),
                Role("200", INST, expiry_date=date(2001, 1, 1)),
                Role(
                    "32", "LIB_A", parameters=[RoleParameter("CirculationDesk", "LIB_A", "DESK1")]
                ),
                Role("37", "LIB_A", parameters=[RoleParameter("ServiceUnit", "LIB_B", "UNIT")]),
            ],
        ),
        INST,
        LIBS,
    )


def test_a_thousand_roles_are_refused() -> None:
    with pytest.raises(InvalidFieldValue, match="at most 500"):
        check_roles(User("u", roles=[Role("200", INST)] * 1000), INST, LIBS)
