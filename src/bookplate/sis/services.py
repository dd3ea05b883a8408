"""SIS use cases: manage profiles, run a file (import / synchronize / dry run), read reports."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from bookplate.sis.apply import DEFAULT_BATCH, Progress, RolesHook, Runner, default_roles
from bookplate.sis.errors import (
    InvalidProfile,
    ProfileExists,
    ProfileNotFound,
    RunNotFound,
    SourceError,
)
from bookplate.sis.mapping import check_target
from bookplate.sis.model import (
    KEEP_MISSING,
    NOT_RULED,
    PRIMARY_ID_MATCH,
    REFUSE_MISSING,
    Action,
    ActionKind,
    Mode,
    Profile,
    Report,
)
from bookplate.sis.ports import ItemRow, SisStore
from bookplate.sis.preview import Preview, preview_csv
from bookplate.sis.report_out import PlanWriter, plan_writer
from bookplate.sis.sources import FailedSource, open_source
from bookplate.sis.sources.base import Source
from bookplate.users.manual import PROTECTED_FIELDS
from bookplate.users.model import RecordType, Role, User
from bookplate.users.services import UserService, utcnow
from bookplate.users.validation import has_control, validate

_FIELDS = frozenset(User.__dataclass_fields__)
#: The fields a profile's per-field rule may name (the others are never written or are
#: protected by Alma's own rule).
RULED_FIELDS = tuple(sorted(f for f in _FIELDS if f not in NOT_RULED and f not in PROTECTED_FIELDS))
EXPORT_CHUNK = 1000


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
        csv = profile.csv
        texts = {
            "code": profile.code,
            "match_id_type": profile.match_id_type,
            "default_user_group": profile.default_user_group or "",
            "description": profile.description,
            "csv.delimiter": csv.delimiter,
            "csv.encoding": csv.encoding,
            "csv.date_format": csv.date_format,
            "csv.multi_separator": csv.multi_separator,
            "csv.columns": "".join(f"{k}{v}" for k, v in csv.columns.items()),
            "field_rules": "".join(profile.field_rules),
        }
        for name, text in texts.items():
            if has_control(text):
                raise InvalidProfile(f"{name} holds control characters, which are not allowed")
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
        if profile.csv.missing_columns not in (REFUSE_MISSING, KEEP_MISSING):
            raise InvalidProfile(
                f"CSV missing_columns must be {REFUSE_MISSING} or {KEEP_MISSING}, "
                f"not {profile.csv.missing_columns!r}"
            )

    # Each change is audited (``sis.profile.*``, target ``sis_profile:CODE``, by ``actor``).
    def create_profile(self, profile: Profile, actor: str = "system") -> Profile:
        self.check_profile(profile)
        if self.store.get_profile(profile.institution, profile.code) is not None:
            raise ProfileExists(profile.code)
        self.store.put_profile(profile, create=True, actor=actor)
        return profile

    def update_profile(self, profile: Profile, actor: str = "system") -> Profile:
        self.check_profile(profile)
        self.profile(profile.institution, profile.code)
        self.store.put_profile(profile, create=False, actor=actor)
        return profile

    def profile(self, institution: str, code: str) -> Profile:
        found = self.store.get_profile(institution, code)
        if found is None:
            raise ProfileNotFound(code)
        return found

    def profiles(self, institution: str | None = None) -> list[Profile]:
        return self.store.list_profiles(institution)

    def delete_profile(self, institution: str, code: str, actor: str = "system") -> None:
        if not self.store.delete_profile(institution, code, actor):
            raise ProfileNotFound(code)

    # -- runs --------------------------------------------------------------------------

    def run(  # noqa: PLR0913 - keyword options of a run, as the CLI and API take them
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
        # The roles area's last-administrator rule holds for the SIS too (docs/sis.md).
        rules = getattr(self.users, "roles", None)
        is_admin = getattr(rules, "is_administrator", None)
        admins = getattr(rules, "administrators", None)
        runner = Runner(
            is_administrator=is_admin,
            administrators=(lambda: set(admins(institution))) if admins is not None else None,
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

    # -- looks before and after a run ---------------------------------------------------

    def preview(self, institution: str, code: str, sample: bytes) -> Preview:
        """A CSV sample's header and first rows through the profile's mapping (writes
        nothing; ``sis.preview``)."""
        profile = self.profile(institution, code)
        book = self.users.code_book(institution)

        def check(user: User) -> None:
            validate(user, book)

        return preview_csv(profile, sample, check, self.clock().astimezone(UTC).date())

    def export(self, run_id: int, kind: str | None, fmt: str) -> Iterator[str]:
        """A run's report items (of one bucket, or all) as CSV or JSON lines, in the format
        of the dry run's plan export (``PlanWriter``), a thousand items at a time."""
        self.report(run_id)
        buffer = io.StringIO()
        writer = plan_writer(buffer, "items.csv" if fmt == "csv" else "items.jsonl")
        offset = 0
        while True:
            items = self.store.run_items(run_id, kind, offset, EXPORT_CHUNK)
            for item in items:
                writer.write(_as_action(item))
            chunk = buffer.getvalue()
            if chunk:
                yield chunk
            buffer.seek(0)
            buffer.truncate()
            if len(items) < EXPORT_CHUNK:
                return
            offset += len(items)


def _as_action(item: ItemRow) -> Action:
    data = item.to_dict()
    return Action(
        ActionKind(item.kind),
        item.record_no,
        item.match_id,
        item.primary_id,
        diff=data["diff"] or {},
        reason=data["reason"] or "",
    )
