"""The staff policy: a table over role x action x target x scope, and escalation properties."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookplate.roles.model import Actor, Grant, Privilege, RestrictedSettings
from bookplate.roles.policy import (
    Action,
    TargetKind,
    actor_for,
    check_user_change,
    decide,
    may_grant,
    privileges_in,
    target_kind,
)
from bookplate.users.model import Role, RoleParameter, User

INST = "MAIN"
TODAY = date(2026, 11, 25)
SCOPES = {"own library": "LIB_A", "other library": "LIB_B", "institution": None}
TARGETS = {
    "patron": TargetKind.PATRON,
    "staff": TargetKind.STAFF,
    "restricted": TargetKind.RESTRICTED,
    "administrator": TargetKind.ADMINISTRATOR,
}
ACTIONS = [
    Action.VIEW_USER,
    Action.CREATE_USER,
    Action.EDIT_USER,
    Action.DELETE_USER,
    Action.CHANGE_ROLES,
    Action.CONFIGURE,
]

# The specification, written out per role (independent of the privilege mapping in the code):
# for each holder, the (action, target) pairs allowed, and the scopes where they hold.
EVERY_TARGET = set(TARGETS)
ORDINARY = {"patron", "staff"}
_ALL_SCOPES = set(SCOPES)
_OWN = {"own library"}
SPEC: dict[str, tuple[dict[Action, set[str]], set[str]]] = {
    "26@MAIN": ({a: EVERY_TARGET for a in ACTIONS}, _ALL_SCOPES),
    "50@MAIN": ({a: EVERY_TARGET for a in ACTIONS}, _ALL_SCOPES),
    "21@MAIN": (
        {
            Action.VIEW_USER: EVERY_TARGET,
            Action.CREATE_USER: ORDINARY,
            Action.EDIT_USER: ORDINARY,
            Action.DELETE_USER: ORDINARY,
            Action.CHANGE_ROLES: ORDINARY,
        },
        _ALL_SCOPES,
    ),
    "21@LIB_A": (
        {
            Action.VIEW_USER: EVERY_TARGET,
            Action.CREATE_USER: ORDINARY,
            Action.EDIT_USER: ORDINARY,
            Action.DELETE_USER: ORDINARY,
            Action.CHANGE_ROLES: ORDINARY,
        },
        _OWN,
    ),
    "221@LIB_A": (
        {
            Action.VIEW_USER: EVERY_TARGET,
            Action.CREATE_USER: {"patron"},
            Action.EDIT_USER: {"patron"},
        },
        _OWN,
    ),
    "32@LIB_A": (
        {
            Action.VIEW_USER: EVERY_TARGET,
            Action.CREATE_USER: {"patron"},
            Action.EDIT_USER: {"patron"},
        },
        _OWN,
    ),
    "299@LIB_A": ({Action.VIEW_USER: EVERY_TARGET}, _OWN),
    "200@MAIN": ({}, set()),
}


def holder(spec: str) -> Actor:
    role_type, scope = spec.split("@")
    return Actor("staff1", INST, (Grant(role_type, scope),))


CASES = [
    (role, action, target, scope)
    for role in SPEC
    for action in ACTIONS
    for target in TARGETS
    for scope in SCOPES
]


@pytest.mark.parametrize(("role", "action", "target", "scope"), CASES)
def test_policy_table(role: str, action: Action, target: str, scope: str) -> None:
    allowed_pairs, scopes = SPEC[role]
    # CONFIGURE and VIEW are not about a target kind: the spec lists every target for them.
    expected = target in allowed_pairs.get(action, set()) and scope in scopes
    decision = decide(holder(role), action, scope=SCOPES[scope], target=TARGETS[target])
    assert decision.allowed is expected, (role, action, target, scope, decision.reason)


def test_expired_and_inactive_roles_grant_nothing() -> None:
    user = User(
        "u",
        institution=INST,
        roles=[
            Role("26", INST, "INACTIVE"),
            Role("50", INST, "ACTIVE", expiry_date=date(2020, 1, 1)),
            Role("21", INST, "NEW"),
        ],
    )
    actor = actor_for(user, TODAY)
    assert actor.grants == ()
    assert not decide(actor, Action.VIEW_USER)


def test_target_kinds() -> None:
    restricted = RestrictedSettings(user_groups=frozenset({"STAFF"}), role_types=frozenset({"204"}))
    assert (
        target_kind(User("p", user_group="UNDERGRAD", roles=[Role("200", INST)]), restricted, TODAY)
        is TargetKind.PATRON
    )
    assert target_kind(User("s", record_type="STAFF"), restricted, TODAY) is TargetKind.STAFF
    assert target_kind(User("g", user_group="STAFF"), restricted, TODAY) is TargetKind.RESTRICTED
    assert (
        target_kind(User("c", roles=[Role("204", INST)]), restricted, TODAY)
        is TargetKind.RESTRICTED
    )
    assert (
        target_kind(User("ua", roles=[Role("50", INST)]), RestrictedSettings(), TODAY)
        is TargetKind.RESTRICTED
    )
    assert (
        target_kind(User("a", roles=[Role("26", INST)]), restricted, TODAY)
        is TargetKind.ADMINISTRATOR
    )
    expired_admin = User("x", roles=[Role("26", INST, expiry_date=date(2000, 1, 1))])
    assert target_kind(expired_admin, RestrictedSettings(), TODAY) is TargetKind.PATRON


def test_no_escalation_by_role_or_scope() -> None:
    um_lib = holder("21@LIB_A")
    assert may_grant(um_lib, Role("21", "LIB_A"))  # the same role, same scope
    assert not may_grant(um_lib, Role("21", INST))  # wider scope
    assert not may_grant(um_lib, Role("21", "LIB_B"))  # other scope
    assert not may_grant(um_lib, Role("50", INST))  # wider role
    assert may_grant(
        holder("21@MAIN"),
        Role("32", "LIB_A", parameters=[RoleParameter("CirculationDesk", "LIB_A", "D1")]),
    )
    assert not may_grant(holder("50@MAIN"), Role("26", INST))  # only an admin makes admins
    assert may_grant(holder("26@MAIN"), Role("26", INST))
    assert not may_grant(holder("32@LIB_A"), Role("200", INST))  # desks do not manage roles
    assert not may_grant(holder("26@MAIN"), Role("99999", INST))


def test_user_manager_cannot_edit_someone_into_an_admin() -> None:
    um = holder("21@MAIN")
    before = User("p", institution=INST, roles=[Role("200", INST)])
    after = User("p", institution=INST, roles=[Role("200", INST), Role("26", INST)])
    decision = check_user_change(um, before, after, RestrictedSettings(), TODAY)
    assert not decision
    # and cannot touch an admin at all, not even the name
    admin = User("a", institution=INST, roles=[Role("26", INST)])
    renamed = User("a", institution=INST, first_name="X", roles=[Role("26", INST)])
    assert not check_user_change(um, admin, renamed, RestrictedSettings(), TODAY)
    assert check_user_change(holder("26@MAIN"), admin, renamed, RestrictedSettings(), TODAY)


def test_desk_operator_creates_patrons_but_cannot_hand_out_roles() -> None:
    cdo = holder("32@LIB_A")
    new = User("p", institution=INST, user_group="UNDERGRAD")
    assert check_user_change(cdo, None, new, RestrictedSettings(), TODAY, scope="LIB_A")
    assert not check_user_change(cdo, None, new, RestrictedSettings(), TODAY, scope="LIB_B")
    with_role = User("p", institution=INST, roles=[Role("21", "LIB_A")])
    assert not check_user_change(cdo, None, with_role, RestrictedSettings(), TODAY, scope="LIB_A")


# --- property: no sequence of allowed operations escalates -------------------------------

CANDIDATE_ROLES = [
    Role("200", INST),
    Role("21", INST),
    Role("21", "LIB_A"),
    Role("21", "LIB_B"),
    Role("50", INST),
    Role("26", INST),
    Role("52", INST),
    Role("32", "LIB_A", parameters=[RoleParameter("CirculationDesk", "LIB_A", "D1")]),
    Role("221", "LIB_B", parameters=[RoleParameter("CirculationDesk", "LIB_B", "D2")]),
    Role("299", "LIB_A", parameters=[RoleParameter("CirculationDesk", "LIB_A", "D1")]),
]
SUBJECTS = {
    "user manager": [Role("21", INST)],
    "library user manager": [Role("21", "LIB_A")],
    "circulation desk operator": [Role("32", "LIB_A")],
    "patron": [Role("200", INST)],
}
ALL_SCOPES = (INST, "LIB_A", "LIB_B")


def _privileges(user: User) -> dict[str, frozenset[Privilege]]:
    actor = actor_for(user, TODAY)
    return {s: privileges_in(actor, s) for s in ALL_SCOPES}


operations = st.lists(
    st.tuples(
        st.integers(0, 4),  # who acts: index into the controlled users (mod len)
        st.integers(0, 4),  # whom: index into all users
        st.lists(st.sampled_from(range(len(CANDIDATE_ROLES))), max_size=4, unique=True),
        st.sampled_from([None, "LIB_A", "LIB_B"]),
    ),
    max_size=12,
)


@pytest.mark.parametrize("subject", list(SUBJECTS))
@settings(max_examples=150, deadline=None)
@given(ops=operations)
def test_no_sequence_of_allowed_operations_escalates(
    subject: str, ops: list[tuple[int, int, list[int], str | None]]
) -> None:
    users = [
        User("subject", institution=INST, record_type="STAFF", roles=list(SUBJECTS[subject])),
        User("admin", institution=INST, record_type="STAFF", roles=[Role("26", INST)]),
        User("uadmin", institution=INST, record_type="STAFF", roles=[Role("50", INST)]),
        User("patron", institution=INST, roles=[Role("200", INST)]),
        User("friend", institution=INST, roles=[Role("200", INST)]),
    ]
    ceiling = _privileges(users[0])
    controlled = {0}
    restricted = RestrictedSettings()
    for who, whom, role_indexes, scope in ops:
        actor_index = sorted(controlled)[who % len(controlled)]
        actor = actor_for(users[actor_index], TODAY)
        before = users[whom]
        after = User(
            before.primary_id,
            institution=INST,
            record_type=before.record_type,
            roles=[CANDIDATE_ROLES[i] for i in role_indexes],
        )
        if check_user_change(actor, before, after, restricted, TODAY, scope=scope):
            users[whom] = after
            controlled.add(whom)
        for index in controlled:
            for s, held in _privileges(users[index]).items():
                assert held <= ceiling[s], (subject, users[index].primary_id, s, held - ceiling[s])
