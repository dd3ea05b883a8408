"""Network Zone style central management (SPEC section 7.2; docs/networks.md, "Network
Zone"), an optional profile of one deployment: one institution is the *central* one and
keeps the users; *member* institutions get a copy of a central user when they need one
(``zone_copy_user``: staff search and copy); every later change of the central user reaches
every member copy through the live refresh outbox (``zone_refresh``), as External data,
keeping each member's Internal data. No copy is made by a push.

Who may change the zone: the deployment's operator (CLI, ``by`` None) always; through the
API the central institution's configurers (and a member may leave). Every change is a
history line."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from bookplate.network.base import LIVE_ACTOR, NetworkBase
from bookplate.network.errors import (
    InstitutionNotFound,
    InvalidPartner,
    LinkedAccountExists,
    SourceUserNotFound,
)
from bookplate.network.model import RefreshReport, same_content
from bookplate.network.ports import NetworkUnitOfWork
from bookplate.network.settings import check_text
from bookplate.network.zone_model import zone_copy
from bookplate.roles.errors import PermissionDenied
from bookplate.users.model import User
from bookplate.users.ports import ALL_UNIQUE, Guard

ZONE_TARGET = "zone"


@dataclass(frozen=True, slots=True)
class Zone:
    central: str | None
    members: tuple[str, ...]


def _code(field: str, value: object) -> str:
    code = check_text(field, value, 64)
    if not all(ch.isalnum() or ch in "_.-" for ch in code):
        raise InvalidPartner(field, "letters, digits, '_', '.' and '-' only")
    return code


class ZoneManagement(NetworkBase):
    def zone(self) -> Zone:
        with self._uow_factory() as uow:
            return Zone(uow.zone.central(), tuple(uow.zone.members()))

    @staticmethod
    def _allowed(uow: NetworkUnitOfWork, by: str | None, *also: str) -> None:
        """``by`` (the caller's institution through the API; None: the operator) must be the
        zone's central institution, or one of ``also``."""
        if by is None:
            return
        central = uow.zone.central()
        if by != central and by not in also:
            raise PermissionDenied("change the network zone",
                                   f"{central or 'no institution'} is the zone's central "
                                   f"institution, not {by}")

    def set_zone_central(self, code: str | None, actor: str, *, by: str | None = None) -> Zone:
        """Make ``code`` the central institution (None: no zone). Through the API an
        institution may make itself central when there is none; then only the central may
        change it."""
        with self._uow_factory() as uow:
            current = uow.zone.central()
            if code is not None:
                code = _code("central", code)
                self._institution(uow, code)
                if uow.zone.is_member(code):
                    raise InvalidPartner("central", f"{code} is a member of the zone: "
                                         "remove it from the members first")
            if not (current is None and by is not None and code == by):
                self._allowed(uow, by)
            uow.zone.set_central(code)
            if code or current:
                uow.network.record(code or current or "", actor, "network.zone_central",
                                   ZONE_TARGET, {"central": code, "previous": current})
            uow.commit()
            return Zone(code, tuple(uow.zone.members()))

    def zone_member_set(self, code: str, actor: str, *, by: str | None = None) -> Zone:
        with self._uow_factory() as uow:
            code = _code("member", code)
            central = uow.zone.central()
            if central is None:
                raise InvalidPartner("member", "the zone has no central institution: "
                                     "set it first")
            self._institution(uow, code)
            self._allowed(uow, by)
            if code == central:
                raise InvalidPartner("member", f"{code} is the zone's central institution")
            if uow.network.partner(code, central) is not None:
                raise InvalidPartner("member", f"{code} has {central} as a fulfillment "
                                     "partner (linked accounts): remove that partner first")
            added = uow.zone.add_member(code, actor)
            if added:
                for institution in (central, code):
                    uow.network.record(institution, actor, "network.zone_member", ZONE_TARGET,
                                       {"member": code, "central": central})
            uow.commit()
            return Zone(central, tuple(uow.zone.members()))

    def zone_member_remove(self, code: str, actor: str, *, by: str | None = None) -> Zone:
        """The member's copies stay as they are (no longer refreshed)."""
        with self._uow_factory() as uow:
            code = _code("member", code)
            self._allowed(uow, by, code)
            if not uow.zone.remove_member(code):
                raise InvalidPartner("member", f"{code} is not a member of the zone")
            central = uow.zone.central()
            for institution in {central or code, code}:
                uow.network.record(institution, actor, "network.zone_member_removed",
                                   ZONE_TARGET, {"member": code, "central": central})
            uow.commit()
            return Zone(central, tuple(uow.zone.members()))

    def zone_copy_user(self, member: str, user_id: str, actor: str, *,
                       guard: Guard | None = None) -> User:
        """The member gets its copy of the central's user ``user_id`` (any unique ID)."""
        if not isinstance(user_id, str) or not user_id.strip() or "\x00" in user_id \
                or len(user_id) > 255:
            raise SourceUserNotFound(f"({user_id[:64]!r})")
        member = _code("member", member)
        with self._uow_factory() as uow:
            central = uow.zone.central()
            if central is None or not uow.zone.is_member(member):
                if uow.institutions.get(member) is None:
                    raise InstitutionNotFound(member)
                raise InvalidPartner("member", f"{member} is not a member of the zone")
            source = uow.users.find(central, user_id.strip(), ALL_UNIQUE)
            if source is None:
                raise SourceUserNotFound(f"({user_id} in {central})")
            uow.network.lock_source(central, source.primary_id)
            existing = uow.network.copy_in(member, central, source.primary_id)
            if existing is not None:
                raise LinkedAccountExists(existing.primary_id)
            linking_id = source.linking_id or uuid.uuid4().hex
            if not source.linking_id:
                uow.network.set_linking_id(central, source.primary_id, linking_id)
            user = self._store_new_copy(uow, member, zone_copy(source, None, member, linking_id),
                                        actor, guard)
            uow.network.record(member, actor, "network.zone_copy", user.primary_id, {
                "source_institution_code": central, "source_user_id": source.primary_id,
                "linking_id": linking_id})
            uow.commit()
        return user

    def zone_refresh(self, uow: NetworkUnitOfWork, copy_: User, source: User,
                     report: RefreshReport) -> None:
        """A copy the live refresh found without a partner entry: when it is a zone member's
        copy of a central user, it takes the central's current record (else it is left)."""
        if not uow.zone.is_member(copy_.institution) or uow.zone.central() != source.institution:
            return
        new = zone_copy(source, copy_, copy_.institution, source.linking_id or
                        copy_.linking_id or uuid.uuid4().hex)
        if same_content(new, copy_):
            report.unchanged += 1
            return
        user = self._users.store_in(uow, copy_, new, LIVE_ACTOR)
        uow.network.record(copy_.institution, LIVE_ACTOR, "network.refresh", user.primary_id, {
            "trigger": "zone", "changed": True, "source_institution_code": source.institution,
            "source_user_id": source.primary_id})
        report.refreshed += 1
