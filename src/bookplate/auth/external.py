"""The service the web layer calls for sign-ins through another system, whatever the method.

Password methods (LDAP): the login and password from Bookplate's form go to the backend under
the lockout of every password check. Redirect methods (SAML, CAS, OIDC): ``start`` keeps the
backend's state server-side under a random browser cookie and sends the browser away;
``finish`` gives that state and what the browser brought back to the backend, then
``AuthService.complete_external_login`` with the profile's mapping (just-in-time creation or
update). Every refusal is an ``AuthenticationFailed`` whose reason goes to the log and, for a
refused return leg, to the login events. The methods themselves are in ``auth/backends/``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from bookplate.auth.backends import PASSWORD_BACKENDS, REDIRECT_BACKENDS, probes
from bookplate.auth.errors import (
    AuthenticationFailed,
    LoginDenied,
    ProfileInvalid,
    ProfileNotFound,
    ProtocolRefused,
)
from bookplate.auth.model import Identity, Method, ProbeReport, ProfileChange
from bookplate.auth.ports import (
    BackendContext,
    Leg,
    PasswordBackend,
    Pending,
    PendingStore,
    ProfileStore,
    RedirectBackend,
    ReplayCache,
    SessionLink,
    SessionLinkStore,
    SignInProfile,
    StoredProfile,
)
from bookplate.auth.profiles import (
    CODE,
    ENABLED_KEY,
    LABEL_KEY,
    Profile,
    from_config,
    to_config,
)
from bookplate.auth.registry import LoginMethod
from bookplate.auth.services import AuthService, digest
from bookplate.users.model import User

log = structlog.get_logger("bookplate.auth.external")

PENDING_SECONDS = 600


@dataclass(frozen=True, slots=True)
class BrowserStart:
    redirect_url: str
    cookie: str  # the browser's pending-sign-in cookie value


def _method(name: str, known: Mapping[Method, Any]) -> Method:
    """The method a URL or form names, when it has a backend of that shape."""
    try:
        method = Method(name)
    except ValueError:
        raise ProfileNotFound(f"No sign-in method {name[:20]!r}.") from None
    if method not in known:
        raise ProfileNotFound(f"No sign-in method {name[:20]!r}.")
    return method


class ExternalLogins:
    def __init__(self, auth: AuthService, profiles: ProfileStore, pending: PendingStore,
                 replay: ReplayCache, public_url: str | None = None,
                 links: SessionLinkStore | None = None) -> None:
        self.auth = auth
        self.profiles = profiles
        self.pending = pending
        self.links = links
        context = BackendContext(replay, public_url.rstrip("/") if public_url else None)
        self.context_url = context.public_url
        self.password_backends: dict[Method, PasswordBackend] = {
            b.method: b(context) for b in PASSWORD_BACKENDS}
        self.redirect_backends: dict[Method, RedirectBackend] = {
            b.method: b(context) for b in REDIRECT_BACKENDS}

    # profiles
    def add(self, method: Method, institution: str, code: str, config: Mapping[str, Any],
            change: ProfileChange | None = None) -> tuple[Profile, bool]:
        """Check and store a profile (``change``: the audit row written with it)."""
        if method not in self.password_backends and method not in self.redirect_backends:
            raise ProfileInvalid(f"No sign-in method {method.value!r}.")
        profile = from_config(method, institution, code, config)
        stored = to_config(profile)
        label = config.get(LABEL_KEY)
        if label is not None:
            if not isinstance(label, str) or not 0 < len(label) <= 100 or \
                    not label.isprintable():
                raise ProfileInvalid("label is 1 to 100 printable characters.")
            stored[LABEL_KEY] = label
        enabled = config.get(ENABLED_KEY, True)
        if not isinstance(enabled, bool):
            raise ProfileInvalid("enabled must be true or false.")
        if not enabled:
            stored[ENABLED_KEY] = False
        new = self.profiles.put(StoredProfile(institution, method, code, stored),
                                self.auth.now(), change)
        return profile, new

    def test_connection(self, method: Method, institution: str, code: str) -> ProbeReport:
        """Reach the profile's provider as a sign-in would (enabled or not) and report what
        it answered; nobody is signed in (``backends/probes.py``)."""
        return probes.probe(self.profile(method, code, institution, include_disabled=True))

    def urls(self, method: Method, code: str) -> list[tuple[str, str, str]]:
        """(what, HTTP method, URL) of each of the profile's URLs a provider is told about
        (empty for a password method, or without a public URL)."""
        backend = self.redirect_backends.get(method)
        base = self.context_url
        if backend is None or not base:
            return []
        return [(leg.value, http, f"{base}/auth/{method.value}/{code}/{name}")
                for (http, name), leg in sorted(backend.endpoints.items(),
                                                key=lambda item: item[0][1])]

    def profile(self, method: Method, code: str, institution: str | None = None, *,
                include_disabled: bool = False) -> Profile:
        if not CODE.fullmatch(code or ""):
            raise ProfileNotFound(f"No {method.value} profile {code[:64]!r}.")
        if institution is not None:
            found = self.profiles.get(institution, method.value, code)
            rows = [found] if found else []
        else:
            rows = self.profiles.find(method.value, code)
        if not include_disabled:
            rows = [r for r in rows if r.config.get(ENABLED_KEY, True) is not False]
        if len(rows) != 1:
            raise ProfileNotFound(f"No single {method.value} profile {code!r}.")
        row = rows[0]
        return from_config(method, row.institution, row.code, row.config)

    def login_methods(self, institution: str | None) -> list[LoginMethod]:
        """Every configured profile of the institution, for the login page: password methods
        are choices on the password form (no start URL), the others links to their start."""
        methods: list[LoginMethod] = []
        if not institution:
            return methods
        for row in self.profiles.list(institution, None):
            if row.config.get(ENABLED_KEY, True) is False:
                continue
            label = str(row.config.get(LABEL_KEY) or f"{row.method.value.upper()} {row.code}")
            start_url = "" if row.method in self.password_backends else \
                f"/auth/{row.method.value}/{row.code}/login?institution={institution}"
            methods.append(LoginMethod(row.code, label, row.method, start_url, institution))
        return methods

    # the URLs of redirect methods (web/external.py routes by these)
    def legs(self, method: str, endpoint: str) -> dict[str, Leg]:
        """HTTP method -> leg of ``/auth/{method}/{code}/{endpoint}``; empty: no such URL."""
        try:
            backend = self.redirect_backends[Method(method)]
        except (ValueError, KeyError):
            return {}
        return {http: leg for (http, name), leg in backend.endpoints.items()
                if name == endpoint}

    def logout_fields(self, method: str) -> tuple[str, ...]:
        return self.redirect_backends[_method(method, self.redirect_backends)].logout_fields()

    def password_methods(self) -> frozenset[str]:
        return frozenset(m.value for m in self.password_backends)

    # password methods (the sign-in form)
    def password_login(self, method: str, institution: str, code: str, login: str,
                       password: str, *, address: str | None = None) -> User:
        """A check of the user's password elsewhere (an LDAP bind), under the lockout of
        every password check (``AuthService.checked_elsewhere``)."""
        kind = _method(method, self.password_backends)
        backend = self.password_backends[kind]
        profile = self.profile(kind, code, institution)
        try:
            identity = self.auth.checked_elsewhere(
                institution, login, lambda: backend.authenticate(profile, login, password))
        except AuthenticationFailed as exc:
            self.auth.record_failed_login(institution, login, kind.value,
                                          getattr(exc, "reason", None) or f"{kind} refused",
                                          address)
            raise
        return self._complete(profile, identity, address)

    # redirect methods
    def start(self, method: str, code: str, institution: str | None, next_url: str
              ) -> BrowserStart:
        kind = _method(method, self.redirect_backends)
        profile = self.profile(kind, code, institution)
        started = self.redirect_backends[kind].start(profile, next_url)
        cookie = secrets.token_urlsafe(32)
        self.pending.put(digest(cookie), Pending(profile.institution, kind.value, profile.code,
                                                 {**started.pending, "next": next_url}),
                         self.auth.now() + timedelta(seconds=PENDING_SECONDS))
        return BrowserStart(started.redirect_url, cookie)

    def finish(self, method: str, code: str, cookie: str | None, callback: Mapping[str, str],
               *, address: str | None = None) -> tuple[User, str, SessionLink | None]:
        """The return leg: the browser's pending sign-in (taken once, unless the backend
        keeps it), the backend's checks, then the user. A refusal before a user was matched
        is recorded as a failed login event here (later ones by ``complete_external_login``)."""
        kind = _method(method, self.redirect_backends)
        backend = self.redirect_backends[kind]
        pending: Pending | None = None
        early = backend.callback_refusal(callback)
        if early is not None:  # said by the provider: the pending sign-in is left alone
            self._record_refusal(kind, code, self._peek(cookie, kind, code), early, address)
            raise ProtocolRefused(early)
        try:
            pending = self._pending(cookie, kind, code, take=not backend.keeps_pending)
            profile = self.profile(kind, code, pending.institution)
            identity = backend.finish(profile, pending.data, callback)
        except AuthenticationFailed as exc:
            if not isinstance(exc, LoginDenied):
                self._record_refusal(kind, code, pending, exc.reason, address)
            raise
        link = backend.session_link(profile, identity)
        user = self._complete(profile, identity, address)
        return user, str(pending.data.get("next") or "/"), link

    def metadata(self, method: str, code: str, institution: str | None, *,
                 include_disabled: bool = False) -> tuple[str, str]:
        """The document a provider reads (SAML SP metadata) and its media type."""
        kind = _method(method, self.redirect_backends)
        return self.redirect_backends[kind].metadata(self.profile(
            kind, code, institution, include_disabled=include_disabled))

    def provider_logout(self, method: str, code: str, institution: str | None,
                        message: Mapping[str, str]) -> str | None:
        """A provider's logout message (the browser's or its server's): end the sessions it
        names; where the browser goes next (None: the sign-in page)."""
        kind = _method(method, self.redirect_backends)
        profile = self.profile(kind, code, institution)
        found = self.redirect_backends[kind].provider_logout(profile, message)
        if found.end_sessions:
            self._end_linked(profile, kind, found.subject, found.session_indexes)
        return found.answer_url

    def _pending(self, cookie: str | None, method: Method, code: str, *, take: bool
                 ) -> Pending:
        if not cookie or len(cookie) > 100:
            raise ProtocolRefused("no pending sign-in cookie")
        now = self.auth.now()
        found = (self.pending.take if take else self.pending.get)(digest(cookie), now)
        if found is None or found.method != method.value or found.code != code:
            raise ProtocolRefused("no pending sign-in of this profile for this browser")
        return found

    def _peek(self, cookie: str | None, method: Method, code: str) -> Pending | None:
        try:
            return self._pending(cookie, method, code, take=False)
        except ProtocolRefused:
            return None

    def _complete(self, profile: SignInProfile, identity: Identity, address: str | None
                  ) -> User:
        return self.auth.complete_external_login(identity, profile.mapping, address)

    def _record_refusal(self, method: Method, code: str, pending: Pending | None,
                        reason: str, address: str | None) -> None:
        """A refused return leg (forged, replayed, expired, provider error...) as a failed
        login event. The institution is the pending sign-in's, else that of the only profile
        with this code; the login name is unknown (empty). Recording never turns a refusal
        into an error."""
        try:
            institution = pending.institution if pending is not None else None
            if institution is None and CODE.fullmatch(code or ""):
                rows = self.profiles.find(method.value, code)
                institution = rows[0].institution if len(rows) == 1 else None
            if institution is not None:
                self.auth.record_failed_login(institution, "", method.value,
                                              f"{code}: {reason}"[:255], address)
        except Exception as exc:  # the refusal stands; the log says why it was not recorded
            log.error("login_event_failed", method=method.value,
                      error=f"{type(exc).__name__}: {str(exc)[:300]}")

    # single logout
    def link_session(self, link: SessionLink | None, session_hash: str,
                     expires_at: datetime) -> None:
        """Remember which provider session a new Bookplate session belongs to."""
        if link is not None and self.links is not None:
            self.links.put(session_hash, link, expires_at)

    def _end_linked(self, profile: SignInProfile, method: Method, subject: str | None,
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
        backend = self.redirect_backends.get(Method(link.method))
        if backend is None:
            return None
        try:
            profile = self.profile(Method(link.method), link.code, link.institution)
        except (ProfileNotFound, ProfileInvalid):
            return None  # the profile was removed since
        return backend.logout_url(profile, link)
