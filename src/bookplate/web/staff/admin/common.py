"""What the administration pages (``/staff/admin/``) share besides the staff pages' own
helpers: the policy check of each page and forms that carry a file.

Each page asks the roles policy (``roles.policy.decide``) for the action the API asks for
the same thing, so a person gets the same answer on the page, by a form posted directly and
through ``/bookplate/v1`` with a bearer token.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Generic, Protocol, TypeVar

from fastapi import APIRouter
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from bookplate.errors import BookplateError
from bookplate.roles.policy import Action, decide
from bookplate.web.staff.common import Reader, Refused, Staff, field, log, see_other
from bookplate.web.staff.pages import Check, get_page, post_page

_T = TypeVar("_T")
_R = TypeVar("_R")
_T_contra = TypeVar("_T_contra", contravariant=True)

#: The code of a profile, rule, library or desk: in an address and in a form.
CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

#: Room for the fields of a form that carries a file, on top of the file's own limit.
FORM_OVERHEAD = 64 * 1024
COPY_CHUNK = 1024 * 1024


def code_in_path(raw: str, what: str, pattern: re.Pattern[str] = CODE) -> str:
    """The code in a page's address (404 "No ``what`` ..." when it cannot be one)."""
    if not pattern.match(raw):
        raise Refused(404, f"No {what} {raw[:64]}.")
    return raw


def need(staff: Staff, *actions: Action) -> None:
    """Refuses (403) unless the policy allows one of ``actions``."""
    if not any(decide(staff.actor, action) for action in actions):
        raise Refused(403, "You are not allowed to use this page.")


def needs(*actions: Action) -> Check:
    """The check of a page that the policy opens for any of ``actions`` (``need``)."""
    if not actions:
        raise ValueError("a page needs at least one action")
    return lambda staff: need(staff, *actions)


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
    save: Callable[[_T], _R],
    again: Callable[[_T | None, str, int], Response],
    done: str | Callable[[_R], Response],
) -> Response:
    """The posting of an edit form: ``read`` the form, ``save`` what it holds through the
    service, and see ``done`` (an address, or the page built from what ``save`` returned).
    A form refused while read (``Refused``) or a save the service refuses
    (``BookplateError``, 400) is shown ``again`` with the reason and the status, with what
    was read (None when nothing could be). A ``Refused`` raised by ``save`` (a 404 for an
    item gone meanwhile) is the error page, not the form."""
    try:
        item = read()
    except Refused as exc:
        return again(None, exc.message, exc.status)
    try:
        result = save(item)
    except BookplateError as exc:
        return again(item, str(exc), 400)
    return see_other(done) if isinstance(done, str) else done(result)


class _Show(Protocol[_T_contra]):
    def __call__(self, staff: Staff, request: Request, item: _T_contra, /, *, new: bool,
                 error: str = "", notice: str = "", status: int = 200) -> Response: ...


@dataclass(frozen=True)
class EditForm(Generic[_T]):
    """One kind of item (a role profile, a rule, an SIS profile) that an admin page creates
    and edits with one form: how its form is read, saved and shown again, and its address.
    ``create`` and ``update`` are the two posts of that form."""

    #: The item the form holds (``stored`` is None for a new one); ``Refused`` on bad input.
    read: Callable[[Staff, FormData, str, _T | None], _T]
    #: Saves it through the service (``new``: create, else replace).
    save: Callable[[Staff, _T, bool], object]
    #: The form's page, for a new item or a stored one, with an error or a notice.
    show: _Show[_T]
    #: What was typed, to show when nothing could be read.
    typed: Callable[[Staff, FormData], _T]
    #: The new item's code from the form; ``Refused`` when bad or taken.
    new_code: Callable[[Staff, FormData], str]
    url: Callable[[str], str]
    #: The code an item is known by in its address.
    code: Callable[[_T], str]

    def create(self, staff: Staff, request: Request, form: FormData) -> Response:
        try:
            code = self.new_code(staff, form)
        except Refused as exc:
            return self.show(staff, request, self.typed(staff, form), new=True,
                             error=exc.message, status=exc.status)
        return self.update(staff, request, form, code, None)

    def update(self, staff: Staff, request: Request, form: FormData, code: str,
               stored: _T | None) -> Response:
        new = stored is None
        return saved_or_again(
            lambda: self.read(staff, form, code, stored),
            lambda item: self.save(staff, item, new),
            lambda item, error, status: self.show(
                staff, request, item if item is not None else
                (stored if stored is not None else self.typed(staff, form)),
                new=new, error=error, status=status),
            self.url(code) + "?saved=1",
        )

    def routes(self, router: APIRouter, path: str, *, see: tuple[Action, ...],
               change: Action, stored: Callable[[Staff, str], _T],
               blank: Callable[[Staff], _T], saved: str, reader: Reader | None = None) -> None:
        """Declares the form's four routes: the empty form (``GET path/new``), its posting
        (``POST path/new``), a stored item's form (``GET path/{code}``, ``saved`` as the
        notice after a save) and its posting (``POST path/{code}``). ``see``: the policy's
        actions that open the forms; ``change``: the one that posts them; ``reader``: how the
        posted form is read (the staff pages' default when None)."""
        show = self.show

        @get_page(router, f"{path}/new", needs(change))
        def new_form(staff: Staff, request: Request) -> Response:
            return show(staff, request, blank(staff), new=True)

        @post_page(router, f"{path}/new", needs(change), reader=reader)
        def create(staff: Staff, request: Request, form: FormData) -> Response:
            return self.create(staff, request, form)

        @get_page(router, f"{path}/{{code}}", needs(*see))
        def stored_form(staff: Staff, request: Request, code: str) -> Response:
            notice = saved if request.query_params.get("saved") else ""
            return show(staff, request, stored(staff, code), new=False, notice=notice)

        @post_page(router, f"{path}/{{code}}", needs(change), reader=reader)
        def update(staff: Staff, request: Request, form: FormData, code: str) -> Response:
            item = stored(staff, code)
            return self.update(staff, request, form, self.code(item), item)


def saved_notice(request: Request, words: str = "{} was saved.", limit: int = 64) -> str:
    """The notice of a page reached after a save (``?saved=WHAT``): ``words`` with what was
    saved, or "" when the page was opened directly."""
    saved = request.query_params.get("saved", "")[:limit]
    return words.format(saved) if saved else ""


#: Asked by the delete buttons: the code typed again, so a stray click deletes nothing.
CONFIRM_DELETE = "To delete the profile, type its code in the box next to the button."


def confirmed(form: FormData, code: str) -> bool:
    """Whether the delete form carries the code of what it deletes, typed again."""
    return field(form, "confirm", 100) == code
