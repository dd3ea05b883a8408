"""Rows of the user tables computed from a ``User`` (shared by the repository and bulk load)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bookplate.storage.documents import user_to_document
from bookplate.users.model import User, normalise_id
from bookplate.users.ports import PRIMARY_ID
from bookplate.users.queries import fold, search_terms

SORT_LENGTH = 255


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime (naive values are taken as UTC already)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def sort_key(text: str | None) -> str:
    return fold(text or "").strip()[:SORT_LENGTH]


def user_row(
    user: User, password_hash: str | None, *, with_password: bool = True
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "institution": user.institution,
        "primary_id": user.primary_id,
        "primary_id_norm": normalise_id(user.primary_id),
        "record": user_to_document(user),
        "last_name_sort": sort_key(user.last_name or user.pref_last_name),
        "first_name_sort": sort_key(user.first_name or user.pref_first_name),
        "user_group": user.user_group,
        "record_type": user.record_type,
        "account_type": user.account_type,
        "external_id": user.external_id,
        "status": user.status,
        "linking_id": user.linking_id,
        "source_institution_code": user.source_institution_code,
        "source_link_id": user.source_link_id,
        "created_date": utc(user.created_date),
        "last_modified_date": utc(user.last_modified_date),
        "expiry_date": user.expiry_date,
        "purge_date": user.purge_date,
    }
    if with_password:
        row["password_hash"] = password_hash
    return row


def id_entries(user: User) -> list[tuple[str, str, str]]:
    """(normalised value, raw value, id type) for each distinct value of the ID namespace, in
    the order of ``users.model.id_values``: primary ID first."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    candidates = [(user.primary_id, PRIMARY_ID)] + [
        (i.value, i.id_type or "") for i in user.identifiers if i.value
    ]
    for raw, id_type in candidates:
        norm = normalise_id(raw)
        if norm not in seen:
            seen.add(norm)
            out.append((norm, raw, id_type))
    return out


def identifier_pairs(user: User) -> set[tuple[str, str]]:
    """(id_type, normalised value) of the user's identifiers."""
    return {(i.id_type or "", normalise_id(i.value)) for i in user.identifiers if i.value}


def term_pairs(user: User) -> set[tuple[str, str]]:
    return search_terms(user)
