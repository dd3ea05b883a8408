"""The user services as people call them: ``StaffUsers`` asks the policy on every call of a
signed-in staff member; ``capabilities`` is what the staff pages and ``/me/capabilities`` show.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from bookplate.roles.errors import NotStaff, PermissionDenied
from bookplate.roles.model import Actor, Caller, Privilege
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
from bookplate.users.ports import ALL_UNIQUE, PRIMARY_ID
from bookplate.users.queries import SearchResult, UserSearch
from bookplate.users.services import UserService


def _deny(decision_reason: str, action: str) -> PermissionDenied:
    return PermissionDenied(action, decision_reason)


def as_caller(who: Caller | Actor) -> Caller:
    """The web pages hold an ``Actor`` (a session is always a staff member's); the API
    resolves a ``Caller``. Both are accepted, and mean the same thing."""
    return who if isinstance(who, Caller) else Caller.staff(who)


def require_any(who: Caller | Actor, *actions: Action) -> Caller:
    """The caller when one of ``actions`` is allowed: a staff member by the policy (the first
    refusal is named), an integration always (its key's area and access were checked)."""
    caller = as_caller(who)
    if caller.actor is not None:
        decisions = [decide(caller.actor, action) for action in actions]
        if not any(decisions):
            raise _deny(decisions[0].reason, actions[0].value)
    return caller


Guard = Callable[[User | None, User | None], None]


class StaffUsers:
    """The user services as people call them, one entry for every face: a staff member's
    call (token, session, web form) asks the policy and writes behind its guard; an
    integration's call (API key) goes straight to the user services. Routes therefore never
    branch on the kind of caller."""

    def __init__(
        self, users: UserService, config: RolesConfigCache, clock: Callable[[], date] = today
    ) -> None:
        self._users = users
        self._config = config
        self._today = clock

    def _guard(self, actor: Actor | None, scope: str | None) -> Guard | None:
        if actor is None:
            return None
        restricted = self._config.get(actor.institution).restricted

        def guard(before: User | None, after: User | None) -> None:
            decision = check_user_change(
                actor, before, after, restricted, self._today(), scope=scope
            )
            if not decision:
                raise _deny(decision.reason, "change user")

        return guard

    def write_guard(self, who: Caller | Actor, scope: str | None = None) -> Guard | None:
        """The policy check of a caller's write (None for an API key), for use cases of other
        areas that write users (a linked account and its refresh)."""
        return self._guard(as_caller(who).actor, scope)

    @staticmethod
    def _read_scope(actor: Actor, scope: str | None) -> str | None:
        """Reading is not tied to a desk: without a location, wherever the actor may view."""
        return scope or where_held(actor, Privilege.VIEW_USERS)

    def get(
        self,
        who: Caller | Actor,
        user_id: str,
        id_type: str = ALL_UNIQUE,
        scope: str | None = None,
    ) -> User:
        caller = as_caller(who)
        actor = caller.actor
        if actor is None:
            return self._users.get(caller.institution, user_id, id_type)
        scope = self._read_scope(actor, scope)
        decision = decide(actor, Action.VIEW_USER, scope=scope)
        if not decision:
            raise _deny(decision.reason, Action.VIEW_USER.value)
        user = self._users.get(actor.institution, user_id, id_type)
        if not decide(actor, Action.VIEW_IDENTIFIERS, scope=scope):
            user.identifiers = []  # circulation desks see the primary ID only (SPEC 1.5)
        return user

    def visible(self, who: Caller | Actor, user: User) -> User:
        """``user``, read by another area's use case (a linked copy), as the caller may see
        it: whole for an integration; for a staff member read again through ``get``, so the
        view policy decides and the identifiers a desk may not see are left out."""
        caller = as_caller(who)
        if caller.actor is None:
            return user
        return self.get(caller, user.primary_id, PRIMARY_ID)

    def check_view(self, who: Caller | Actor, user_id: str) -> None:
        """Refuses unless the caller may view the user (for what another area shows about
        a user, such as its network history). An integration may: its key's area and access
        were checked when it was resolved."""
        caller = as_caller(who)
        if caller.actor is not None:
            self.get(caller, user_id)

    def search(
        self, who: Caller | Actor, search: UserSearch, scope: str | None = None
    ) -> SearchResult:
        actor = as_caller(who).actor
        if actor is not None:
            decision = decide(actor, Action.VIEW_USER, scope=self._read_scope(actor, scope))
            if not decision:
                raise _deny(decision.reason, Action.VIEW_USER.value)
        return self._users.search(search)

    def create(self, who: Caller | Actor, data: UserInput, scope: str | None = None) -> User:
        caller = as_caller(who)
        return self._users.create(
            caller.institution, data, caller.who, guard=self._guard(caller.actor, scope)
        )

    def replace(  # noqa: PLR0913 - Alma's PUT parameters, keyword-only
        self,
        who: Caller | Actor,
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
        """``UserService.replace`` (manual protected-field changes recorded), for a staff
        member behind the policy: the path of API keys, staff tokens, web sessions and the
        web forms."""
        caller = as_caller(who)
        return self._users.replace(
            caller.institution,
            user_id,
            data,
            caller.who,
            id_type=id_type,
            override=override,
            recalculate_roles=recalculate_roles,
            guard=self._guard(caller.actor, scope),
            restore=restore,
            if_match=if_match,
        )

    def delete(
        self,
        who: Caller | Actor,
        user_id: str,
        id_type: str = ALL_UNIQUE,
        scope: str | None = None,
    ) -> None:
        caller = as_caller(who)
        self._users.delete(
            caller.institution, user_id, id_type, guard=self._guard(caller.actor, scope)
        )

    def may_manage_sign_in(
        self, who: Caller | Actor, user_id: str, *, write: bool, scope: str | None = None
    ) -> User:
        """The user whose sign-in the caller looks at (``write`` False: viewing the user is
        enough) or changes (unlock, a reset link: the privileges of editing that user's
        record, by its kind, as for any other change)."""
        caller = as_caller(who)
        user = self._users.get(caller.institution, user_id, ALL_UNIQUE)
        actor = caller.actor
        if actor is None:
            return user
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
    "sign-in-profiles": Privilege.CONFIGURE_SIGN_IN,
}


def capabilities(who: Caller | Actor) -> dict[str, Any]:
    """What the staff member may use: menus, and each privilege with the scopes it holds in.
    An integration has none to show (``NotStaff``)."""
    actor = as_caller(who).actor
    if actor is None:
        raise NotStaff("Capabilities")
    held = all_privileges(actor)
    return {
        "primary_id": actor.primary_id,
        "institution": actor.institution,
        "menus": [name for name, privilege in MENUS.items() if privilege in held],
        "privileges": {p.value: scopes for p, scopes in sorted(held.items())},
        "roles": [{"role_type": g.role_type, "scope": g.scope} for g in actor.grants],
    }
