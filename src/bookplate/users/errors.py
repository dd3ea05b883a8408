"""Errors of the user record. Messages follow Alma's wording (SPEC section 2.3)."""

from __future__ import annotations

from bookplate.errors import ConflictError, InputError, NotFoundError


class UserNotFound(NotFoundError):
    def __init__(self, identifier: str, id_type: str | None = None) -> None:
        self.identifier = identifier
        self.id_type = id_type
        if id_type is None:
            super().__init__(f"User with identifier {identifier} was not found.")
        else:
            super().__init__(f"User with identifier {identifier} of type {id_type} was not found.")


class UserNotFoundByType(UserNotFound):
    """No user holds the value as an identifier of the type the caller named (``user_id_type``
    given): Alma answers 401890 there, 401861 for the default look-up."""

    def __init__(self, identifier: str, id_type: str) -> None:
        super().__init__(identifier, id_type)


class LinkingIdNotFound(UserNotFoundByType):
    """No user holds the linking ID (``user_id_type=linking_id``): Alma answers 4019998."""

    def __init__(self, identifier: str) -> None:
        super().__init__(identifier, "linking_id")


def user_not_found(identifier: str, id_type: str | None) -> UserNotFound:
    """The not-found error of a look-up by ``id_type`` (None: any unique ID)."""
    if id_type is None:
        return UserNotFound(identifier)
    if id_type == "linking_id":  # users.ports.LINKING_ID (errors import no other module)
        return LinkingIdNotFound(identifier)
    return UserNotFoundByType(identifier, id_type)


class SourceUserNotFound(NotFoundError):
    """No linked account of that source institution's user (fulfillment networks, 4019990)."""

    def __init__(self, identifier: str, source_institution: str) -> None:
        super().__init__(
            f"User with source identifier {identifier} of institution "
            f"{source_institution} was not found."
        )


class CodeTableNotFound(NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Code table {name[:100]} was not found.")


class DuplicateId(ConflictError):
    """A primary ID or identifier value is already held by another user (401851)."""

    def __init__(self, value: str, id_type: str = "primary_id") -> None:
        self.value = value
        self.id_type = id_type
        super().__init__(f"User with identifier {value} of type {id_type} already exists.")


class RepeatedIdentifier(InputError):
    """The same identifier value appears twice in one record."""

    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(
            f"Given field user_identifier has invalid value {value}: "
            "the value appears more than once in this user."
        )


class MandatoryFieldMissing(InputError):
    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"Mandatory field is missing: {field}")


class InvalidFieldValue(InputError):
    """A field has a value of the wrong shape (bad date, too long, control characters)."""

    def __init__(self, field: str, value: str, reason: str = "") -> None:
        self.field = field
        self.value = value
        shown = value if len(value) <= 60 else value[:57] + "..."
        tail = f" ({reason})" if reason else ""
        super().__init__(f"Given field {field} has invalid value {shown}{tail}")


class TooManyValues(InvalidFieldValue):
    """A list of a record holds more entries than Bookplate keeps (40166404), or the record's
    text is larger than one record may be (users.validation.MAX_LIST_ITEMS)."""

    def __init__(self, field: str, count: int, limit: int, unit: str = "entries") -> None:
        self.field = field
        self.value = str(count)
        self.count = count
        self.limit = limit
        InputError.__init__(
            self, f"Given field {field} has {count} {unit}; at most {limit} are allowed."
        )


# The tables ``bookplate codes standard`` completes (users.standard_codes).
STANDARD_TABLE_NAMES = frozenset({"CountryCodes", "UserPreferredLanguage"})


class InvalidCode(InputError):
    """A code that is not in its code table (401864)."""

    def __init__(
        self, kind: str, code: str, table: str | None = None, institution: str | None = None
    ) -> None:
        self.kind = kind
        self.code = code
        self.table = table
        shown = code if len(code) <= 60 else code[:57] + "..."
        message = f"Given {kind} type ({shown}) is invalid."
        if table:
            # Name the table and the command that adds the code (docs/operations.md).
            inst = institution or "INSTITUTION"
            message += (
                f" Code table {table} has no such code; add it with"
                f' "bookplate codes set {inst} {table} CODE DESCRIPTION"'
            )
            if table in STANDARD_TABLE_NAMES:
                message += f' or load the ISO list with "bookplate codes standard {inst}"'
            message += "."
        super().__init__(message)


class NotSupportedForRecordType(InputError):
    """Something a record type may not hold, e.g. identifiers on a CONTACT user (401863)."""

    def __init__(self, kind: str, value: str, record_type: str) -> None:
        self.kind = kind
        self.value = value
        self.record_type = record_type
        super().__init__(
            f"Given {kind} type ({value}) is not supported for given user record type "
            f"({record_type})."
        )


class IllegalUserGroup(InputError):
    """The user group is not enabled for the record type (401852)."""

    def __init__(self, user_group: str, record_type: str) -> None:
        self.user_group = user_group
        self.record_type = record_type
        super().__init__(
            f"Given user group is not legal: {user_group} is not enabled for record type "
            f"{record_type}."
        )


class ExternalIdMustBeEmpty(InputError):
    def __init__(self) -> None:
        super().__init__("External Id must be empty for internal user.")


class ExternalIdRequired(InputError):
    def __init__(self) -> None:
        super().__init__("External Id must be given for external user.")


class UnsupportedAccountType(InputError):
    """'Internal with external authentication' (401855)."""

    def __init__(self) -> None:
        super().__init__(
            "The account type 'Internal with external authentication' is currently not supported."
        )


class IllegalAccountType(InputError):
    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__("The given user account type is illegal (must be INTERNAL/EXTERNAL).")


class ExternalIdImmutable(ConflictError):
    def __init__(self) -> None:
        super().__init__(
            "The external id in DB does not fit the given value in xml - external id cannot "
            "be updated."
        )


class ActionNotSupported(InputError):
    """A change the API does not allow, e.g. external to internal (401859)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Action currently not supported: {detail}")


class PasswordRejected(InputError):
    def __init__(self) -> None:
        super().__init__(
            "New password must be at least 8 characters long and must not include the "
            "user-name or any commonly used password."
        )


class UnreadableRecord(InputError):
    """The body could not be parsed as a user record (401676)."""

    def __init__(self, detail: str, kind: str = "XML") -> None:
        self.detail = detail
        super().__init__(f"No valid {kind} was given. {detail}".strip())


class InvalidParameter(InputError):
    """A query parameter is not valid (40166411)."""

    def __init__(self, name: str, value: str = "") -> None:
        self.name = name
        self.value = value
        super().__init__(f"The parameter {name} is invalid.")


class InvalidParameterValue(InvalidParameter):
    """``InvalidParameter`` whose message names the value refused (a short choice)."""

    def __init__(self, name: str, value: str) -> None:
        super().__init__(name, value)
        self.message = f"The parameter {name} is invalid: {value}."


class PreconditionFailed(ConflictError):
    """``If-Match`` named a version of the record that is no longer the stored one (412)."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(
            f"The user {user_id} was changed since the version named in If-Match was read."
        )
