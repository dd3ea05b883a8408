"""Pure decisions for an external login: log in, create just in time, update, or deny.

A backend has proven an :class:`~bookplate.auth.model.Identity`; the profile's
:class:`~bookplate.auth.model.UserMapping` says how it becomes a Bookplate user. Nothing here
touches storage: ``services.complete_external_login`` finds the existing user, asks
:func:`decide`, then writes what :func:`user_from_identity` or :func:`apply_identity` built.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from bookplate.auth.model import Identity, UserMapping
from bookplate.users.model import (
    AccountType,
    Email,
    Identifier,
    RecordType,
    SegmentType,
    Status,
    User,
)
from bookplate.users.shape import user_fields

PRIMARY_ID = "primary_id"
PATRON_ROLE = "200"

# User fields a mapping may fill from an attribute (plain strings on ``User``): the fields
# marked ``login`` in the record's declaration (``users.shape``).
MAPPABLE_FIELDS: frozenset[str] = frozenset(user_fields("login"))
EMAIL_FIELD = "email"


class Action(StrEnum):
    LOGIN = "login"
    CREATE = "create"
    UPDATE = "update"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str = ""
    user_id: str | None = None


def identity_user_id(identity: Identity, mapping: UserMapping) -> str | None:
    """The user ID the identity asserts: its subject, or the mapping's attribute."""
    raw = identity.subject if mapping.user_id_from is None else identity.first(mapping.user_id_from)
    value = (raw or "").strip()
    return value or None


def decide(  # noqa: PLR0911 - each matching rule ends the decision with its own outcome
    identity: Identity, mapping: UserMapping, existing_user: User | None, today: date
) -> Decision:
    """What to do with a proven identity, given the user it matched (or None)."""
    user_id = identity_user_id(identity, mapping)
    if user_id is None:
        return Decision(Action.DENY, "the identity carries no user ID")
    if len(user_id) > 255:
        return Decision(Action.DENY, "the asserted user ID is longer than 255 characters")
    if not user_id.isprintable():
        return Decision(Action.DENY, "the asserted user ID holds control characters")
    if existing_user is None:
        if mapping.create_users:
            return Decision(Action.CREATE, "unknown user, just-in-time registration", user_id)
        return Decision(Action.DENY, "no user matches the identity", user_id)
    if existing_user.institution and existing_user.institution != identity.institution:
        return Decision(Action.DENY, "the user belongs to another institution", user_id)
    if existing_user.status != Status.ACTIVE.value:
        return Decision(Action.DENY, "the user is inactive", user_id)
    if existing_user.expiry_date is not None and existing_user.expiry_date < today:
        return Decision(Action.DENY, "the user has expired", user_id)
    refusal = outside_profile(existing_user, mapping)
    if refusal is not None:
        return Decision(Action.DENY, refusal, user_id)
    if mapping.update_users and existing_user.account_type != AccountType.INTERNAL.value:
        # Provider data never overwrites what the library keeps itself (internal accounts).
        return Decision(Action.UPDATE, "update user upon login", user_id)
    return Decision(Action.LOGIN, "existing user", user_id)


def holds_staff_roles(user: User) -> bool:
    """Any role besides Patron (whatever its status: a role set aside can be set back)."""
    return any(r.role_type and r.role_type != PATRON_ROLE for r in user.roles)


def outside_profile(user: User, mapping: UserMapping) -> str | None:
    """Why the profile may not sign in as ``user`` (None = it may): its record type, its
    account type, or roles beyond Patron the profile does not allow."""
    record_type = user.record_type or RecordType.PUBLIC.value
    if record_type not in mapping.record_types:
        return f"the profile may not sign in as a {record_type} record"
    account_type = user.account_type or AccountType.INTERNAL.value
    if account_type not in mapping.account_types:
        return f"the profile may not sign in as an {account_type} account"
    if not mapping.staff_roles and holds_staff_roles(user):
        return "the profile may not sign in as a user with roles beyond Patron"
    return None


