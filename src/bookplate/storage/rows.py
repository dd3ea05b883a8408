"""Rows of the user tables computed from a ``User`` (shared by the repository and bulk load)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bookplate.storage.documents import user_to_document
from bookplate.storage.term_vector import lexemes
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


def name_sort_keys(user: User) -> tuple[str, str]:
    """The last-name and first-name sort keys of the default order (the preferred name when
    the name itself is empty): ``users``' sort columns and the start of ``user_order_key``."""
    return (
        sort_key(user.last_name or user.pref_last_name),
        sort_key(user.first_name or user.pref_first_name),
    )


def user_row(
    user: User,
    password_hash: str | None,
    *,
    with_password: bool = True,
    vector: bool = False,
    pairs: set[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The ``users`` row of ``user``. ``vector`` (PostgreSQL, ``term_vector``): with its
    search terms (``pairs`` when the caller has them) in ``search_terms``; else that column
    is NULL."""
    last_sort, first_sort = name_sort_keys(user)
    row: dict[str, Any] = {
        "institution": user.institution,
        "primary_id": user.primary_id,
        "primary_id_norm": normalise_id(user.primary_id),
        "record": user_to_document(user),
        "last_name_sort": last_sort,
        "first_name_sort": first_sort,
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
        "search_terms": lexemes(search_terms(user) if pairs is None else pairs)
        if vector
        else None,
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


# The fields whose ``user_terms`` rows carry the user's ``order_key``: a search on them reads
# its page of the default order straight from the term index (``SqlUserRepository.search``).
# Other fields' rows hold NULL there, which keeps the rows and the index narrow.
ORDERED_TERM_FIELDS = frozenset({"first_name", "last_name", "middle_name"})


def order_key(*parts: str) -> str:
    """One string whose code point order is the order of the tuple ``parts``.

    Each part is ended by U+0001 U+0001, and a U+0001 inside a part is written U+0001 U+0002:
    the end of a part then sorts before any character that could follow it (PostgreSQL text
    holds no U+0000), so ``order_key(*a) < order_key(*b)`` exactly when ``a < b``.
    """
    return "".join(part.replace("\x01", "\x01\x02") + "\x01\x01" for part in parts)


def user_order_key(user: User) -> str:
    """The search's default order (last name, first name, primary ID) as one key; built from
    the same values as ``user_row``'s sort columns."""
    return order_key(*name_sort_keys(user), normalise_id(user.primary_id))


def row_order_key(row: dict[str, Any]) -> str:
    """``user_order_key`` from a ``user_row`` (its sort columns are already computed)."""
    return order_key(row["last_name_sort"], row["first_name_sort"], row["primary_id_norm"])


def term_rows(
    user: User,
    key: str | None = None,
    *,
    vector: bool = False,
    pairs: set[tuple[str, str]] | None = None,
) -> list[tuple[str, str, str | None]]:
    """The ``user_terms`` rows ``(field, term, order_key)`` of ``user``: one for each of
    ``term_pairs(user)``, ``order_key`` None outside ``ORDERED_TERM_FIELDS``; with ``vector``
    (PostgreSQL, where the row's ``search_terms`` holds every term) only the rows of
    ``ORDERED_TERM_FIELDS``. ``key``: the user's ``user_order_key``, ``pairs``: its
    ``term_pairs``, when the caller has them already."""
    if key is None:
        key = user_order_key(user)
    if pairs is None:
        pairs = search_terms(user)
    if vector:
        return [(f, v, key) for f, v in pairs if f in ORDERED_TERM_FIELDS]
    return [(f, v, key if f in ORDERED_TERM_FIELDS else None) for f, v in pairs]
