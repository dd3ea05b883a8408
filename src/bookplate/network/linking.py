"""The host side: linked accounts created, found and refreshed on request, and their
history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog

from bookplate.errors import InputError
from bookplate.network.base import SourceRecord
from bookplate.network.errors import (
    IdentifierIssues,
    LinkedAccountExists,
    LinkFailed,
    LocalCopyNotFound,
    NetworkError,
    NoLinkedAccount,
    RefreshFailed,
    SourceInstitutionInvalid,
    SourceSearchUserNotFound,
    SourceUserNotFound,
    UserGroupEmpty,
)
from bookplate.network.model import Partner, new_copy, refreshed_copy, same_content
from bookplate.network.ports import LinkHolders, NetworkUnitOfWork
from bookplate.network.sources import SourceLookup
from bookplate.users.errors import UserNotFound
from bookplate.users.model import User
from bookplate.users.ports import ALL_UNIQUE, PRIMARY_ID, Guard

log = structlog.get_logger("bookplate.network")


def _same_time(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a if a.tzinfo else a.replace(tzinfo=UTC)) == (b if b.tzinfo else b.replace(tzinfo=UTC))


class Linking(SourceLookup):
    def link(self, institution: str, source_code: str | None, source_user_id: str | None,
             actor: str, *, guard: Guard | None = None) -> User:
        """``POST /users?source_institution_code=A&source_user_id=X``: the caller's
        institution gets its linked account of A's user X. A home in this deployment: the
        source read, the checks and the copy are one transaction; a home on another
        deployment is asked over HTTP between two."""
        with self._uow_factory() as uow:
            partner = self._partner_for(uow, institution, source_code)
            if not source_user_id or not source_user_id.strip():
                raise LinkFailed("(source_user_id is missing)")
            if not partner.remote:
                source, _wrote = self._source_in(
                    uow, partner.code, institution, source_user_id, partner.search_password,
                    remote_requester=False)
                user = self._create_copy(uow, institution, partner, source, actor, guard)
                uow.commit()
                log.info("network_linked", institution=institution, source=partner.code,
                         primary_id=user.primary_id)
                return user
        source = self._fetch(partner, source_user_id)
        with self._uow_factory() as uow:
            user = self._create_copy(uow, institution, partner, source, actor, guard)
            uow.commit()
        log.info("network_linked", institution=institution, source=partner.code,
                 primary_id=user.primary_id)
        return user

    def _create_copy(self, uow: NetworkUnitOfWork, institution: str, partner: Partner,
                     source: SourceRecord, actor: str, guard: Guard | None) -> User:
        """The copy written (not committed) under the source user's lock, after the checks:
        no copy yet, and no local account that is probably the same person."""
        linking_id = source.user.linking_id or uuid.uuid4().hex
        source_id = source.user.primary_id
        uow.network.lock_source(partner.code, source_id)
        holders = uow.network.link_holders(institution, partner.code, source_id, linking_id,
                                           source_here=not partner.remote)
        self._check_holders(holders, partner, source_id, linking_id)
        if (holders.source_found
                and not _same_time(holders.source_modified, source.user.last_modified_date)):
            # Changed since it was read (before the lock): copy the record as it is now, so
            # that a live refresh of that change, done before this copy existed, is not lost.
            current = uow.users.find(partner.code, source_id, PRIMARY_ID)
            if current is not None:
                source = SourceRecord(current, source.share_blocks)
        copy_ = new_copy(source.user, partner, linking_id, source.share_blocks)
        if not copy_.user_group:
            raise UserGroupEmpty()
        user = self._store_new_copy(uow, institution, copy_, actor, guard)
        uow.network.record(institution, actor, "network.link", user.primary_id, {
            "source_institution_code": partner.code,
            "source_user_id": source.user.primary_id,
            "linking_id": linking_id,
            "remote": partner.remote,
        })
        return user

    @staticmethod
    def _check_holders(holders: LinkHolders, partner: Partner, source_id: str,
                       linking_id: str) -> None:
        """A copy exists already (60227); or a local account that is not this source's copy
        holds its linking ID or its primary ID: probably the same person, refused, naming it
        (link it instead)."""
        existing = holders.copy
        by_link = holders.by_linking_id
        if existing is None and by_link is not None and by_link[1] == partner.code:
            existing = by_link[0]
        if existing is not None:
            raise LinkedAccountExists(existing)
        for holder, what, value in ((by_link[0] if by_link else None, "linking ID", linking_id),
                                    (holders.by_id, "ID", source_id)):
            if holder is not None:
                raise IdentifierIssues(
                    f"(local user {holder} already holds the {what} {value}: "
                    "probably the same person; link that account instead of creating one)",
                    holder=holder,
                )

    def find_copy(self, institution: str, source_code: str | None,
                  source_user_id: str | None) -> User:
        """``GET /users?source_institution_code=A&source_user_id=X``: the caller's linked
        account of A's user X (401861 when A has no such user, 4019990 when there is no
        local copy)."""
        with self._uow_factory() as uow:
            partner = self._partner_for(uow, institution, source_code)
        if not source_user_id or not source_user_id.strip():
            raise SourceInstitutionInvalid("(source_user_id is missing)")
        try:
            source = self._fetch(partner, source_user_id)
        except SourceUserNotFound:
            raise SourceSearchUserNotFound() from None
        with self._uow_factory() as uow:
            found = uow.network.copy_in(institution, partner.code, source.user.primary_id)
        if found is None:
            raise LocalCopyNotFound()
        return found

    def check_source_filter(self, institution: str, source_code: str) -> None:
        """``GET /users?source_institution_code=A`` lists the copies from partner A."""
        with self._uow_factory() as uow:
            self._partner_for(uow, institution, source_code)

    def copy_by_link(self, institution: str, source_code: str, link_id: str) -> User:
        """``GET /users/{id}?source_institution_code=A``: ``{id}`` is the copy's
        ``source_link_id``."""
        with self._uow_factory() as uow:
            found = uow.network.copy_in(institution, source_code, link_id.strip())
        if found is None:
            raise UserNotFound(link_id)
        return found

    def refresh(self, institution: str, user_id: str, id_type: str, actor: str, *,
                guard: Guard | None = None) -> User:
        """``POST /users/{id}?op=refresh``: the copy brought up to date from its source now
        (recorded in its history even when nothing changed)."""
        with self._uow_factory() as uow:
            copy_ = uow.users.find(institution, user_id, id_type)
            if copy_ is None:
                raise UserNotFound(user_id, None if id_type == ALL_UNIQUE else id_type)
            if not copy_.source_institution_code or not copy_.source_link_id:
                raise NoLinkedAccount(user_id)
            partner = uow.network.partner(institution, copy_.source_institution_code)
        if partner is None:
            raise RefreshFailed(f"({copy_.source_institution_code} is no longer a partner)")
        try:
            source = self._fetch(partner, copy_.source_link_id)
        except SourceUserNotFound:
            raise
        except NetworkError as exc:
            raise RefreshFailed(f"({exc})") from None
        with self._uow_factory() as uow:
            uow.network.lock_source(partner.code, copy_.source_link_id)
            stored = uow.network.copy_in(institution, partner.code, copy_.source_link_id)
            if stored is None:
                raise NoLinkedAccount(user_id)
            if not partner.remote:
                # Read again under the lock: a live refresh of a newer change may have been
                # applied since the fetch, and the older record must not overwrite it.
                current = uow.users.find(partner.code, stored.source_link_id or "",
                                         PRIMARY_ID)
                if current is not None:
                    source = SourceRecord(current, source.share_blocks)
            user, _changed = self._apply(uow, stored, source, partner, actor, "request",
                                         guard=guard)
            uow.commit()
        return user

    def _apply(
        self,
        uow: NetworkUnitOfWork,
        stored: User,
        source: SourceRecord,
        partner: Partner,
        actor: str,
        trigger: str,
        *,
        quiet_when_unchanged: bool = False,
        guard: Guard | None = None,
    ) -> tuple[User, bool]:
        """Write ``stored`` refreshed from ``source`` (and its history line)."""
        new = refreshed_copy(stored, source.user, partner, source.share_blocks)
        if guard is not None:
            guard(stored, new)
        if same_content(new, stored):
            if not quiet_when_unchanged:
                uow.network.record(stored.institution, actor, "network.refresh",
                                   stored.primary_id, {"trigger": trigger, "changed": False})
            return stored, False
        try:
            user = self._users.store_in(uow, stored, new, actor)
        except InputError as exc:
            raise RefreshFailed(f"({exc})") from None
        uow.network.record(stored.institution, actor, "network.refresh", user.primary_id, {
            "trigger": trigger,
            "changed": True,
            "source_institution_code": partner.code,
            "source_user_id": source.user.primary_id,
        })
        return user, True

    def history(self, institution: str, user_id: str) -> list[dict[str, Any]]:
        with self._uow_factory() as uow:
            user = uow.users.find(institution, user_id, ALL_UNIQUE)
            if user is None:
                raise UserNotFound(user_id)
            return uow.network.history(institution, user.primary_id)