def _mapped(identity: Identity, mapping: UserMapping) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, attribute in mapping.fields.items():
        if name not in MAPPABLE_FIELDS and name != EMAIL_FIELD:
            continue
        value = (identity.first(attribute) or "").strip()
        if value:
            values[name] = value
    return values


def _identifiers(identity: Identity, mapping: UserMapping, user_id: str) -> list[Identifier]:
    found: list[Identifier] = []
    seen: set[tuple[str, str]] = set()
    pairs = [(id_type, (identity.first(attr) or "").strip()) for id_type, attr in
             mapping.identifiers.items()]
    if mapping.match_id_type != PRIMARY_ID:
        # The asserted ID is how the user is found next time: keep it as that identifier.
        pairs.insert(0, (mapping.match_id_type, user_id))
    for id_type, value in pairs:
        if not value or (id_type, value.casefold()) in seen:
            continue
        seen.add((id_type, value.casefold()))
        found.append(Identifier(id_type=id_type, value=value, status="ACTIVE",
                                segment_type=SegmentType.EXTERNAL))
    return found


def user_from_identity(
    identity: Identity, mapping: UserMapping, user_id: str, today: date
) -> User:
    """A new EXTERNAL user for just-in-time registration (external_id = the profile code)."""
    values = _mapped(identity, mapping)
    email = values.pop(EMAIL_FIELD, None)
    user = User(
        primary_id=user_id,
        record_type=RecordType.PUBLIC.value,
        account_type=AccountType.EXTERNAL.value,
        external_id=identity.profile,
        status=Status.ACTIVE.value,
        institution=identity.institution,
    )
    user.user_group = mapping.default_user_group
    for name, value in values.items():
        setattr(user, name, value)
    if mapping.expiry_days is not None:
        user.expiry_date = today + timedelta(days=mapping.expiry_days)
    if email:
        user.contact_info.emails.append(
            Email(email_address=email, email_types=["personal"], preferred=True,
                  segment_type=SegmentType.EXTERNAL)
        )
    user.identifiers = _identifiers(identity, mapping, user_id)
    return user


def apply_identity(
    existing: User, identity: Identity, mapping: UserMapping, today: date | None = None
) -> User:
    """``existing`` refreshed from the identity ("update user upon login").

    Mapped fields the identity carries replace the stored ones (fields it does not carry are
    kept); the External email and External identifiers of the mapped types are replaced;
    Internal segments are never touched. Expiry is pushed out when the mapping sets one.
    """
    user = copy.deepcopy(existing)
    values = _mapped(identity, mapping)
    email = values.pop(EMAIL_FIELD, None)
    for name, value in values.items():
        setattr(user, name, value)
    if email:
        kept = [e for e in user.contact_info.emails if e.segment_type != SegmentType.EXTERNAL]
        preferred = not any(e.preferred for e in kept)
        user.contact_info.emails = [
            *kept,
            Email(email_address=email, email_types=["personal"], preferred=preferred,
                  segment_type=SegmentType.EXTERNAL),
        ]
    user_id = identity_user_id(identity, mapping) or existing.primary_id
    fresh = _identifiers(identity, mapping, user_id)
    fresh_types = {i.id_type for i in fresh}
    kept_ids = [
        i for i in user.identifiers
        if not (i.segment_type == SegmentType.EXTERNAL and i.id_type in fresh_types)
    ]
    kept_values = {(i.id_type, (i.value or "").casefold()) for i in kept_ids}
    user.identifiers = kept_ids + [
        i for i in fresh if (i.id_type, (i.value or "").casefold()) not in kept_values
    ]
    if mapping.expiry_days is not None and today is not None:
        renewed = today + timedelta(days=mapping.expiry_days)
        if user.expiry_date is None or user.expiry_date < renewed:
            user.expiry_date = renewed
    return user
