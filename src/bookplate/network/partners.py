"""Partners and their linked account rules (set by a host), and what a home lets partners
do (its member settings)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bookplate.network.base import NetworkBase
from bookplate.network.errors import InstitutionNotFound, InvalidPartner, PartnerNotFound
from bookplate.network.model import MemberSettings, Partner
from bookplate.network.settings import apply_partner_changes, check_text, password_hash
from bookplate.users.ports import ALL_UNIQUE, PRIMARY_ID


class PartnerSettings(NetworkBase):
    def partners(self, institution: str) -> list[Partner]:
        with self._uow_factory() as uow:
            self._institution(uow, institution)
            return uow.network.partners(institution)

    def partner(self, institution: str, code: str) -> Partner:
        with self._uow_factory() as uow:
            found = uow.network.partner(institution, code)
        if found is None:
            raise PartnerNotFound(institution, code)
        return found

    def put_partner(
        self, institution: str, code: str, changes: dict[str, Any], actor: str
    ) -> Partner:
        """Add a partner or change its settings (only those named)."""
        code = check_text("code", code, 64)
        with self._uow_factory() as uow:
            self._institution(uow, institution)
            if code == institution:
                raise InvalidPartner("code", "an institution cannot be its own partner")
            stored = uow.network.partner(institution, code)
            if stored is None and uow.zone.is_member(institution) \
                    and uow.zone.central() == code:
                raise InvalidPartner("code", f"{institution} is a member of {code}'s network "
                                     "zone: its users are copied by the zone, not linked")
            partner = apply_partner_changes(stored or Partner(institution, code), changes)
            if not partner.remote and uow.institutions.get(code) is None:
                raise InstitutionNotFound(code)
            if partner.user_group is not None:
                groups = self._users.codes.get(uow, institution).tables.get("UserGroups", {})
                if groups and partner.user_group not in groups:
                    raise InvalidPartner("user_group", f"{partner.user_group} is not a user "
                                         f"group of {institution}")
            uow.network.put_partner(partner)
            shown = sorted(k for k in changes if k not in ("api_key", "search_password"))
            secrets = sorted(k for k in changes if k in ("api_key", "search_password"))
            uow.network.record(institution, actor, "network.partner", f"partner:{code}",
                               {"changed": shown, "secrets_changed": secrets,
                                "added": stored is None})
            uow.commit()
        return partner

    def remove_partner(self, institution: str, code: str, actor: str) -> None:
        with self._uow_factory() as uow:
            if not uow.network.remove_partner(institution, code):
                raise PartnerNotFound(institution, code)
            uow.network.record(institution, actor, "network.partner_removed",
                               f"partner:{code}", {})
            uow.commit()

    def member(self, institution: str) -> MemberSettings:
        with self._uow_factory() as uow:
            self._institution(uow, institution)
            return uow.network.member(institution)

    def set_member(
        self,
        institution: str,
        actor: str,
        *,
        searchable_id_types: list[str] | None = None,
        search_password: str | None = None,
        clear_password: bool = False,
        share_blocks: bool | None = None,
    ) -> MemberSettings:
        """What partners may do with this institution's users."""
        with self._uow_factory() as uow:
            self._institution(uow, institution)
            settings = uow.network.member(institution)
            changed: list[str] = []
            if searchable_id_types is not None:
                types = tuple(dict.fromkeys(t.strip() for t in searchable_id_types if t.strip()))
                if not types:
                    raise InvalidPartner("searchable_id_types", "at least one type expected")
                known = set(self._users.codes.get(uow, institution).tables.get(
                    "UserIdentifierTypes", {}))
                for id_type in types:
                    if id_type not in (PRIMARY_ID, ALL_UNIQUE) and id_type not in known:
                        raise InvalidPartner("searchable_id_types",
                                             f"{id_type} is not an identifier type")
                settings = replace(settings, searchable_id_types=types)
                changed.append("searchable_id_types")
            if clear_password:
                settings = replace(settings, search_password_hash=None)
                changed.append("search_password")
            elif search_password is not None:
                check_text("search_password", search_password, 1000)
                settings = replace(settings, search_password_hash=password_hash(search_password))
                changed.append("search_password")
            if share_blocks is not None:
                settings = replace(settings, share_blocks=share_blocks)
                changed.append("share_blocks")
            uow.network.put_member(settings)
            uow.network.record(institution, actor, "network.member", f"member:{institution}",
                               {"changed": changed})
            uow.commit()
        return settings

