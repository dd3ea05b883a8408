"""Roles use cases: validating and assigning roles on every path and the staff policy around
the user services. (Configuration of profiles, rules, restricted accounts and libraries:
``admin.py``; staff bearer tokens are credentials: ``auth/staff_tokens.py``.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from bookplate.roles.assignment import merge_roles, roles_from_rules
from bookplate.roles.errors import (
    LastAdministrator,
    PermissionDenied,
)
from bookplate.roles.model import (
    ADMINISTRATOR,
    Actor,
    AssignmentRule,
    Library,
    Privilege,
    RestrictedSettings,
    RoleProfile,
)
from bookplate.roles.policy import (
    Action,
    all_privileges,
    check_user_change,
    decide,
    is_administrator,
    target_kind,
    where_held,
)
from bookplate.roles.ports import RolesRepository
from bookplate.roles.validation import check_roles
from bookplate.transactions import Transactional
from bookplate.users.model import Role, User, UserInput, normalise_id
from bookplate.users.ports import ALL_UNIQUE, CodeTables, UnitOfWork, UserRepository
from bookplate.users.queries import Condition, SearchResult, Term, UserSearch
from bookplate.users.services import UserService

ROLE_TABLE = "HFrUserRoles.roleType"


class RolesUnitOfWork(Transactional, Protocol):
    users: UserRepository
    codes: CodeTables
    roles: RolesRepository


def today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class RolesConfig:
    libraries: dict[str, Library]
    profiles: dict[str, RoleProfile]
    rules: list[AssignmentRule]
    restricted: RestrictedSettings


@dataclass
class RolesConfigCache:
    """An institution's roles configuration, cached per process for ``ttl`` seconds."""

    uow_factory: Callable[[], RolesUnitOfWork]
    ttl: float = 5.0
    _cached: dict[str, tuple[float, RolesConfig]] = field(default_factory=dict)

    def get(self, institution: str) -> RolesConfig:
        now = time.monotonic()
        hit = self._cached.get(institution)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with self.uow_factory() as uow:
            config = RolesConfig(
                uow.roles.libraries(institution),
                uow.roles.profiles(institution),
                uow.roles.rules(institution),
                uow.roles.restricted(institution),
            )
        self._cached[institution] = (now, config)
        return config

    def clear(self) -> None:
        self._cached.clear()


class RoleRules:
    """``users.ports.RoleHooks``: run by the user services on every create and update."""

    def __init__(self, config: RolesConfigCache, clock: Callable[[], date] = today) -> None:
        self._config = config
        self._today = clock

    def roles_for_new_user(self, institution: str, user: User) -> list[Role]:
        config = self._config.get(institution)
        added = roles_from_rules(user, institution, config.rules, config.profiles, self._today())
        return merge_roles(user.roles, added)

    def check(
        self, uow: UnitOfWork, institution: str, before: User | None, after: User | None
    ) -> None:
        if after is not None:
            check_roles(after, institution, self._config.get(institution).libraries)
        if (
            before is not None
            and self.is_administrator(before)
            and (after is None or not self.is_administrator(after))
        ):
            others = _administrators(uow.users, institution, self._today())
            if not others - {normalise_id(before.primary_id)}:
                raise LastAdministrator()

    def is_administrator(self, user: User) -> bool:
        """Whether ``user`` is an administrator today (``policy.is_administrator``)."""
        return is_administrator(user, self._today())

    def administrators(self, institution: str) -> set[str]:
        """The normalised primary IDs of the institution's administrators as stored now (for
        the SIS, which writes outside the user services' transactions)."""
        with self._config.uow_factory() as uow:
            return _administrators(uow.users, institution, self._today())


def _administrators(users: UserRepository, institution: str, today: date) -> set[str]:
    """Every stored user of ``institution`` who is an administrator today, page by page."""
    found: set[str] = set()
    offset = 0
    while True:
        search = UserSearch(
            institution,
            conditions=(Condition(("role_type",), (Term(ADMINISTRATOR),)),),
            order_by="primary_id",
            limit=100,
            offset=offset,
        )
        page = users.search(search).users
        found.update(normalise_id(u.primary_id) for u in page if is_administrator(u, today))
        if len(page) < search.limit:
            return found
        offset += search.limit


def denied(decision_reason: str, action: str) -> PermissionDenied:
    return PermissionDenied(action, decision_reason)


