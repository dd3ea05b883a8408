"""The one place that decides what a staff member may do (issue: roles and permissions).

Pure functions over the actor's active grants, the action, the target and the scope the
action happens in. Every service that reveals or changes user data asks :func:`decide`;
role changes are also checked role by role with :func:`may_grant` so that nobody can hand out
more than they hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import IntEnum, StrEnum

from bookplate.roles.model import (
    ADMINISTRATOR,
    ALWAYS_RESTRICTED_ROLES,
    PATRON,
    ROLE_TYPES,
    Actor,
    Grant,
    Privilege,
    RestrictedSettings,
)
from bookplate.users.model import RecordType, Role, User


class Action(StrEnum):
    VIEW_USER = "view_user"
    VIEW_IDENTIFIERS = "view_identifiers"
    CREATE_USER = "create_user"
    EDIT_USER = "edit_user"
    DELETE_USER = "delete_user"
    CHANGE_ROLES = "change_roles"
    CONFIGURE = "configure_user_management"
    MANAGE_INTEGRATIONS = "manage_integration_profiles"
    RUN_SIS = "run_sis_jobs"
    MANAGE_KEYS = "manage_keys"
    CONFIGURE_SIGN_IN = "configure_sign_in"


class TargetKind(IntEnum):
    """Ordered: a higher kind needs everything a lower one needs, and more."""

    PATRON = 1
    STAFF = 2
    RESTRICTED = 3
    ADMINISTRATOR = 4


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


# What editing a target of each kind requires, on top of the action's own privilege.
_KIND_NEEDS: dict[TargetKind, frozenset[Privilege]] = {
    TargetKind.PATRON: frozenset({Privilege.EDIT_PATRONS}),
    TargetKind.STAFF: frozenset({Privilege.EDIT_STAFF}),
    TargetKind.RESTRICTED: frozenset({Privilege.EDIT_STAFF, Privilege.EDIT_RESTRICTED}),
    TargetKind.ADMINISTRATOR: frozenset({Privilege.EDIT_STAFF, Privilege.EDIT_RESTRICTED}),
}

_ACTION_NEEDS: dict[Action, frozenset[Privilege]] = {
    Action.VIEW_USER: frozenset({Privilege.VIEW_USERS}),
    Action.VIEW_IDENTIFIERS: frozenset({Privilege.VIEW_USERS, Privilege.VIEW_IDENTIFIERS}),
    Action.CREATE_USER: frozenset(),  # by target kind
    Action.EDIT_USER: frozenset(),  # by target kind
    Action.DELETE_USER: frozenset({Privilege.DELETE_USERS}),
    Action.CHANGE_ROLES: frozenset({Privilege.MANAGE_ROLES}),
    Action.CONFIGURE: frozenset({Privilege.CONFIGURE_USER_MANAGEMENT}),
    Action.MANAGE_INTEGRATIONS: frozenset({Privilege.MANAGE_INTEGRATION_PROFILES}),
    Action.RUN_SIS: frozenset({Privilege.RUN_SIS_JOBS}),
    Action.MANAGE_KEYS: frozenset({Privilege.MANAGE_KEYS}),
    Action.CONFIGURE_SIGN_IN: frozenset({Privilege.CONFIGURE_SIGN_IN}),
}
_TARGETED = frozenset(
    {Action.CREATE_USER, Action.EDIT_USER, Action.DELETE_USER, Action.CHANGE_ROLES}
)
# Creating a patron needs only CREATE_PATRONS (circulation desks register patrons).
_CREATE_PATRON = frozenset({Privilege.CREATE_PATRONS})


def role_is_active(role: Role, today: date) -> bool:
    """Only ACTIVE roles that have not expired grant anything."""
    if (role.status or "ACTIVE").upper() != "ACTIVE":
        return False
    return role.expiry_date is None or role.expiry_date >= today


def is_administrator(user: User, today: date) -> bool:
    """An active, unexpired user holding an active General System Administrator role: one
    who can act as the institution's administrator today (what the 401860 guard keeps)."""
    if user.status != "ACTIVE":
        return False
    if user.expiry_date is not None and user.expiry_date < today:
        return False
    return any(r.role_type == ADMINISTRATOR and role_is_active(r, today) for r in user.roles)


def active_roles(user: User, today: date) -> list[Role]:
    return [r for r in user.roles if r.role_type and role_is_active(r, today)]


def actor_for(user: User, today: date) -> Actor:
    grants = tuple(
        Grant(r.role_type or "", r.scope or user.institution) for r in active_roles(user, today)
    )
    return Actor(user.primary_id, user.institution, grants)


def privileges_in(actor: Actor, scope: str) -> frozenset[Privilege]:
    """What the actor may do in ``scope``: institution-wide grants count everywhere, library
    grants only in their own library."""
    out: set[Privilege] = set()
    for grant in actor.grants:
        if grant.scope in (actor.institution, scope):
            role_type = ROLE_TYPES.get(grant.role_type)
            if role_type is not None:
                out |= role_type.privileges
    return frozenset(out)


