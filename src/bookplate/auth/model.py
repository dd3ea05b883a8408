"""What every way of signing in produces, and how an outside identity maps onto a user.

A backend (LDAP bind, SAML assertion, CAS ticket, OIDC ID token) verifies the protocol and
returns an :class:`Identity`. ``matching.py`` then decides, purely, whether that identity logs
in an existing user, creates one just in time, updates one, or is denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bookplate.auth.errors import ProfileInvalid

RECORD_TYPES = ("PUBLIC", "STAFF", "CONTACT")
ACCOUNT_TYPES = ("INTERNAL", "EXTERNAL")


class Method(StrEnum):
    LOCAL = "local"
    LDAP = "ldap"
    SAML = "saml"
    CAS = "cas"
    OIDC = "oidc"


@dataclass(frozen=True, slots=True)
class Identity:
    """A person proven by a backend. ``subject`` is the login name / NameID / CAS user /
    OIDC ``sub``; ``attributes`` are what the identity provider released, multi-valued."""

    method: Method
    profile: str  # the code of the profile (LDAP/SAML/CAS/OIDC configuration) that proved it
    institution: str
    subject: str
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The provider's session, for single logout (SAML NameID and SessionIndex, OIDC ID
    #: token and ``sid``); never mapped onto the user.
    session: Mapping[str, str] = field(default_factory=dict)

    def first(self, name: str) -> str | None:
        values = self.attributes.get(name) or ()
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class UserMapping:
    """How an identity becomes a Bookplate user (SPEC section 8: the mapping table).

    ``user_id_from``: None = the identity's subject, else an attribute name. ``match_id_type``:
    "primary_id" or an identifier type the user ID is looked up by. ``fields``: user field ->
    attribute (first_name, last_name, email, user_group, campus_code, job_category, ...).
    ``identifiers``: identifier type -> attribute, added as External segments.

    Who the provider may sign in as (docs/authentication.md, "Which users a provider may sign
    in as"): an existing user is matched only when its record type is in ``record_types`` and
    its account type in ``account_types``, and, unless ``staff_roles``, when it holds no
    active role besides Patron. ``local_password``: users this profile created (EXTERNAL,
    ``external_id`` = the profile code) may also sign in with a Bookplate password.
    """

    user_id_from: str | None = None
    match_id_type: str = "primary_id"
    create_users: bool = False  # just-in-time registration
    update_users: bool = False  # refresh mapped fields on every login
    fields: Mapping[str, str] = field(default_factory=dict)
    identifiers: Mapping[str, str] = field(default_factory=dict)
    default_user_group: str | None = None
    expiry_days: int | None = None
    record_types: tuple[str, ...] = ("PUBLIC",)
    account_types: tuple[str, ...] = ACCOUNT_TYPES
    staff_roles: bool = False
    local_password: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (("record_types", RECORD_TYPES), ("account_types", ACCOUNT_TYPES)):
            unknown = sorted(set(getattr(self, name)) - set(allowed))
            if unknown:
                raise ProfileInvalid(f"mapping.{name}: unknown value(s) {', '.join(unknown)} "
                                     f"(one of {', '.join(allowed)}).")


@dataclass(frozen=True, slots=True)
class Registration:
    """A self-registration waiting for staff (docs/patron.md): its user record (a PUBLIC,
    INTERNAL user in the pending group) holds the person's data; this holds the e-mail
    address it was made for, when, from where, and whether the address is confirmed."""

    institution: str
    primary_id: str
    email: str
    created_at: datetime
    link_expires_at: datetime
    confirmed_at: datetime | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """The audit row written with a profile change (in the same transaction): who, what
    (``auth.profile.put``...), and the settings with secrets masked."""

    actor: str
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProbeStep:
    """One thing a connection test did and what the provider answered."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """A connection test of a sign-in profile (nobody is signed in)."""

    ok: bool
    steps: tuple[ProbeStep, ...]
