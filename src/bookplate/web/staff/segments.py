"""Adding, editing in place and removing the repeated parts of a record on its tabs:
e-mails, phones, addresses (Contact), identifiers, notes, blocks, statistics and the users
this user is a proxy for.

New parts are internal segments and can always be added, also to an external user. Parts
that came from the SIS (external segments) change only after "open for update"; an edited
part keeps its source (an SIS entry stays the SIS's and the next load replaces it). An edit
changes only what its form shows: other values of the entry (address lines 3 to 5, further
types, who created a note or block and when) stay. Each change is one write through
``record.write`` (the API's PUT for a staff member).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.errors import InputError
from bookplate.users.errors import UserNotFound
from bookplate.users.model import (
    Address,
    Block,
    Email,
    Identifier,
    Note,
    Phone,
    ProxyFor,
    SegmentType,
    Statistic,
    User,
)
from bookplate.web.staff.common import Refused, Staff, field
from bookplate.web.staff.pages import by_service, post_page
from bookplate.web.staff.record import edit_and_show, parse_day, writable

router = APIRouter(include_in_schema=False)


def _flag(form: FormData, name: str) -> bool:
    return field(form, name, 10) in ("1", "on", "true")


def _email(form: FormData, staff: Staff) -> Email:
    kind = field(form, "email_type", 64)
    return Email(field(form, "email_address", 255) or None, email_types=[kind] if kind else [],
                 preferred=_flag(form, "preferred"))


def _phone(form: FormData, staff: Staff) -> Phone:
    kind = field(form, "phone_type", 64)
    return Phone(field(form, "phone_number", 255) or None, phone_types=[kind] if kind else [],
                 preferred=_flag(form, "preferred"), preferred_sms=_flag(form, "preferred_sms"))


def _address(form: FormData, staff: Staff) -> Address:
    kind = field(form, "address_type", 64)
    return Address(
        line1=field(form, "line1", 255) or None, line2=field(form, "line2", 255) or None,
        city=field(form, "city", 255) or None,
        state_province=field(form, "state_province", 255) or None,
        postal_code=field(form, "postal_code", 255) or None,
        country=field(form, "country", 64) or None,
        address_types=[kind] if kind else [], preferred=_flag(form, "preferred"))


def _status(form: FormData, name: str) -> str:
    """ACTIVE (the default of a new entry) or INACTIVE."""
    value = field(form, name, 10) or "ACTIVE"
    if value not in ("ACTIVE", "INACTIVE"):
        raise Refused(400, f"Given field {name} has invalid value {value}")
    return value


def _identifier(form: FormData, staff: Staff) -> Identifier:
    return Identifier(field(form, "id_type", 64) or None, field(form, "value", 255) or None,
                      note=field(form, "note", 255) or None, status=_status(form, "status"))


def _note(form: FormData, staff: Staff) -> Note:
    return Note(field(form, "note_type", 64) or None, field(form, "note_text", 4000) or None,
                user_viewable=_flag(form, "user_viewable"), popup_note=_flag(form, "popup_note"),
                created_by=staff.actor.primary_id, created_date=_now(staff))


def _block(form: FormData, staff: Staff) -> Block:
    expiry = parse_day(form, "expiry_date")
    return Block(field(form, "block_type", 64) or None,
                 field(form, "block_description", 64) or None, _status(form, "block_status"),
                 field(form, "block_note", 1000) or None, created_by=staff.actor.primary_id,
                 created_date=_now(staff),
                 expiry_date=datetime.combine(expiry, time.max, UTC) if expiry else None)


def _statistic(form: FormData, staff: Staff) -> Statistic:
    return Statistic(field(form, "statistic_category", 64) or None,
                     field(form, "category_type", 64) or None,
                     field(form, "statistic_note", 1000) or None)


def _proxy(form: FormData, staff: Staff) -> ProxyFor:
    """The user to act for, found by primary ID or identifier (as the staff member may see
    them); their name is taken from their record."""
    wanted = field(form, "proxy_user", 255)
    if not wanted:
        raise Refused(400, "Give the primary ID or an identifier of the user to act for.")
    try:
        other = staff.c.staff.get(staff.actor, wanted, scope=staff.location)
    except UserNotFound:
        raise InputError(f"No user has the primary ID or identifier {wanted}.") from None
    return ProxyFor(other.primary_id, other.full_name or None,
                    field(form, "proxy_type", 64) or None)


def _now(staff: Staff) -> datetime:
    now = staff.c.auth.now().astimezone(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


Parser = Callable[[FormData, Staff], Any]
# kind -> (tab, parser, the list of the record it lives in)
KINDS: dict[str, tuple[str, Parser, Callable[[User], list[Any]]]] = {
    "emails": ("contact", _email, lambda u: u.contact_info.emails),
    "phones": ("contact", _phone, lambda u: u.contact_info.phones),
    "addresses": ("contact", _address, lambda u: u.contact_info.addresses),
    "identifiers": ("identifiers", _identifier, lambda u: u.identifiers),
    "notes": ("notes", _note, lambda u: u.notes),
    "blocks": ("blocks", _block, lambda u: u.blocks),
    "statistics": ("statistics", _statistic, lambda u: u.statistics),
    "proxy": ("proxy", _proxy, lambda u: u.proxy_for),
}

# What each kind's form sets: an edit copies these onto the stored entry and keeps the rest.
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "emails": ("email_address", "email_types", "preferred"),
    "phones": ("phone_number", "phone_types", "preferred", "preferred_sms"),
    "addresses": ("line1", "line2", "city", "state_province", "postal_code", "country",
                  "address_types", "preferred"),
    "identifiers": ("id_type", "value", "note", "status"),
    "notes": ("note_type", "note_text", "user_viewable", "popup_note"),
    "blocks": ("block_type", "block_description", "block_note", "expiry_date",
               "block_status"),
    "statistics": ("statistic_category", "category_type", "statistic_note"),
    "proxy": ("primary_id", "full_name", "proxy_type"),
}
TYPE_LISTS = ("email_types", "phone_types", "address_types")


def _kind(kind: str) -> tuple[str, Parser, Callable[[User], list[Any]]]:
    found = KINDS.get(kind)
    if found is None:
        raise Refused(404, "There is no such part of a user record.")
    return found


def _index(raw: str, items: list[Any]) -> int:
    if not raw.isdigit() or int(raw) >= len(items):
        raise Refused(400, "That entry is no longer on the record. Reload the page.")
    return int(raw)


def _single_preferred(items: list[Any], keep: Any) -> None:
    """One preferred e-mail, phone or address: the one just marked wins."""
    if getattr(keep, "preferred", False):
        for item in items:
            if item is not keep and hasattr(item, "preferred"):
                item.preferred = False


@post_page(router, "/staff/users/{user_id:path}/{kind}/add", by_service)
def add_segment(staff: Staff, request: Request, form: FormData, user_id: str,
                kind: str) -> Response:
    tab, parse, items_of = _kind(kind)

    def edit(user: User) -> None:
        item = parse(form, staff)
        if hasattr(item, "segment_type"):
            item.segment_type = SegmentType.INTERNAL  # what staff add is never the SIS's
        items = items_of(user)
        if kind == "proxy" and (item.primary_id == user.primary_id or any(
                p.primary_id == item.primary_id for p in items)):
            raise InputError(f"This user is already a proxy for {item.primary_id}, or is "
                             "that user.")
        items.append(item)
        _single_preferred(items, item)

    opened = field(form, "open", 5) == "1"
    return edit_and_show(staff, request, user_id, tab, edit, f"{kind}-add",
                         opened=opened, done="added")


def _change(kind: str, user_id: str, form: FormData, staff: Staff,
            make: Callable[[list[Any], int], None]) -> tuple[str, Callable[[User], None], bool]:
    """The tab and the edit for a change of entry ``index`` (checked against the stored
    record: an external entry needs the record opened for update)."""
    tab, _, items_of = _kind(kind)
    stored = writable(staff, user_id)
    index = _index(field(form, "index", 6), items_of(stored))
    opened = field(form, "open", 5) == "1"
    source = getattr(items_of(stored)[index], "segment_type", SegmentType.INTERNAL)
    if source == SegmentType.EXTERNAL and not opened:
        raise Refused(400, "This entry came from the SIS: open the record for update first.")

    def edit(user: User) -> None:
        make(items_of(user), index)

    return tab, edit, opened


@post_page(router, "/staff/users/{user_id:path}/{kind}/remove", by_service)
def remove_segment(staff: Staff, request: Request, form: FormData, user_id: str,
                   kind: str) -> Response:
    def drop(items: list[Any], index: int) -> None:
        del items[index]

    tab, edit, opened = _change(kind, user_id, form, staff, drop)
    return edit_and_show(staff, request, user_id, tab, edit, f"{kind}-list",
                         opened=opened, done="removed")


def edited_entry(kind: str, old: Any, new: Any) -> Any:
    """``old`` with the values of ``new`` that the form sets. A type list keeps the further
    types the form does not show (the chosen one first)."""
    entry = copy.deepcopy(old)
    for name in FORM_FIELDS[kind]:
        value = getattr(new, name)
        if name in TYPE_LISTS:
            value = value + [t for t in getattr(old, name)[1:] if t not in value]
        setattr(entry, name, value)
    return entry


@post_page(router, "/staff/users/{user_id:path}/{kind}/edit", by_service)
def edit_segment(staff: Staff, request: Request, form: FormData, user_id: str,
                 kind: str) -> Response:
    _, parse, _ = _kind(kind)

    def replace(items: list[Any], index: int) -> None:
        items[index] = edited_entry(kind, items[index], parse(form, staff))
        _single_preferred(items, items[index])

    tab, edit, opened = _change(kind, user_id, form, staff, replace)
    index = int(field(form, "index", 6))
    return edit_and_show(staff, request, user_id, tab, edit, f"{kind}-edit",
                         opened=opened, editing=(kind, index))
