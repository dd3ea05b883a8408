"""What the authentication services need from storage, Redis and mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class LockoutCounter(Protocol):
    """Failed sign-ins per account, shared by every worker process (Redis or database)."""

    def is_locked(self, key: str, now: float) -> bool: ...

    def failure(self, key: str, now: float) -> bool:
        """Count one failure; True when this failure locked the account."""
        ...

    def clear(self, key: str) -> None:
        """Forget the failures and end a lock (success, reset, an administrator's unlock)."""
        ...


class AttemptCounter(Protocol):
    """Requests per key (password-reset requests per account and per client address), shared
    by every worker process (Redis or database)."""

    def hit(self, key: str, now: float, window_seconds: int) -> int:
        """Count one request; return how many there were in the window, this one included.
        A request more than ``window_seconds`` after the previous one starts a new count."""
        ...


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    institution: str
    primary_id: str
    method: str
    csrf: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LoginEvent:
    institution: str
    login_name: str
    primary_id: str | None
    method: str
    success: bool
    staff: bool
    at: datetime
    address: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    institution: str
    private_pem: str
    created_at: datetime
    retired_at: datetime | None = None


class AuthStore(Protocol):
    # sessions
    def add_session(self, session: Session) -> None: ...

    def session(self, token_hash: str, now: datetime) -> Session | None: ...

    def remove_session(self, token_hash: str) -> None: ...

    def remove_user_sessions(self, institution: str, primary_id: str,
                             keep: str | None = None) -> int:
        """End every session of the user except the one whose hash is ``keep``; how many."""
        ...

    # sign-in profiles (the part the password rules need, without the protocol adapters)
    def profile_allows_local_password(self, institution: str, code: str) -> bool:
        """True when a sign-in profile ``code`` of the institution sets
        ``mapping.local_password``."""
        ...

    # login events (staff login report)
    def record_event(self, event: LoginEvent) -> None: ...

    def events(
        self,
        institution: str,
        date_from: datetime | None,
        date_to: datetime | None,
        successful: bool | None,
        staff_only: bool,
        limit: int,
        offset: int,
    ) -> tuple[list[LoginEvent], int]: ...

    # one-time password-reset links
    def add_reset(self, token_hash: str, institution: str, primary_id: str,
                  expires_at: datetime) -> None: ...

    def reset_target(self, token_hash: str, now: datetime) -> tuple[str, str] | None:
        """(institution, primary_id) of a live, unused link; None otherwise."""
        ...

    def use_reset(self, token_hash: str, now: datetime) -> tuple[str, str] | None:
        """Mark the link used (atomically, once) and return its target; None if it was not
        live."""
        ...

    # discovery-token signing keys
    def signing_keys(self, institution: str) -> list[SigningKey]: ...

    def add_signing_key(self, key: SigningKey, retire_before: datetime) -> None:
        """Store ``key`` as the active one, retire the previously active key (now) and drop
        keys retired before ``retire_before`` (their tokens have all expired)."""
        ...


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...
