"""Fulfillment networks: partners and their rules, linked accounts, their refresh (on request
and live, through the outbox), and the network-wide ID rule.

Every way in (Alma API with an API key, staff CLI, the outbox worker) goes through here, and
every write of a user goes through ``UserService`` (``create_in`` / ``store_in``), so the
record rules hold whatever the path. See docs/networks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Protocol

import structlog

from bookplate.errors import InputError
from bookplate.network.errors import (
    IdentifierIssues,
    InstitutionNotFound,
    InvalidPartner,
    LinkedAccountExists,
    LinkFailed,
    LocalCopyNotFound,
    NetworkError,
    NoLinkedAccount,
    PartnerNotFound,
    RefreshFailed,
    ScopeClashes,
    SourceInstitutionInvalid,
    SourceSearchUserNotFound,
    SourceUserNotFound,
    UserGroupEmpty,
)
from bookplate.network.model import (
    PARTNER_FIELDS,
    ExpiryMode,
    IdClash,
    IdScope,
    MemberSettings,
    OutboxEntry,
    OutboxKind,
    Partner,
    PurgeMode,
    RefreshReport,
    marked_gone,
    new_copy,
    refreshed_copy,
    same_content,
)
from bookplate.network.ports import NetworkUnitOfWork
from bookplate.users.errors import DuplicateId, UserNotFound
from bookplate.users.model import User, UserInput
from bookplate.users.ports import ALL_UNIQUE, LINKING_ID, PRIMARY_ID, Guard
from bookplate.users.services import UserService, utcnow

log = structlog.get_logger("bookplate.network")

NetworkUowFactory = Callable[[], NetworkUnitOfWork]

#: ``actor`` of the writes the outbox worker makes.
LIVE_ACTOR = "network-refresh"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A user as its home institution hands it to a partner."""

    user: User
    share_blocks: bool


class RemoteSources(Protocol):
    """Partners on another Bookplate, reached over HTTP (``network.remote``)."""

    def fetch(self, partner: Partner, user_id: str) -> SourceRecord:
        """The partner's user ``user_id`` (raises SourceUserNotFound, PartnerUnavailable,
        NetworkNotFound, SourceInstitutionInvalid)."""
        ...


