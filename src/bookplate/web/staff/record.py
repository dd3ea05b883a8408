"""``/staff/users/{primary_id}``: the user record with its tabs; the General tab's form;
creating (PUBLIC, STAFF, CONTACT) and deleting users.

Every write is ``c.staff.create / replace / delete`` (``roles.staff.StaffUsers``): the
methods the API calls for a staff member, so validation, messages, history rows and the
role policy are the API's, and the session's staff member is recorded as the changer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.errors import ConflictError, InputError
from bookplate.roles.model import ROLE_TYPES, Privilege
from bookplate.roles.policy import Action, decide, target_kind
from bookplate.users.manual import PROTECTED_FIELDS, field_text
from bookplate.users.model import (
    Email,
    Identifier,
    RecordType,
    SegmentType,
    User,
    UserInput,
)
from bookplate.web.staff.cells import INPUT_NAMES
from bookplate.web.staff.common import (
    Refused,
    Staff,
    describe,
    error_field,
    field,
    render,
    see_other,
    user_url,
)
from bookplate.web.staff.pages import by_service, get_page, holds, post_page

router = APIRouter(include_in_schema=False)

TABS = ("general", "contact", "identifiers", "roles", "notes", "blocks", "statistics",
        "proxy", "history")
CONTACT_TABS = ("general", "contact", "notes", "history")
TAB_NAMES = {"general": "General", "contact": "Contact", "identifiers": "Identifiers",
             "roles": "Roles", "notes": "Notes", "blocks": "Blocks",
             "statistics": "Statistics", "proxy": "Proxy for", "history": "History"}
# The General tab's text fields and dates (name -> label); coded fields are in CODED.
TEXT_FIELDS = {"first_name": "First name", "middle_name": "Middle name",
               "last_name": "Last name", "pref_first_name": "Preferred first name",
               "pref_middle_name": "Preferred middle name",
               "pref_last_name": "Preferred last name", "job_description": "Job description"}
CODED = {"user_title": ("Title", "UserTitles"), "user_group": ("User group", "UserGroups"),
         "job_category": ("Job category", "JobTitles"), "campus_code": ("Campus", "Campuses"),
         "preferred_language": ("Preferred language", "UserPreferredLanguage"),
         "gender": ("Gender", "Genders"), "status": ("Status", "UserStatus")}
DATES = {"expiry_date": "Expiry date", "purge_date": "Purge date", "birth_date": "Birth date"}


def offers(staff: Staff, user: User) -> dict[str, Any]:
    """What the page offers on ``user``, each with the policy's reason when it does not."""
    restricted = staff.c.roles.config(staff.institution).restricted
    kind = target_kind(user, restricted, staff.today)
    where = staff.location
    out: dict[str, Any] = {}
    for name, action in (("edit", Action.EDIT_USER), ("delete", Action.DELETE_USER),
                         ("roles", Action.CHANGE_ROLES)):
        decision = decide(staff.actor, action, scope=where, target=kind)
        if decision and action is Action.CHANGE_ROLES:
            decision = decide(staff.actor, Action.EDIT_USER, scope=where, target=kind)
        out[name] = bool(decision)
        out[f"{name}_reason"] = "" if decision else decision.reason
    out["identifiers"] = bool(decide(staff.actor, Action.VIEW_IDENTIFIERS, scope=where))
    return out


def visible_tabs(user: User, offer: dict[str, Any]) -> tuple[str, ...]:
    if user.record_type == RecordType.CONTACT.value:
        return CONTACT_TABS
    return tuple(t for t in TABS if t != "identifiers" or offer["identifiers"])


def sis_loads(staff: Staff, user: User) -> tuple[list[Any], Any]:
    rows = staff.c.users.history(staff.institution, user.primary_id)
    last_sis = next((r for r in rows if r.action.startswith("sis.")), None)
    return rows, last_sis


def record_page(  # noqa: PLR0913 - the page's state, each keyword a part of it
    staff: Staff, request: Request, user_id: str, tab: str, *,
                opened: bool = False, errors: dict[str, str] | None = None,
                done: str = "", status: int = 200,
                editing: tuple[str, int] | None = None,
                error_fields: dict[str, str] | None = None) -> Response:
    user = staff.c.staff.get(staff.actor, user_id, scope=staff.location)
    offer = offers(staff, user)
    tabs = visible_tabs(user, offer)
    if tab not in tabs:
        tab = "general"
    history, last_sis = sis_loads(staff, user)
    context: dict[str, Any] = {
        "user": user, "tab": tab, "tabs": tabs, "tab_names": TAB_NAMES, "offer": offer,
        "book": staff.book(), "describe": describe, "opened": opened and user.is_external,
        "locked": user.is_external and not opened, "errors": errors or {}, "done": done,
        "text_fields": TEXT_FIELDS, "coded": CODED, "dates": DATES,
        "protected": PROTECTED_FIELDS, "manual": user.manual_fields, "history": history,
        "last_sis": last_sis, "external": SegmentType.EXTERNAL, "q": "",
        "editing": editing, "manual_rows": manual_rows(staff, user),
        "error_fields": error_fields or {},
    }
    if tab == "roles":
        from bookplate.web.staff.roles_tab import roles_context  # noqa: PLC0415 (cycle)

        context.update(roles_context(staff, request, user))
    return render(staff, request, "staff/user.html", context, status)


