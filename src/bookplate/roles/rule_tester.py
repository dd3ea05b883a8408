"""Which profiles the assignment rules would give a user, and why (pure).

The administration page "which profile would this user get" shows, for every rule in the
order the rules run, whether it matches and, when it does not, the condition that fails; for
every matching rule the roles its profile would add. It uses ``assignment.rule_matches`` and
``assignment.roles_from_rules``, so what it says is what creating the user would do. Nothing is
written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from bookplate.roles.assignment import merge_roles, profile_roles, roles_from_rules, rule_matches
from bookplate.roles.model import AssignmentRule, RoleProfile
from bookplate.users.model import RecordType, Role, User


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """One condition of a rule: what the rule asks for and what the user has."""

    name: str  # "user group", "job category", "record type", "campus"
    wanted: tuple[str, ...]
    value: str
    holds: bool


@dataclass(frozen=True, slots=True)
class RuleTrace:
    rule: AssignmentRule
    matches: bool
    conditions: tuple[ConditionCheck, ...]  # only the conditions the rule sets
    roles: tuple[Role, ...]  # what its profile gives now (empty when it does not match)
    profile_missing: bool = False


@dataclass(frozen=True, slots=True)
class RuleTest:
    """The whole answer: each rule's trace, the roles the rules give together, and of a
    stored user the roles they hold and those ``recalculate_roles=true`` would add."""

    traces: tuple[RuleTrace, ...]
    roles: tuple[Role, ...]
    held: tuple[Role, ...] = ()
    added: tuple[Role, ...] = ()
    contact: bool = False  # CONTACT users never get roles from rules

    @property
    def profiles(self) -> list[str]:
        return [t.rule.profile for t in self.traces if t.matches and not t.profile_missing]


def _conditions(rule: AssignmentRule, user: User) -> tuple[ConditionCheck, ...]:
    asked = (
        ("user group", rule.user_groups, user.user_group),
        ("job category", rule.job_categories, user.job_category),
        ("record type", rule.record_types, user.record_type),
        ("campus", rule.campuses, user.campus_code),
    )
    return tuple(
        ConditionCheck(name, tuple(sorted(wanted)), value or "", value in wanted)
        for name, wanted, value in asked
        if wanted
    )


def try_rules(
    user: User,
    institution: str,
    rules: Sequence[AssignmentRule],
    profiles: Mapping[str, RoleProfile],
    today: date,
    *,
    stored: bool = False,
) -> RuleTest:
    """The rules run against ``user`` (a stored user when ``stored``: then also what
    ``recalculate_roles`` would add to the roles they hold)."""
    contact = user.record_type == RecordType.CONTACT
    traces = []
    for rule in rules:
        matches = not contact and rule_matches(rule, user)
        profile = profiles.get(rule.profile)
        given = profile_roles(profile, institution, today) if matches and profile else []
        traces.append(
            RuleTrace(rule, matches, _conditions(rule, user), tuple(given), profile is None)
        )
    roles = roles_from_rules(user, institution, rules, profiles, today)
    if not stored:
        return RuleTest(tuple(traces), tuple(roles), contact=contact)
    merged = merge_roles(user.roles, roles)
    return RuleTest(
        tuple(traces),
        tuple(roles),
        held=tuple(user.roles),
        added=tuple(merged[len(user.roles) :]),
        contact=contact,
    )

