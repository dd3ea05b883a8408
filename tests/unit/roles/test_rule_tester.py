"""The tester's explanation of the assignment rules agrees with what creating a user does
(pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bookplate.roles.assignment import roles_from_rules
from bookplate.roles.model import AssignmentRule
from bookplate.roles.rule_tester import try_rules
from bookplate.users.model import Role, User
from tests.unit.roles.test_assignment import INST, PROFILES, RULES, TODAY


def test_each_rule_says_whether_it_matches_and_which_condition_fails() -> None:
    user = User("u", record_type="PUBLIC", user_group="FACULTY", campus_code="North")
    result = try_rules(user, INST, RULES, PROFILES, TODAY)
    patron, fac = result.traces
    assert patron.matches and [c.name for c in patron.conditions] == ["record type"]
    assert [(r.role_type, r.scope) for r in patron.roles] == [("200", INST)]
    assert not fac.matches and fac.roles == ()
    checks = {c.name: (c.wanted, c.value, c.holds) for c in fac.conditions}
    assert checks == {"user group": (("FACULTY",), "FACULTY", True),
                      "campus": (("Main",), "North", False)}
    assert result.profiles == ["PATRON"]


def test_a_stored_user_shows_what_recalculating_would_add() -> None:
    user = User("u", record_type="PUBLIC", user_group="FACULTY", campus_code="Main",
                roles=[Role("200", INST)])
    result = try_rules(user, INST, RULES, PROFILES, TODAY, stored=True)
    assert result.profiles == ["PATRON", "FACULTY"]
    assert [r.role_type for r in result.held] == ["200"]
    assert [(r.role_type, r.scope) for r in result.added] == [("231", "LIB_A")]


def test_contact_users_and_missing_profiles() -> None:
    contact = try_rules(User("c", record_type="CONTACT"), INST, RULES, PROFILES, TODAY)
    assert contact.contact and contact.roles == () and contact.profiles == []
    gone = try_rules(User("u"), INST, [AssignmentRule("x", "GONE")], PROFILES, TODAY)
    assert gone.traces[0].matches and gone.traces[0].profile_missing
    assert gone.profiles == [] and gone.roles == ()


GROUPS = st.sampled_from([None, "FACULTY", "STAFF"])


@given(group=GROUPS, campus=st.sampled_from([None, "Main", "North"]),
       record_type=st.sampled_from(["PUBLIC", "STAFF", "CONTACT"]))
def test_the_tester_gives_what_creating_the_user_gives(
    group: str | None, campus: str | None, record_type: str
) -> None:
    user = User("u", record_type=record_type, user_group=group, campus_code=campus)
    result = try_rules(user, INST, RULES, PROFILES, TODAY)
    assert list(result.roles) == roles_from_rules(user, INST, RULES, PROFILES, TODAY)
    given_by_traces = [r for t in result.traces if t.matches for r in t.roles]
    assert {(r.role_type, r.scope) for r in given_by_traces} == {
        (r.role_type, r.scope) for r in result.roles}
