"""What the authentication services need from storage, Redis and mail, and the interface
every sign-in method (``auth/backends/``) implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bookplate.auth.model import Identity, Method, ProfileChange, Registration, UserMapping
from bookplate.transactions import Transactional
from bookplate.users.ports import UserRepository


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
        user: str | None = None,
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


class RegistrationStore(Protocol):
    """Self-registrations waiting for staff; confirmation links kept as SHA-256 hashes."""

    def add(self, registration: Registration, token_hash: str) -> None: ...

    def get(self, institution: str, primary_id: str) -> Registration | None: ...

    def by_email(self, institution: str, email: str) -> list[Registration]: ...

    def by_link(self, token_hash: str, now: datetime) -> Registration | None:
        """The registration of a live, unused link; None otherwise."""
        ...

    def confirm(self, token_hash: str, now: datetime) -> bool:
        """Use the link (atomically, once): True when it was live."""
        ...

    def pending(self, institution: str, limit: int) -> list[Registration]: ...

    def remove(self, institution: str, primary_id: str, actor: str, action: str,
               detail: Mapping[str, Any]) -> bool:
        """Drop the registration and write its history line (``action`` on the user)."""
        ...


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


# --- external sign-in profiles and pending sign-ins ------------------------------------


@dataclass(frozen=True, slots=True)
class StoredProfile:
    institution: str
    method: Method
    code: str
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Pending:
    institution: str
    method: str
    code: str
    data: dict[str, Any]


class ProfileStore(Protocol):
    def put(self, profile: StoredProfile, now: datetime,
            change: ProfileChange | None = None) -> bool:
        """Store (replace) a profile; True when it was new. ``change``: the audit row."""
        ...

    def get(self, institution: str, method: str, code: str) -> StoredProfile | None: ...

    def history(self, institution: str, limit: int) -> list[dict[str, Any]]:
        """The latest audit rows of the institution's sign-in profiles, newest first."""
        ...

    def find(self, method: str, code: str) -> list[StoredProfile]:
        """Profiles of that method and code in every institution."""
        ...

    def list(self, institution: str | None, method: str | None) -> list[StoredProfile]: ...

    def remove(self, institution: str, method: str, code: str,
               change: ProfileChange | None = None) -> bool: ...


class PendingStore(Protocol):
    def put(self, token_hash: str, pending: Pending, expires_at: datetime) -> None: ...

    def get(self, token_hash: str, now: datetime) -> Pending | None: ...

    def take(self, token_hash: str, now: datetime) -> Pending | None:
        """Remove and return a live record (once: a second take gets None)."""
        ...


@dataclass(frozen=True, slots=True)
class SessionLink:
    """The provider session behind one Bookplate session (single logout). ``subject`` is the
    SAML NameID, CAS user or OIDC ``sub``; ``session_index`` the SAML SessionIndex or the
    SHA-256 of the CAS service ticket; ``data`` what a logout message needs later."""

    institution: str
    method: str
    code: str
    subject: str
    session_index: str | None
    data: dict[str, str]


class SessionLinkStore(Protocol):
    def put(self, session_hash: str, link: SessionLink, expires_at: datetime) -> None: ...

    def take(self, session_hash: str, now: datetime) -> SessionLink | None:
        """Remove and return the link of a session (sign-out here)."""
        ...

    def take_matching(self, institution: str, method: str, code: str, subject: str | None,
                      session_indexes: tuple[str, ...], now: datetime) -> list[str]:
        """Remove the links a provider's logout names and return their session hashes:
        ``subject`` None matches any subject; no ``session_indexes`` matches any index."""
        ...


# --- staff bearer tokens ---------------------------------------------------------------


class StaffTokenRepository(Protocol):
    def add(
        self, token_id: str, institution: str, primary_id: str, secret_hash: str, created: datetime
    ) -> None: ...

    def by_hash(self, secret_hash: str) -> tuple[str, str] | None:
        """(institution, primary_id) of a live token."""
        ...

    def revoke(self, token_id: str) -> bool: ...


class StaffTokensUnitOfWork(Transactional, Protocol):
    users: UserRepository
    staff_tokens: StaffTokenRepository


class ReplayCache(Protocol):
    """Provider messages already used (SAML assertion IDs). ``remember`` returns False if the
    key is already there; the key is kept until ``expires_at``."""

    def remember(self, key: str, expires_at: datetime) -> bool: ...


