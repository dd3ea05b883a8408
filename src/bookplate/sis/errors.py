"""Errors of the SIS area."""

from __future__ import annotations

from bookplate.errors import ConflictError, InputError, NotFoundError


class ProfileNotFound(NotFoundError):
    def __init__(self, code: str) -> None:
        super().__init__(f"No users integration profile {code}.")
        self.code = code


class ProfileExists(ConflictError):
    def __init__(self, code: str) -> None:
        super().__init__(f"The users integration profile {code} exists already.")
        self.code = code


class InvalidProfile(InputError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid users integration profile: {detail}")


class RunNotFound(NotFoundError):
    def __init__(self, run_id: int) -> None:
        super().__init__(f"No SIS run {run_id}.")
        self.run_id = run_id


class SourceError(InputError):
    """The file cannot be read at all (not a zip, not XML, a bomb, bad encoding...)."""

    def __init__(self, detail: str, record: int | None = None, line: int | None = None) -> None:
        where = []
        if record is not None:
            where.append(f"record {record}")
        if line is not None:
            where.append(f"line {line}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(f"{prefix}{detail}")
        self.record = record
        self.line = line


class RecordError(InputError):
    """One record cannot be read; it is rejected and the run goes on."""


class RunAborted(ConflictError):
    """The guard stopped the run before anything was written."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Run aborted: {detail}")


class UploadError(SourceError):
    """An upload that is refused before any run is created."""


class EmptyUpload(UploadError):
    def __init__(self) -> None:
        super().__init__("the uploaded file is empty")


class UploadTooLarge(InputError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The uploaded file is larger than the {limit} bytes allowed.")
        self.limit = limit


class RunNotQueueable(ConflictError):
    def __init__(self, run_id: int, status: str) -> None:
        super().__init__(
            f"SIS run {run_id} is {status}; only pending, running or interrupted runs can "
            "be queued."
        )
