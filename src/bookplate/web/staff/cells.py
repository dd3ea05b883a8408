"""How the tabs show each repeated entry of a record: column headings and cell texts, codes
with their code-table descriptions and dates in the institution's format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bookplate.users.validation import CodeBook
from bookplate.web.staff.common import describe, show_date


def _codes(book: CodeBook, table: str, codes: list[str]) -> str:
    return ", ".join(describe(book, table, c) for c in codes)


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


Cell = Callable[[CodeBook, Any], str]
COLUMNS: dict[str, tuple[tuple[str, Cell], ...]] = {
    "emails": (
        ("E-mail", lambda b, e: e.email_address or ""),
        ("Type", lambda b, e: _codes(b, "UserEmailTypes", e.email_types)),
        ("Preferred", lambda b, e: _yes(e.preferred)),
    ),
    "phones": (
        ("Phone", lambda b, p: p.phone_number or ""),
        ("Type", lambda b, p: _codes(b, "UserPhoneTypes", p.phone_types)),
        ("Preferred", lambda b, p: _yes(p.preferred)),
        ("SMS", lambda b, p: _yes(p.preferred_sms)),
    ),
    "addresses": (
        ("Address", lambda b, a: ", ".join(x for x in (a.line1, a.line2, a.line3, a.city,
                                                       a.state_province, a.postal_code) if x)),
        ("Country", lambda b, a: describe(b, "CountryCodes", a.country)),
        ("Type", lambda b, a: _codes(b, "UserAddressTypes", a.address_types)),
        ("Preferred", lambda b, a: _yes(a.preferred)),
    ),
    "identifiers": (
        ("Type", lambda b, i: describe(b, "UserIdentifierTypes", i.id_type)),
        ("Value", lambda b, i: i.value or ""),
        ("Note", lambda b, i: i.note or ""),
        ("Status", lambda b, i: i.status or ""),
    ),
    "notes": (
        ("Type", lambda b, n: describe(b, "NoteTypes", n.note_type)),
        ("Note", lambda b, n: n.note_text or ""),
        ("Patron can see", lambda b, n: _yes(n.user_viewable)),
        ("Pop-up", lambda b, n: _yes(n.popup_note)),
        ("Created", lambda b, n: " ".join(x for x in (show_date(n.created_date),
                                                       n.created_by or "") if x)),
    ),
    "blocks": (
        ("Type", lambda b, k: describe(b, "UserBlockTypes", k.block_type)),
        ("Description", lambda b, k: describe(b, "UserBlockDescription", k.block_description)),
        ("Status", lambda b, k: k.block_status or ""),
        ("Note", lambda b, k: k.block_note or ""),
        ("Expires", lambda b, k: show_date(k.expiry_date)),
    ),
    "statistics": (
        ("Category", lambda b, s: describe(b, "UserStatCategories", s.statistic_category)),
        ("Type", lambda b, s: describe(b, "UserStatisticalTypes", s.category_type)),
        ("Note", lambda b, s: s.statistic_note or ""),
    ),
    "proxy": (
        ("Primary ID", lambda b, p: p.primary_id or ""),
        ("Name", lambda b, p: p.full_name or ""),
        ("Proxy type", lambda b, p: p.proxy_type or ""),
    ),
}

# How one entry of each kind is named in the forms' legends and buttons.
ENTRY_NAMES = {"emails": "e-mail address", "phones": "phone number", "addresses": "address",
               "identifiers": "identifier", "notes": "note", "blocks": "block",
               "statistics": "statistic", "proxy": "proxy"}
# The singular of each kind in the forms' ids ("email-add", "note-edit").
SINGULAR = {"emails": "email", "phones": "phone", "addresses": "address",
            "identifiers": "identifier", "notes": "note", "blocks": "block",
            "statistics": "statistic", "proxy": "proxy"}


# The inputs of each kind's add and edit forms (an error about one is shown beside it).
INPUT_NAMES: dict[str, tuple[str, ...]] = {
    "emails": ("email_address", "email_type"),
    "phones": ("phone_number", "phone_type"),
    "addresses": ("line1", "line2", "city", "state_province", "postal_code", "country",
                  "address_type"),
    "identifiers": ("id_type", "value", "note", "status"),
    "notes": ("note_type", "note_text"),
    "blocks": ("block_type", "block_description", "block_note", "expiry_date",
               "block_status"),
    "statistics": ("statistic_category", "category_type", "statistic_note"),
    "proxy": ("proxy_user", "proxy_type"),
}


def headings(kind: str) -> list[str]:
    return [label for label, _ in COLUMNS[kind]]


def cells(kind: str, book: CodeBook, item: Any) -> list[str]:
    return [show(book, item) for _, show in COLUMNS[kind]]
