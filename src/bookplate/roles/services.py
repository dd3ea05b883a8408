"""Roles use cases: validating and assigning roles on every path, configuration of
profiles/rules/restricted accounts/libraries, staff tokens. The staff policy around the user
services is ``roles.staff``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from bookplate.roles.assignment import default_profile, default_rule, merge_roles, roles_from_rules
from bookplate.roles.errors import (
    LastAdministrator,
    NoStaffPrivileges,
    PermissionDenied,
    ProfileNotFound,
    RuleNotFound,
)
from bookplate.roles.model import (
    ADMINISTRATOR,
    ROLE_TYPES,
    Actor,
    AssignmentRule,
    Library,
    RestrictedSettings,
    RoleProfile,
)
from bookplate.roles.policy import (
    Action,
    actor_for,
    all_privileges,
    decide,
    is_administrator,
)
from bookplate.roles.ports import RolesRepository, StaffTokenRepository
from bookplate.roles.validation import check_config_text, check_roles
from bookplate.transactions import Transactional
from bookplate.users.errors import InvalidCode, UserNotFound
from bookplate.users.model import Role, RoleParameter, User, normalise_id
from bookplate.users.ports import ALL_UNIQUE, CodeRow, CodeTables, UnitOfWork, UserRepository
from bookplate.users.queries import Condition, Term, UserSearch

TOKEN_PREFIX = "bpt_"  # noqa: S105 - a public prefix, not a secret
ROLE_TABLE = "HFrUserRoles.roleType"


class RolesUnitOfWork(Transactional, Protocol):
    users: UserRepository
    codes: CodeTables
    roles: RolesRepository
    staff_tokens: StaffTokenRepository


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


class RolesAdmin:
    """Managing profiles, rules, restricted settings and libraries; each change audited."""

    def __init__(
        self, uow_factory: Callable[[], RolesUnitOfWork], config: RolesConfigCache
    ) -> None:
        self._uow_factory = uow_factory
        self._config = config

    def _allowed(self, actor: Actor | None) -> None:
        if actor is None:  # an API key with Configuration read/write, or the CLI
            return
        decision = decide(actor, Action.CONFIGURE)
        if not decision:
            raise PermissionDenied(Action.CONFIGURE.value, decision.reason)

    def _change(
        self,
        institution: str,
        who: str,
        action: str,
        target: str,
        detail: dict[str, Any],
        write: Callable[[RolesUnitOfWork], object],
    ) -> None:
        with self._uow_factory() as uow:
            write(uow)
            uow.roles.record(institution, who, action, target, detail)
            uow.commit()
        self._config.clear()

    def seed(self, institution: str) -> None:
        """The default Patron profile and rule for a new institution, and the role-type code
        table filled from the catalogue (descriptions staff already changed are kept)."""
        with self._uow_factory() as uow:
            known = {row.code for row in uow.codes.rows(institution, ROLE_TABLE)}
            for role_type in ROLE_TYPES.values():
                if role_type.code not in known:
                    uow.codes.put_row(
                        institution, ROLE_TABLE, CodeRow(role_type.code, role_type.name)
                    )
            if not uow.roles.profiles(institution):
                uow.roles.put_profile(institution, default_profile())
                uow.roles.put_rule(institution, default_rule())
                uow.roles.record(institution, "system", "roles.seed", "profile:PATRON", {})
            uow.commit()

    def config(self, institution: str) -> RolesConfig:
        return self._config.get(institution)

    def put_profile(
        self, institution: str, profile: RoleProfile, who: str, actor: Actor | None = None
    ) -> None:
        self._allowed(actor)
        check_config_text(profile, "profile")
        libraries = self._config.get(institution).libraries
        probe = User(
            "probe",
            institution=institution,
            roles=[
                Role(
                    r.role_type,
                    r.scope,
                    r.status,
                    r.expiry_date,
                    [RoleParameter(t, sc, v) for t, sc, v in r.parameters],
                )
                for r in profile.roles
            ],
        )
        check_roles(probe, institution, libraries)
        self._change(
            institution,
            who,
            "roles.profile.put",
            f"profile:{profile.code}",
            {"roles": [r.role_type for r in profile.roles], "name": profile.name},
            lambda uow: uow.roles.put_profile(institution, profile),
        )

    def remove_profile(
        self, institution: str, code: str, who: str, actor: Actor | None = None
    ) -> None:
        self._allowed(actor)
        if code not in self._config.get(institution).profiles:
            raise ProfileNotFound(code)
        if any(rule.profile == code for rule in self._config.get(institution).rules):
            raise InvalidCode("profile (used by an assignment rule)", code)
        self._change(
            institution,
            who,
            "roles.profile.remove",
            f"profile:{code}",
            {},
            lambda uow: uow.roles.remove_profile(institution, code),
        )

    def put_rule(
        self, institution: str, rule: AssignmentRule, who: str, actor: Actor | None = None
    ) -> None:
        self._allowed(actor)
        check_config_text(rule, "rule")
        if rule.profile not in self._config.get(institution).profiles:
            raise ProfileNotFound(rule.profile)
        detail = {
            "profile": rule.profile,
            "user_groups": sorted(rule.user_groups),
            "job_categories": sorted(rule.job_categories),
            "record_types": sorted(rule.record_types),
            "campuses": sorted(rule.campuses),
        }
        self._change(
            institution,
            who,
            "roles.rule.put",
            f"rule:{rule.rule_id}",
            detail,
            lambda uow: uow.roles.put_rule(institution, rule),
        )

    def remove_rule(
        self, institution: str, rule_id: str, who: str, actor: Actor | None = None
    ) -> None:
        self._allowed(actor)
        if all(r.rule_id != rule_id for r in self._config.get(institution).rules):
            raise RuleNotFound(rule_id)
        self._change(
            institution,
            who,
            "roles.rule.remove",
            f"rule:{rule_id}",
            {},
            lambda uow: uow.roles.remove_rule(institution, rule_id),
        )

    def set_restricted(
        self, institution: str, settings: RestrictedSettings, who: str, actor: Actor | None = None
    ) -> None:
        self._allowed(actor)
        check_config_text(settings, "restricted")
        self._change(
            institution,
            who,
            "roles.restricted.set",
            "restricted",
            {
                "user_groups": sorted(settings.user_groups),
                "role_types": sorted(settings.role_types),
            },
            lambda uow: uow.roles.set_restricted(institution, settings),
        )

    def put_library(
        self, institution: str, library: Library, who: str, actor: Actor | None = None
    ) -> None:
        self._allowed(actor)
        check_config_text(library, "library")
        self._change(
            institution,
            who,
            "roles.library.put",
            f"library:{library.code}",
            {"name": library.name, "desks": sorted(library.desks)},
            lambda uow: uow.roles.put_library(institution, library),
        )

    def history(self, institution: str) -> list[dict[str, Any]]:
        with self._uow_factory() as uow:
            return [
                h for h in uow.roles.history(institution) if str(h["action"]).startswith("roles.")
            ]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class StaffTokens:
    """Bearer tokens for staff members, until web sign-in exists (authentication issue)."""

    def __init__(
        self,
        uow_factory: Callable[[], RolesUnitOfWork],
        clock: Callable[[], date] = today,
        cache_seconds: float = 5.0,
    ) -> None:
        self._uow_factory = uow_factory
        self._today = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Actor | None]] = {}

    def issue(
        self, institution: str, primary_id: str, *, staff_only: bool = True
    ) -> tuple[str, str]:
        """A bearer token for a staff member; NoStaffPrivileges when the user holds no role
        with staff privileges (``staff_only=False``: the token of someone whose roles go
        later, which the policy then refuses call by call)."""
        token_id = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(24)}"
        with self._uow_factory() as uow:
            user = uow.users.find(institution, primary_id, ALL_UNIQUE)
            if user is None:
                raise UserNotFound(primary_id)
            if staff_only and not all_privileges(actor_for(user, datetime.now(UTC).date())):
                raise NoStaffPrivileges(user.primary_id)
            uow.staff_tokens.add(
                token_id, institution, user.primary_id, _hash(secret), datetime.now(UTC)
            )
            uow.commit()
        return token_id, secret

    def revoke(self, token_id: str) -> bool:
        with self._uow_factory() as uow:
            done = uow.staff_tokens.revoke(token_id)
            uow.commit()
        self._cache.clear()
        return done

    def actor(self, secret: str | None) -> Actor | None:
        """The staff member behind a live token, with their roles as of now; None if none."""
        if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        digest = _hash(secret)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        actor = self._lookup(secret)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, actor)
        return actor

    def _lookup(self, secret: str) -> Actor | None:
        with self._uow_factory() as uow:
            found = uow.staff_tokens.by_hash(_hash(secret))
            if found is None:
                return None
            user = uow.users.find(found[0], found[1], ALL_UNIQUE)
        if user is None or user.status != "ACTIVE":
            return None
        if user.expiry_date is not None and user.expiry_date < self._today():
            return None
        return actor_for(user, self._today())
