"""Self-registration (docs/patron.md): a public form makes a PUBLIC, INTERNAL user in the
institution's pending group, inactive until the person opens the link mailed to them;
staff then approve, merge or reject it (``auth.registration_queue``).

The form's answer is the same whether the e-mail address is known or not: the request path
checks the fields (their rules do not depend on who is registered), counts the request
and hands over; looking for an existing account, creating the record and mailing happen in
``background``. An address that already has an account or a live registration gets a
message saying so instead of a second record. The confirmation link is a random token of
32 bytes; only its SHA-256 is stored, so it cannot be forged, it works once (the hash is
cleared when used) and not after ``link_hours``.
"""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog

from bookplate.auth.errors import RegistrationClosed, RegistrationInvalid, RegistrationLinkInvalid
from bookplate.auth.model import Registration
from bookplate.auth.ports import AttemptCounter, Mailer, RegistrationStore
from bookplate.auth.services import digest, utcnow
from bookplate.config import SelfRegistration
from bookplate.errors import BookplateError
from bookplate.users.errors import DuplicateId, PasswordRejected, UserNotFound
from bookplate.users.model import ContactInfo, Email, User, UserInput
from bookplate.users.password_rules import check_password
from bookplate.users.ports import PRIMARY_ID
from bookplate.users.queries import UserSearch, box_conditions
from bookplate.users.services import UserService
from bookplate.users.validation import validate

log = structlog.get_logger("bookplate.auth.registrations")

ACTOR = "self-registration"
# Not the pattern of RFC 5322: one "@", a dot in the domain, no spaces or quotes.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MAX_NAME = 100
PER_EMAIL = 3
_NEW = "password"  # the form field of the new password


class RegisterOutcome(StrEnum):
    QUEUED = "queued"  # handed to the background (which may find the address known)
    LIMITED = "limited"  # too many registrations from this address or for this e-mail


@dataclass(frozen=True, slots=True)
class RegistrationForm:
    first_name: str
    last_name: str
    email: str
    password: str
    confirm: str


def _name(value: str, label: str, errors: dict[str, str], key: str) -> str:
    text = " ".join(value.split())
    if not text:
        errors[key] = f"Fill in your {label}."
    elif len(text) > MAX_NAME or not text.isprintable() or any(ch in text for ch in "<>{}"):
        errors[key] = f"Your {label} may have up to {MAX_NAME} letters, without <, >, {{ or }}."
    return text


def check_form(form: RegistrationForm) -> dict[str, str]:
    """The form's own rules, field by field (empty: all fine)."""
    errors: dict[str, str] = {}
    _name(form.first_name, "first name", errors, "first_name")
    _name(form.last_name, "last name", errors, "last_name")
    email = form.email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        errors["email"] = "Enter an e-mail address such as name@example.org."
    if not form.password or len(form.password) > 1024:
        errors[_NEW] = "Choose a password."
    elif form.password != form.confirm:
        errors["confirm"] = "The two passwords differ."
    else:
        try:
            check_password(form.password, email.split("@")[0] or email)
        except PasswordRejected:
            errors[_NEW] = ("The password must have at least 8 characters, must not "
                                  "contain your name or e-mail address and must not be a "
                                  "common password.")
    return errors


