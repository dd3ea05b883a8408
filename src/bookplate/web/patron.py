"""Patron self-service at ``/me`` (docs/patron.md): one's own record, the contact details the
institution lets patrons change, password change (internal users), a personal-data export
(JSON and a readable page) and "sign out everywhere".

Anyone signed in (own password, LDAP, SAML, CAS, OIDC) has this page. Forms carry the
session's CSRF token. Contact changes go through ``users.own.change_own_contact`` (what a
patron may change) and ``UserService.replace`` (the API's PUT: validation and history), with
``self:<primary id>`` as the changer; the entries a patron adds are internal segments, so a
SIS load keeps them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import orjson
import structlog
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from bookplate.alma.user import user_to_dict
from bookplate.auth.errors import AuthenticationFailed, PasswordChangeNotAllowed
from bookplate.auth.services import SESSION_COOKIE, LocalPasswordNotAllowed, SessionInfo
from bookplate.bootstrap import Container
from bookplate.errors import BookplateError, ConflictError, InputError
from bookplate.users.errors import PasswordRejected
from bookplate.users.model import Address, Email, Phone, SegmentType, User, UserInput
from bookplate.users.own import CONTACT_KINDS, OwnChangeRefused, change_own_contact
from bookplate.users.ports import PRIMARY_ID
from bookplate.web.staff.common import (
    MAX_FIELDS,
    MAX_FORM_BYTES,
    Refused,
    describe,
    error_field,
    field,
    template_page,
)

log = structlog.get_logger("bookplate.web.patron")
router = APIRouter(include_in_schema=False)

KIND_NAMES = {"emails": "E-mail addresses", "phones": "Phone numbers", "addresses": "Addresses"}
ONE = {"emails": "e-mail address", "phones": "phone number", "addresses": "address"}
INPUTS = {"emails": ("email_address", "email_type"), "phones": ("phone_number", "phone_type"),
          "addresses": ("line1", "line2", "city", "state_province", "postal_code", "country",
                        "address_type")}
RULE_TEXT = ("The password must have at least 8 characters, must not contain your user ID "
             "and must not be a common password.")


@dataclass
class Me:
    """The signed-in person of one request."""

    request: Request
    c: Container
    info: SessionInfo

    @property
    def user(self) -> User:
        return self.info.user

    @property
    def today(self) -> date:
        return self.c.auth.now().date()


def _container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def masked(value: str | None) -> str:
    """All but the last 4 characters hidden (fewer shown for short values)."""
    text = value or ""
    shown = 4 if len(text) > 6 else max(0, len(text) - 3)
    return "•" * (len(text) - shown) + text[len(text) - shown:] if text else ""


def view(me: Me) -> dict[str, Any]:
    """What the page shows: the record as the patron may see it."""
    user, settings = me.user, me.c.settings
    book = me.c.users.code_book(user.institution)
    visible = set(settings.patron_visible_id_types)
    ids = [{"type": describe(book, "UserIdentifierTypes", i.id_type),
            "value": i.value if i.id_type in visible else masked(i.value),
            "masked": i.id_type not in visible}
           for i in user.identifiers if i.status != "INACTIVE"]
    blocks = [b for b in user.blocks if b.block_status != "INACTIVE" and (
        b.expiry_date is None or b.expiry_date.date() >= me.today)]
    return {"user": user, "book": book, "describe": describe, "ids": ids, "blocks": blocks,
            "notes": [n for n in user.notes if n.user_viewable],
            "editable": settings.patron_contact_fields, "kinds": CONTACT_KINDS,
            "kind_names": KIND_NAMES, "one": ONE, "external": SegmentType.EXTERNAL,
            "local_password": not user.is_external}


def render(me: Me | None, name: str, context: dict[str, Any], status: int = 200) -> Response:
    request = me.request if me else context.pop("request")
    page = {"me": me, "csrf": me.info.session.csrf if me else "", "staff": None, **context}
    return template_page(request, name, page, status)


def me_page(me: Me, *, errors: dict[str, str] | None = None, about: dict[str, str] | None = None,
            done: str = "", editing: tuple[str, int] | None = None,
            status: int = 200) -> Response:
    return render(me, "patron/me.html", {**view(me), "errors": errors or {},
                                         "error_fields": about or {}, "done": done,
                                         "editing": editing}, status)


async def run(request: Request, impl: Any, *, form: bool = False) -> Response:
    """The session check (a redirect to sign in without one), the CSRF check of a form,
    then ``impl(me, form)`` in a worker thread; a refusal is a page with its sentence."""
    c = _container(request)
    info = await run_in_threadpool(c.auth.session, request.cookies.get(SESSION_COOKIE))
    if info is None:
        target = request.url.path if request.method == "GET" else "/me"
        return RedirectResponse(f"/auth/login?next={quote(target, safe='/')}", status_code=303)
    me = Me(request, c, info)
    try:
        data = await _read_form(me) if form else None
        result: Response = await run_in_threadpool(impl, me, data)
        return result
    except Refused as exc:
        return render(me, "patron/refused.html", {"message": exc.message}, exc.status)
    except OwnChangeRefused as exc:
        return render(me, "patron/refused.html", {"message": str(exc)}, 403)
    except BookplateError as exc:
        log.info("self_service_refused", reason=str(exc)[:200])
        return render(me, "patron/refused.html", {"message": str(exc)}, 400)


async def _read_form(me: Me) -> FormData:
    declared = me.request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        raise Refused(400, "The form could not be read.")
    try:
        form = await me.request.form(max_files=0, max_fields=MAX_FIELDS)
    except Exception:  # any unreadable form is refused the same way
        raise Refused(400, "The form could not be read.") from None
    sent = field(form, "csrf_token")
    if not sent or not hmac.compare_digest(sent.encode(), me.info.session.csrf.encode()):
        raise Refused(403, "The form has expired. Reload the page and try again.")
    return form


def _flag(form: FormData, name: str) -> bool:
    return field(form, name, 10) in ("1", "on", "true")


def _entry(kind: str, form: FormData) -> Any:
    """A new internal entry of ``kind`` from the form."""
    if kind == "emails":
        t = field(form, "email_type", 64)
        return Email(field(form, "email_address", 255) or None, email_types=[t] if t else [],
                     preferred=_flag(form, "preferred"))
    if kind == "phones":
        t = field(form, "phone_type", 64)
        return Phone(field(form, "phone_number", 255) or None, phone_types=[t] if t else [],
                     preferred=_flag(form, "preferred"),
                     preferred_sms=_flag(form, "preferred_sms"))
    t = field(form, "address_type", 64)
    return Address(line1=field(form, "line1", 255) or None,
                   line2=field(form, "line2", 255) or None,
                   city=field(form, "city", 255) or None,
                   state_province=field(form, "state_province", 255) or None,
                   postal_code=field(form, "postal_code", 255) or None,
                   country=field(form, "country", 64) or None,
                   address_types=[t] if t else [], preferred=_flag(form, "preferred"))


def _kind(kind: str) -> str:
    if kind not in CONTACT_KINDS:
        raise Refused(404, "There is no such page.")
    return kind


def _index(form: FormData, items: list[Any]) -> int:
    raw = field(form, "index", 6)
    if not raw.isdigit() or int(raw) >= len(items):
        raise Refused(400, "That entry is no longer on your record. Reload the page.")
    return int(raw)


def _save(me: Me, kind: str, action: str, change: Any,
          editing: tuple[str, int] | None = None) -> Response:
    """One contact change: the self-service rules, then the API's PUT as the patron."""
    c, user = me.c, me.user
    try:
        edited = change_own_contact(user, kind, c.settings.patron_contact_fields, change)
        c.users.replace(user.institution, user.primary_id, UserInput(edited),
                        f"self:{user.primary_id}", id_type=PRIMARY_ID)
    except (InputError, ConflictError) as exc:
        if isinstance(exc, OwnChangeRefused):
            raise
        form_id = f"{kind}-{action}"
        about = error_field(exc, INPUTS[kind])
        return me_page(me, errors={form_id: str(exc)},
                       about={form_id: about} if about else None, editing=editing, status=400)
    return RedirectResponse(f"/me?done={action}#{kind}", status_code=303)


