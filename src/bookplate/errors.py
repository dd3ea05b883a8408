"""The root of Bookplate's typed errors.

Every area raises subclasses of :class:`BookplateError`. The faces (API, CLI, SIS reports)
decide how to show them; ``api/errors.py`` holds the one table that maps them to HTTP statuses
and Alma error codes. ``str(error)`` is the human message, worded as Alma words it where Alma
has a wording.
"""

from __future__ import annotations


class BookplateError(Exception):
    """Base of every error Bookplate raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(BookplateError):
    """The caller sent something that cannot be read or is not allowed."""


class NotFoundError(BookplateError):
    """The thing asked for does not exist (for this caller)."""


class ConflictError(BookplateError):
    """The change clashes with what is stored (uniqueness, immutable fields)."""


class AccessError(BookplateError):
    """The caller may not do this."""


class StorageUnavailable(BookplateError):
    """The database cannot take a write just now (disk full, read-only file or volume, I/O
    error). Reads go on; the write was not made (nothing half-written)."""

    def __init__(self) -> None:
        super().__init__(
            "The database cannot be written at the moment (disk full or read-only); "
            "nothing was changed. Reads still work."
        )
