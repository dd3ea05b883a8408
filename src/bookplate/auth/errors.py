"""Authentication errors. Callers are told only "authentication failed"; the reason is for
the log (``reason``), never for the response."""

from __future__ import annotations

from bookplate.errors import (
    AccessError,
    BookplateError,
    ConflictError,
    InputError,
    NotFoundError,
)


class AuthenticationFailed(AccessError):
    """Wrong credentials, unknown, locked, inactive or expired account, bad token..."""

    def __init__(self, reason: str) -> None:
        super().__init__("User authentication failed")
        self.reason = reason


class LoginDenied(AuthenticationFailed):
    """An identity proven by a backend that ``matching.decide`` (or the write) refused."""


class TokenRejected(AuthenticationFailed):
    """A discovery JWT that is malformed, expired, wrongly signed or for another place."""


class ResetLinkInvalid(InputError):
    """A password-reset link that is unknown, used or expired."""

    def __init__(self) -> None:
        super().__init__("The password reset link is invalid or has expired.")


class ResetNotPossible(InputError):
    """A staff-triggered password reset that cannot be sent (no mail configured, no e-mail
    address, an account that has no Bookplate password)."""


class MailUnavailable(BookplateError):
    """The mail server did not take the message."""


# --- protocol adapters (auth/backends): LDAP, SAML, CAS, OIDC ---------------------------------


class BadCredentials(AuthenticationFailed):
    """A backend refused the user name or password (wrong, empty, unacceptable input)."""


class ProtocolRefused(AuthenticationFailed):
    """A SAML response, CAS ticket or OIDC answer that is malformed, forged, replayed, for
    another audience/service, or out of date."""


class ProviderUnavailable(AuthenticationFailed):
    """No configured server of the identity provider answered (or it answered nonsense)."""


class ProfileInvalid(InputError):
    """An LDAP/SAML/CAS/OIDC profile's configuration is not acceptable."""


class ProfileNotFound(InputError):
    """No profile of that method and code for the institution."""


class PasswordChangeNotAllowed(InputError):
    """An external user has no password here: they sign in through their institution."""

    def __init__(self) -> None:
        super().__init__("This account signs in through your institution's sign-in; its "
                         "password is changed there.")


# --- self-registration (auth/registrations.py) -------------------------------------------


class RegistrationClosed(NotFoundError):
    """Self-registration is not switched on for the institution (or its pending group is
    not a user group there)."""

    def __init__(self) -> None:
        super().__init__("Self-registration is not available here.")


class RegistrationInvalid(InputError):
    """A registration form with fields that cannot be taken; ``errors`` maps each form
    field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Some fields need to be corrected.")
        self.errors = errors


class RegistrationLinkInvalid(InputError):
    """A confirmation link that is unknown, used, forged or expired."""

    def __init__(self) -> None:
        super().__init__("This confirmation link is invalid or has expired.")


class RegistrationNotPending(NotFoundError):
    """The registration asked for is not (or no longer) in the queue."""

    def __init__(self, primary_id: str) -> None:
        super().__init__(f"There is no pending registration {primary_id}.")
        self.primary_id = primary_id


class RegistrationNotConfirmed(ConflictError):
    """Staff tried to approve a registration whose e-mail address is not confirmed yet."""

    def __init__(self) -> None:
        super().__init__("The e-mail address of this registration is not confirmed yet: "
                         "it can be rejected or merged, not approved.")
