"""The staff queue of self-registrations (docs/patron.md): list, approve (a real user group
and expiry), merge into an existing user, reject.

Every change of a user goes through ``roles.staff.StaffUsers``, the path of the API and the
staff pages, so the same policy decides (a user manager may approve a patron; rejecting or
merging removes the pending record and needs the right to delete users). Each action leaves
a line in the users' history (``registration.approve`` / ``.merge`` / ``.reject``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

import structlog

from bookplate.auth.errors import RegistrationNotConfirmed, RegistrationNotPending
from bookplate.auth.model import Registration
from bookplate.auth.ports import Mailer, RegistrationStore
from bookplate.roles.model import Actor
from bookplate.roles.policy import Action
from bookplate.roles.staff import StaffUsers, as_caller, require_any
from bookplate.users.errors import InvalidParameter, UserNotFound
from bookplate.users.model import Address, Email, Phone, SegmentType, User, UserInput
from bookplate.users.ports import PRIMARY_ID
from bookplate.users.services import UserService

log = structlog.get_logger("bookplate.auth.registrations")


@dataclass(frozen=True, slots=True)
class Pending:
    registration: Registration
    user: User | None  # None: the record was removed by other means


class RegistrationQueue:
    def __init__(self, users: UserService, staff: StaffUsers, store: RegistrationStore,
                 mailer: Mailer | None) -> None:
        self.users = users
        self.staff = staff
        self.store = store
        self.mailer = mailer

    def pending(self, actor: Actor, limit: int = 500) -> list[Pending]:
        require_any(actor, Action.EDIT_USER)
        out = []
        for registration in self.store.pending(actor.institution, limit):
            try:
                user: User | None = self.users.get(actor.institution, registration.primary_id,
                                                   PRIMARY_ID)
            except UserNotFound:
                user = None
            out.append(Pending(registration, user))
        return out

    def one(self, actor: Actor, primary_id: str) -> tuple[Registration, User]:
        require_any(actor, Action.EDIT_USER)
        if not primary_id or len(primary_id) > 255 or not primary_id.isprintable():
            # no stored ID is like this (and PostgreSQL cannot even compare a NUL)
            raise RegistrationNotPending(primary_id.encode("unicode_escape").decode()[:255])
        registration = self.store.get(actor.institution, primary_id)
        if registration is None:
            raise RegistrationNotPending(primary_id)
        user = self.staff.get(actor, registration.primary_id, PRIMARY_ID)
        return registration, user

    def approve(self, actor: Actor, primary_id: str, group: str, expiry: date | None) -> User:
        """The registration becomes an ordinary user: ``group``, ``expiry``, ACTIVE."""
        registration, user = self.one(actor, primary_id)
        if registration.confirmed_at is None:
            raise RegistrationNotConfirmed()
        if not group:
            raise InvalidParameter("user_group", group)
        user.user_group = group
        user.expiry_date = expiry
        user.purge_date = None
        user.status = "ACTIVE"
        approved = self.staff.replace(actor, user.primary_id, UserInput(user),
                                      id_type=PRIMARY_ID)
        self.store.remove(actor.institution, user.primary_id, as_caller(actor).who,
                          "registration.approve",
                          {"user_group": group, "expiry_date": expiry.isoformat()
                           if expiry else None})
        log.info("registration_approved", institution=actor.institution,
                 user=user.primary_id, by=actor.primary_id)
        return approved

    def merge(self, actor: Actor, primary_id: str, into: str) -> User:
        """The person already has a record: the registration's contact details are added to
        it as Internal segments (none preferred, none twice), the pending record goes."""
        _, pending = self.one(actor, primary_id)
        target = self.staff.get(actor, into)
        if target.primary_id == pending.primary_id:
            raise InvalidParameter("into", into)
        merged = copy.deepcopy(target)
        info, new = merged.contact_info, pending.contact_info
        known = {e.email_address.lower() for e in info.emails if e.email_address}
        for email in new.emails:
            if email.email_address and email.email_address.lower() not in known:
                info.emails.append(_internal(email))
        known = {p.phone_number for p in info.phones if p.phone_number}
        info.phones += [_internal(p) for p in new.phones if p.phone_number not in known]
        info.addresses += [_internal(a) for a in new.addresses]
        result = self.staff.replace(actor, target.primary_id, UserInput(merged),
                                    id_type=PRIMARY_ID)
        self.staff.delete(actor, pending.primary_id, PRIMARY_ID)
        self.store.remove(actor.institution, pending.primary_id, as_caller(actor).who,
                          "registration.merge", {"into": target.primary_id})
        log.info("registration_merged", institution=actor.institution,
                 user=pending.primary_id, into=target.primary_id, by=actor.primary_id)
        return result

    def reject(self, actor: Actor, primary_id: str, *, notify: bool) -> None:
        """The pending record goes; ``notify``: a short message to its address."""
        registration, pending = self.one(actor, primary_id)
        self.staff.delete(actor, pending.primary_id, PRIMARY_ID)
        self.store.remove(actor.institution, pending.primary_id, as_caller(actor).who,
                          "registration.reject", {"notified": notify})
        log.info("registration_rejected", institution=actor.institution,
                 user=pending.primary_id, by=actor.primary_id)
        if notify and self.mailer is not None:
            try:
                self.mailer.send(registration.email, "Your library registration",
                                 "The library could not accept your registration. Please "
                                 "contact the library if you have questions.\n")
            except OSError as exc:
                log.warning("registration_mail_failed", error=type(exc).__name__)


_Segment = TypeVar("_Segment", Email, Phone, Address)


def _internal(segment: _Segment) -> _Segment:
    return replace(copy.deepcopy(segment), preferred=False, segment_type=SegmentType.INTERNAL)
