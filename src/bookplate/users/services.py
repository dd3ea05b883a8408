"""Use cases of the user record: create, read, replace (PUT), delete, search.

Every way in (API, SIS, web, CLI) goes through here, so the rules of ``validation`` and the
PUT rules of SPEC section 3 (``put_rules``) hold whatever the path.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bookplate.users.copying import copy_record
from bookplate.users.errors import (
    ActionNotSupported,
    ExternalIdImmutable,
    PreconditionFailed,
    user_not_found,
)
from bookplate.users.manual import mark_manual
from bookplate.users.model import AccountType, User, UserInput
from bookplate.users.passwords import PasswordHasher
from bookplate.users.ports import (
    ALL_UNIQUE,
    Guard,
    HistoryRow,
    RoleHooks,
    UnitOfWork,
    Version,
    WriteHook,
)
from bookplate.users.put_rules import (
    etag,
    later,
    matches,
    merge_for_put,
    parse_override,
    restore_sis_values,
    utcnow,
)
from bookplate.users.queries import SearchResult, UserSearch
from bookplate.users.validation import (
    CodeBook,
    apply_defaults,
    force_internal_segments,
    validate,
)

# The PUT rules moved to ``put_rules``; callers may still import them from here.
__all__ = [
    "CodeBookCache",
    "UowFactory",
    "UserService",
    "etag",
    "matches",
    "merge_for_put",
    "parse_override",
    "utcnow",
]

UowFactory = Callable[[], UnitOfWork]


@dataclass
class CodeBookCache:
    """Code tables per institution, reloaded after ``ttl`` seconds (cheap reads per request)."""

    ttl: float = 5.0
    _books: dict[str, tuple[float, CodeBook]] = field(default_factory=dict)

    def peek(self, institution: str) -> CodeBook | None:
        """The cached book while it is fresh, else None (no database access)."""
        cached = self._books.get(institution)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        return None

    def get(self, uow: UnitOfWork, institution: str) -> CodeBook:
        now = time.monotonic()
        cached = self._books.get(institution)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        tables: dict[str, dict[str, str]] = {}
        for name in uow.codes.table_names(institution):
            tables[name] = {
                row.code: row.description
                for row in uow.codes.rows(institution, name)
                if row.enabled
            }
        book = CodeBook(tables, dict(uow.codes.allowed_groups(institution)), institution)
        self._books[institution] = (now, book)
        return book

    def clear(self) -> None:
        self._books.clear()


class UserService:
    def __init__(
        self,
        uow_factory: UowFactory,
        hasher: PasswordHasher,
        codes: CodeBookCache | None = None,
        clock: Callable[[], datetime] = utcnow,
        roles: RoleHooks | None = None,
        read_uow_factory: UowFactory | None = None,
        single_write_uow_factory: UowFactory | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        # Units for reads only (get, search, code_book): on PostgreSQL a read-only unit runs
        # without BEGIN/ROLLBACK round trips. Defaults to the write factory.
        self._read_uow_factory = read_uow_factory or uow_factory
        # Units for ``create``, whose only write is ``users.add``: on PostgreSQL that is one
        # atomic statement, run without BEGIN/COMMIT. Defaults to the write factory.
        self._single_write_uow_factory = single_write_uow_factory or uow_factory
        self._hasher = hasher
        self.codes = codes or CodeBookCache()
        self._clock = clock
        self.roles = roles
        #: Run by every write's checks, in its transaction (``users.ports.WriteHook``).
        self.write_hooks: list[WriteHook] = []

    def _check(self, uow: UnitOfWork, institution: str, before: User | None,
               after: User | None, password: str | None = None) -> None:
        """Every rule on the record to be written (or removed), inside the transaction."""
        if after is not None:
            validate(after, self.codes.get(uow, institution), password)
        if self.roles is not None:
            self.roles.check(uow, institution, before, after)
        for hook in self.write_hooks:
            hook(uow, before, after)

    def code_book(self, institution: str) -> CodeBook:
        book = self.codes.peek(institution)
        if book is not None:
            return book
        with self._read_uow_factory() as uow:
            return self.codes.get(uow, institution)

    def get(self, institution: str, user_id: str, id_type: str = ALL_UNIQUE) -> User:
        with self._read_uow_factory() as uow:
            return self._find(uow, institution, user_id, id_type)

    @staticmethod
    def _find(uow: UnitOfWork, institution: str, user_id: str, id_type: str) -> User:
        if "\x00" in user_id or "\x00" in id_type:
            # No stored ID holds a NUL (validation refuses control characters), and PostgreSQL
            # cannot even compare one: answer "not found" without asking.
            raise user_not_found(user_id, None if id_type == ALL_UNIQUE else id_type)
        user = uow.users.find(institution, user_id, id_type)
        if user is None:
            raise user_not_found(user_id, None if id_type == ALL_UNIQUE else id_type)
        return user

    def create(
        self, institution: str, data: UserInput, actor: str, *, guard: Guard | None = None
    ) -> User:
        """Store a new user. ``guard`` sees the record as sent; the roles the assignment
        rules add afterwards are the system's doing, not the caller's."""
        with self._single_write_uow_factory() as uow:
            user = self.create_in(uow, institution, data, actor, guard=guard)
            uow.commit()
        return user

    def create_in(
        self,
        uow: UnitOfWork,
        institution: str,
        data: UserInput,
        actor: str,
        *,
        guard: Guard | None = None,
    ) -> User:
        """``create`` inside the caller's unit of work (not committed): for use cases that
        write more in the same transaction (a linked account and its history line)."""
        user = copy_record(data.user)
        apply_defaults(user)
        user.institution = institution
        user.manual_fields = {}
        force_internal_segments(user)
        now = self._clock()
        user.created_by = actor
        user.created_date = now
        user.last_modified_by = actor
        user.last_modified_date = now
        if guard is not None:
            guard(None, user)
        if self.roles is not None:
            user.roles = self.roles.roles_for_new_user(institution, user)
        self._check(uow, institution, None, user, data.password)
        password_hash = self._hasher.hash(data.password) if data.password else None
        uow.users.add(user, password_hash)
        return user

    def store_in(self, uow: UnitOfWork, stored: User, user: User, actor: str) -> User:
        """Write ``user`` over ``stored`` as the system (no PUT merge, no manual marks),
        checked by every rule, inside the caller's unit of work (not committed): a linked
        account refreshed from its source."""
        self._stamp_stored(uow, stored, user, actor, self._clock())
        uow.users.replace(stored.primary_id, user, None)
        return user

    def store_many_in(
        self, uow: UnitOfWork, pairs: Sequence[tuple[User, User]], actor: str
    ) -> list[User]:
        """``store_in`` for each ``(stored, user)``, every record checked first, then all
        written together (``UserRepository.replace_many``): a group of linked accounts
        refreshed by the outbox worker. Nothing is written when one is refused."""
        now = self._clock()
        for stored, user in pairs:
            self._stamp_stored(uow, stored, user, actor, now)
        uow.users.replace_many([(stored.primary_id, user) for stored, user in pairs])
        return [user for _, user in pairs]

    def _stamp_stored(
        self, uow: UnitOfWork, stored: User, user: User, actor: str, now: datetime
    ) -> None:
        user.institution = stored.institution
        user.created_by = stored.created_by
        user.created_date = stored.created_date
        user.manual_fields = dict(stored.manual_fields)
        user.last_modified_by = actor
        user.last_modified_date = now
        force_internal_segments(user)
        self._check(uow, stored.institution, stored, user)

    def replace(  # noqa: PLR0913 - Alma's PUT parameters, keyword-only
        self,
        institution: str,
        user_id: str,
        data: UserInput,
        actor: str,
        *,
        id_type: str = ALL_UNIQUE,
        override: frozenset[str] = frozenset(),
        recalculate_roles: bool = False,
        guard: Guard | None = None,
        by_hand: bool = True,
        restore: frozenset[str] = frozenset(),
        if_match: str | None = None,
    ) -> User:
        """PUT: the one write path of a person (API key, staff token through ``StaffUsers``,
        web form). Protected fields of an external user that the write changes are recorded
        as changed by hand (``merge_for_put``); ``restore`` gives named fields back their last
        SIS value and attaches them to the SIS again. ``by_hand=False`` is for identity
        systems updating a user at sign-in: PUT rules, no manual marks. ``if_match`` (an
        ``If-Match`` header): the write happens only while the stored record is the version it
        names (else PreconditionFailed); None: last write wins."""
        with self._uow_factory() as uow:
            stored = self._find(uow, institution, user_id, id_type)
            if if_match is not None and not matches(if_match, stored):
                raise PreconditionFailed(user_id)
            incoming = copy.deepcopy(data.user)
            apply_defaults(incoming)
            if stored.is_external and incoming.account_type == AccountType.INTERNAL:
                raise ActionNotSupported("an external user cannot be made internal by API")
            if stored.external_id and incoming.external_id != stored.external_id:
                raise ExternalIdImmutable()
            user = merge_for_put(stored, incoming, override, by_hand=by_hand)
            restore_sis_values(user, restore)
            user.institution = institution
            user.created_by = stored.created_by
            user.created_date = stored.created_date
            user.last_patron_activity_date = stored.last_patron_activity_date
            user.last_modified_by = actor
            user.last_modified_date = later(self._clock(), stored.last_modified_date)
            force_internal_segments(user)
            if guard is not None:
                guard(stored, user)
            if recalculate_roles and self.roles is not None:
                user.roles = self.roles.roles_for_new_user(institution, user)
            self._check(uow, institution, stored, user, data.password)
            password_hash = self._hasher.hash(data.password) if data.password else None
            if if_match is None:
                uow.users.replace(stored.primary_id, user, password_hash)
            else:
                # Written only while the stored version is still the one checked above (a
                # concurrent writer may have committed since it was read).
                uow.users.replace(
                    stored.primary_id, user, password_hash,
                    if_version=Version(stored.last_modified_date),
                )
            uow.commit()
        return user

    def staff_update(
        self,
        institution: str,
        user_id: str,
        edit: Callable[[User], None],
        actor: str,
        *,
        restore: frozenset[str] = frozenset(),
    ) -> User:
        """A staff member's edit of a stored record (what the web UI does).

        ``edit`` changes a copy of the stored user in place. On an external user, protected
        fields whose value changed become manual (``users.manual``): later SIS loads keep them
        until the SIS sends their last SIS value again. Fields named in ``restore`` go back to
        that last SIS value and are attached to the SIS again ("Restore" in Alma's UI).
        """
        with self._uow_factory() as uow:
            stored = self._find(uow, institution, user_id, ALL_UNIQUE)
            user = copy.deepcopy(stored)
            edit(user)
            user.manual_fields = mark_manual(stored, user)
            restore_sis_values(user, restore)
            user.institution = institution
            user.created_by = stored.created_by
            user.created_date = stored.created_date
            user.last_modified_by = actor
            user.last_modified_date = later(self._clock(), stored.last_modified_date)
            force_internal_segments(user)
            self._check(uow, institution, stored, user)
            uow.users.replace(stored.primary_id, user, None)
            uow.commit()
        return user

    def delete(
        self,
        institution: str,
        user_id: str,
        id_type: str = ALL_UNIQUE,
        *,
        guard: Guard | None = None,
    ) -> None:
        with self._uow_factory() as uow:
            stored = self._find(uow, institution, user_id, id_type)
            if guard is not None:
                guard(stored, None)
            self._check(uow, institution, stored, None)
            uow.users.remove(institution, stored.primary_id)
            uow.commit()

    def check_password(self, institution: str, user_id: str, id_type: str, password: str) -> bool:
        """True when ``password`` is the user's own and the account may sign in.

        Inactive or expired users fail (SPEC section 1.3). Lockout after repeated failures
        belongs to the authentication area and is not applied here.
        """
        if not password or len(password) > 1024:
            return False
        with self._uow_factory() as uow:
            user = self._find(uow, institution, user_id, id_type)
            stored = uow.users.password_hash(institution, user.primary_id)
        if stored is None or user.status != "ACTIVE":
            return False
        if user.expiry_date is not None and user.expiry_date < self._clock().date():
            return False
        return self._hasher.verify(stored, password)

    def search(self, search: UserSearch) -> SearchResult:
        with self._read_uow_factory() as uow:
            return uow.users.search(search)

    def history(self, institution: str, primary_id: str, limit: int = 200) -> list[HistoryRow]:
        """The changes of one user (API, staff pages, SIS loads), newest first."""
        with self._read_uow_factory() as uow:
            return uow.users.history(institution, primary_id, limit)
