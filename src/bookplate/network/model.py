"""Institutions of one deployment, the network-wide ID rule, partners and linked accounts.

A *linked account* (SPEC section 7.1) is a host institution's copy of a user whose home is a
partner institution: general information, addresses, emails and phones are copied,
identifiers, roles, proxies, statistics and notes are not. The copy carries
``source_institution_code`` (the home), ``source_link_id`` (the user's primary ID there) and
the person's ``linking_id``. What the host sets itself (user group, expiry and purge dates)
comes from its *linked account rule* for that partner. Everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from bookplate.users.copying import copy_record
from bookplate.users.model import Block, ContactInfo, Note, RecordType, User


class IdScope(StrEnum):
    """Where primary IDs and identifiers must be unique."""

    NETWORK = "network"  # across every institution of the deployment
    INSTITUTION = "institution"  # only within each institution


NETWORK_SCOPE_KEY = "*"


@dataclass(frozen=True, slots=True)
class Institution:
    code: str
    name: str


def uniqueness_scope(mode: IdScope, institution: str, linked: bool = False) -> str:
    """The value stored beside each ID; the database keeps (scope, value) unique.

    A linked copy carries its source's primary ID: it is the same person, not a second
    network account, so its IDs are unique within its own institution whatever the mode
    (docs/networks.md)."""
    if linked:
        return institution
    return NETWORK_SCOPE_KEY if mode is IdScope.NETWORK else institution


# -- the home side: what an institution lets its partners do with its users -----------------

#: ``user_id_type`` values partners may use when none are configured.
DEFAULT_SEARCHABLE = ("primary_id",)


@dataclass(frozen=True, slots=True)
class MemberSettings:
    """An institution's settings as a home institution (Alma's "searchable identifiers" and
    network search password)."""

    institution: str
    #: ``primary_id``, ``all_unique`` or identifier type codes partners may find a user by.
    searchable_id_types: tuple[str, ...] = DEFAULT_SEARCHABLE
    #: SHA-256 hex of the password partners must present to find users here (None: none).
    search_password_hash: str | None = None
    #: Whether this institution's blocks travel to its users' linked copies.
    share_blocks: bool = True


# -- the host side: partners and their linked account rules ---------------------------------


class ExpiryMode(StrEnum):
    SOURCE = "source"  # same as in the source institution
    FIXED = "fixed"  # an absolute date
    NONE = "none"  # no expiry date


class PurgeMode(StrEnum):
    NONE = "none"
    FIXED = "fixed"  # an absolute date
    AFTER_EXPIRY = "after_expiry"  # a number of days after the copy's expiry date


@dataclass(frozen=True, slots=True)
class Partner:
    """A partner institution seen from a host, with the host's linked account rule for the
    partner's users. ``base_url`` set: the partner lives on another Bookplate, reached over
    HTTP with ``api_key``; unset: it is an institution of this deployment."""

    institution: str  # the host
    code: str  # the partner (home institution of the users to be copied)
    name: str = ""
    base_url: str | None = None
    api_key: str | None = None  # secret: never shown
    search_password: str | None = None  # the partner's network search password: never shown
    timeout_seconds: float = 5.0
    retries: int = 2
    # The linked account rule.
    user_group: str | None = None  # None: the source's user group
    expiry: ExpiryMode = ExpiryMode.SOURCE
    expiry_date: date | None = None
    purge: PurgeMode = PurgeMode.NONE
    purge_date: date | None = None
    purge_days: int = 0
    refresh_expiry: bool = True
    refresh_purge: bool = True
    accept_blocks: bool = True  # whether the partner's blocks land on the copies
    send_blocks: bool = False  # whether the host's own blocks on a copy reach the home account

    @property
    def remote(self) -> bool:
        return self.base_url is not None

    def public(self) -> dict[str, Any]:
        """The partner as shown to staff: secrets replaced by whether they are set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("api_key", "search_password"):
                out[f"{f.name}_set"] = value is not None
                continue
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, StrEnum):
                value = value.value
            out[f.name] = value
        return out


#: Partner fields a caller may set (everything but the two keys).
PARTNER_FIELDS = tuple(f.name for f in fields(Partner) if f.name not in ("institution", "code"))


def partner_settings(partner: Partner) -> dict[str, Any]:
    """The stored form of a partner's non-secret settings (JSON-ready)."""
    data = partner.public()
    for name in ("institution", "code", "api_key_set", "search_password_set"):
        data.pop(name, None)
    return data


def partner_from_settings(
    institution: str,
    code: str,
    settings: dict[str, Any],
    api_key: str | None,
    search_password: str | None,
) -> Partner:
    """The inverse of ``partner_settings`` (stored values are trusted)."""
    values: dict[str, Any] = dict(settings)
    for name in ("expiry_date", "purge_date"):
        if values.get(name):
            values[name] = date.fromisoformat(values[name])
    if "expiry" in values:
        values["expiry"] = ExpiryMode(values["expiry"])
    if "purge" in values:
        values["purge"] = PurgeMode(values["purge"])
    known = set(PARTNER_FIELDS)
    values = {k: v for k, v in values.items() if k in known}
    values.update(api_key=api_key, search_password=search_password)
    return Partner(institution, code, **values)


# -- building and refreshing a copy -----------------------------------------------------------

#: The general information a copy takes from its source (SPEC section 7.1).
COPIED_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "pref_first_name",
    "pref_middle_name",
    "pref_last_name",
    "pref_name_suffix",
    "user_title",
    "job_category",
    "job_description",
    "gender",
    "web_site_url",
    "preferred_language",
    "birth_date",
    "status",
    "status_date",
)

