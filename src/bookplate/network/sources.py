"""The home side: a user handed to a partner (in this deployment or over HTTP), and the
host's fetch of a source user from its partner."""

from __future__ import annotations

import hmac
import uuid

from bookplate.network.base import NetworkBase, SourceRecord
from bookplate.network.errors import (
    InstitutionNotFound,
    LinkFailed,
    SourceInstitutionInvalid,
    SourceUserNotFound,
)
from bookplate.network.model import Partner
from bookplate.network.ports import NetworkUnitOfWork
from bookplate.network.settings import password_hash


class SourceLookup(NetworkBase):
    def source_user(
        self, home: str, requester: str, user_id: str, password: str | None
    ) -> SourceRecord:
        """``home``'s user ``user_id`` for partner ``requester`` (a host on another
        deployment asking over HTTP): found by the identifier types the home lets partners
        search, after the network search password; the user gets a linking ID if it has
        none (one per person, shared by every copy)."""
        with self._uow_factory() as uow:
            record, wrote = self._source_in(uow, home, requester, user_id, password,
                                            remote_requester=True)
            if wrote:
                uow.commit()
        return record

    def _source_in(self, uow: NetworkUnitOfWork, home: str, requester: str, user_id: str,
                   password: str | None, *, remote_requester: bool) -> tuple[SourceRecord, bool]:
        """``source_user`` inside the caller's transaction (not committed); True with it
        when something was written (the linking ID, the remote copy)."""
        if "\x00" in user_id or not user_id.strip():
            raise SourceUserNotFound(f"({user_id!r})")
        settings = uow.network.member_of(home)
        if settings is None:
            raise InstitutionNotFound(home)
        if settings.search_password_hash is not None and not hmac.compare_digest(
            settings.search_password_hash, password_hash(password or "")
        ):
            raise SourceInstitutionInvalid(
                f"({home} refuses {requester}: network search password missing or wrong)"
            )
        user = None
        for id_type in settings.searchable_id_types:
            user = uow.users.find(home, user_id, id_type)
            if user is not None:
                break
        if user is None:
            raise SourceUserNotFound(f"({user_id} in {home})")
        wrote = False
        if remote_requester:
            requester_entry = uow.network.partner(home, requester)
            if requester_entry is not None and requester_entry.remote:
                # A host on another deployment copies (or looks up) this user: it is owed
                # pushes of the user's changes from now on (it says when it holds no copy).
                uow.pushes.record_remote_copy(home, user.primary_id, requester)
                wrote = True
        if not user.linking_id:
            linking_id = uuid.uuid4().hex
            if not uow.network.give_linking_id(user, linking_id):
                user.linking_id = linking_id
                uow.network.set_linking_id(home, user.primary_id, linking_id)
            wrote = True
        return SourceRecord(user, settings.share_blocks), wrote

    def _fetch(self, partner: Partner, user_id: str) -> SourceRecord:
        if partner.remote:
            if self._remote is None:
                raise LinkFailed("(no HTTP client for partners on other deployments)")
            return self._remote.fetch(partner, user_id)
        with self._uow_factory() as uow:
            record, wrote = self._source_in(uow, partner.code, partner.institution, user_id,
                                            partner.search_password, remote_requester=False)
            if wrote:
                uow.commit()
        return record