class StaffUsers:
    """The user services as a signed-in staff member uses them: every call asks the policy."""

    def __init__(
        self, users: UserService, config: RolesConfigCache, clock: Callable[[], date] = today
    ) -> None:
        self._users = users
        self._config = config
        self._today = clock

    def _guard(self, actor: Actor, scope: str | None) -> Callable[[User | None, User | None], None]:
        restricted = self._config.get(actor.institution).restricted

        def guard(before: User | None, after: User | None) -> None:
            decision = check_user_change(
                actor, before, after, restricted, self._today(), scope=scope
            )
            if not decision:
                raise denied(decision.reason, "change user")

        return guard

    @staticmethod
    def _read_scope(actor: Actor, scope: str | None) -> str | None:
        """Reading is not tied to a desk: without a location, wherever the actor may view."""
        return scope or where_held(actor, Privilege.VIEW_USERS)

    def get(
        self, actor: Actor, user_id: str, id_type: str = ALL_UNIQUE, scope: str | None = None
    ) -> User:
        scope = self._read_scope(actor, scope)
        decision = decide(actor, Action.VIEW_USER, scope=scope)
        if not decision:
            raise denied(decision.reason, Action.VIEW_USER.value)
        user = self._users.get(actor.institution, user_id, id_type)
        if not decide(actor, Action.VIEW_IDENTIFIERS, scope=scope):
            user.identifiers = []  # circulation desks see the primary ID only (SPEC 1.5)
        return user

    def search(self, actor: Actor, search: UserSearch, scope: str | None = None) -> SearchResult:
        decision = decide(actor, Action.VIEW_USER, scope=self._read_scope(actor, scope))
        if not decision:
            raise denied(decision.reason, Action.VIEW_USER.value)
        return self._users.search(search)

    def create(self, actor: Actor, data: UserInput, scope: str | None = None) -> User:
        return self._users.create(
            actor.institution, data, f"staff:{actor.primary_id}", guard=self._guard(actor, scope)
        )

    def replace(
        self,
        actor: Actor,
        user_id: str,
        data: UserInput,
        *,
        id_type: str = ALL_UNIQUE,
        override: frozenset[str] = frozenset(),
        recalculate_roles: bool = False,
        scope: str | None = None,
        restore: frozenset[str] = frozenset(),
        if_match: str | None = None,
    ) -> User:
        """``UserService.replace`` (manual protected-field changes recorded) behind the
        policy: the path of staff tokens, web sessions and the web forms."""
        return self._users.replace(
            actor.institution,
            user_id,
            data,
            f"staff:{actor.primary_id}",
            id_type=id_type,
            override=override,
            recalculate_roles=recalculate_roles,
            guard=self._guard(actor, scope),
            restore=restore,
            if_match=if_match,
        )

    def delete(
        self, actor: Actor, user_id: str, id_type: str = ALL_UNIQUE, scope: str | None = None
    ) -> None:
        self._users.delete(actor.institution, user_id, id_type, guard=self._guard(actor, scope))

    def may_manage_sign_in(
        self, actor: Actor, user_id: str, *, write: bool, scope: str | None = None
    ) -> User:
        """The user whose sign-in the actor looks at (``write`` False: viewing the user is
        enough) or changes (unlock, a reset link: the privileges of editing that user's
        record, by its kind, as for any other change)."""
        user = self._users.get(actor.institution, user_id, ALL_UNIQUE)
        if write:
            restricted = self._config.get(actor.institution).restricted
            kind = target_kind(user, restricted, self._today())
            decision = decide(actor, Action.EDIT_USER, scope=scope, target=kind)
        else:
            decision = decide(actor, Action.VIEW_USER, scope=self._read_scope(actor, scope))
        if not decision:
            raise denied(decision.reason, "manage sign-in")
        return user


# Menus of the staff pages and the privilege each needs.
MENUS: dict[str, Privilege] = {
    "users": Privilege.VIEW_USERS,
    "roles": Privilege.MANAGE_ROLES,
    "user-management-configuration": Privilege.CONFIGURE_USER_MANAGEMENT,
    "integration-profiles": Privilege.MANAGE_INTEGRATION_PROFILES,
    "sis-jobs": Privilege.RUN_SIS_JOBS,
    "api-keys": Privilege.MANAGE_KEYS,
}


def capabilities(actor: Actor) -> dict[str, Any]:
    """What the staff member may use: menus, and each privilege with the scopes it holds in."""
    held = all_privileges(actor)
    return {
        "primary_id": actor.primary_id,
        "institution": actor.institution,
        "menus": [name for name, privilege in MENUS.items() if privilege in held],
        "privileges": {p.value: scopes for p, scopes in sorted(held.items())},
        "roles": [{"role_type": g.role_type, "scope": g.scope} for g in actor.grants],
    }