# --- the sign-in methods (auth/backends/) ---------------------------------------------------
#
# Two shapes: a *password* method checks a login name and password typed into Bookplate's own
# form (LDAP); a *redirect* method sends the browser to the provider and proves who comes back
# (SAML, CAS, OIDC). The service (``auth/external.py``) and the web routes
# (``web/external.py``) know only these protocols; each backend module holds one method's
# protocol work and registers itself in ``auth/backends/__init__.py``.


class SignInProfile(Protocol):
    """What the service reads of any method's profile dataclass."""

    @property
    def institution(self) -> str: ...

    @property
    def code(self) -> str: ...

    @property
    def mapping(self) -> UserMapping: ...


@dataclass(frozen=True, slots=True)
class BackendContext:
    """What a backend may need besides its profile, given once when the backends are built:
    the replay cache shared by every worker, and Bookplate's public base URL (None when not
    configured)."""

    replay: ReplayCache
    public_url: str | None


class Leg(StrEnum):
    """What one URL ``/auth/{method}/{code}/{endpoint}`` of a redirect method does."""

    START = "start"  # GET: the browser leaves for the provider
    FINISH = "finish"  # the browser comes back (GET: the query; POST: the form)
    METADATA = "metadata"  # GET: a document the provider reads (SAML SP metadata)
    LOGOUT = "logout"  # GET: the browser carries the provider's logout message or answer
    BACKCHANNEL = "backchannel"  # POST: the provider's server ends a session


@dataclass(frozen=True, slots=True)
class Started:
    """A redirect sign-in's first leg: where the browser goes, and what to keep server-side
    with the browser's pending sign-in until it comes back (``finish`` gets it again)."""

    redirect_url: str
    pending: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProviderLogout:
    """A provider's logout message, checked. ``end_sessions``: end the Bookplate sessions
    linked to ``subject`` (None: any) and ``session_indexes`` (empty: any); ``answer_url``:
    where the browser goes next (None: the sign-in page)."""

    end_sessions: bool
    subject: str | None = None
    session_indexes: tuple[str, ...] = ()
    answer_url: str | None = None


class PasswordBackend(Protocol):
    """A method that checks a password typed into Bookplate's sign-in form."""

    def authenticate(self, profile: Any, login: str, password: str) -> Identity:
        """Who this is; ``BadCredentials`` (counted by the lockout) when the password is
        wrong, another ``AuthenticationFailed`` otherwise."""
        ...


class RedirectBackend(Protocol):
    """A method whose provider signs the browser in elsewhere and sends it back."""

    #: (HTTP method, last path segment) -> what that URL does; ``("GET", "login")`` is the
    #: start of every method.
    endpoints: Mapping[tuple[str, str], Leg]
    #: True when the return leg leaves the pending sign-in in place (SAML: a replayed
    #: response must meet the replay cache); False: it is taken once.
    keeps_pending: bool

    def start(self, profile: Any, next_url: str) -> Started: ...

    def finish(self, profile: Any, pending: Mapping[str, Any], callback: Mapping[str, str]
               ) -> Identity:
        """Check what the browser brought back (``callback``: the query or form) against the
        ``pending`` state of its start; ``AuthenticationFailed`` when it does not hold."""
        ...

    def callback_refusal(self, callback: Mapping[str, str]) -> str | None:
        """A refusal the provider states in the return leg itself (an OIDC ``error``), found
        before the browser's pending sign-in is looked at (which then stays); None: none."""
        ...

    def session_link(self, profile: Any, identity: Identity) -> SessionLink | None:
        """The provider session to remember for single logout (None: none)."""
        ...

    def logout_url(self, profile: Any, link: SessionLink) -> str | None:
        """Where signing out here sends the browser so the provider signs out too."""
        ...

    def logout_fields(self) -> tuple[str, ...]:
        """The fields one of which a ``LOGOUT`` leg must carry (else: 400)."""
        ...

    def provider_logout(self, profile: Any, message: Mapping[str, str]) -> ProviderLogout:
        """A ``LOGOUT`` or ``BACKCHANNEL`` message from the provider, checked."""
        ...

    def metadata(self, profile: Any) -> tuple[str, str]:
        """The ``METADATA`` document and its media type."""
        ...


class PasswordBackendType(Protocol):
    """A password backend class, as registered: its method, profile dataclass and the profile
    settings never shown back (``profiles.public_config``)."""

    method: Method
    profile_type: type[Any]
    secret_settings: frozenset[str]

    def __call__(self, context: BackendContext) -> PasswordBackend: ...


class RedirectBackendType(Protocol):
    method: Method
    profile_type: type[Any]
    secret_settings: frozenset[str]

    def __call__(self, context: BackendContext) -> RedirectBackend: ...
