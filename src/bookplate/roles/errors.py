"""Errors of the roles area."""

from __future__ import annotations

from bookplate.errors import AccessError, ConflictError, NotFoundError


class PermissionDenied(AccessError):
    """The policy said no. The reason is for logs and for the person, never a secret."""

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(f"Not allowed: {action} ({reason}).")


class NotStaff(AccessError):
    """A staff member's question (their capabilities) asked with an API key."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} belong to a signed-in staff member, not to an API key.")


class LastAdministrator(ConflictError):
    def __init__(self) -> None:
        super().__init__(
            "Failed to update user: the institution must keep at least one active General "
            "System Administrator."
        )


class ProfileNotFound(NotFoundError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"Role profile {code} was not found.")


class RuleNotFound(NotFoundError):
    def __init__(self, rule_id: str) -> None:
        self.rule_id = rule_id
        super().__init__(f"Role assignment rule {rule_id} was not found.")


class NoStaffPrivileges(AccessError):
    """A staff token asked for a user who holds no role with staff privileges."""

    def __init__(self, primary_id: str) -> None:
        self.primary_id = primary_id
        super().__init__(
            f"User {primary_id} has no staff privileges: add an active staff role to the "
            "user's record first, e.g. role 21 (User Manager) or 32 (Circulation Desk "
            "Operator) scoped to the institution or a library (docs/roles.md)."
        )


class LibraryNotFound(NotFoundError):
    """A library code the institution does not have (``GET /conf/libraries/{code}/...``)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"Library {code[:100]} was not found in this institution.")
