"""Seeding, resetting and fingerprinting a sandbox institution."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bookplate.alma.user import user_from_dict, user_to_dict
from bookplate.roles.admin import RolesAdmin
from bookplate.roles.model import Library
from bookplate.sandbox.population import (
    DEFAULT_SEED,
    DEFAULT_USERS,
    DESK,
    LIBRARY,
    SIS_PROFILE,
    population,
)
from bookplate.sis.errors import ProfileExists
from bookplate.sis.model import Profile
from bookplate.sis.services import SisService
from bookplate.transactions import Transactional
from bookplate.users.ports import UserRepository
from bookplate.users.queries import UserSearch
from bookplate.users.services import UserService

WHO = "sandbox"
# Fields that hold the moment of writing, left out of the digest (everything else is the seed's).
VOLATILE = frozenset({"created_date", "last_modified_date", "link", "status_date"})


class SandboxUnitOfWork(Transactional, Protocol):
    users: UserRepository


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


@dataclass
class Sandbox:
    uow_factory: Callable[[], SandboxUnitOfWork]
    users: UserService
    roles: RolesAdmin
    sis: SisService
    add_institution: Callable[[str, str], bool]

    def prepare(self, institution: str) -> None:
        """The institution, its library and desk (for circulation roles) and the SIS profile
        the external users come from; what exists is left alone."""
        self.add_institution(institution, "Bookplate Sandbox Library")
        self.roles.put_library(
            institution, Library(LIBRARY, "Main Library", frozenset({DESK})), WHO
        )
        with contextlib.suppress(ProfileExists):
            self.sis.create_profile(
                Profile(code=SIS_PROFILE, institution=institution, default_user_group="UNDERGRAD")
            )

    def _clear(self, institution: str) -> int:
        removed = 0
        while True:
            with self.uow_factory() as uow:
                page = uow.users.search(UserSearch(institution=institution, limit=100)).users
                if not page:
                    return removed
                for user in page:
                    uow.users.remove(institution, user.primary_id)
                uow.commit()
            removed += len(page)

    def reset(
        self, institution: str, count: int = DEFAULT_USERS, seed: int = DEFAULT_SEED
    ) -> int:
        """Remove every user of the institution and create the seed's population again;
        returns how many users were created. Nothing but the sandbox should call this."""
        self.prepare(institution)
        self._clear(institution)
        for entry in population(count, seed, institution):
            record = dict(entry.record)
            if entry.password:
                record["password"] = entry.password
            self.users.create(institution, user_from_dict(record), WHO)
        return count

    def digest(self, institution: str) -> str:
        """SHA-256 over every user's record (as GET returns it, sorted by primary ID), without
        the write times: equal digests mean equal populations."""
        book = self.users.code_book(institution)
        records: list[dict[str, Any]] = []
        offset = 0
        while True:
            result = self.users.search(
                UserSearch(institution=institution, order_by="primary_id", limit=100,
                           offset=offset)
            )
            records.extend(_strip(user_to_dict(u, book.describe)) for u in result.users)
            offset += len(result.users)
            if not result.users or offset >= result.total:
                break
        records.sort(key=lambda r: str(r.get("primary_id")))
        text = json.dumps(records, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
