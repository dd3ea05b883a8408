"""Roles use cases: validating and assigning roles on every path and the staff policy around
the user services. (Configuration of profiles, rules, restricted accounts and libraries:
``admin.py``; staff bearer tokens are credentials: ``auth/staff_tokens.py``.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from bookplate.roles.assignment import merge_roles, roles_from_rules
from bookplate.roles.errors import (
    LastAdministrator,
    PermissionDenied,
)
from bookplate.roles.model import (
    ADMINISTRATOR,
    AssignmentRule,
    Library,
    RestrictedSettings,
    RoleProfile,
)
from bookplate.roles.policy import (
    is_administrator,
)
from bookplate.roles.ports import RolesRepository
from bookplate.roles.validation import check_roles
from bookplate.transactions import Transactional
from bookplate.users.model import Role, User, normalise_id
from bookplate.users.ports import CodeTables, UnitOfWork, UserRepository
from bookplate.users.queries import Condition, Term, UserSearch

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
            # Two removals of the last two administrators must not both see the other one:
            # the institution's lock makes them take turns, and the second reads the
            # administrators after the first committed (users.ports.lock_institution).
            uow.users.lock_institution(institution)
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


