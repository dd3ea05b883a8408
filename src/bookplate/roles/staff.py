"""The user services as people call them: ``StaffUsers`` asks the policy on every call of a
signed-in staff member; ``capabilities`` is what the staff pages and ``/me/capabilities`` show.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from bookplate.roles.errors import PermissionDenied
from bookplate.roles.model import Actor, Privilege
from bookplate.roles.policy import (
    Action,
    all_privileges,
    check_user_change,
    decide,
    target_kind,
    where_held,
)
from bookplate.roles.services import RolesConfigCache, today
from bookplate.users.model import User, UserInput
from bookplate.users.ports import ALL_UNIQUE
from bookplate.users.queries import SearchResult, UserSearch
from bookplate.users.services import UserService


def _deny(decision_reason: str, action: str) -> PermissionDenied:
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
                raise _deny(decision.reason, "change user")

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
            raise _deny(decision.reason, Action.VIEW_USER.value)
        user = self._users.get(actor.institution, user_id, id_type)
        if not decide(actor, Action.VIEW_IDENTIFIERS, scope=scope):
            user.identifiers = []  # circulation desks see the primary ID only (SPEC 1.5)
        return user

    def search(self, actor: Actor, search: UserSearch, scope: str | None = None) -> SearchResult:
        decision = decide(actor, Action.VIEW_USER, scope=self._read_scope(actor, scope))
        if not decision:
            raise _deny(decision.reason, Action.VIEW_USER.value)
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
            raise _deny(decision.reason, "manage sign-in")
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