def writable(staff: Staff, user_id: str) -> User:
    """The stored record a write starts from, after the read check of the policy. It is the
    whole record (a desk operator's page hides identifiers, but an edit must keep them)."""
    shown = staff.c.staff.get(staff.actor, user_id, scope=staff.location)
    return staff.c.users.get(staff.institution, shown.primary_id)


def write(staff: Staff, stored: User, edited: User,
          restore: frozenset[str] = frozenset()) -> User:
    """``edited`` stored through the staff service (the API's PUT for a staff member).

    A protected field of an external user that was already changed by hand would be kept
    by the PUT rules; when staff change it again here, it is named in ``override`` so the
    new value is stored. Fields in ``restore`` get their last SIS value back and are
    attached to the SIS again (``UserService.replace``)."""
    again = frozenset(
        name for name in PROTECTED_FIELDS
        if name in stored.manual_fields and field_text(stored, name) != field_text(edited, name)
    )
    return staff.c.staff.replace(staff.actor, stored.primary_id, UserInput(edited),
                                 override=again, scope=staff.location, restore=restore)


# How the protected fields are named on the page, and the code table of the coded ones.
PROTECTED_LABELS: dict[str, tuple[str, str | None]] = {
    **{name: (label, table) for name, (label, table) in CODED.items()},
    **{name: (label, None) for name, label in TEXT_FIELDS.items()},
    "pin_number": ("PIN number", None), "rs_libraries": ("Resource sharing libraries", None),
    "library_notices": ("Library notices", None), "cataloger_level": ("Cataloger level", None),
}


def manual_rows(staff: Staff, user: User) -> list[dict[str, str]]:
    """The protected fields changed by hand: the value now and the SIS's last value, as
    shown (a PIN is never shown)."""
    book = staff.book() if user.manual_fields else None
    rows = []
    for name in PROTECTED_FIELDS:
        if name not in user.manual_fields:
            continue
        label, table = PROTECTED_LABELS.get(name, (name, None))
        now, last = field_text(user, name), user.manual_fields[name]
        if name == "pin_number":
            now, last = ("(set)" if now else ""), ("(set)" if last else "")
        elif table is not None and book is not None:
            now, last = describe(book, table, now), describe(book, table, last)
        rows.append({"name": name, "label": label, "now": now or "(none)",
                     "last": last or "(none)"})
    return rows


def form_inputs(form_id: str) -> tuple[str, ...]:
    """The inputs of the form ``form_id`` ("general", "emails-add", "notes-edit")."""
    if form_id == "general":
        return (*TEXT_FIELDS, *CODED, *DATES)
    return INPUT_NAMES.get(form_id.rpartition("-")[0], ())


def edit_and_show(  # noqa: PLR0913 - what to change and what to show after it
    staff: Staff, request: Request, user_id: str, tab: str,
                  edit: Callable[[User], None], form_id: str, *, opened: bool = False,
                  done: str = "saved", editing: tuple[str, int] | None = None,
                  restore: frozenset[str] = frozenset()) -> Response:
    """Apply ``edit`` to a copy of the stored user and write it; back to the tab, or the tab
    again with the service's message beside the form (status 400)."""
    stored = writable(staff, user_id)
    edited = copy.deepcopy(stored)
    try:
        edit(edited)
        saved = write(staff, stored, edited, restore)
    except (InputError, ConflictError) as exc:
        about = error_field(exc, form_inputs(form_id))
        return record_page(staff, request, stored.primary_id, tab, opened=opened,
                           errors={form_id: str(exc)}, status=400, editing=editing,
                           error_fields={form_id: about} if about else None)
    url = user_url(saved.primary_id, tab)
    return see_other(f"{url}&done={done}" + ("&open=1" if opened and saved.is_external else ""))


def parse_day(form: FormData, name: str) -> date | None:
    raw = field(form, name, 10)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Refused(400, f"Given field {name} has invalid value {raw[:20]}") from None


def require_open(user: User, form: FormData) -> bool:
    """External records change only after "open for update" (the form says so)."""
    opened = field(form, "open", 5) == "1"
    if user.is_external and not opened:
        raise Refused(400, "This is an external user: open the record for update first.")
    return opened


@get_page(router, "/staff/users/new", holds(Privilege.CREATE_PATRONS))
def new_user_page(staff: Staff, request: Request) -> Response:
    return _new_page(staff, request, {}, "")