#: ``created_by`` of a block copied from the home institution (``network:<code>``): on
#: refresh the copied blocks are replaced, the host's own blocks kept.
COPIED_BLOCK_PREFIX = "network:"

#: Start of the note put on a copy whose source user was deleted.
SOURCE_GONE_NOTE = "Linked account: the source user was deleted in"


def copied_blocks(source: User, partner: Partner, share_blocks: bool) -> list[Block]:
    """The source's active blocks as they land on a copy (none when either side says no).
    Blocks that reached the source from the network (a host's, ``network:<host>``) are not
    passed on: a home shares its own blocks."""
    if not (share_blocks and partner.accept_blocks):
        return []
    out = []
    for block in source.blocks:
        if (block.block_status or "ACTIVE").upper() != "ACTIVE":
            continue
        if (block.created_by or "").startswith(COPIED_BLOCK_PREFIX):
            continue
        new = copy_record(block)
        new.created_by = f"{COPIED_BLOCK_PREFIX}{partner.code}"
        out.append(new)
    return out


def _expiry(source: User, partner: Partner) -> date | None:
    if partner.expiry is ExpiryMode.SOURCE:
        return source.expiry_date
    if partner.expiry is ExpiryMode.FIXED:
        return partner.expiry_date
    return None


def _purge(expiry: date | None, partner: Partner) -> date | None:
    if partner.purge is PurgeMode.FIXED:
        return partner.purge_date
    if partner.purge is PurgeMode.AFTER_EXPIRY and expiry is not None:
        return expiry + timedelta(days=partner.purge_days)
    return None


def new_copy(source: User, partner: Partner, linking_id: str, share_blocks: bool) -> User:
    """The host's new linked account for ``source`` (not validated, not stamped)."""
    user = User(primary_id=source.primary_id, record_type=RecordType.PUBLIC.value)
    for name in COPIED_FIELDS:
        setattr(user, name, copy_record(getattr(source, name)))
    user.contact_info = copy_record(source.contact_info)
    user.user_group = partner.user_group or source.user_group
    user.expiry_date = _expiry(source, partner)
    user.purge_date = _purge(user.expiry_date, partner)
    user.blocks = copied_blocks(source, partner, share_blocks)
    user.institution = partner.institution
    user.source_institution_code = partner.code
    user.source_link_id = source.primary_id
    user.linking_id = linking_id
    return user


def refreshed_copy(copy_: User, source: User, partner: Partner, share_blocks: bool) -> User:
    """``copy_`` brought up to date with ``source``: the copied fields and contact details
    replaced; the host's own data (identifiers, roles, notes, statistics, its own blocks)
    kept; expiry and purge recalculated when the rule says so."""
    user = copy_record(copy_)
    for name in COPIED_FIELDS:
        setattr(user, name, copy_record(getattr(source, name)))
    user.contact_info = copy_record(source.contact_info) if source.contact_info else ContactInfo()
    if partner.user_group is None and source.user_group:
        user.user_group = source.user_group
    if partner.refresh_expiry:
        user.expiry_date = _expiry(source, partner)
    if partner.refresh_purge:
        user.purge_date = _purge(user.expiry_date, partner)
    own = [
        b for b in user.blocks if not (b.created_by or "").startswith(COPIED_BLOCK_PREFIX)
    ]
    user.blocks = own + copied_blocks(source, partner, share_blocks)
    user.source_link_id = source.primary_id
    if source.linking_id:
        user.linking_id = source.linking_id
    user.notes = [n for n in user.notes if not (n.note_text or "").startswith(SOURCE_GONE_NOTE)]
    return user


def marked_gone(copy_: User, source_institution: str, when: datetime) -> User:
    """``copy_`` with a pop-up note saying its source user was deleted (once)."""
    user = copy_record(copy_)
    if any((n.note_text or "").startswith(SOURCE_GONE_NOTE) for n in user.notes):
        return user
    user.notes.append(
        Note(
            note_type="GENERAL",
            note_text=f"{SOURCE_GONE_NOTE} {source_institution} on {when.date().isoformat()}.",
            popup_note=True,
            created_by=f"{COPIED_BLOCK_PREFIX}{source_institution}",
            created_date=when,
        )
    )
    return user


def same_content(a: User, b: User) -> bool:
    """Whether two records hold the same data (the stamps of who/when aside)."""
    stamps = {"last_modified_by": None, "last_modified_date": None}
    return replace(a, **stamps) == replace(b, **stamps)  # type: ignore[arg-type]  # None stamps


# -- live refresh ---------------------------------------------------------------------------


class OutboxKind(StrEnum):
    CHANGED = "changed"  # the source user was written: refresh its copies
    DELETED = "deleted"  # the source user was deleted: mark its copies


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A source user's change waiting to reach its copies. ``link_id`` is the primary ID the
    copies know the source by (the one before the change)."""

    id: int
    institution: str
    link_id: str
    source_pk: int | None
    kind: OutboxKind
    attempts: int = 0


@dataclass(slots=True)
class RefreshReport:
    """What one pass over the outbox did."""

    entries: int = 0
    refreshed: int = 0
    unchanged: int = 0
    marked: int = 0
    failed: list[str] = field(default_factory=list)


# -- network-wide identity ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdClash:
    """One ID value held by more than one user under the scope being switched to."""

    value: str
    holders: tuple[tuple[str, str, str], ...]  # (institution, primary ID, id type)


def clash_csv_rows(clashes: list[IdClash]) -> list[list[str]]:
    """The clash report as CSV rows: a header, then one row per holder."""
    rows = [["value", "institution", "primary_id", "id_type"]]
    for clash in clashes:
        for institution, primary_id, id_type in clash.holders:
            rows.append([clash.value, institution, primary_id, id_type])
    return rows
