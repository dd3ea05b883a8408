"""What the administration pages (``/staff/admin/``) share besides the staff pages' own
helpers: the policy check of each page and forms that carry a file.

Each page asks the roles policy (``roles.policy.decide``) for the action the API asks for
the same thing, so a person gets the same answer on the page, by a form posted directly and
through ``/bookplate/v1`` with a bearer token.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, TypeVar

from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from bookplate.errors import BookplateError
from bookplate.roles.policy import Action, decide
from bookplate.web.staff.common import Refused, Staff, field, log, see_other

_T = TypeVar("_T")

#: Room for the fields of a form that carries a file, on top of the file's own limit.
FORM_OVERHEAD = 64 * 1024
COPY_CHUNK = 1024 * 1024


def need(staff: Staff, *actions: Action) -> None:
    """Refuses (403) unless the policy allows one of ``actions``."""
    if not any(decide(staff.actor, action) for action in actions):
        raise Refused(403, "You are not allowed to use this page.")


def may(staff: Staff, action: Action) -> bool:
    return bool(decide(staff.actor, action))


async def upload_form(staff: Staff, limit: int) -> FormData:
    """A posted form with one file (multipart), after the size and CSRF checks. The body may
    be ``limit`` bytes of file and a little more of fields; a bigger one is refused before it
    is read."""
    request = staff.request
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise Refused(400, "The form could not be read.")
    if int(declared) > limit + FORM_OVERHEAD:
        raise Refused(413, f"The file is larger than the limit of {limit:,} bytes.")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception:  # any unreadable form is refused the same way
        raise Refused(400, "The form could not be read.") from None
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), staff.csrf.encode()):
        log.info("staff_form_refused", reason="missing or wrong CSRF token",
                 path=request.url.path)
        await form.close()
        raise Refused(403, "The form has expired. Reload the page and try again.")
    return form


def uploaded(form: FormData, name: str = "file") -> UploadFile:
    """The form's file; refused (400) when none was chosen."""
    value = form.get(name)
    if not isinstance(value, UploadFile) or not value.filename:
        raise Refused(400, "Choose a file to upload.")
    return value


def copy_upload(source: UploadFile, handle: IO[bytes], path: Path, limit: int) -> int:
    """Copies the uploaded file into ``handle`` (a spool file at ``path``), at most ``limit``
    bytes; removes the copy and refuses (413) a bigger file. Runs in a worker thread."""
    size = 0
    try:
        with handle:
            while chunk := source.file.read(COPY_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise Refused(413, f"The file is larger than the limit of {limit:,} bytes.")
                handle.write(chunk)
    except BaseException:
        with suppress(OSError):
            path.unlink()
        raise
    return size


def saved_or_again(
    read: Callable[[], _T],
    save: Callable[[_T], object],
    again: Callable[[_T | None, str, int], Response],
    done: str,
) -> Response:
    """The posting of an edit form: ``read`` the form, ``save`` what it holds through the
    service, and see ``done``. A form refused while read (``Refused``) or a save the service
    refuses (``BookplateError``, 400) is shown ``again`` with the reason and the status,
    with what was read (None when nothing could be)."""
    try:
        item = read()
    except Refused as exc:
        return again(None, exc.message, exc.status)
    try:
        save(item)
    except BookplateError as exc:
        return again(item, str(exc), 400)
    return see_other(done)


#: Asked by the delete buttons: the code typed again, so a stray click deletes nothing.
CONFIRM_DELETE = "To delete the profile, type its code in the box next to the button."


def confirmed(form: FormData, code: str) -> bool:
    """Whether the delete form carries the code of what it deletes, typed again."""
    return field(form, "confirm", 100) == code
