"""Authentication services: external logins, own passwords with lockout, sessions, one-time
password-reset links and the staff login report. Discovery JWTs are in ``tokens.py``.

Every refusal raises :class:`~bookplate.auth.errors.AuthenticationFailed` whose ``reason`` is
logged here and never shown to the caller.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import structlog

from bookplate.auth.errors import (
    AuthenticationFailed,
    LoginDenied,
    PasswordChangeNotAllowed,
    ResetLinkInvalid,
)
from bookplate.auth.matching import (
    Action,
    apply_identity,
    decide,
    identity_user_id,
    user_from_identity,
)
from bookplate.auth.model import Identity, UserMapping
from bookplate.auth.ports import AuthStore, LockoutCounter, LoginEvent, Mailer, Session
from bookplate.errors import BookplateError
from bookplate.users.errors import UserNotFound
from bookplate.users.model import Status, User, UserInput, normalise_id
from bookplate.users.ports import ALL_UNIQUE, PRIMARY_ID
from bookplate.users.services import UserService
from bookplate.users.validation import check_password

log = structlog.get_logger("bookplate.auth")

LOCK_AFTER_FAILURES = 15  # SPEC section 8.1
LOCK_SECONDS = 30 * 60
MAX_PASSWORD_LENGTH = 1024
PATRON_ROLE = "200"
SESSION_COOKIE = "bp_session"
CSRF_HEADER = "x-csrf-token"


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
        mailer: Mailer | None = None,
        clock: Callable[[], datetime] = utcnow,
        session_seconds: int = 8 * 3600,
        reset_seconds: int = 3600,
        public_url: str | None = None,
    ) -> None:
        self.users = users
        self.store = store
        self.lockout = lockout
        self.mailer = mailer
        self._clock = clock
        self.session_seconds = session_seconds
        self.reset_seconds = reset_seconds
        self.public_url = public_url.rstrip("/") if public_url else None

    def now(self) -> datetime:
        return self._clock()

    # -- external identities (LDAP, SAML, CAS, OIDC) -------------------------------------------
    def complete_external_login(self, identity: Identity, mapping: UserMapping) -> User:
        """Match a proven identity to a user: log in, create or update just in time, or deny
        (raises LoginDenied). Creation goes through ``UserService.create`` so the
        role-assignment rules and every record rule apply."""
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
                        False, exc.reason)
            raise
        except BookplateError as exc:
            reason = f"{decision.action.value} refused: {exc}"
            self._event(identity.institution, user_id or "", existing, identity.method.value,
                        False, reason)
            raise LoginDenied(reason) from exc
        self._event(identity.institution, user_id or "", user, identity.method.value, True, None)
        return user

    # -- own passwords -------------------------------------------------------------------------
    def verify_password(
        self, institution: str, login: str, password: str, id_type: str = ALL_UNIQUE
    ) -> User:
        """The user whose own password this is. Raises UserNotFound for an unknown login (the
        API reports it as Alma does) and AuthenticationFailed for everything else."""
        if not login or len(login) > 255 or not login.isprintable():
            raise UserNotFound(login[:255].encode("unicode_escape").decode("ascii"))
        user = self.users.get(institution, login, id_type)
        key = f"{institution}:{normalise_id(user.primary_id)}"
        now = self.now()
        if self.lockout.is_locked(key, now.timestamp()):
            raise AuthenticationFailed("account locked after repeated failures")
        refusal = may_sign_in(user, now.date())
        if refusal is not None:
            raise AuthenticationFailed(refusal)
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
        """Set a new own password (rules of 500038 apply) and clear force_password_change."""
        stored = self.users.get(institution, primary_id, PRIMARY_ID)
        stored.force_password_change = False
        return self.users.replace(institution, stored.primary_id,
                                  UserInput(stored, new_password), actor, id_type=PRIMARY_ID)

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

    def end_all_sessions(self, user: User, keep: str | None = None) -> int:
        """"Sign out everywhere": every web session of ``user`` ends (but the one of the
        cookie value ``keep``, e.g. after a password change in this browser)."""
        kept = digest(keep) if keep and len(keep) <= 200 else None
        ended = self.store.remove_user_sessions(user.institution, user.primary_id, kept)
        log.info("sessions_ended", institution=user.institution, user=user.primary_id,
                 sessions=ended, kept_one=kept is not None)
        return ended

    def change_own_password(self, user: User, current: str, new_password: str) -> User:
        """A signed-in person's own password change: internal users only (external users
        sign in through their institution's system, as for a reset), the current password
        checked like a sign-in (failures count towards the lock-out)."""
        if user.is_external:
            raise PasswordChangeNotAllowed()
        self.verify_password(user.institution, user.primary_id, current, PRIMARY_ID)
        return self.change_password(user.institution, user.primary_id, new_password,
                                    f"self:{user.primary_id}")

    # -- password reset by e-mailed one-time link ----------------------------------------------
    def request_reset(self, institution: str, login: str) -> bool:
        """Mail a one-time link to the user's preferred e-mail. Answers nothing about the
        account to the caller: False only says no mail went out (logged why)."""
        if self.mailer is None or self.public_url is None:
            log.warning("reset_disabled", reason="no SMTP host or no public_url configured")
            return False
        login = login.strip()
        if not login or len(login) > 255 or not login.isprintable():
            return False
        try:
            user = self.users.get(institution, login)
        except UserNotFound:
            log.info("reset_refused", institution=institution, reason="unknown login")
            return False
        if user.is_external or may_sign_in(user, self.now().date()) is not None:
            log.info("reset_refused", institution=institution, user=user.primary_id,
                     reason="external, inactive or expired user")
            return False
        emails = sorted(user.contact_info.emails, key=lambda e: not e.preferred)
        address = next((e.email_address for e in emails if e.email_address), None)
        if address is None:
            log.info("reset_refused", institution=institution, user=user.primary_id,
                     reason="no e-mail address")
            return False
        token = secrets.token_urlsafe(32)
        now = self.now()
        self.store.add_reset(digest(token), institution, user.primary_id,
                             now + timedelta(seconds=self.reset_seconds))
        link = f"{self.public_url}/auth/reset/{token}"
        minutes = self.reset_seconds // 60
        self.mailer.send(
            address,
            "Reset your library password",
            f"Someone asked to reset the password of the library account {user.primary_id}.\n"
            f"Open this link within {minutes} minutes to choose a new password:\n\n{link}\n\n"
            "The link works once. If you did not ask for it, ignore this message.\n",
        )
        log.info("reset_sent", institution=institution, user=user.primary_id)
        return True

    def reset_link_valid(self, token: str) -> bool:
        if not token or len(token) > 200:
            return False
        return self.store.reset_target(digest(token), self.now()) is not None

    def reset_password(self, token: str, new_password: str) -> User:
        """Use the link once: the rules of 500038 are checked first, so a rejected password
        leaves the link usable."""
        if not token or len(token) > 200:
            raise ResetLinkInvalid()
        now = self.now()
        target = self.store.reset_target(digest(token), now)
        if target is None:
            raise ResetLinkInvalid()
        institution, primary_id = target
        stored = self.users.get(institution, primary_id, PRIMARY_ID)
        check_password(new_password, stored.primary_id)
        if self.store.use_reset(digest(token), now) is None:
            raise ResetLinkInvalid()
        user = self.change_password(institution, primary_id, new_password, "auth:reset")
        self.lockout.clear(f"{institution}:{normalise_id(primary_id)}")
        return user

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
    ) -> tuple[list[LoginEvent], int]:
        start = datetime.combine(date_from, datetime.min.time(), UTC) if date_from else None
        end = (datetime.combine(date_to, datetime.min.time(), UTC) + timedelta(days=1)
               if date_to else None)
        return self.store.events(institution, start, end, successful, True, limit, offset)