def password_hash(password: str) -> str:
    """How a network search password is kept (it is compared, never shown)."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def _check_text(field: str, value: object, limit: int = 255) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidPartner(field, f"text of 1 to {limit} characters expected")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidPartner(field, "control characters are not allowed")
    return value.strip()


def _to_bool(field: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    raise InvalidPartner(field, "true or false expected")


def _to_date(field: str, value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidPartner(field, "a date yyyy-mm-dd expected") from None


def _to_number(field: str, value: object, low: float, high: float, *, integer: bool) -> float:
    try:
        number = int(str(value)) if integer else float(str(value))
    except ValueError:
        raise InvalidPartner(field, "a number expected") from None
    if not low <= number <= high:
        raise InvalidPartner(field, f"between {low:g} and {high:g} expected")
    return number


def apply_partner_changes(  # noqa: PLR0912 - one branch per partner setting, each checked
    partner: Partner, changes: dict[str, Any]
) -> Partner:
    """``partner`` with the named settings changed, each checked (InvalidPartner)."""
    values: dict[str, Any] = {}
    for name, raw in changes.items():
        if name not in PARTNER_FIELDS:
            raise InvalidPartner(name, f"unknown setting; known: {', '.join(PARTNER_FIELDS)}")
        if name in ("name",):
            values[name] = "" if raw in (None, "") else _check_text(name, raw)
        elif name in ("user_group",):
            values[name] = None if raw in (None, "") else _check_text(name, raw)
        elif name in ("api_key", "search_password"):
            values[name] = None if raw in (None, "") else _check_text(name, raw, 1000)
        elif name == "base_url":
            if raw in (None, ""):
                values[name] = None
            else:
                url = _check_text(name, raw, 1000).rstrip("/")
                if not url.startswith(("http://", "https://")):
                    raise InvalidPartner(name, "an http:// or https:// URL expected")
                values[name] = url
        elif name == "timeout_seconds":
            values[name] = _to_number(name, raw, 0.1, 120, integer=False)
        elif name in ("retries", "purge_days"):
            values[name] = int(_to_number(name, raw, 0, 10 if name == "retries" else 36_500,
                                          integer=True))
        elif name in ("expiry_date", "purge_date"):
            values[name] = _to_date(name, raw)
        elif name == "expiry":
            try:
                values[name] = ExpiryMode(str(raw))
            except ValueError:
                raise InvalidPartner(name, "source, fixed or none expected") from None
        elif name == "purge":
            try:
                values[name] = PurgeMode(str(raw))
            except ValueError:
                raise InvalidPartner(name, "none, fixed or after_expiry expected") from None
        else:  # the booleans
            values[name] = _to_bool(name, raw)
    updated = replace(partner, **values)
    if updated.expiry is ExpiryMode.FIXED and updated.expiry_date is None:
        raise InvalidPartner("expiry_date", "required when expiry is fixed")
    if updated.purge is PurgeMode.FIXED and updated.purge_date is None:
        raise InvalidPartner("purge_date", "required when purge is fixed")
    if updated.base_url is not None and updated.api_key is None:
        raise InvalidPartner("api_key", "required for a partner on another deployment")
    return updated


class NetworkService:
    def __init__(
        self,
        uow_factory: NetworkUowFactory,
        users: UserService,
        remote: RemoteSources | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._users = users
        self._remote = remote
        self._clock = clock

    # -- partners and rules (item 2, 7) ------------------------------------------------

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
        code = _check_text("code", code, 64)
        with self._uow_factory() as uow:
            self._institution(uow, institution)
            if code == institution:
                raise InvalidPartner("code", "an institution cannot be its own partner")
            stored = uow.network.partner(institution, code)
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
                _check_text("search_password", search_password, 1000)
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

    @staticmethod
    def _institution(uow: NetworkUnitOfWork, code: str) -> None:
        if uow.institutions.get(code) is None:
            raise InstitutionNotFound(code)

    # -- the home side: a user handed to a partner --------------------------------------

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
            if not user.linking_id:
                user.linking_id = uuid.uuid4().hex
                uow.network.set_linking_id(home, user.primary_id, user.linking_id)
                uow.commit()
        return SourceRecord(user, settings.share_blocks)

    # -- the host side -----------------------------------------------------------------

    def _partner_for(self, uow: NetworkUnitOfWork, institution: str, code: str | None) -> Partner:
        """The caller's partner ``code`` (401651 / 60224 when it is none)."""
        if not code:
            raise SourceInstitutionInvalid("(source_institution_code is missing)")
        if code == institution:
            raise SourceInstitutionInvalid(f"({code} is the caller's own institution)")
        partner = uow.network.partner(institution, code)
        if partner is None:
            if uow.institutions.get(code) is None:
                raise InstitutionNotFound(code)
            raise SourceInstitutionInvalid(f"({code} is not a partner of {institution})")
        return partner

    def _fetch(self, partner: Partner, user_id: str) -> SourceRecord:
        if partner.remote:
            if self._remote is None:
                raise LinkFailed("(no HTTP client for partners on other deployments)")
            return self._remote.fetch(partner, user_id)
        return self.source_user(partner.code, partner.institution, user_id,
                                partner.search_password)

    def link(self, institution: str, source_code: str | None, source_user_id: str | None,
             actor: str, *, guard: Guard | None = None) -> User:
        """``POST /users?source_institution_code=A&source_user_id=X``: the caller's
        institution gets its linked account of A's user X."""
        with self._uow_factory() as uow:
            partner = self._partner_for(uow, institution, source_code)
        if not source_user_id or not source_user_id.strip():
            raise LinkFailed("(source_user_id is missing)")
        source = self._fetch(partner, source_user_id)
        linking_id = source.user.linking_id or uuid.uuid4().hex
        with self._uow_factory() as uow:
            uow.network.lock_source(partner.code, source.user.primary_id)
            existing = uow.network.copy_in(institution, partner.code, source.user.primary_id)
            if existing is None:
                by_link = uow.users.find(institution, linking_id, LINKING_ID)
                if by_link is not None and by_link.source_institution_code == partner.code:
                    existing = by_link
            if existing is not None:
                raise LinkedAccountExists(existing.primary_id)
            self._check_duplicates(uow, institution, source.user, linking_id)
            copy_ = new_copy(source.user, partner, linking_id, source.share_blocks)
            if not copy_.user_group:
                raise UserGroupEmpty()
            try:
                user = self._users.create_in(uow, institution, UserInput(copy_), actor,
                                             guard=guard)
            except DuplicateId as exc:
                raise IdentifierIssues(f"({exc})") from None
            except InputError as exc:
                if isinstance(exc, NetworkError):
                    raise
                raise LinkFailed(f"({exc})") from None
            uow.network.record(institution, actor, "network.link", user.primary_id, {
                "source_institution_code": partner.code,
                "source_user_id": source.user.primary_id,
                "linking_id": linking_id,
                "remote": partner.remote,
            })
            uow.commit()
        log.info("network_linked", institution=institution, source=partner.code,
                 primary_id=user.primary_id)
        return user

    @staticmethod
    def _check_duplicates(
        uow: NetworkUnitOfWork, institution: str, source: User, linking_id: str
    ) -> None:
        """A local account that is not this source's copy but holds its primary ID or its
        linking ID is probably the same person: refuse, naming it (link it instead)."""
        for user_id, id_type in ((linking_id, LINKING_ID), (source.primary_id, ALL_UNIQUE)):
            holder = uow.users.find(institution, user_id, id_type)
            if holder is not None:
                what = "linking ID" if id_type == LINKING_ID else "ID"
                raise IdentifierIssues(
                    f"(local user {holder.primary_id} already holds the {what} {user_id}: "
                    "probably the same person; link that account instead of creating one)",
                    holder=holder.primary_id,
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

    # -- live refresh (item 3) ---------------------------------------------------------

    def waiting(self) -> int:
        with self._uow_factory() as uow:
            return uow.network.waiting()

    def process_outbox(self, limit: int = 500, *, max_passes: int = 1_000) -> RefreshReport:
        """Bring the copies of every changed source user up to date, oldest change first.

        One transaction per source user: its waiting entries are taken under a lock on that
        user, its copies written from the source's *current* record, the entries deleted, all
        committed together. A crash leaves the entries waiting and nothing half-applied; doing
        an entry again writes nothing (the copy already equals what it would become), so
        delivery is at-least-once and the effect exactly once."""
        report = RefreshReport()
        for _ in range(max_passes):
            with self._uow_factory() as uow:
                batch = uow.network.pending(limit)
            if not batch:
                break
            groups: dict[tuple[str, str], int] = {}
            for entry in batch:
                groups[(entry.institution, entry.link_id)] = entry.id  # the last id
            for (institution, link_id), up_to in groups.items():
                self._process_source(institution, link_id, up_to, report)
            if len(batch) < limit:
                break
        return report

    def _process_source(
        self, institution: str, link_id: str, up_to: int, report: RefreshReport
    ) -> None:
        try:
            with self._uow_factory() as uow:
                uow.network.lock_source(institution, link_id)
                entries = uow.network.entries_of(institution, link_id, up_to)
                if not entries:
                    return  # another worker did them
                self._refresh_copies(uow, institution, link_id, entries, report)
                uow.network.done([e.id for e in entries])
                uow.commit()
                report.entries += len(entries)
        except Exception as exc:  # the entries stay waiting; counted, logged, retried later
            log.warning("network_refresh_failed", institution=institution, link_id=link_id,
                        error=str(exc))
            report.failed.append(f"{institution}/{link_id}: {exc}")
            with self._uow_factory() as uow:
                for entry in uow.network.entries_of(institution, link_id, up_to):
                    uow.network.failed(entry.id, str(exc)[:1000])
                uow.commit()

    def _refresh_copies(
        self,
        uow: NetworkUnitOfWork,
        institution: str,
        link_id: str,
        entries: list[OutboxEntry],
        report: RefreshReport,
    ) -> None:
        last = entries[-1]
        source = uow.network.load(last.source_pk) if last.source_pk is not None else None
        if source is not None and source.institution != institution:
            source = None
        copies = uow.network.copies(institution, link_id)
        if last.kind is OutboxKind.DELETED or source is None:
            for copy_ in copies:
                marked = marked_gone(copy_, institution, self._clock())
                if same_content(marked, copy_):
                    report.unchanged += 1
                    continue
                self._users.store_in(uow, copy_, marked, LIVE_ACTOR)
                uow.network.record(copy_.institution, LIVE_ACTOR, "network.source_deleted",
                                   copy_.primary_id, {"source_institution_code": institution,
                                                      "source_user_id": link_id})
                report.marked += 1
            return
        share = uow.network.member(institution).share_blocks
        for copy_ in copies:
            partner = uow.network.partner(copy_.institution, institution)
            if partner is None:
                continue  # the host no longer has the source's institution as a partner
            _user, changed = self._apply(uow, copy_, SourceRecord(source, share), partner,
                                         LIVE_ACTOR, "live", quiet_when_unchanged=True)
            if changed:
                report.refreshed += 1
            else:
                report.unchanged += 1

    # -- network-wide identity (item 5) ------------------------------------------------

    def scope_clashes(self, scope: IdScope) -> list[IdClash]:
        """Every ID value that would be held twice under ``scope`` (nothing changed)."""
        with self._uow_factory() as uow:
            return uow.institutions.id_clashes(scope)

    def set_scope(self, scope: IdScope, actor: str) -> None:
        """Switch the ID rule after checking every stored ID; ScopeClashes (with every
        clash) when the new rule would be broken, and then nothing changes."""
        with self._uow_factory() as uow:
            clashes = uow.institutions.id_clashes(scope)
            if clashes:
                raise ScopeClashes(len(clashes), clashes)
            try:
                uow.institutions.set_id_scope(scope)
            except DuplicateId:
                # Written meanwhile by another transaction: report what clashes now.
                raise ScopeClashes(1, uow.institutions.id_clashes(scope)) from None
            uow.network.record("*", actor, "network.id_scope", "network", {"scope": scope.value})
            uow.commit()
