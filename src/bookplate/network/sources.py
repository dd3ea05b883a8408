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
from bookplate.network.settings import password_hash


class SourceLookup(NetworkBase):
    def source_user(
        self, home: str, requester: str, user_id: str, password: str | None
    ) -> SourceRecord:
        """``home``'s user ``user_id`` for partner ``requester``: found by the identifier
        types the home lets partners search, after the network search password; the user
        gets a linking ID if it has none (one per person, shared by every copy)."""
        if "\x00" in user_id or not user_id.strip():
            raise SourceUserNotFound(f"({user_id!r})")
        with self._uow_factory() as uow:
            if uow.institutions.get(home) is None:
                raise InstitutionNotFound(home)
            settings = uow.network.member(home)
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
            requester_entry = uow.network.partner(home, requester)
            if requester_entry is not None and requester_entry.remote:
                # A host on another deployment copies (or looks up) this user: it is owed
                # pushes of the user's changes from now on (it says when it holds no copy).
                uow.pushes.record_remote_copy(home, user.primary_id, requester)
                uow.commit()
            if not user.linking_id:
                user.linking_id = uuid.uuid4().hex
                uow.network.set_linking_id(home, user.primary_id, user.linking_id)
                uow.commit()
        return SourceRecord(user, settings.share_blocks)

    def _fetch(self, partner: Partner, user_id: str) -> SourceRecord:
        if partner.remote:
            if self._remote is None:
                raise LinkFailed("(no HTTP client for partners on other deployments)")
            return self._remote.fetch(partner, user_id)
        return self.source_user(partner.code, partner.institution, user_id,
                                partner.search_password)

