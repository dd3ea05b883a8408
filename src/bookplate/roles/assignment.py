"""Role profiles and assignment rules, applied to users (pure).

A profile is a template: applying it copies its *active* roles onto the user (later edits to
the profile do not reach users who already have them). Rules pick profiles by the user's
group, job category, record type and campus; every matching rule applies, in order, and a role
the user already holds is not added twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from bookplate.roles.model import PATRON, AssignmentRule, ProfileRole, RoleProfile
from bookplate.users.model import RecordType, Role, RoleParameter, User

DEFAULT_PROFILE = "PATRON"
DEFAULT_RULE_ID = "default-patron"


def default_profile() -> RoleProfile:
    return RoleProfile(DEFAULT_PROFILE, "Patron", (ProfileRole(PATRON),))


def default_rule() -> AssignmentRule:
    """New PUBLIC users get Patron (200) scoped to their institution."""
    return AssignmentRule(
        DEFAULT_RULE_ID, DEFAULT_PROFILE, record_types=frozenset({RecordType.PUBLIC.value})
    )


def rule_matches(rule: AssignmentRule, user: User) -> bool:
    """Every condition the rule sets must hold (an empty condition always holds)."""
    return (
        (not rule.user_groups or user.user_group in rule.user_groups)
        and (not rule.job_categories or user.job_category in rule.job_categories)
        and (not rule.record_types or user.record_type in rule.record_types)
        and (not rule.campuses or user.campus_code in rule.campuses)
    )


def profile_roles(profile: RoleProfile, institution: str, today: date) -> list[Role]:
    """The profile's roles that can be copied now: active and not expired."""
    out = []
    for pr in profile.roles:
        if pr.status.upper() != "ACTIVE":
            continue
        if pr.expiry_date is not None and pr.expiry_date < today:
            continue
        out.append(
            Role(
                role_type=pr.role_type,
                scope=pr.scope or institution,
                status="ACTIVE",
                expiry_date=pr.expiry_date,
                parameters=[RoleParameter(t, s, v) for t, s, v in pr.parameters],
            )
        )
    return out


def _key(role: Role) -> tuple[str | None, str | None, tuple[tuple[str | None, ...], ...]]:
    return (role.role_type, role.scope, tuple((p.type, p.scope, p.value) for p in role.parameters))


def merge_roles(existing: Iterable[Role], added: Iterable[Role]) -> list[Role]:
    out = list(existing)
    seen = {_key(r) for r in out}
    for role in added:
        if _key(role) not in seen:
            seen.add(_key(role))
            out.append(role)
    return out


def roles_from_rules(
    user: User,
    institution: str,
    rules: Sequence[AssignmentRule],
    profiles: Mapping[str, RoleProfile],
    today: date,
) -> list[Role]:
    """The roles every matching rule gives ``user`` (CONTACT users never get roles)."""
    if user.record_type == RecordType.CONTACT:
        return []
    out: list[Role] = []
    for rule in rules:  # storage returns them in (position, rule_id) order
        if rule_matches(rule, user):
            profile = profiles.get(rule.profile)
            if profile is not None:
                out = merge_roles(out, profile_roles(profile, institution, today))
    return out
