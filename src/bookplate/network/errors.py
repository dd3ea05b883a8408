"""Errors of fulfillment networks and linked accounts. Messages follow Alma's wording where
Alma has one (the Users API's error list, SPEC section 2.3); each class carries its code."""

from __future__ import annotations

from bookplate.errors import ConflictError, InputError, NotFoundError


class NetworkError(InputError):
    """Base: ``code`` is the Alma error code the API answers with (HTTP 400)."""

    code = "402119"

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(f"{message} {detail}".strip())
        self.detail = detail


class SourceInstitutionInvalid(NetworkError):
    code = "401651"

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "Source institution not valid or not part of fulfillment network.", detail
        )


class InstitutionNotFound(NetworkError):
    code = "60224"

    def __init__(self, code: str) -> None:
        super().__init__("Organization institution not found.", f"({code})")


class NetworkNotFound(NetworkError):
    """The partner's deployment does not answer as a network member (wrong URL or key)."""

    code = "60225"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Fulfillment network not found.", detail)


class SourceUserNotFound(NetworkError):
    """POST /users and op=refresh: the user to copy does not exist at the source."""

    code = "60226"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Fulfillment network copied user not found.", detail)


class SourceSearchUserNotFound(NetworkError, NotFoundError):
    """GET /users?source_institution_code=&source_user_id=: no such user at the source."""

    code = "401861"

    def __init__(self) -> None:
        super().__init__("Source institution user with given identifier not found.")


class LocalCopyNotFound(NetworkError, NotFoundError):
    code = "4019990"

    def __init__(self) -> None:
        super().__init__("Local copied user information not found.")


class LinkedAccountExists(NetworkError, ConflictError):
    code = "60227"

    def __init__(self, primary_id: str) -> None:
        super().__init__(
            "Linked account for user already exists.", f"(local user {primary_id})"
        )
        self.primary_id = primary_id


class LinkFailed(NetworkError):
    code = "60228"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Failed to create linked user account.", detail)


class NoLinkedAccount(NetworkError):
    code = "60229"

    def __init__(self, user_id: str) -> None:
        super().__init__("Failed to find linked account for user.", f"({user_id})")


class RefreshFailed(NetworkError):
    code = "60230"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Failed to refresh linked user.", detail)


class IdentifierIssues(NetworkError, ConflictError):
    """The copy's primary ID is held by another local user: a possible duplicate account."""

    code = "60231"

    def __init__(self, detail: str = "", holder: str | None = None) -> None:
        super().__init__("Failed to link user due to identifier issues.", detail)
        self.holder = holder


class UserGroupEmpty(NetworkError):
    code = "60232"

    def __init__(self) -> None:
        super().__init__(
            "Failed to link user due to user group empty.",
            "(the source user has none and the linked account rule sets none)",
        )


class PartnerUnavailable(NetworkError):
    """A partner on another deployment did not answer in time or answered an error."""

    code = "60228"

    def __init__(self, partner: str, reason: str) -> None:
        super().__init__(f"Partner institution {partner} is unavailable:", reason)
        self.partner = partner
        self.reason = reason


class PartnerNotFound(NetworkError, NotFoundError):
    code = "402119"

    def __init__(self, institution: str, partner: str) -> None:
        super().__init__(f"Institution {institution} has no partner {partner}.")


class InvalidPartner(NetworkError):
    code = "40166411"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"The parameter {field} is invalid: {reason}")
        self.field = field


class ScopeClashes(NetworkError, ConflictError):
    """Switching the ID scope would break uniqueness: ``clashes`` lists every case."""

    code = "401851"

    def __init__(self, count: int, clashes: object) -> None:
        super().__init__(
            f"{count} ID values are held by more than one user under the new scope; "
            "nothing was changed."
        )
        self.count = count
        self.clashes = clashes
