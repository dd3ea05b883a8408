"""The Alma user record as plain Python objects.

Field names follow Alma's ``rest_user`` schema so that the codec (``bookplate.alma``) is a
mechanical mapping. Code-table fields hold the code only (``"PUBLIC"``, ``"UNDERGRAD"``); their
descriptions are looked up when a record is written out. Empty strings are normalised to
``None`` by the codec, so ``None`` means "not set" everywhere in this module.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class RecordType(StrEnum):
    PUBLIC = "PUBLIC"
    STAFF = "STAFF"
    CONTACT = "CONTACT"


class AccountType(StrEnum):
    INTERNAL = "INTERNAL"
    EXTERNAL = "EXTERNAL"


class SegmentType(StrEnum):
    INTERNAL = "Internal"
    EXTERNAL = "External"


class Status(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(slots=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    line4: str | None = None
    line5: str | None = None
    city: str | None = None
    state_province: str | None = None
    postal_code: str | None = None
    country: str | None = None  # code, CountryCodes
    address_note: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    address_types: list[str] = field(default_factory=list)  # codes, UserAddressTypes
    preferred: bool = False
    segment_type: SegmentType = SegmentType.INTERNAL


@dataclass(slots=True)
class Email:
    email_address: str | None = None
    description: str | None = None
    email_types: list[str] = field(default_factory=list)  # codes, UserEmailTypes
    preferred: bool = False
    segment_type: SegmentType = SegmentType.INTERNAL


@dataclass(slots=True)
class Phone:
    phone_number: str | None = None
    phone_types: list[str] = field(default_factory=list)  # codes, UserPhoneTypes
    preferred: bool = False
    preferred_sms: bool = False
    segment_type: SegmentType = SegmentType.INTERNAL


@dataclass(slots=True)
class ContactInfo:
    addresses: list[Address] = field(default_factory=list)
    emails: list[Email] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)


@dataclass(slots=True)
class Identifier:
    id_type: str | None = None  # code, UserIdentifierTypes
    value: str | None = None
    note: str | None = None
    status: str | None = None  # ACTIVE / INACTIVE
    segment_type: SegmentType = SegmentType.INTERNAL


@dataclass(slots=True)
class RoleParameter:
    type: str | None = None  # e.g. CirculationDesk, ServiceUnit
    scope: str | None = None  # library code
    value: str | None = None  # desk / unit code


@dataclass(slots=True)
class Role:
    role_type: str | None = None  # numeric code as text, HFrUserRoles.roleType
    scope: str | None = None  # institution or library code
    status: str | None = None  # UserRoleStatus: ACTIVE / INACTIVE / NEW
    expiry_date: date | None = None
    parameters: list[RoleParameter] = field(default_factory=list)


@dataclass(slots=True)
class Note:
    note_type: str | None = None  # code, NoteTypes
    note_text: str | None = None
    user_viewable: bool = False
    popup_note: bool = False
    created_by: str | None = None
    created_date: datetime | None = None
    note_owner: str | None = None
    segment_type: SegmentType = SegmentType.INTERNAL


@dataclass(slots=True)
class Block:
    block_type: str | None = None  # code, UserBlockTypes
    block_description: str | None = None  # code, UserBlockDescription
    block_status: str | None = None  # ACTIVE / INACTIVE
    block_note: str | None = None
    created_by: str | None = None
    created_date: datetime | None = None
    expiry_date: datetime | None = None
    block_owner: str | None = None
    segment_type: SegmentType = SegmentType.INTERNAL


@dataclass(slots=True)
class Statistic:
    statistic_category: str | None = None  # code, UserStatCategories
    category_type: str | None = None  # code, UserStatisticalTypes
    statistic_note: str | None = None
    statistic_owner: str | None = None
    segment_type: SegmentType = SegmentType.INTERNAL


@dataclass(slots=True)
class ProxyFor:
    primary_id: str | None = None
    full_name: str | None = None
    proxy_type: str | None = None


@dataclass(slots=True)
class LibraryNotice:
    code: str | None = None  # letter code, LibraryNoticesOptInDisplay
    value: bool = False


@dataclass(slots=True)
class User:
    """One person's record. ``institution`` is Bookplate's owner, not part of Alma's schema."""

    primary_id: str
    record_type: str = RecordType.PUBLIC.value
    account_type: str = AccountType.INTERNAL.value
    external_id: str | None = None
    status: str = Status.ACTIVE.value
    status_date: date | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    pref_first_name: str | None = None
    pref_middle_name: str | None = None
    pref_last_name: str | None = None
    pref_name_suffix: str | None = None
    user_title: str | None = None
    job_category: str | None = None
    job_description: str | None = None
    gender: str | None = None
    user_group: str | None = None
    campus_code: str | None = None
    web_site_url: str | None = None
    cataloger_level: str | None = None
    preferred_language: str | None = None
    birth_date: date | None = None
    expiry_date: date | None = None
    purge_date: date | None = None
    pin_number: str | None = None
    force_password_change: bool | None = None
    contact_info: ContactInfo = field(default_factory=ContactInfo)
    identifiers: list[Identifier] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    statistics: list[Statistic] = field(default_factory=list)
    proxy_for: list[ProxyFor] = field(default_factory=list)
    rs_libraries: list[str] = field(default_factory=list)
    library_notices: list[LibraryNotice] = field(default_factory=list)
    linking_id: str | None = None
    source_institution_code: str | None = None
    source_link_id: str | None = None
    # Output-only: set by Bookplate, ignored on input.
    institution: str = ""
    created_by: str | None = None
    created_date: datetime | None = None
    last_modified_by: str | None = None
    last_modified_date: datetime | None = None
    last_patron_activity_date: date | None = None
    # Which protected fields staff changed by hand on an external user (SPEC section 4.3),
    # with the last value the SIS sent for each, so a later load can re-attach the field.
    manual_fields: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """Display name: preferred names win over the main names (SPEC section 1.3)."""
        first = self.pref_first_name or self.first_name
        middle = self.pref_middle_name or self.middle_name
        last = self.pref_last_name or self.last_name
        return " ".join(part for part in (first, middle, last) if part)

    @property
    def is_external(self) -> bool:
        return self.account_type == AccountType.EXTERNAL.value


@dataclass(slots=True)
class UserInput:
    """What a caller sends: the record plus the write-only password (never stored in it)."""

    user: User
    password: str | None = None


def normalise_id(value: str) -> str:
    """The form under which primary IDs and identifiers are unique and looked up.

    Unicode-compatibility folded, case-folded and stripped: ``" JDoe "`` and ``"jdoe"`` are
    the same ID. Decided for Bookplate in docs/alma-compatibility.md (Alma states
    case-insensitivity for primary IDs; we apply it to the whole ID namespace so that
    ``user_id_type=all_unique`` look-ups can never be ambiguous).
    """
    return unicodedata.normalize("NFKC", value).casefold().strip()


def id_values(user: User) -> list[str]:
    """Every normalised value in the user's ID namespace: primary ID first, then identifiers."""
    seen: list[str] = []
    for raw in [user.primary_id, *(i.value for i in user.identifiers if i.value)]:
        norm = normalise_id(raw)
        if norm not in seen:
            seen.append(norm)
    return seen
