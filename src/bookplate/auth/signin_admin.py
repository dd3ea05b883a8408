"""Administering sign-in profiles (LDAP, SAML, CAS, OIDC): the one service the CLI
(``bookplate auth METHOD add/list/remove``) and the administration page
(``/staff/admin/sign-in``) use. A staff member needs ``Action.CONFIGURE_SIGN_IN`` (only the
General System Administrator holds it); the CLI (no actor) is the operator. Every change is
written with an audit row (``auth.profile.put`` / ``.enable`` / ``.disable`` / ``.remove``,
target ``signin:METHOD:CODE``, the settings with secrets masked) in the same transaction.

Secrets (``profiles.SECRETS``) are write-only: :meth:`SignInAdmin.profile` masks them, and a
save with ``keep_secrets`` keeps the stored one when the new value is left empty (the page
never sends a secret back into the form).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bookplate.auth.errors import ProfileInvalid, ProfileNotFound
from bookplate.auth.external import ExternalLogins
from bookplate.auth.model import Method, ProbeReport, ProfileChange
from bookplate.auth.ports import StoredProfile
from bookplate.auth.profiles import (
    CODE,
    ENABLED_KEY,
    SECRETS,
    Setting,
    public_config,
    settings_of,
)
from bookplate.roles.errors import PermissionDenied
from bookplate.roles.model import Actor
from bookplate.roles.policy import Action, decide

HISTORY_SHOWN = 50


@dataclass(frozen=True, slots=True)
class ProfileView:
    """A stored profile as shown: secrets masked, which secrets are set."""

    institution: str
    method: Method
    code: str
    config: dict[str, Any]
    enabled: bool
    secrets_set: frozenset[str]


def _view(row: StoredProfile) -> ProfileView:
    return ProfileView(row.institution, row.method, row.code, public_config(row.config),
                       row.config.get(ENABLED_KEY, True) is not False,
                       frozenset(k for k in SECRETS if row.config.get(k)))


def _no_nul(value: Any, where: str) -> None:
    """NUL characters are refused anywhere in a profile (no directory, URL or file name holds
    one; PostgreSQL's JSON cannot store them)."""
    if isinstance(value, str) and "\x00" in value:
        raise ProfileInvalid(f"{where} contains a NUL character.")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(str(key), where)
            _no_nul(item, f"{where}.{key}" if where != "settings" else str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            _no_nul(item, where)


class SignInAdmin:
    def __init__(self, external: ExternalLogins) -> None:
        self.external = external

    @staticmethod
    def allowed(actor: Actor | None) -> None:
        if actor is None:  # the CLI: the operator of the installation
            return
        decision = decide(actor, Action.CONFIGURE_SIGN_IN)
        if not decision:
            raise PermissionDenied(Action.CONFIGURE_SIGN_IN.value, decision.reason)

    @staticmethod
    def methods() -> list[Method]:
        return [m for m in Method if m is not Method.LOCAL]

    @staticmethod
    def settings(method: Method) -> list[Setting]:
        return settings_of(method)

    def _method(self, name: str) -> Method:
        try:
            method = Method(name)
        except ValueError:
            raise ProfileNotFound(f"No sign-in method {name[:20]!r}.") from None
        if method not in self.methods():
            raise ProfileNotFound(f"No sign-in method {name[:20]!r}.")
        return method

    def _row(self, institution: str, method: Method, code: str) -> StoredProfile:
        row = self.external.profiles.get(institution, method.value, code) \
            if CODE.fullmatch(code or "") else None
        if row is None:
            raise ProfileNotFound(f"No {method.value.upper()} profile {code[:64]!r}.")
        return row

    # reading
    def listing(self, institution: str | None, method: str | None, actor: Actor | None
                ) -> list[ProfileView]:
        self.allowed(actor)
        kind = self._method(method).value if method is not None else None
        return [_view(r) for r in self.external.profiles.list(institution, kind)]

    def profile(self, institution: str, method: str, code: str, actor: Actor | None
                ) -> ProfileView:
        self.allowed(actor)
        return _view(self._row(institution, self._method(method), code))

    def history(self, institution: str, actor: Actor | None) -> list[dict[str, Any]]:
        self.allowed(actor)
        return self.external.profiles.history(institution, HISTORY_SHOWN)

    # changing
    def save(self, institution: str, method: str, code: str, config: dict[str, Any],
             who: str, actor: Actor | None, *, new: bool | None = None,
             keep_secrets: bool = False) -> bool:
        """Check and store a profile; True when it was new. ``new`` True refuses a code that
        exists (the page's "add"), False one that does not (its "edit"); None replaces or
        adds (the CLI's ``add``). ``keep_secrets``: an empty or missing secret keeps the
        stored one."""
        self.allowed(actor)
        kind = self._method(method)
        if not CODE.fullmatch(code or ""):
            raise ProfileInvalid("A profile code is 1 to 64 letters, digits, '-' or '_'.")
        old = self.external.profiles.get(institution, kind.value, code)
        if new is True and old is not None:
            raise ProfileInvalid(f"A {kind.value.upper()} profile {code} exists already; "
                                 "edit it instead.")
        if new is False and old is None:
            raise ProfileNotFound(f"No {kind.value.upper()} profile {code[:64]!r}.")
        _no_nul(config, "settings")
        config = dict(config)
        if keep_secrets and old is not None:
            for name in SECRETS:
                if config.get(name, "") == "" and old.config.get(name):
                    config[name] = old.config[name]
                elif config.get(name) == "":
                    config.pop(name)
        if ENABLED_KEY not in config and old is not None:
            config[ENABLED_KEY] = old.config.get(ENABLED_KEY, True) is not False
        change = ProfileChange(who, "auth.profile.put", public_config(config))
        _, created = self.external.add(kind, institution, code, config, change)
        return created

    def set_enabled(self, institution: str, method: str, code: str, enabled: bool,
                    who: str, actor: Actor | None) -> None:
        self.allowed(actor)
        kind = self._method(method)
        row = self._row(institution, kind, code)
        config = {**row.config, ENABLED_KEY: enabled}
        action = "auth.profile.enable" if enabled else "auth.profile.disable"
        self.external.add(kind, institution, code, config,
                          ProfileChange(who, action, {ENABLED_KEY: enabled}))

    def remove(self, institution: str, method: str, code: str, who: str,
               actor: Actor | None) -> bool:
        self.allowed(actor)
        kind = self._method(method)
        if not CODE.fullmatch(code or ""):
            return False
        return self.external.profiles.remove(institution, kind.value, code,
                                             ProfileChange(who, "auth.profile.remove", {}))

    # the provider
    def test_connection(self, institution: str, method: str, code: str,
                        actor: Actor | None) -> ProbeReport:
        self.allowed(actor)
        kind = self._method(method)
        self._row(institution, kind, code)
        return self.external.test_connection(kind, institution, code)

    def urls(self, method: str, code: str) -> list[tuple[str, str, str]]:
        return self.external.urls(self._method(method), code)

    def sp_metadata(self, institution: str, code: str, actor: Actor | None
                    ) -> tuple[str, str]:
        self.allowed(actor)
        self._row(institution, Method.SAML, code)
        return self.external.metadata(Method.SAML.value, code, institution,
                                      include_disabled=True)
