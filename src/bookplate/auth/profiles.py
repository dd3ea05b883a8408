"""External sign-in profiles (LDAP, SAML, CAS, OIDC) as stored configuration, and the service
the web layer calls for those sign-ins.

A profile is the adapter's own dataclass (``LdapProfile``, ``SamlProfile``, ``CasProfile``,
``OidcProfile``, each with its :class:`~bookplate.auth.model.UserMapping`); it is stored as
JSON (:func:`to_config`) and rebuilt, checked field by field, by :func:`from_config`.
Secrets (the LDAP service password, the OIDC client secret) are never shown back:
:func:`public_config` masks them.

:class:`ExternalLogins` runs a sign-in: start (redirect URL and the pending state kept
server-side under a random browser cookie), finish (protocol checks by the adapter), then
``AuthService.complete_external_login`` with the profile's mapping (just-in-time creation or
update). Every refusal is an ``AuthenticationFailed`` whose reason goes to the log only.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import secrets
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Union
from urllib.parse import urlencode

import structlog

from bookplate.auth.backends import cas, ldap, oidc, saml
from bookplate.auth.backends.cas import CasProfile
from bookplate.auth.backends.ldap import LdapProfile, LdapServer
from bookplate.auth.backends.oidc import OidcProfile
from bookplate.auth.backends.saml import ReplayCache, SamlProfile
from bookplate.auth.errors import (
    AuthenticationFailed,
    ProfileInvalid,
    ProfileNotFound,
    ProtocolRefused,
)
from bookplate.auth.model import Identity, Method, UserMapping
from bookplate.auth.ports import (
    Pending,
    PendingStore,
    ProfileStore,
    SessionLink,
    SessionLinkStore,
    StoredProfile,
)
from bookplate.auth.registry import LoginMethod
from bookplate.auth.services import AuthService, digest
from bookplate.users.model import User

log = structlog.get_logger("bookplate.auth.profiles")

# UP007 below: a runtime Union: typing.get_args walks it to pick the profile class
Profile = Union[LdapProfile, SamlProfile, CasProfile, OidcProfile]  # noqa: UP007
PROFILE_TYPES: dict[Method, type[Any]] = {
    Method.LDAP: LdapProfile,
    Method.SAML: SamlProfile,
    Method.CAS: CasProfile,
    Method.OIDC: OidcProfile,
}
#: Settings never printed back (CLI ``list``, logs).
SECRETS = frozenset({"bind_password", "client_secret"})
MASK = "********"
CODE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
PENDING_SECONDS = 600
LABEL_KEY = "label"


# --- configuration <-> dataclasses ------------------------------------------------------------


def _coerce(value: Any, hint: Any, where: str) -> Any:  # noqa: PLR0911, PLR0912 - one branch per type form a profile field may take
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is typing.Literal:
        if value not in args:
            raise ProfileInvalid(f"{where} must be one of {', '.join(map(repr, args))}.")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ProfileInvalid(f"{where} must be a list.")
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ProfileInvalid(f"{where} must be an object of strings.")
        return dict(value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise ProfileInvalid(f"{where} must be an object.")
        return _build(hint, value, where)
    if hint is bool:
        if not isinstance(value, bool):
            raise ProfileInvalid(f"{where} must be true or false.")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileInvalid(f"{where} must be a whole number.")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProfileInvalid(f"{where} must be a number.")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or len(value) > 200_000:
            raise ProfileInvalid(f"{where} must be a string.")
        return value
    raise ProfileInvalid(f"{where}: unsupported setting type.")


def _build(cls: type[Any], values: Mapping[str, Any], where: str,
           fixed: Mapping[str, Any] | None = None) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    fixed = fixed or {}
    unknown = sorted(set(values) - (names - set(fixed)))
    if unknown:
        raise ProfileInvalid(f"{where}: unknown setting(s) {', '.join(unknown)}.")
    kwargs = {name: _coerce(v, hints[name], f"{where}.{name}" if where else name)
              for name, v in values.items()}
    try:
        return cls(**kwargs, **fixed)
    except TypeError as exc:
        missing = re.findall(r"'(\w+)'", str(exc))
        raise ProfileInvalid(f"{where or cls.__name__}: missing setting(s) "
                             f"{', '.join(missing) or str(exc)}.") from exc


def from_config(method: Method, institution: str, code: str, config: Mapping[str, Any]
                ) -> Profile:
    """Rebuild (and check) a profile from its stored configuration."""
    if not CODE.fullmatch(code or ""):
        raise ProfileInvalid("A profile code is 1 to 64 letters, digits, '-' or '_'.")
    if not isinstance(config, Mapping):
        raise ProfileInvalid("The configuration must be a JSON object.")
    values = {k: v for k, v in config.items() if k != LABEL_KEY}
    profile: Profile = _build(PROFILE_TYPES[method], values, "",
                              {"institution": institution, "code": code})
    return profile


def to_config(profile: Profile) -> dict[str, Any]:
    """The JSON stored for a profile (institution and code are the row's key)."""
    data = dataclasses.asdict(profile)
    data.pop("institution", None)
    data.pop("code", None)
    return typing.cast(dict[str, Any], _plain(data))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def public_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with secrets masked (for listing and logs)."""
    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (MASK if k in SECRETS and v else mask(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        return value
    return typing.cast(dict[str, Any], mask(dict(config)))


# --- the service --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    redirect_url: str
    cookie: str  # the browser's pending-sign-in cookie value


class ExternalLogins:
    def __init__(self, auth: AuthService, profiles: ProfileStore, pending: PendingStore,
                 replay: ReplayCache, public_url: str | None = None,
                 links: SessionLinkStore | None = None) -> None:
        self.auth = auth
        self.profiles = profiles
        self.pending = pending
        self.replay = replay
        self.public_url = public_url.rstrip("/") if public_url else None
        self.links = links

    # profiles
    def add(self, method: Method, institution: str, code: str, config: Mapping[str, Any]
            ) -> tuple[Profile, bool]:
        profile = from_config(method, institution, code, config)
        stored = to_config(profile)
        label = config.get(LABEL_KEY)
        if label is not None:
            if not isinstance(label, str) or not 0 < len(label) <= 100:
                raise ProfileInvalid("label is a string of 1 to 100 characters.")
            stored[LABEL_KEY] = label
        new = self.profiles.put(StoredProfile(institution, method, code, stored),
                                self.auth.now())
        return profile, new

    def profile(self, method: Method, code: str, institution: str | None = None) -> Profile:
        if not CODE.fullmatch(code or ""):
            raise ProfileNotFound(f"No {method.value} profile {code[:64]!r}.")
        if institution is not None:
            found = self.profiles.get(institution, method.value, code)
            rows = [found] if found else []
        else:
            rows = self.profiles.find(method.value, code)
        if len(rows) != 1:
            raise ProfileNotFound(f"No single {method.value} profile {code!r}.")
        row = rows[0]
        return from_config(method, row.institution, row.code, row.config)

    def login_methods(self, institution: str | None) -> list[LoginMethod]:
        """Every configured profile of the institution, for the login page."""
        methods: list[LoginMethod] = []
        if not institution:
            return methods
        for row in self.profiles.list(institution, None):
            label = str(row.config.get(LABEL_KEY) or f"{row.method.value.upper()} {row.code}")
            if row.method == Method.LDAP:
                start_url = ""  # on the password form (method choice)
            else:
                start_url = f"/auth/{row.method.value}/{row.code}/login?institution={institution}"
            methods.append(LoginMethod(row.code, label, row.method, start_url, institution))
        return methods

    # pending sign-ins
    def _remember(self, profile: Profile, method: Method, data: dict[str, Any]) -> str:
        cookie = secrets.token_urlsafe(32)
        self.pending.put(digest(cookie), Pending(profile.institution, method.value, profile.code,
                                                 data),
                         self.auth.now() + timedelta(seconds=PENDING_SECONDS))
        return cookie

    def _pending(self, cookie: str | None, method: Method, code: str, *, take: bool
                 ) -> Pending:
        if not cookie or len(cookie) > 100:
            raise ProtocolRefused("no pending sign-in cookie")
        now = self.auth.now()
        found = (self.pending.take if take else self.pending.get)(digest(cookie), now)
        if found is None or found.method != method.value or found.code != code:
            raise ProtocolRefused("no pending sign-in of this profile for this browser")
        return found

    def _complete(self, profile: Profile, identity: Identity, address: str | None = None
                  ) -> User:
        return self.auth.complete_external_login(identity, profile.mapping, address)

    def record_refusal(self, method: Method, code: str, cookie: str | None, reason: str,
                       address: str | None = None) -> None:
        """A refused SAML/CAS/OIDC return leg (forged, replayed, expired, provider error...)
        as a failed login event. The institution is the pending sign-in's, else that of the
        only profile with this code; the login name is unknown (empty). Refusals that got as
        far as matching a user were recorded by ``complete_external_login`` already."""
        institution: str | None = None
        if cookie and len(cookie) <= 100:
            found = self.pending.get(digest(cookie), self.auth.now())
            if found is not None and found.method == method.value and found.code == code:
                institution = found.institution
        if institution is None and CODE.fullmatch(code or ""):
            rows = self.profiles.find(method.value, code)
            institution = rows[0].institution if len(rows) == 1 else None
        if institution is None:
            return
        self.auth.record_failed_login(institution, "", method.value,
                                      f"{code}: {reason}"[:255], address)

    # LDAP (the password form)
    def ldap_login(self, institution: str, code: str, login: str, password: str, *,
                   address: str | None = None) -> User:
        """A bind with the user's directory password, under the lockout of every password
        check (``AuthService.checked_elsewhere``)."""
        profile = self.profile(Method.LDAP, code, institution)
        assert isinstance(profile, LdapProfile)
        try:
            identity = self.auth.checked_elsewhere(
                institution, login, lambda: ldap.authenticate(profile, login, password))
        except AuthenticationFailed as exc:
            self.auth.record_failed_login(institution, login, Method.LDAP.value,
                                          getattr(exc, "reason", None) or "ldap refused",
                                          address)
            raise
        return self._complete(profile, identity, address)

    # SAML
    def saml_metadata(self, code: str, institution: str | None) -> str:
        profile = self.profile(Method.SAML, code, institution)
        assert isinstance(profile, SamlProfile)
        return saml.sp_metadata(profile)

    def saml_start(self, code: str, institution: str | None, next_url: str) -> Started:
        profile = self.profile(Method.SAML, code, institution)
        assert isinstance(profile, SamlProfile)
        url, request_id = saml.start(profile, next_url)
        cookie = self._remember(profile, Method.SAML, {"request_ids": [request_id],
                                                       "next": next_url})
        return Started(url, cookie)

    def saml_finish(self, code: str, cookie: str | None, saml_response: str, *,
                    address: str | None = None) -> tuple[User, str, SessionLink | None]:
        # Not taken: a replayed response from the same browser must meet the replay cache.
        pending = self._pending(cookie, Method.SAML, code, take=False)
        profile = self.profile(Method.SAML, code, pending.institution)
        assert isinstance(profile, SamlProfile)
        ids = [str(i) for i in pending.data.get("request_ids") or [] if isinstance(i, str)]
        identity = saml.finish(profile, saml_response, ids, self.replay)
        name_id = identity.session.get("name_id")
        link = SessionLink(profile.institution, Method.SAML.value, code, name_id,
                           identity.session.get("session_index"), dict(identity.session)) \
            if name_id and profile.slo_url else None
        return (self._complete(profile, identity, address),
                str(pending.data.get("next") or "/"), link)

    def saml_logout_request(self, code: str, institution: str | None, query: Any) -> str:
        """An IdP's LogoutRequest: end the sessions it names; the URL of our answer."""
        profile = self.profile(Method.SAML, code, institution)
        assert isinstance(profile, SamlProfile)
        request, answer = saml.logout_request_in(profile, query)
        self._end_linked(profile, Method.SAML, request.name_id, request.session_indexes)
        return answer

    def saml_logout_response(self, code: str, institution: str | None, query: Any) -> bool:
        profile = self.profile(Method.SAML, code, institution)
        assert isinstance(profile, SamlProfile)
        return saml.logout_response_in(profile, query)

    # CAS
    def cas_service(self, code: str, state: str | None = None) -> str:
        """The service URL: our callback, with the browser's ``state`` when given."""
        if self.public_url is None:
            raise ProtocolRefused("public_url is not configured (CAS service URL)")
        base = f"{self.public_url}/auth/cas/{code}/callback"
        return f"{base}?{urlencode({'state': state})}" if state else base

    def cas_start(self, code: str, institution: str | None, next_url: str) -> Started:
        """CAS has no state parameter of its own: a random one rides in the service URL, is
        kept with the browser's pending sign-in and must come back with the ticket, so a ticket
        minted for one browser cannot be planted in another (login CSRF)."""
        profile = self.profile(Method.CAS, code, institution)
        assert isinstance(profile, CasProfile)
        state = secrets.token_urlsafe(32)
        url = cas.login_url(profile, self.cas_service(code, state))
        return Started(url, self._remember(profile, Method.CAS,
                                           {"next": next_url, "state": state}))

    def cas_finish(self, code: str, cookie: str | None, ticket: str, state: str = "", *,
                   address: str | None = None) -> tuple[User, str, SessionLink | None]:
        pending = self._pending(cookie, Method.CAS, code, take=True)
        profile = self.profile(Method.CAS, code, pending.institution)
        assert isinstance(profile, CasProfile)
        expected = str(pending.data.get("state") or "")
        if not expected or not hmac.compare_digest(state.encode(), expected.encode()):
            raise ProtocolRefused("CAS state differs from this browser's sign-in")
        identity = cas.validate(profile, self.cas_service(code, expected), ticket)
        link = SessionLink(profile.institution, Method.CAS.value, code, identity.subject,
                           digest(ticket), {}) if profile.single_logout else None
        return (self._complete(profile, identity, address),
                str(pending.data.get("next") or "/"), link)

    def cas_logout_request(self, code: str, institution: str | None, body: str) -> int:
        """A CAS server's back-channel logoutRequest: end the session of that ticket."""
        profile = self.profile(Method.CAS, code, institution)
        assert isinstance(profile, CasProfile)
        if not profile.single_logout:
            raise ProtocolRefused("the profile has no single logout")
        ticket = cas.logout_request_ticket(body)
        return self._end_linked(profile, Method.CAS, None, (digest(ticket),))

    # OIDC
    def oidc_start(self, code: str, institution: str | None, next_url: str) -> Started:
        profile = self.profile(Method.OIDC, code, institution)
        assert isinstance(profile, OidcProfile)
        url, state, nonce, verifier = oidc.start(profile)
        cookie = self._remember(profile, Method.OIDC, {
            "state": state, "nonce": nonce, "verifier": verifier, "next": next_url})
        return Started(url, cookie)

    def oidc_finish(self, code: str, cookie: str | None, auth_code: str, state: str,
                    iss: str | None = None, *, address: str | None = None
                    ) -> tuple[User, str, SessionLink | None]:
        pending = self._pending(cookie, Method.OIDC, code, take=True)
        profile = self.profile(Method.OIDC, code, pending.institution)
        assert isinstance(profile, OidcProfile)
        d = pending.data
        identity = oidc.finish(profile, auth_code, state, str(d.get("state") or ""),
                               str(d.get("nonce") or ""), str(d.get("verifier") or ""),
                               iss=iss)
        session = dict(identity.session)
        link = SessionLink(profile.institution, Method.OIDC.value, code, session.pop("sub", ""),
                           session.get("sid"), session) if profile.single_logout else None
        return self._complete(profile, identity, address), str(d.get("next") or "/"), link

    # single logout
    def link_session(self, link: SessionLink | None, session_hash: str,
                     expires_at: datetime) -> None:
        """Remember which provider session a new Bookplate session belongs to."""
        if link is not None and self.links is not None:
            self.links.put(session_hash, link, expires_at)

    def _end_linked(self, profile: Profile, method: Method, subject: str | None,
                    indexes: tuple[str, ...]) -> int:
        if self.links is None:
            return 0
        hashes = self.links.take_matching(profile.institution, method.value, profile.code,
                                          subject, indexes, self.auth.now())
        for session_hash in hashes:
            self.auth.store.remove_session(session_hash)
        log.info("single_logout", method=method.value, profile=profile.code,
                 sessions=len(hashes))
        return len(hashes)

    def logout_url(self, session_hash: str) -> str | None:
        """Sign-out of a session that came from a provider with single logout: where to send
        the browser so that the provider ends its session too (None: nowhere)."""
        if self.links is None:
            return None
        link = self.links.take(session_hash, self.auth.now())
        if link is None:
            return None
        method = Method(link.method)
        try:
            profile = self.profile(method, link.code, link.institution)
        except (ProfileNotFound, ProfileInvalid):
            return None  # the profile was removed since
        if isinstance(profile, SamlProfile):
            return saml.logout_url(profile, link.data)
        if isinstance(profile, OidcProfile):
            return oidc.logout_url(profile, link.data)
        if isinstance(profile, CasProfile):
            back = f"{self.public_url}/auth/login" if self.public_url else None
            return cas.logout_url(profile, back)
        return None


__all__ = ["AuthenticationFailed", "ExternalLogins", "LdapServer", "Pending", "Profile",
           "ProfileStore", "SessionLink", "SessionLinkStore", "StoredProfile", "UserMapping",
           "from_config", "public_config", "to_config"]