class SelfRegistrations:
    def __init__(  # noqa: PLR0913 - wiring: each store and setting is passed in by bootstrap
        self,
        users: UserService,
        store: RegistrationStore,
        policies: Mapping[str, SelfRegistration],
        *,
        mailer: Mailer | None,
        public_url: str | None,
        attempts: AttemptCounter | None = None,
        limit_per_address: int = 10,
        window_seconds: int = 3600,
        clock: Callable[[], datetime] = utcnow,
        background: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.users = users
        self.store = store
        self.policies = dict(policies)
        self.mailer = mailer
        self.public_url = public_url.rstrip("/") if public_url else None
        self.attempts = attempts
        self.limit_per_address = limit_per_address
        self.window_seconds = window_seconds
        self.now = clock
        self._executor: ThreadPoolExecutor | None = None
        self.background: Callable[[Callable[[], None]], object] = background or self._submit

    def _submit(self, job: Callable[[], None]) -> object:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bp-register")
        return self._executor.submit(job)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- the form ---------------------------------------------------------------------------
    def why_closed(self, institution: str) -> str | None:
        """Why the institution's form is not open (None: it is): not switched on, no mail
        or public URL, or a pending group that cannot hold PUBLIC users."""
        policy = self.policies.get(institution)
        if policy is None:
            return "not switched on (BOOKPLATE_SELF_REGISTRATION)"
        if self.mailer is None or self.public_url is None:
            return "no SMTP host or no public URL configured"
        book = self.users.code_book(institution)
        if policy.pending_group not in book.group_record_types.get("PUBLIC", frozenset()):
            return f"the user group {policy.pending_group} is not enabled for PUBLIC records"
        return None

    def policy(self, institution: str) -> SelfRegistration:
        """The institution's settings; RegistrationClosed when ``why_closed`` says why."""
        reason = self.why_closed(institution)
        if reason is not None:
            if institution in self.policies:
                log.warning("registration_unavailable", institution=institution, reason=reason)
            raise RegistrationClosed()
        return self.policies[institution]

    def draft(self, institution: str, form: RegistrationForm, primary_id: str) -> User:
        """The record a registration makes, checked by the rules every record meets."""
        policy = self.policy(institution)
        errors = check_form(form)
        if errors:
            raise RegistrationInvalid(errors)
        user = User(
            primary_id, record_type="PUBLIC", account_type="INTERNAL", status="INACTIVE",
            user_group=policy.pending_group, first_name=" ".join(form.first_name.split()),
            last_name=" ".join(form.last_name.split()),
            expiry_date=(self.now() + timedelta(days=policy.pending_days)).date(),
            contact_info=ContactInfo(emails=[Email(form.email.strip(), preferred=True,
                                                   email_types=["personal"])]),
        )
        user.purge_date = user.expiry_date
        book = self.users.code_book(institution)
        if not book.has("UserEmailTypes", "personal"):
            user.contact_info.emails[0].email_types = []
        try:
            validate(user, book, form.password)
        except BookplateError as exc:
            log.info("registration_invalid", institution=institution, reason=str(exc)[:200])
            raise RegistrationInvalid({"": str(exc)}) from None
        return user

    def register(self, institution: str, form: RegistrationForm,
                 address: str | None = None) -> RegisterOutcome:
        """Checks the form (RegistrationInvalid), counts the request, hands over."""
        user = self.draft(institution, form, "PENDING-CHECK")
        email = form.email.strip().lower()
        if self.attempts is not None:
            now, window = self.now().timestamp(), self.window_seconds
            by_address = self.attempts.hit(f"register:address:{(address or '-')[:64]}", now,
                                           window)
            by_email = self.attempts.hit(f"register:email:{institution}:{email}", now, window)
            if by_address > self.limit_per_address or by_email > PER_EMAIL:
                log.info("registration_rate_limited", institution=institution,
                         address=address, per_address=by_address, per_email=by_email)
                return RegisterOutcome.LIMITED
        self.background(functools.partial(self._create, institution, user, form.password,
                                          email, address))
        return RegisterOutcome.QUEUED

    # -- the background half ----------------------------------------------------------------
    def _known(self, institution: str, email: str) -> bool:
        """An account holds the address, or a registration for it is live (an unconfirmed
        one whose link has expired is dropped: the person may register again)."""
        live = False
        for old in self.store.by_email(institution, email):
            if old.confirmed_at is None and old.link_expires_at <= self.now():
                self._drop(old, "registration.expired")
            else:
                live = True
        if live:
            return True
        found = self.users.search(UserSearch(institution, box_conditions(email), limit=1))
        return found.total > 0

    def _drop(self, registration: Registration, action: str) -> None:
        with contextlib.suppress(UserNotFound):
            self.users.delete(registration.institution, registration.primary_id, PRIMARY_ID)
        self.store.remove(registration.institution, registration.primary_id, ACTOR, action, {})

    def _create(self, institution: str, draft: User, password: str, email: str,
                address: str | None) -> None:
        """Never raises (the reason goes to the log)."""
        try:
            if self._known(institution, email):
                self._mail(email, "Your library registration",
                           "Someone, perhaps you, tried to register at the library with this "
                           "e-mail address, which already has an account or a registration "
                           "in progress. No new account was made.\n\nIf you forgot your "
                           f"password, ask for a new one at {self.public_url}/auth/forgot\n")
                log.info("registration_refused", institution=institution,
                         reason="e-mail address known")
                return
            user = self._store_new(institution, draft, password)
            token = secrets.token_urlsafe(32)
            policy = self.policies[institution]
            now = self.now()
            registration = Registration(institution, user.primary_id, email, now,
                                        now + timedelta(hours=policy.link_hours),
                                        address=(address or None) and address[:64])
            try:
                self.store.add(registration, digest(token))
                self._mail(email, "Confirm your library registration",
                           f"Welcome, {user.first_name}.\n\nYour user ID is {user.primary_id}."
                           f"\nOpen this link within {policy.link_hours} hours to confirm "
                           f"your e-mail address:\n\n{self.public_url}/register/confirm/"
                           f"{token}\n\nThe library then looks at your registration. If you "
                           "did not register, ignore this message.\n")
            except Exception:  # no half-made registration: the record goes too
                self._drop(registration, "registration.failed")
                raise
            log.info("registration_made", institution=institution, user=user.primary_id)
        except Exception:  # a background job: the reason goes to the log
            log.exception("registration_failed", institution=institution)

    def _store_new(self, institution: str, draft: User, password: str) -> User:
        for _ in range(5):
            draft.primary_id = "R-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
            try:
                return self.users.create(institution, UserInput(draft, password), ACTOR)
            except DuplicateId:
                continue
        raise RuntimeError("no free user ID for a registration")

    def _mail(self, to: str, subject: str, body: str) -> None:
        assert self.mailer is not None
        self.mailer.send(to, subject, body)

    # -- the link ---------------------------------------------------------------------------
    def link_valid(self, token: str) -> bool:
        if not token or len(token) > 200:
            return False
        return self.store.by_link(digest(token), self.now()) is not None

    def confirm(self, token: str) -> User:
        """The person opened their link: the record becomes usable (ACTIVE, still in the
        pending group until staff act). RegistrationLinkInvalid for an unknown, used,
        forged or expired link."""
        if not token or len(token) > 200:
            raise RegistrationLinkInvalid()
        registration = self.store.by_link(digest(token), self.now())
        if registration is None:
            raise RegistrationLinkInvalid()

        def activate(user: User) -> None:
            user.status = "ACTIVE"

        user = self.users.staff_update(registration.institution, registration.primary_id,
                                       activate, f"self:{registration.primary_id}")
        if not self.store.confirm(digest(token), self.now()):
            raise RegistrationLinkInvalid()  # used meanwhile by another request
        log.info("registration_confirmed", institution=user.institution,
                 user=user.primary_id)
        return user
