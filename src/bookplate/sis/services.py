"""SIS use cases: manage profiles, run a file (import / synchronize / dry run), read reports."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from bookplate.sis.apply import (
    DEFAULT_BATCH,
    PlanWriter,
    Progress,
    RolesHook,
    Runner,
    default_roles,
)
from bookplate.sis.errors import (
    InvalidProfile,
    ProfileExists,
    ProfileNotFound,
    RunNotFound,
    SourceError,
)
from bookplate.sis.mapping import check_target
from bookplate.sis.model import NOT_RULED, PRIMARY_ID_MATCH, Mode, Profile, Report
from bookplate.sis.ports import ItemRow, SisStore
from bookplate.sis.sources import Position, RawRecord, Source, sniff
from bookplate.sis.sources.csv import CsvSource
from bookplate.sis.sources.xml import XmlSource
from bookplate.users.manual import PROTECTED_FIELDS
from bookplate.users.model import RecordType, Role, User
from bookplate.users.services import UserService, utcnow
from bookplate.users.validation import validate

_FIELDS = frozenset(User.__dataclass_fields__)


def open_source(path: Path, profile: Profile) -> Source:
    """XML (plain or zipped) or CSV (plain or zipped), by content and name."""
    kind = sniff(path)
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n.lower() for n in archive.namelist()]
        except (zipfile.BadZipFile, OSError):
            names = []
        if names and all(n.endswith(".csv") or n.endswith("/") for n in names):
            return CsvSource(path, profile.csv, profile.match_id_type)
        return XmlSource(path, profile.match_id_type)
    if kind == "xml":
        return XmlSource(path, profile.match_id_type)
    return CsvSource(path, profile.csv, profile.match_id_type)


class FailedSource:
    """A file that could not even be opened: the run fails with its reason."""

    def __init__(self, error: SourceError) -> None:
        self.error = error
        self.position = Position()

    def records(self) -> Iterator[RawRecord]:
        raise self.error

    def parse(self, record: RawRecord) -> User:  # pragma: no cover - no records
        raise self.error


class SisService:
    def __init__(
        self,
        store: SisStore,
        users: UserService,
        roles: RolesHook = default_roles,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.users = users
        self.roles = roles
        self.clock = clock
        rules = getattr(users, "roles", None)  # the role-assignment hook of the user services
        if roles is default_roles and rules is not None and hasattr(rules, "roles_for_new_user"):

            def assigned(user: User, institution: str) -> list[Role]:
                found: list[Role] = rules.roles_for_new_user(institution, user)
                return found or default_roles(user, institution)

            self.roles = assigned

    # -- profiles ----------------------------------------------------------------------

    def check_profile(self, profile: Profile) -> None:
        if not profile.code.strip() or len(profile.code) > 255:
            raise InvalidProfile("the code must be 1-255 characters")
        if profile.record_type not in {r.value for r in RecordType}:
            raise InvalidProfile(f"unknown record type {profile.record_type}")
        book = self.users.code_book(profile.institution)
        if profile.match_id_type != PRIMARY_ID_MATCH and not book.has(
            "UserIdentifierTypes", profile.match_id_type
        ):
            raise InvalidProfile(f"unknown identifier type {profile.match_id_type}")
        group = profile.default_user_group
        if group is not None and not book.has("UserGroups", group):
            raise InvalidProfile(f"unknown user group {group}")
        for name in profile.field_rules:
            if name not in _FIELDS or name in NOT_RULED or name in PROTECTED_FIELDS:
                raise InvalidProfile(f"no per-field rule is possible for {name}")
        if not 0 <= profile.guard_share <= 1:
            raise InvalidProfile("the guard share must be between 0 and 1")
        for days in (profile.expiry_days, profile.purge_days):
            if days is not None and not 0 <= days <= 36500:
                raise InvalidProfile("expiry/purge days must be between 0 and 36500")
        for target in profile.csv.columns.values():
            check_target(target)
        if len(profile.csv.delimiter) != 1:
            raise InvalidProfile("the CSV delimiter must be one character")

    def create_profile(self, profile: Profile) -> Profile:
        self.check_profile(profile)
        if self.store.get_profile(profile.institution, profile.code) is not None:
            raise ProfileExists(profile.code)
        self.store.put_profile(profile, create=True)
        return profile

    def update_profile(self, profile: Profile) -> Profile:
        self.check_profile(profile)
        self.profile(profile.institution, profile.code)
        self.store.put_profile(profile, create=False)
        return profile

    def profile(self, institution: str, code: str) -> Profile:
        found = self.store.get_profile(institution, code)
        if found is None:
            raise ProfileNotFound(code)
        return found

    def profiles(self, institution: str | None = None) -> list[Profile]:
        return self.store.list_profiles(institution)

    def delete_profile(self, institution: str, code: str) -> None:
        if not self.store.delete_profile(institution, code):
            raise ProfileNotFound(code)

    # -- runs --------------------------------------------------------------------------

    def run(
        self,
        institution: str,
        code: str,
        path: Path,
        *,
        mode: Mode = Mode.SYNCHRONIZE,
        dry_run: bool = False,
        plan_out: PlanWriter | None = None,
        progress: Progress | None = None,
        batch_size: int = DEFAULT_BATCH,
        actor: str = "SIS",
        source_name: str | None = None,
    ) -> Report:
        profile = self.profile(institution, code)
        book = self.users.code_book(institution)

        def check(user: User) -> None:
            validate(user, book)

        source: Source
        try:
            source = open_source(path, profile)
        except SourceError as exc:
            source = FailedSource(exc)
        runner = Runner(
            store=self.store,
            source=source,
            profile=profile,
            mode=mode,
            check=check,
            today=self.clock().astimezone(UTC).date(),
            clock=self.clock,
            actor=actor,
            dry_run=dry_run,
            roles=self.roles,
            progress=progress,
            plan_out=plan_out,
            batch_size=batch_size,
        )
        return runner.run(source_name or path.name)

    def report(self, run_id: int) -> Report:
        found = self.store.get_run(run_id)
        if found is None:
            raise RunNotFound(run_id)
        return found

    def runs(self, institution: str, profile: str | None = None, limit: int = 20) -> list[Report]:
        return self.store.list_runs(institution, profile, limit)

    def items(
        self, run_id: int, kind: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[ItemRow]:
        self.report(run_id)
        return self.store.run_items(run_id, kind, offset, limit)