def all_privileges(actor: Actor) -> dict[Privilege, list[str]]:
    """Each privilege the actor holds somewhere, with the scopes where it holds."""
    out: dict[Privilege, list[str]] = {}
    for grant in actor.grants:
        role_type = ROLE_TYPES.get(grant.role_type)
        for privilege in role_type.privileges if role_type else ():
            scopes = out.setdefault(privilege, [])
            if grant.scope not in scopes:
                scopes.append(grant.scope)
    return out


def where_held(actor: Actor, privilege: Privilege) -> str | None:
    """A scope where the actor holds ``privilege``: the institution if anywhere, else the
    first of their libraries; None if nowhere. For reads, which no desk location limits."""
    scopes = all_privileges(actor).get(privilege, [])
    if actor.institution in scopes or not scopes:
        return actor.institution if scopes else None
    return scopes[0]


def target_kind(user: User, restricted: RestrictedSettings, today: date) -> TargetKind:
    roles = {r.role_type for r in active_roles(user, today)}
    if ADMINISTRATOR in roles:
        return TargetKind.ADMINISTRATOR
    if (
        roles & ALWAYS_RESTRICTED_ROLES
        or roles & restricted.role_types
        or (user.user_group is not None and user.user_group in restricted.user_groups)
    ):
        return TargetKind.RESTRICTED
    if user.record_type == RecordType.STAFF or roles - {PATRON}:
        return TargetKind.STAFF
    return TargetKind.PATRON


def decide(
    actor: Actor, action: Action, *, scope: str | None = None, target: TargetKind | None = None
) -> Decision:
    """May ``actor`` do ``action`` on a target of kind ``target`` in ``scope``?

    ``scope`` None means the institution. Targeted actions without a target are treated as
    aimed at a patron.
    """
    where = scope or actor.institution
    held = privileges_in(actor, where)
    needs = set(_ACTION_NEEDS[action])
    if action in _TARGETED:
        kind = target or TargetKind.PATRON
        if action is Action.CREATE_USER and kind is TargetKind.PATRON:
            needs |= _CREATE_PATRON
        else:
            needs |= _KIND_NEEDS[kind]
    missing = sorted(p.value for p in needs - held)
    if missing:
        return Decision(False, f"missing {', '.join(missing)} in {where}")
    return Decision(True, "allowed")


def role_key(role: Role, institution: str) -> tuple[str, str, tuple[tuple[str, str, str], ...]]:
    params = tuple(sorted((p.type or "", p.scope or "", p.value or "") for p in role.parameters))
    return (role.role_type or "", role.scope or institution, params)


def may_grant(actor: Actor, role: Role) -> Decision:
    """No escalation: the role's privileges must be a subset of what the actor holds in the
    role's own scope, and the actor must be allowed to manage roles there."""
    role_type = ROLE_TYPES.get(role.role_type or "")
    if role_type is None:
        return Decision(False, f"unknown role type {role.role_type}")
    scope = role.scope or actor.institution
    held = privileges_in(actor, scope)
    if Privilege.MANAGE_ROLES not in held:
        return Decision(False, f"missing {Privilege.MANAGE_ROLES.value} in {scope}")
    wider = role_type.privileges - held
    if wider:
        return Decision(
            False,
            f"role {role_type.code} grants {', '.join(sorted(p.value for p in wider))} "
            f"which the actor does not hold in {scope}",
        )
    return Decision(True, "allowed")


def changed_roles(
    before: Iterable[Role], after: Iterable[Role], institution: str, today: date
) -> list[Role]:
    """Active roles added or removed between two versions of a user."""
    old = {role_key(r, institution): r for r in before if role_is_active(r, today)}
    new = {role_key(r, institution): r for r in after if role_is_active(r, today)}
    return [new[k] for k in new.keys() - old.keys()] + [old[k] for k in old.keys() - new.keys()]


def check_user_change(
    actor: Actor,
    before: User | None,
    after: User | None,
    restricted: RestrictedSettings,
    today: date,
    *,
    scope: str | None = None,
) -> Decision:
    """A create (``before`` None), update, or delete (``after`` None) by a staff member.

    The target counts as the higher of its kinds before and after, so nobody can edit a user
    into something they could not edit, and every active role that changes must pass
    :func:`may_grant`.
    """
    kinds = [target_kind(u, restricted, today) for u in (before, after) if u is not None]
    kind = max(kinds) if kinds else TargetKind.PATRON
    if before is None:
        action = Action.CREATE_USER
    elif after is None:
        action = Action.DELETE_USER
    else:
        action = Action.EDIT_USER
    decision = decide(actor, action, scope=scope, target=kind)
    if not decision:
        return decision
    diff = changed_roles(
        before.roles if before else [], after.roles if after else [], actor.institution, today
    )
    if diff and after is not None:
        roles_decision = decide(actor, Action.CHANGE_ROLES, scope=scope, target=kind)
        if not roles_decision:
            return roles_decision
    for role in diff if after is not None else []:
        granted = may_grant(actor, role)
        if not granted:
            return granted
    return Decision(True, "allowed")
