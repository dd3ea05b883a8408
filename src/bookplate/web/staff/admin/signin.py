"""``/staff/admin/sign-in``: the sign-in profiles (LDAP, SAML, CAS, OIDC). List; add and
edit with every setting the CLI's JSON has (secrets write-only); enable and disable; delete
after typing the code; download the SAML SP metadata; the URLs to register at the provider;
"Test connection" (what the provider answered, nobody signed in).

Everything goes through ``c.signin_admin`` (``auth.signin_admin.SignInAdmin``, the service of
``bookplate auth METHOD add/list/remove``), which asks the policy for ``configure_sign_in``
(the General System Administrator's) and writes the audit rows."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.auth.errors import ProfileInvalid, ProfileNotFound
from bookplate.auth.model import Method
from bookplate.web.staff.admin.common import saved_or_again
from bookplate.web.staff.admin.signin_forms import config_from, rows
from bookplate.web.staff.common import Refused, Staff, field, read_form, render, see_other
from bookplate.web.staff.pages import by_service, get_page, post_page

router = APIRouter(include_in_schema=False)

BASE = "/staff/admin/sign-in"
#: Room for inline IdP metadata and the JSON settings.
FORM_BYTES = 600_000


def _who(staff: Staff) -> str:
    return f"staff:{staff.actor.primary_id}"


def _method(staff: Staff, name: str) -> Method:
    methods = {m.value: m for m in staff.c.signin_admin.methods()}
    if name not in methods:
        raise Refused(404, f"No sign-in method {name[:20]}.")
    return methods[name]


def _allowed(staff: Staff) -> None:
    """The pages' check: the policy's ``configure_sign_in``, asked by the service."""
    staff.c.signin_admin.allowed(staff.actor)


async def _form(staff: Staff) -> FormData:
    return await read_form(staff, max_bytes=FORM_BYTES)


def _list_page(staff: Staff, request: Request, *, notice: str = "") -> Response:
    admin = staff.c.signin_admin
    return render(staff, request, "staff/admin/signin_profiles.html", {
        "profiles": admin.listing(staff.institution, None, staff.actor),
        "methods": admin.methods(), "history": admin.history(staff.institution, staff.actor),
        "base": BASE, "notice": notice,
    })


def _edit_page(staff: Staff, request: Request, method: Method, code: str | None, *,  # noqa: PLR0913 - one page, many states
               sent: FormData | None = None, error: str = "", notice: str = "",
               status: int = 200, report: Any = None) -> Response:
    admin = staff.c.signin_admin
    view = admin.profile(staff.institution, method.value, code, staff.actor) \
        if code is not None else None
    config = view.config if view else {}
    secrets_set = view.secrets_set if view else frozenset()
    return render(staff, request, "staff/admin/signin_profile.html", {
        "method": method, "code": code, "view": view, "base": BASE,
        "rows": rows(admin.settings(method), config, secrets_set, sent),
        "label": (field(sent, "label", 200) if sent is not None
                  else str(config.get("label") or "")),
        "enabled": bool(sent.get("enabled")) if sent is not None else
        (view.enabled if view else True),
        "new_code": field(sent, "code", 64) if sent is not None and code is None else "",
        "urls": admin.urls(method.value, code) if code is not None else [],
        "error": error, "notice": notice, "report": report,
    }, status)


def _url(method: Method, code: str) -> str:
    return f"{BASE}/{method.value}/{quote(code)}"


def _saved_or_again(staff: Staff, request: Request, form: FormData, method: Method,
                    code: str, *, new: bool) -> Response:
    """The profile form posted: its settings saved (a new profile, or over the stored one
    with the secrets left blank kept), or the form again with what was typed and why."""
    admin = staff.c.signin_admin

    def save(config: dict[str, Any]) -> None:
        try:
            admin.save(staff.institution, method.value, code, config, _who(staff),
                       staff.actor, new=new, keep_secrets=not new)
        except ProfileNotFound as exc:
            raise Refused(404, str(exc)) from None

    return saved_or_again(
        lambda: form,
        lambda sent: save(config_from(admin.settings(method), sent)),
        lambda _, error, status: _edit_page(staff, request, method, None if new else code,
                                            sent=form, error=error, status=status),
        f"{_url(method, code)}?" + urlencode({"saved": "1"}),
    )


@get_page(router, BASE, by_service)
def profiles(staff: Staff, request: Request) -> Response:
    notice = request.query_params.get("removed", "")[:64]
    return _list_page(staff, request, notice=f"{notice} was deleted." if notice else "")


@get_page(router, f"{BASE}/new", _allowed)
def new_profile(staff: Staff, request: Request) -> Response:
    method = _method(staff, request.query_params.get("method", ""))
    return _edit_page(staff, request, method, None)


@post_page(router, f"{BASE}/new", _allowed, reader=_form)
def add_profile(staff: Staff, request: Request, form: FormData) -> Response:
    method = _method(staff, field(form, "method", 20))
    return _saved_or_again(staff, request, form, method, field(form, "code", 64), new=True)


@get_page(router, f"{BASE}/{{method}}/{{code}}", _allowed)
def show_profile(staff: Staff, request: Request, method: str, code: str) -> Response:
    kind = _method(staff, method)
    saved = request.query_params.get("saved") == "1"
    try:
        return _edit_page(staff, request, kind, code,
                          notice=f"{code} was saved." if saved else "")
    except ProfileNotFound as exc:
        raise Refused(404, str(exc)) from None


@post_page(router, f"{BASE}/{{method}}/{{code}}", _allowed, reader=_form)
def edit_profile(staff: Staff, request: Request, form: FormData, method: str,
                 code: str) -> Response:
    return _saved_or_again(staff, request, form, _method(staff, method), code, new=False)


@post_page(router, f"{BASE}/{{method}}/{{code}}/enabled", _allowed)
def enable_profile(staff: Staff, request: Request, form: FormData, method: str,
                   code: str) -> Response:
    kind = _method(staff, method)
    wanted = field(form, "enabled", 1)
    if wanted not in ("0", "1"):
        raise Refused(400, "Choose whether to enable or disable the profile.")
    try:
        staff.c.signin_admin.set_enabled(staff.institution, kind.value, code,
                                         wanted == "1", _who(staff), staff.actor)
    except ProfileNotFound as exc:
        raise Refused(404, str(exc)) from None
    return see_other(f"{_url(kind, code)}?" + urlencode({"saved": "1"}))


@post_page(router, f"{BASE}/{{method}}/{{code}}/delete", _allowed)
def delete_profile(staff: Staff, request: Request, form: FormData, method: str,
                   code: str) -> Response:
    admin = staff.c.signin_admin
    kind = _method(staff, method)
    try:
        admin.profile(staff.institution, kind.value, code, staff.actor)
    except ProfileNotFound as exc:
        raise Refused(404, str(exc)) from None
    if field(form, "confirm", 64) != code:
        return _edit_page(staff, request, kind, code, status=400,
                          error=f"Type the code {code} to delete the profile.")
    admin.remove(staff.institution, kind.value, code, _who(staff), staff.actor)
    return see_other(f"{BASE}?" + urlencode({"removed": code}))


@post_page(router, f"{BASE}/{{method}}/{{code}}/test", _allowed)
def test_profile(staff: Staff, request: Request, _: FormData, method: str, code: str) -> Response:
    """Test connection (a POST: it reaches out to the provider; CSRF-checked)."""
    admin = staff.c.signin_admin
    kind = _method(staff, method)
    try:
        report = admin.test_connection(staff.institution, kind.value, code, staff.actor)
    except ProfileNotFound as exc:
        raise Refused(404, str(exc)) from None
    except ProfileInvalid as exc:  # stored before a rule changed: say so
        return _edit_page(staff, request, kind, code, status=400, error=str(exc))
    return _edit_page(staff, request, kind, code, report=report)


@get_page(router, f"{BASE}/saml/{{code}}/metadata", by_service)
def sp_metadata(staff: Staff, request: Request, code: str) -> Response:
    try:
        body, media = staff.c.signin_admin.sp_metadata(staff.institution, code, staff.actor)
    except ProfileNotFound as exc:
        raise Refused(404, str(exc)) from None
    except ProfileInvalid as exc:
        raise Refused(400, str(exc)) from None
    name = f"{staff.institution}-{code}-sp-metadata.xml"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store"})