def _single_preferred(items: list[Any], keep: Any) -> None:
    if getattr(keep, "preferred", False):
        for item in items:
            if item is not keep:
                item.preferred = False


@router.get("/me")
async def own_page(request: Request) -> Response:
    def impl(me: Me, _: FormData | None) -> Response:
        done = request.query_params.get("done", "")
        raw = request.query_params.get("edit", "")[:30]
        kind, _sep, index = raw.rpartition("-")
        editing = (kind, int(index)) if kind in CONTACT_KINDS and index.isdigit() and len(
            index) < 6 else None
        return me_page(me, done=done if done in DONE else "", editing=editing)

    return await run(request, impl)


DONE = {"add": "Added.", "edit": "Saved.", "remove": "Removed.",
        "password": "Your password is changed. Your other sessions were signed out."}


@router.post("/me/{kind}/add")
async def add_contact(request: Request, kind: str) -> Response:
    def impl(me: Me, form: FormData | None) -> Response:
        assert form is not None
        entry = _entry(_kind(kind), form)

        def change(items: list[Any]) -> None:
            items.append(entry)
            _single_preferred(items, entry)

        return _save(me, kind, "add", change)

    return await run(request, impl, form=True)


@router.post("/me/{kind}/edit")
async def edit_contact(request: Request, kind: str) -> Response:
    def impl(me: Me, form: FormData | None) -> Response:
        assert form is not None
        new = _entry(_kind(kind), form)
        index = _index(form, getattr(me.user.contact_info, kind))

        def change(items: list[Any]) -> None:
            items[index] = new
            _single_preferred(items, new)

        return _save(me, kind, "edit", change, editing=(kind, index))

    return await run(request, impl, form=True)


