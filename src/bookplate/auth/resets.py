"""One-time password-reset links: asked for on the sign-in page (``/auth/forgot``, mailed in
the background so that neither the answer nor its time tells whether an account exists) or
triggered by staff (API, CLI), and used once on ``/auth/reset/{token}``.

The links are kept as hashes in the authentication store; the rules of a password and of who
may have one are :class:`~bookplate.auth.services.AuthService`'s.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from enum import StrEnum

import structlog

from bookplate.auth.errors import MailUnavailable, ResetLinkInvalid, ResetNotPossible
from bookplate.auth.ports import AttemptCounter, Mailer
from bookplate.auth.services import AuthService, account_key, digest, may_sign_in
from bookplate.users.errors import UserNotFound
from bookplate.users.model import User
from bookplate.users.password_rules import check_password
from bookplate.users.ports import PRIMARY_ID

log = structlog.get_logger("bookplate.auth")


class ResetRequest(StrEnum):
    """What ``request_reset`` did (never whether the account exists)."""

    QUEUED = "queued"  # handed to the background sender (which may find nothing to send)
    LIMITED = "limited"  # too many requests for this login name or from this address
    DISABLED = "disabled"  # no SMTP host or no public URL


class PasswordResets:
    def __init__(  # noqa: PLR0913 - wiring: each store and setting is passed in by bootstrap
        self,
        auth: AuthService,
        *,
        mailer: Mailer | None = None,
        reset_seconds: int = 3600,
        public_url: str | None = None,
        attempts: AttemptCounter | None = None,
        reset_limit_per_account: int = 3,
        reset_limit_per_address: int = 20,
        reset_limit_window_seconds: int = 3600,
        background: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.auth = auth
        self.mailer = mailer
        self.reset_seconds = reset_seconds
        self.public_url = public_url.rstrip("/") if public_url else None
        self.attempts = attempts
        self.reset_limit_per_account = reset_limit_per_account
        self.reset_limit_per_address = reset_limit_per_address
        self.reset_limit_window_seconds = reset_limit_window_seconds
        self._executor: ThreadPoolExecutor | None = None
        #: Runs work off the request path (reset mails); a small thread pool by default.
        self.background: Callable[[Callable[[], None]], object] = background or self._submit

    def _submit(self, job: Callable[[], None]) -> object:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bp-mail")
        return self._executor.submit(job)

    def close(self) -> None:
        """Wait for queued background work (reset mails) and stop its threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _reset_address(self, user: User) -> str | None:
        emails = sorted(user.contact_info.emails, key=lambda e: not e.preferred)
        return next((e.email_address for e in emails if e.email_address), None)

    def _new_reset_link(self, user: User) -> str:
        assert self.public_url is not None
        token = secrets.token_urlsafe(32)
        self.auth.store.add_reset(digest(token), user.institution, user.primary_id,
                             self.auth.now() + timedelta(seconds=self.reset_seconds))
        return f"{self.public_url}/auth/reset/{token}"

    def _mail_link(self, user: User, address: str, link: str, by_staff: bool) -> None:
        assert self.mailer is not None
        minutes = self.reset_seconds // 60
        why = ("The library has asked you to choose a new password for"
               if by_staff else "Someone asked to reset the password of")
        self.mailer.send(
            address,
            "Reset your library password",
            f"{why} the library account {user.primary_id}.\n"
            f"Open this link within {minutes} minutes to choose a new password:\n\n{link}\n\n"
            "The link works once. If you did not ask for it, ignore this message.\n",
        )

    def staff_reset(self, institution: str, user_id: str, actor: str, *,
                    send: bool = True) -> tuple[User, str]:
        """A one-time reset link for the user, triggered by staff (API, CLI). ``send``: mail
        it to the user's preferred address and answer that address; otherwise answer the
        link itself (the CLI's ``--print-link``, for someone at the desk without e-mail).
        Refused (ResetNotPossible) without public URL or mail, for an inactive or expired
        account, an account that has no Bookplate password or one without e-mail."""
        user = self.auth.users.get(institution, user_id)
        if self.public_url is None:
            raise ResetNotPossible("No public URL is configured (BOOKPLATE_PUBLIC_URL).")
        if not self.auth.local_password_allowed(user):
            raise ResetNotPossible("The account signs in through its identity provider; it "
                                   "has no Bookplate password.")
        refusal = may_sign_in(user, self.auth.now().date())
        if refusal is not None:
            raise ResetNotPossible(f"The account cannot sign in ({refusal}).")
        if not send:
            link = self._new_reset_link(user)
            log.info("reset_link_made", institution=institution, user=user.primary_id,
                     by=actor)
            return user, link
        if self.mailer is None:
            raise ResetNotPossible("No mail server is configured (BOOKPLATE_SMTP_HOST).")
        address = self._reset_address(user)
        if address is None:
            raise ResetNotPossible("The user has no e-mail address.")
        link = self._new_reset_link(user)
        try:
            self._mail_link(user, address, link, by_staff=True)
        except OSError as exc:  # smtplib's errors are OSErrors
            log.warning("reset_mail_failed", institution=institution, user=user.primary_id,
                        error=type(exc).__name__)
            raise MailUnavailable("The mail server did not accept the message.") from None
        log.info("reset_sent", institution=institution, user=user.primary_id, by=actor)
        return user, address

    # -- password reset by e-mailed one-time link ----------------------------------------------
    def request_reset(self, institution: str, login: str, address: str | None = None
                      ) -> ResetRequest:
        """Someone asks for a reset link (``/auth/forgot``). The request path does the same
        work whatever the login names (two counter updates and a hand-over), so neither the
        answer nor its time tells whether an account exists; looking the user up, making
        the link and mailing it happen in ``background``. At most
        ``reset_limit_per_account`` requests per login name (and as many per account,
        counted by the sender) and ``reset_limit_per_address`` per client address, in
        ``reset_limit_window_seconds``."""
        if self.mailer is None or self.public_url is None:
            log.warning("reset_disabled", reason="no SMTP host or no public_url configured")
            return ResetRequest.DISABLED
        login = login.strip()
        if not login or len(login) > 255 or not login.isprintable():
            return ResetRequest.QUEUED
        if self.attempts is not None:
            now = self.auth.now().timestamp()
            window = self.reset_limit_window_seconds
            by_name = self.attempts.hit(f"reset:login:{account_key(institution, login)}", now,
                                        window)
            by_address = self.attempts.hit(f"reset:address:{(address or '-')[:64]}", now, window)
            if by_name > self.reset_limit_per_account or by_address > self.reset_limit_per_address:
                log.info("reset_rate_limited", institution=institution, address=address,
                         per_login=by_name, per_address=by_address)
                return ResetRequest.LIMITED
        self.background(functools.partial(self._send_reset, institution, login))
        return ResetRequest.QUEUED

    def _send_reset(self, institution: str, login: str) -> None:
        """The background half of ``request_reset``; never raises (logs why no mail went)."""
        try:
            try:
                user = self.auth.users.get(institution, login)
            except UserNotFound:
                log.info("reset_refused", institution=institution, reason="unknown login")
                return
            if not self.auth.local_password_allowed(user) or may_sign_in(
                    user, self.auth.now().date()) is not None:
                log.info("reset_refused", institution=institution, user=user.primary_id,
                         reason="no Bookplate password allowed, inactive or expired user")
                return
            if self.attempts is not None and self.attempts.hit(
                    f"reset:account:{account_key(institution, user.primary_id)}",
                    self.auth.now().timestamp(),
                    self.reset_limit_window_seconds) > self.reset_limit_per_account:
                log.info("reset_rate_limited", institution=institution, user=user.primary_id)
                return
            address = self._reset_address(user)
            if address is None:
                log.info("reset_refused", institution=institution, user=user.primary_id,
                         reason="no e-mail address")
                return
            self._mail_link(user, address, self._new_reset_link(user), by_staff=False)
            log.info("reset_sent", institution=institution, user=user.primary_id)
        except Exception:  # a background job: the reason goes to the log
            log.exception("reset_mail_failed", institution=institution)

    def reset_link_valid(self, token: str) -> bool:
        if not token or len(token) > 200:
            return False
        return self.auth.store.reset_target(digest(token), self.auth.now()) is not None

    def reset_password(self, token: str, new_password: str) -> User:
        """Use the link once: the rules of 500038 are checked first, so a rejected password
        leaves the link usable."""
        if not token or len(token) > 200:
            raise ResetLinkInvalid()
        now = self.auth.now()
        target = self.auth.store.reset_target(digest(token), now)
        if target is None:
            raise ResetLinkInvalid()
        institution, primary_id = target
        stored = self.auth.users.get(institution, primary_id, PRIMARY_ID)
        if not self.auth.local_password_allowed(stored):
            raise ResetLinkInvalid()
        check_password(new_password, stored.primary_id)
        if self.auth.store.use_reset(digest(token), now) is None:
            raise ResetLinkInvalid()
        user = self.auth.change_password(institution, primary_id, new_password, "auth:reset")
        self.auth.lockout.clear(account_key(institution, primary_id))
        ended = self.auth.store.remove_user_sessions(institution, user.primary_id)
        log.info("password_reset", institution=institution, user=user.primary_id,
                 sessions_ended=ended)
        return user