def _new_page(staff: Staff, request: Request, values: dict[str, str], error: str,
              status: int = 200, about: str | None = None) -> Response:
    types = [t for t in RecordType if t is RecordType.PUBLIC or staff.holds(Privilege.EDIT_STAFF)]
    return render(staff, request, "staff/new.html", {
        "values": values, "error": error, "types": types, "book": staff.book(),
        "describe": describe, "errors": {"new": error} if error else {},
        "error_fields": {"new": about} if about else {}}, status)


@post_page(router, "/staff/users/new", holds(Privilege.CREATE_PATRONS))
def create_user(staff: Staff, request: Request, form: FormData) -> Response:
    values = {name: field(form, name, 255) for name in (
        "record_type", "primary_id", "first_name", "last_name", "user_group", "email",
        "barcode", "expiry_date")}
    kind = values["record_type"] or RecordType.PUBLIC.value
    user = User(values["primary_id"], record_type=kind,
                first_name=values["first_name"] or None,
                last_name=values["last_name"] or None,
                user_group=values["user_group"] or None,
                expiry_date=parse_day(form, "expiry_date"))
    if values["email"]:
        user.contact_info.emails.append(Email(values["email"], preferred=True,
                                              email_types=["personal"]))
    if values["barcode"]:
        user.identifiers.append(Identifier("BARCODE", values["barcode"]))
    try:
        made = staff.c.staff.create(staff.actor, UserInput(user), scope=staff.location)
    except (InputError, ConflictError) as exc:
        return _new_page(staff, request, values, str(exc), 400,
                         error_field(exc, values))
    return see_other(user_url(made.primary_id) + "?done=created")


def _general(form: FormData, user: User) -> Callable[[User], None]:
    def edit(target: User) -> None:
        for name in TEXT_FIELDS:
            setattr(target, name, field(form, name, 255) or None)
        for name in CODED:
            setattr(target, name, field(form, name, 255) or None)
        for name in DATES:
            setattr(target, name, parse_day(form, name))
        if not target.status:
            target.status = user.status

    return edit


@post_page(router, "/staff/users/{user_id:path}/general", by_service)
def save_general(staff: Staff, request: Request, form: FormData, user_id: str) -> Response:
    stored = writable(staff, user_id)
    opened = require_open(stored, form)
    return edit_and_show(staff, request, user_id, "general", _general(form, stored),
                         "general", opened=opened)


@post_page(router, "/staff/users/{user_id:path}/restore", by_service)
def restore_field(staff: Staff, request: Request, form: FormData, user_id: str) -> Response:
    """"Restore": a protected field changed by hand gets its last SIS value back and is
    attached to the SIS again (the next load sets it)."""
    stored = writable(staff, user_id)
    name = field(form, "field", 64)
    if name not in stored.manual_fields:
        raise Refused(400, "That field is not changed by hand on this record. Reload the "
                           "page.")
    opened = field(form, "open", 5) == "1"
    return edit_and_show(staff, request, user_id, "general", lambda user: None,
                         "general", opened=opened, done="restored",
                         restore=frozenset({name}))


@get_page(router, "/staff/users/{user_id:path}/delete", by_service)
def delete_page(staff: Staff, request: Request, user_id: str) -> Response:
    user = staff.c.staff.get(staff.actor, user_id, scope=staff.location)
    offer = offers(staff, user)
    if not offer["delete"]:
        raise Refused(403, "You are not allowed to delete this user.")
    return render(staff, request, "staff/delete.html", {"user": user, "error": ""})


@post_page(router, "/staff/users/{user_id:path}/delete", by_service)
def delete_user(staff: Staff, request: Request, form: FormData, user_id: str) -> Response:
    user = staff.c.staff.get(staff.actor, user_id, scope=staff.location)
    if field(form, "confirm", 255) != user.primary_id:
        return render(staff, request, "staff/delete.html", {
            "user": user, "error": "Type the user's primary ID to confirm."}, 400)
    try:
        staff.c.staff.delete(staff.actor, user.primary_id, scope=staff.location)
    except (InputError, ConflictError) as exc:
        return render(staff, request, "staff/delete.html",
                      {"user": user, "error": str(exc)}, 400)
    return see_other("/staff/users?" + urlencode({"deleted": user.primary_id}))


@get_page(router, "/staff/users/{user_id:path}", by_service)
def user_page(staff: Staff, request: Request, user_id: str) -> Response:
    q = request.query_params
    done = q.get("done", "")
    return record_page(staff, request, user_id, q.get("tab", "general"),
                       opened=q.get("open") == "1", editing=_editing(q.get("edit", "")),
                       done=done if done in DONE else "")


DONE = ("saved", "created", "removed", "added", "restored")


def _editing(raw: str) -> tuple[str, int] | None:
    """``edit=emails-0``: the entry whose form is shown filled, to edit it in place."""
    kind, _, index = raw[:40].rpartition("-")
    return (kind, int(index)) if kind and index.isdigit() and len(index) < 6 else None


def role_name(code: str | None) -> str:
    found = ROLE_TYPES.get(code or "")
    return found.name if found else (code or "")
