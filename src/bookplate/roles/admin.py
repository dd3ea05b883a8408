"""Roles configuration: profiles, assignment rules, restricted settings and libraries, each
change checked by the policy (``Action.CONFIGURE``) and written to the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bookplate.roles.assignment import default_profile, default_rule
from bookplate.roles.errors import (
    ProfileNotFound,
    RuleNotFound,
)
from bookplate.roles.model import (
    ALWAYS_RESTRICTED_ROLES,
    ROLE_TYPES,
    Actor,
    AssignmentRule,
    Library,
    RestrictedSettings,
    RoleProfile,
)
from bookplate.roles.policy import (
    Action,
    TargetKind,
    decide,
    target_kind,
)
from bookplate.roles.rule_tester import RuleTest, try_rules
from bookplate.roles.services import (
    ROLE_TABLE,
    RolesConfig,
    RolesConfigCache,
    RolesUnitOfWork,
    denied,
    today,
)
from bookplate.roles.validation import check_config_text, check_roles
from bookplate.users.errors import InvalidCode, InvalidFieldValue
from bookplate.users.model import Role, RoleParameter, User
from bookplate.users.ports import CodeRow
from bookplate.users.queries import Condition, Term, UserSearch

#: Most restricted accounts the list shows (per user group or role type searched).
RESTRICTED_SHOWN = 200


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
            raise denied(decision.reason, Action.CONFIGURE.value)

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

    def forget(self) -> None:
        """Drop this process's cached configuration (after a change made beside this class)."""
        self._config.clear()

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
        self,
        institution: str,
        library: Library,
        who: str,
        actor: Actor | None = None,
        exact: bool = False,
    ) -> None:
        """Add or replace a library with its desks. ``exact``: store it as given (the admin
        pages, the configuration import); otherwise (the roles API and ``libraries`` CLI,
        which know a name and desk codes only) the library keeps its description and
        enabled flag, and its desks their names and flags."""
        self._allowed(actor)
        check_config_text(library, "library")
        _check_codes(library)
        old = self.config(institution).libraries.get(library.code)
        if old is not None and not exact:
            kept = [old.desk(c) for c in library.desks]
            library = Library.with_desks(
                library.code, library.name, kept, old.description, old.enabled
            )
        self._change(
            institution,
            who,
            "roles.library.put",
            f"library:{library.code}",
            {
                "name": library.name,
                "description": library.description,
                "enabled": library.enabled,
                "desks": [
                    {"code": d.code, "name": d.name, "enabled": d.enabled}
                    for d in library.all_desks()
                ],
            },
            lambda uow: uow.roles.put_library(institution, library),
        )

    def history(self, institution: str) -> list[dict[str, Any]]:
        with self._uow_factory() as uow:
            return [
                h for h in uow.roles.history(institution) if str(h["action"]).startswith("roles.")
            ]

    def try_rules(
        self, institution: str, user: User, actor: Actor | None = None, *, stored: bool = False
    ) -> RuleTest:
        """Which profiles the rules would give ``user`` and why; nothing is written. ``user``
        is a stored user (``stored``: read by the caller through the user services, so their
        own policy applies) or one made of the attributes typed in."""
        self._allowed(actor)
        config = self._config.get(institution)
        return try_rules(
            user, institution, config.rules, config.profiles, today(), stored=stored
        )

    def restricted_accounts(self, institution: str, actor: Actor | None = None) -> list[User]:
        """The users the restricted-account settings (and roles 26, 50) make restricted
        today, by primary ID; at most ``RESTRICTED_SHOWN`` found per group or role type."""
        self._allowed(actor)
        settings = self._config.get(institution).restricted
        searches = [
            UserSearch(institution, user_group=g, order_by="primary_id", limit=RESTRICTED_SHOWN)
            for g in sorted(settings.user_groups)
        ] + [
            UserSearch(
                institution,
                conditions=(Condition(("role_type",), (Term(r),)),),
                order_by="primary_id",
                limit=RESTRICTED_SHOWN,
            )
            for r in sorted(settings.role_types | ALWAYS_RESTRICTED_ROLES)
        ]
        found: dict[str, User] = {}
        day = today()
        with self._uow_factory() as uow:
            for search in searches:
                for user in uow.users.search(search).users:
                    if target_kind(user, settings, day) >= TargetKind.RESTRICTED:
                        found.setdefault(user.primary_id, user)
        return [found[k] for k in sorted(found)]

CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def _check_codes(library: Library) -> None:
    """Codes of 1-64 letters, digits, '_', '-' or '.' (the columns hold 64; a code goes into
    paths such as /conf/libraries/{code}), and a name for the library."""
    for what, code in [("library", library.code), *(("desk", d) for d in library.desks)]:
        if not code or len(code) > 64 or not set(code) <= CODE_CHARS:
            raise InvalidFieldValue(
                f"{what} code", code, "1 to 64 letters, digits, '_', '-' or '.', without spaces"
            )
    if not library.name.strip():
        raise InvalidFieldValue("library name", library.name, "a library needs a name")
