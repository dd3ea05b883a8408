"""Seeding, resetting and fingerprinting a sandbox institution."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from bookplate.alma.user import user_from_dict, user_to_dict
from bookplate.keys.services import KeyService, parse_areas
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
KEY_NAME = "sandbox"  # the key `bookplate sandbox` issues: part of the seed state
KEY_AREAS = ("users:rw", "conf:ro")
# Fields that hold the moment of writing, left out of the digest (everything else is the seed's).
VOLATILE = frozenset({"created_date", "last_modified_date", "link", "status_date"})


class SandboxUnitOfWork(Transactional, Protocol):
    users: UserRepository


class InstitutionState(Protocol):
    """The institution's configuration as one whole (``storage.institution_state``)."""

    def snapshot(self, institution: str) -> dict[str, list[dict[str, Any]]]: ...

    def clear(self, institution: str, keep_keys: Collection[str]) -> None: ...


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
    keys: KeyService
    state: InstitutionState
    # The code tables, role types, default profile and rule of a new institution, added where
    # missing (``Container.seed_configuration``).
    seed_configuration: Callable[[str], None]

    def issue_key(self, institution: str, per_second: int) -> str:
        """A fresh sandbox key (the secret, shown once); the earlier sandbox keys stop working,
        so the seed state holds one."""
        _key, secret = self.keys.create(institution, KEY_NAME, parse_areas(list(KEY_AREAS)),
                                        per_second)
        for old in self.keys.list(institution):
            if old.name == KEY_NAME and old.key_id != _key.key_id and old.revoked is None:
                self.keys.revoke(old.key_id)
        return secret

    def _seed_keys(self, institution: str) -> list[str]:
        """The newest sandbox key, if any."""
        issued = [k for k in self.keys.list(institution) if k.name == KEY_NAME]
        return [issued[-1].key_id] if issued else []

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
        self,
        institution: str,
        count: int = DEFAULT_USERS,
        seed: int = DEFAULT_SEED,
        keep_key: str | None = None,
    ) -> int:
        """Return the institution to the seed state: every user removed and the population
        created again; its code tables, user-group map, libraries and desks, role profiles
        and rules, restricted settings back to a new institution's plus the sandbox's library,
        desk and SIS profile; its API keys removed but the newest sandbox key (valid again if
        it was revoked) and ``keep_key`` (the key that asked for the reset); staff tokens
        removed. Returns how many users were created. Nothing but the sandbox should call
        this."""
        self.add_institution(institution, "Bookplate Sandbox Library")
        self._clear(institution)
        keep = set(self._seed_keys(institution))
        if keep_key:
            keep.add(keep_key)
        self.state.clear(institution, keep)
        self.seed_configuration(institution)
        self.keys.forget()
        self.roles.forget()
        self.users.codes.clear()
        self.prepare(institution)
        for entry in population(count, seed, institution):
            record = dict(entry.record)
            if entry.password:
                record["password"] = entry.password
            self.users.create(institution, user_from_dict(record), WHO)
        return count

    def digest(self, institution: str) -> str:
        """SHA-256 over the whole institution: every user's record (as GET returns it, sorted
        by primary ID, without the write times) and its configuration
        (``InstitutionState.snapshot``: code tables, libraries, roles configuration, keys by
        name, areas, threshold and whether revoked). Equal digests mean equal states."""
        whole = {"users": self._user_records(institution),
                 "configuration": self.state.snapshot(institution)}
        text = json.dumps(whole, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def _user_records(self, institution: str) -> list[dict[str, Any]]:
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
        return records
