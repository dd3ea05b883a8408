"""Authentication services: external logins, own passwords with lockout, sessions and the
staff login report. One-time password-reset links are in ``resets.py``, discovery JWTs in
``tokens.py``, staff bearer tokens in ``staff_tokens.py``.

Every refusal raises :class:`~bookplate.auth.errors.AuthenticationFailed` whose ``reason`` is
logged here and never shown to the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import structlog

from bookplate.auth.errors import (
    AuthenticationFailed,
    BadCredentials,
    LoginDenied,
)
from bookplate.auth.matching import (
    Action,
    apply_identity,
    decide,
    holds_staff_roles,
    identity_user_id,
    user_from_identity,
)
from bookplate.auth.model import Identity, UserMapping
from bookplate.auth.ports import (
    AuthStore,
    LockoutCounter,
    LoginEvent,
    Session,
)
from bookplate.errors import BookplateError
from bookplate.users.errors import UserNotFound
from bookplate.users.model import Status, User, UserInput, normalise_id
from bookplate.users.ports import ALL_UNIQUE, PRIMARY_ID
from bookplate.users.services import UserService

log = structlog.get_logger("bookplate.auth")

LOCK_AFTER_FAILURES = 15  # SPEC section 8.1 (the defaults of settings.lockout_*)
LOCK_SECONDS = 30 * 60
MAX_PASSWORD_LENGTH = 1024
PATRON_ROLE = "200"
SESSION_COOKIE = "bp_session"
CSRF_HEADER = "x-csrf-token"


T = TypeVar("T")


class LocalPasswordNotAllowed(AuthenticationFailed):
    """The account signs in through an identity provider, not with a Bookplate password."""

    def __init__(self) -> None:
        super().__init__("the account signs in through its identity provider, not with a "
                         "Bookplate password")


def account_key(institution: str, primary_id: str) -> str:
    """The lockout counter's key: one per account, whatever name or method signs in."""
    return f"{institution}:{normalise_id(primary_id)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def is_staff(user: User) -> bool:
    """Staff for the login report: a STAFF record or any role besides Patron."""
    return user.record_type == "STAFF" or any(
        r.role_type and r.role_type != PATRON_ROLE for r in user.roles
    )


def may_sign_in(user: User, today: date) -> str | None:
    """Why the user may not sign in now (None = may)."""
    if user.status != Status.ACTIVE.value:
        return "inactive user"
    if user.expiry_date is not None and user.expiry_date < today:
        return "expired user"
    return None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session: Session
    user: User