@router.post("/me/{kind}/remove")
async def remove_contact(request: Request, kind: str) -> Response:
    def impl(me: Me, form: FormData | None) -> Response:
        assert form is not None
        index = _index(form, getattr(me.user.contact_info, _kind(kind)))

        def change(items: list[Any]) -> None:
            del items[index]

        return _save(me, kind, "remove", change)

    return await run(request, impl, form=True)


def _password_page(me: Me, error: str = "", about: str = "", status: int = 200) -> Response:
    return render(me, "patron/password.html", {
        "user": me.user, "error": error, "about": about,
        "local_password": me.c.auth.local_password_allowed(me.user)}, status)


@router.get("/me/password")
async def password_page(request: Request) -> Response:
    return await run(request, lambda me, _: _password_page(me))


@router.post("/me/password")
async def change_password(request: Request) -> Response:
    def impl(me: Me, form: FormData | None) -> Response:
        assert form is not None
        current = form.get("current_password")
        new, confirm = form.get("new_password"), form.get("confirm")
        if not all(isinstance(v, str) and 0 < len(v) <= 1024 for v in (current, new, confirm)):
            return _password_page(me, "Fill in all three fields.", "", 400)
        assert isinstance(current, str) and isinstance(new, str)
        if new != confirm:
            return _password_page(me, "The two new passwords differ.", "confirm", 400)
        try:
            # Checks the current password (the lockout counts a wrong one) and ends the
            # person's other sessions; accounts of a provider have no password here.
            me.c.auth.change_own_password(me.info, current, new)
        except LocalPasswordNotAllowed:
            return _password_page(me, str(PasswordChangeNotAllowed()), "", 400)
        except AuthenticationFailed as exc:
            log.info("own_password_refused", reason=exc.reason if hasattr(exc, "reason")
                     else str(exc))
            return _password_page(me, "The current password is not right.",
                                  "current_password", 400)
        except PasswordRejected:
            return _password_page(me, RULE_TEXT, "new_password", 400)
        return RedirectResponse("/me?done=password", status_code=303)

    return await run(request, impl, form=True)


def export(me: Me) -> dict[str, Any]:
    """Everything Bookplate holds about the person: the record (as the API returns it, with
    code descriptions) and the history of its changes."""
    book = me.c.users.code_book(me.user.institution)
    record = user_to_dict(me.user, book.describe)
    record.pop("pin_number", None)  # a credential, like the password: never exported
    history = [{"at": row.at.isoformat(), "by": row.actor, "action": row.action,
                "detail": dict(row.detail) if row.detail else None}
               for row in me.c.users.history(me.user.institution, me.user.primary_id)]
    return {"exported_at": me.c.auth.now().isoformat(), "institution": me.user.institution,
            "user": record, "history": history}


@router.get("/me/data.json")
async def data_json(request: Request) -> Response:
    def impl(me: Me, _: FormData | None) -> Response:
        body = orjson.dumps(export(me), option=orjson.OPT_INDENT_2)
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in me.user.primary_id)
        return Response(body, media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="my-library-data-{name[:60]}.json"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    return await run(request, impl)


@router.get("/me/data")
async def data_page(request: Request) -> Response:
    def impl(me: Me, _: FormData | None) -> Response:
        data = export(me)
        return render(me, "patron/data.html", {"data": data, "record": _flatten(data["user"]),
                                               "history": data["history"]})

    return await run(request, impl)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """The record as readable "field: value" lines."""
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        if set(value) <= {"value", "desc"} and "value" in value:
            desc = value.get("desc")
            shown = f"{desc} ({value['value']})" if desc and desc != value["value"] else value[
                "value"]
            return [(prefix, str(shown))] if value["value"] not in (None, "") else []
        for key, item in value.items():
            out += _flatten(item, f"{prefix} > {key}" if prefix else key.replace("_", " "))
    elif isinstance(value, list):
        for n, item in enumerate(value, 1):
            out += _flatten(item, f"{prefix} {n}")
    elif value not in (None, "", False):
        out.append((prefix, str(value)))
    return out


@router.post("/me/sign-out-everywhere")
async def sign_out_everywhere(request: Request) -> Response:
    def impl(me: Me, form: FormData | None) -> Response:
        me.c.auth.end_all_sessions(me.user)
        response = RedirectResponse("/auth/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return await run(request, impl, form=True)