class AuthService:
    def __init__(
        self,
        users: UserService,
        store: AuthStore,
        lockout: LockoutCounter,
        *,
        clock: Callable[[], datetime] = utcnow,
        session_seconds: int = 8 * 3600,
    ) -> None:
        self.users = users
        self.store = store
        self.lockout = lockout
        self._clock = clock
        self.session_seconds = session_seconds

    def now(self) -> datetime:
        return self._clock()

    # -- external identities (LDAP, SAML, CAS, OIDC) -------------------------------------------
    def complete_external_login(self, identity: Identity, mapping: UserMapping,
                                address: str | None = None) -> User:
        """Match a proven identity to a user: log in, create or update just in time, or deny
        (raises LoginDenied). Creation goes through ``UserService.create`` so the
        role-assignment rules and every record rule apply. Who the profile may sign in as
        is the mapping's (``matching.outside_profile``); a new user to whom the assignment
        rules gave roles beyond Patron is kept but not signed in unless ``staff_roles``."""
        today = self.now().date()
        user_id = identity_user_id(identity, mapping)
        existing: User | None = None
        if user_id is not None and len(user_id) <= 255 and user_id.isprintable():
            id_type = PRIMARY_ID if mapping.match_id_type == PRIMARY_ID else mapping.match_id_type
            try:
                existing = self.users.get(identity.institution, user_id, id_type)
            except UserNotFound:
                existing = None
        decision = decide(identity, mapping, existing, today)
        actor = f"auth:{identity.method.value}:{identity.profile}"
        try:
            if decision.action == Action.DENY:
                raise LoginDenied(decision.reason)
            if decision.action == Action.CREATE:
                assert decision.user_id is not None
                new = user_from_identity(identity, mapping, decision.user_id, today)
                user = self.users.create(identity.institution, UserInput(new), actor)
                if not mapping.staff_roles and holds_staff_roles(user):
                    existing = user
                    raise LoginDenied("the new user was given roles beyond Patron, which the "
                                      "profile may not sign in as")
            elif decision.action == Action.UPDATE:
                assert existing is not None
                fresh = apply_identity(existing, identity, mapping, today)
                # The identity system's data, not a person's edit: no manual marks.
                user = self.users.replace(identity.institution, existing.primary_id,
                                          UserInput(fresh), actor, id_type=PRIMARY_ID,
                                          by_hand=False)
            else:
                assert existing is not None
                user = existing
        except LoginDenied as exc:
            self._event(identity.institution, user_id or "", existing, identity.method.value,
                        False, exc.reason, address)
            raise
        except BookplateError as exc:
            reason = f"{decision.action.value} refused: {exc}"
            self._event(identity.institution, user_id or "", existing, identity.method.value,
                        False, reason, address)
            raise LoginDenied(reason) from exc
        self._event(identity.institution, user_id or "", user, identity.method.value, True, None,
                    address)
        return user

    def checked_elsewhere(self, institution: str, login: str, check: Callable[[], T]) -> T:
        """Run a password check another method makes (an LDAP bind) under the same lockout
        as Bookplate's own passwords: while the account is locked the check is not even
        made, a ``BadCredentials`` refusal counts one failure, a success clears the count.
        The account is the Bookplate user the login name finds, else the name itself."""
        key = account_key(institution, login)
        if login and len(login) <= 255 and login.isprintable():
            with contextlib.suppress(UserNotFound):
                key = account_key(institution, self.users.get(institution, login).primary_id)
        now = self.now().timestamp()
        if self.lockout.is_locked(key, now):
            raise AuthenticationFailed("account locked after repeated failures")
        try:
            result = check()
        except BadCredentials as exc:
            locked = self.lockout.failure(key, now)
            if locked:
                exc.reason = f"{exc.reason}, account now locked"
            raise
        self.lockout.clear(key)
        return result

    # -- own passwords -------------------------------------------------------------------------
    def verify_password(
        self, institution: str, login: str, password: str, id_type: str = ALL_UNIQUE
    ) -> User:
        """The user whose own password this is. Raises UserNotFound for an unknown login (the
        API reports it as Alma does) and AuthenticationFailed for everything else."""
        if not login or len(login) > 255 or not login.isprintable():
            raise UserNotFound(login[:255].encode("unicode_escape").decode("ascii"))
        user = self.users.get(institution, login, id_type)
        key = account_key(institution, user.primary_id)
        now = self.now()
        if self.lockout.is_locked(key, now.timestamp()):
            raise AuthenticationFailed("account locked after repeated failures")
        refusal = may_sign_in(user, now.date())
        if refusal is not None:
            raise AuthenticationFailed(refusal)
        if not self.local_password_allowed(user):
            raise LocalPasswordNotAllowed()
        if not password or len(password) > MAX_PASSWORD_LENGTH:
            ok = False
        else:
            ok = self.users.check_password(institution, user.primary_id, PRIMARY_ID, password)
        if not ok:
            locked = self.lockout.failure(key, now.timestamp())
            raise AuthenticationFailed("wrong password, account now locked" if locked
                                       else "wrong password")
        self.lockout.clear(key)
        return user

    def local_password_allowed(self, user: User) -> bool:
        """May this account have (and sign in with) a Bookplate password? Internal accounts
        may. External accounts sign in through their identity provider: only those created
        by a sign-in profile (``external_id`` = its code) whose mapping sets
        ``local_password`` may; users loaded from the SIS may not."""
        if not user.is_external:
            return True
        if not user.external_id:
            return False
        return self.store.profile_allows_local_password(user.institution, user.external_id)

    def password_login(
        self, institution: str, login: str, password: str, *, address: str | None = None
    ) -> User:
        """A sign-in with an own password (web form): records the event; any failure, the
        unknown login included, is the same AuthenticationFailed."""
        login = login.strip()
        if not login or len(login) > 255:
            raise AuthenticationFailed("empty or over-long login name")
        user: User | None = None
        try:
            user = self.verify_password(institution, login, password)
        except UserNotFound:
            self._event(institution, login, None, "local", False, "unknown login", address)
            raise AuthenticationFailed("unknown login") from None
        except AuthenticationFailed as exc:
            self._event(institution, login, self._maybe(institution, login), "local", False,
                        exc.reason, address)
            raise
        self._event(institution, login, user, "local", True, None, address)
        return user

    def change_password(self, institution: str, primary_id: str, new_password: str,
                        actor: str) -> User:
        """Set a new own password (rules of 500038 apply) and clear force_password_change.
        Refused (LocalPasswordNotAllowed) for accounts that sign in through a provider."""
        stored = self.users.get(institution, primary_id, PRIMARY_ID)
        if not self.local_password_allowed(stored):
            raise LocalPasswordNotAllowed()
        stored.force_password_change = False
        return self.users.replace(institution, stored.primary_id,
                                  UserInput(stored, new_password), actor, id_type=PRIMARY_ID)

    def change_own_password(self, info: SessionInfo, current: str, new_password: str) -> User:
        """The signed-in user changes their password: the current one is checked first (as
        a sign-in: the lockout counts a wrong one), then every other session of the user
        ends; the one making the change stays."""
        user = info.user
        if not self.local_password_allowed(user):
            raise LocalPasswordNotAllowed()
        self.verify_password(user.institution, user.primary_id, current, PRIMARY_ID)
        changed = self.change_password(user.institution, user.primary_id, new_password,
                                       f"self:{user.primary_id}")
        ended = self.store.remove_user_sessions(user.institution, user.primary_id,
                                                keep=info.session.token_hash)
        log.info("password_changed", institution=user.institution, user=user.primary_id,
                 other_sessions_ended=ended)
        return changed

    # -- sessions ------------------------------------------------------------------------------
    def start_session(self, user: User, method: str) -> tuple[str, Session]:
        """A brand-new session (never a caller-chosen id: no session fixation)."""
        token = f"bps_{secrets.token_urlsafe(32)}"
        now = self.now()
        session = Session(digest(token), user.institution, user.primary_id, method,
                          secrets.token_urlsafe(32), now,
                          now + timedelta(seconds=self.session_seconds))
        self.store.add_session(session)
        return token, session

    def session(self, token: str | None) -> SessionInfo | None:
        """The live session behind a cookie value, with its user as of now."""
        if not token or not token.startswith("bps_") or len(token) > 200:
            return None
        now = self.now()
        found = self.store.session(digest(token), now)
        if found is None:
            return None
        try:
            user = self.users.get(found.institution, found.primary_id, PRIMARY_ID)
        except UserNotFound:
            return None
        if may_sign_in(user, now.date()) is not None:
            return None
        return SessionInfo(found, user)

    def end_session(self, token: str | None) -> None:
        if token and len(token) <= 200:
            self.store.remove_session(digest(token))

    def end_user_sessions(self, institution: str, primary_id: str) -> int:
        return self.store.remove_user_sessions(institution, primary_id)

    def end_all_sessions(self, user: User, keep: str | None = None) -> int:
        """"Sign out everywhere": every web session of ``user`` ends (but the one of the
        cookie value ``keep``, e.g. after a password change in this browser)."""
        kept = digest(keep) if keep and len(keep) <= 200 else None
        ended = self.store.remove_user_sessions(user.institution, user.primary_id, kept)
        log.info("sessions_ended", institution=user.institution, user=user.primary_id,
                 sessions=ended, kept_one=kept is not None)
        return ended

    # -- administration: unlock (resets: ``resets.py``) -----------------------------------------
    def is_locked(self, institution: str, user_id: str) -> bool:
        user = self.users.get(institution, user_id)
        return self.lockout.is_locked(account_key(institution, user.primary_id),
                                      self.now().timestamp())

    def unlock(self, institution: str, user_id: str, actor: str) -> bool:
        """End the account's lock and forget its failures; True if it was locked."""
        user = self.users.get(institution, user_id)
        key = account_key(institution, user.primary_id)
        was_locked = self.lockout.is_locked(key, self.now().timestamp())
        self.lockout.clear(key)
        log.info("account_unlocked", institution=institution, user=user.primary_id,
                 by=actor, was_locked=was_locked)
        return was_locked

    # -- login events --------------------------------------------------------------------------
    def _maybe(self, institution: str, login: str) -> User | None:
        try:
            return self.users.get(institution, login)
        except UserNotFound:
            return None

    def record_failed_login(self, institution: str, login: str, method: str, reason: str,
                            address: str | None = None) -> None:
        """A refusal a backend decided (e.g. an LDAP bind with a wrong password), so that the
        staff login report shows it beside Bookplate's own refusals."""
        self._event(institution, login, self._maybe(institution, login), method, False, reason,
                    address)

    def _event(self, institution: str, login: str, user: User | None, method: str,
               success: bool, reason: str | None, address: str | None = None) -> None:
        # Control characters (NUL above all: PostgreSQL refuses it) never reach the log or table.
        login = "".join(ch if ch.isprintable() else "?" for ch in login[:255])
        if reason is not None:
            reason = "".join(ch if ch.isprintable() else "?" for ch in reason[:255])
        if success:
            log.info("login_ok", institution=institution, login=login[:255], method=method)
        else:
            log.info("login_failed", institution=institution, login=login[:255], method=method,
                     reason=reason)
        self.store.record_event(LoginEvent(
            institution=institution,
            login_name=login[:255],
            primary_id=user.primary_id if user else None,
            method=method,
            success=success,
            staff=is_staff(user) if user else False,
            at=self.now(),
            address=address,
            reason=reason,
        ))

    def login_report(
        self,
        institution: str,
        date_from: date | None,
        date_to: date | None,
        successful: bool | None,
        limit: int,
        offset: int,
        user: str | None = None,
    ) -> tuple[list[LoginEvent], int]:
        """Staff sign-ins, newest first; ``user``: only those of this login name or primary
        ID."""
        start = datetime.combine(date_from, datetime.min.time(), UTC) if date_from else None
        end = (datetime.combine(date_to, datetime.min.time(), UTC) + timedelta(days=1)
               if date_to else None)
        return self.store.events(institution, start, end, successful, True, limit, offset,
                                 user=user)
