"""A whole run (``sis.apply.Runner``) against an in-memory store: the actions that need the
stored users beyond the plan itself — users missing from the file deactivated, identifier
clashes and the institution's last administrator — and the guard."""

from __future__ import annotations

import copy
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime
from typing import Any

from bookplate.sis.apply import Runner
from bookplate.sis.id_checks import LAST_ADMIN
from bookplate.sis.model import ActionKind, MissingPolicy, Mode, Profile, Report
from bookplate.sis.ports import AuditRow, Found, Holder, ItemRow
from bookplate.sis.sources.base import Position, RawRecord
from bookplate.users.errors import DuplicateId
from bookplate.users.model import AccountType, Identifier, Role, User, id_values, normalise_id

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ADMIN = Role(role_type="26", scope="MAIN", status="ACTIVE")  # General System Administrator


def _user(
    primary_id: str, barcode: str | None = None, *, admin: bool = False, status: str = "ACTIVE"
) -> User:
    return User(
        primary_id=primary_id,
        status=status,
        first_name="Ann",
        last_name=primary_id.upper(),
        user_group="STUD",
        identifiers=[Identifier("BARCODE", barcode)] if barcode else [],
        roles=[ADMIN] if admin else [],
    )


class _Source:
    """The file: each record's raw bytes name it; ``parse`` returns a copy of the user."""

    def __init__(self, users: Sequence[User]) -> None:
        self.users = {u.primary_id: u for u in users}
        self.position = Position()

    def records(self) -> Iterator[RawRecord]:
        for number, user in enumerate(self.users.values(), 1):
            raw = f"{user.primary_id}|{user.last_name}|{id_values(user)}".encode()
            yield RawRecord(number, None, user.primary_id, raw)

    def parse(self, record: RawRecord) -> User:
        return copy.deepcopy(self.users[record.match_id or ""])


class _Store:
    """Users by key, what each batch writes applied at once (commits are not modelled:
    the runner's batches on this store are written one after the other)."""

    overlap_writes = False

    def __init__(self, users: Sequence[User]) -> None:
        self.users: dict[int, User] = {}
        self.fingerprints: dict[int, str] = {}
        self.items: list[ItemRow] = []
        self.deactivated: list[int] = []
        self.locks: list[str] = []  # institutions whose lock a batch took
        for user in users:
            user.institution, user.external_id = "MAIN", "SIS"
            user.account_type = AccountType.EXTERNAL.value
            self.users[len(self.users) + 1] = user

    # the batch
    @contextmanager
    def batch(self, *, read_only: bool = False) -> Iterator[_Store]:
        yield self

    def lookup(
        self, institution: str, match_id_type: str, norms: Sequence[str]
    ) -> dict[str, Found]:
        by_id = {normalise_id(u.primary_id): pk for pk, u in self.users.items()}
        return {
            n: Found(by_id[n], self.fingerprints.get(by_id[n]), self.users[by_id[n]].primary_id)
            for n in norms
            if n in by_id
        }

    def load(self, pks: Sequence[int]) -> dict[int, User]:
        return {pk: copy.deepcopy(self.users[pk]) for pk in pks if pk in self.users}

    def id_holders(self, institution: str, norms: Sequence[str]) -> dict[str, Holder]:
        out = {}
        for pk, user in self.users.items():
            for norm in id_values(user):
                if norm in norms:
                    out[norm] = Holder(pk, user.primary_id, "BARCODE")
        return out

    def prepare(self, users: Sequence[User]) -> object:
        return None

    def create(self, users: Sequence[tuple[User, str]], prepared: object = None) -> list[int]:
        taken = {n for u in self.users.values() for n in id_values(u)}
        pks = []
        for user, fp in users:
            if taken & set(id_values(user)):
                raise DuplicateId(user.primary_id, "all_unique")
            pk = max(self.users, default=0) + 1
            self.users[pk], self.fingerprints[pk] = user, fp
            pks.append(pk)
        return pks

    def update(self, users: Sequence[tuple[int, User, str]]) -> None:
        for pk, user, fp in users:
            self.users[pk], self.fingerprints[pk] = user, fp

    def set_fingerprints(self, rows: Sequence[tuple[int, str]]) -> None:
        self.fingerprints.update(rows)

    def add_items(self, run_id: int, rows: Sequence[ItemRow]) -> None:
        self.items.extend(rows)

    def update_run(self, report: Report) -> None:
        return None

    def audit(self, institution: str, actor: str, at: datetime, rows: Sequence[AuditRow]) -> None:
        return None

    def savepoint(self) -> Any:
        return nullcontext()

    def lock_institution(self, institution: str) -> None:
        self.locks.append(institution)

    def commit(self) -> None:
        return None

    # the store
    def start_run(self, report: Report) -> int:
        return 1

    def finish_run(self, report: Report) -> None:
        return None

    def profile_user_count(self, institution: str, code: str) -> int:
        return len(self.users)

    def missing_users(
        self,
        institution: str,
        code: str,
        seen: Container[int],
        active_only: bool,
        expire_on: date | None,
    ) -> Iterator[tuple[int, str]]:
        for pk, user in sorted(self.users.items()):
            if pk not in seen and (not active_only or user.status == "ACTIVE"):
                yield pk, user.primary_id

    def deactivate(self, pks: Any, *, leave: Any = None, **kwargs: Any) -> None:
        left = leave(self) if leave is not None else ()
        for pk in pks:
            if pk in left:
                continue
            self.users[pk].status = "INACTIVE"
            self.deactivated.append(pk)


def _is_admin(user: User) -> bool:
    return user.status == "ACTIVE" and any(r.role_type == "26" for r in user.roles)


def _run(
    store: _Store,
    file: Sequence[User],
    *,
    missing: MissingPolicy = MissingPolicy.OFF,
    guard_share: float = 1.0,
    batch_size: int = 2000,
    after_first_read: Callable[[], None] | None = None,
) -> tuple[Report, dict[str | None, tuple[ActionKind, str]]]:
    """The report, and each report item's kind and reason by primary ID. ``after_first_read``
    runs once, just after the run first reads the administrators (a change that another
    writer commits meanwhile)."""
    reads = 0

    def admins() -> set[str]:  # the roles area's reading
        nonlocal reads
        found = {normalise_id(u.primary_id) for u in store.users.values() if _is_admin(u)}
        reads += 1
        if reads == 1 and after_first_read is not None:
            after_first_read()
        return found
    runner = Runner(
        store=store,  # type: ignore[arg-type]
        source=_Source(file),
        profile=Profile(
            code="SIS", institution="MAIN", missing_policy=missing, guard_share=guard_share
        ),
        mode=Mode.SYNCHRONIZE,
        check=lambda user: None,
        today=NOW.date(),
        clock=lambda: NOW,
        roles=lambda user, institution: [],  # roles from the file stay out of it
        batch_size=batch_size,
        is_administrator=_is_admin,
        administrators=admins,
    )
    report = runner.run("users.xml")
    items = {i.primary_id or i.match_id: (ActionKind(i.kind), i.detail or "") for i in store.items}
    return report, items


def test_each_bucket_of_a_synchronize() -> None:
    store = _Store([_user("keep"), _user("change"), _user("gone")])
    file = [_user("keep"), _user("change", "B2"), _user("new"), _user("twin", "B2")]
    report, items = _run(store, file, missing=MissingPolicy.DEACTIVATE)
    assert report.status == "done", report.message
    assert {k: v for k, v in report.counts.items() if v} == {
        "create": 1, "update": 1, "unchanged": 1, "reject": 1, "deactivate": 1,
    }
    assert items["keep"][0] is ActionKind.UNCHANGED
    assert items["change"][0] is ActionKind.UPDATE and '"identifiers"' in items["change"][1]
    assert items["new"][0] is ActionKind.CREATE
    # the same barcode as an earlier record of the file: that record wins
    assert items["twin"] == (ActionKind.REJECT, "ID b2 is also in record 2 of this file")
    assert items["gone"] == (ActionKind.DEACTIVATE, "deactivated: not in the file")
    assert store.deactivated == [3] and store.users[3].status == "INACTIVE"


def test_an_id_held_by_another_stored_user_rejects_the_record() -> None:
    store = _Store([_user("p1", "B1")])
    _, items = _run(store, [_user("p2", "B1")])
    assert items["p2"] == (ActionKind.REJECT, "ID b1 (BARCODE) is already held by user p1")
    assert len(store.users) == 1


def test_the_last_administrator_keeps_the_role_and_its_update_is_rejected() -> None:
    """The file makes both administrators inactive: the first goes, the second is the last
    one and is left as it is (what the API refuses with 401860)."""
    store = _Store([_user("a1", admin=True), _user("a2", admin=True)])
    file = [_user("a1", status="INACTIVE"), _user("a2", status="INACTIVE")]
    _, items = _run(store, file, batch_size=1)
    assert items["a1"][0] is ActionKind.UPDATE
    assert items["a2"] == (ActionKind.REJECT, LAST_ADMIN)
    assert [_is_admin(u) for u in store.users.values()] == [False, True]


def test_the_last_administrator_is_not_deactivated_with_the_missing_users() -> None:
    store = _Store([_user("a1", admin=True), _user("p1")])
    _, items = _run(store, [], missing=MissingPolicy.DEACTIVATE)
    assert items["a1"] == (ActionKind.REJECT, LAST_ADMIN)
    assert items["p1"][0] is ActionKind.DEACTIVATE
    assert store.users[1].status == "ACTIVE" and store.users[2].status == "INACTIVE"


def test_the_guard_aborts_before_anything_is_written() -> None:
    store = _Store([_user("p1"), _user("p2"), _user("p3")])
    report, items = _run(store, [_user("p1")], missing=MissingPolicy.DEACTIVATE, guard_share=0.5)
    assert report.status == "aborted"
    assert report.message == (
        "2 of the profile's 3 users (67%) would be deactivated or expired, more than the "
        "guard's 50%; nothing was changed"
    )
    assert items == {} and store.deactivated == []


def _api_deactivates(store: _Store, pk: int) -> Callable[[], None]:
    def change() -> None:
        store.users[pk].status = "INACTIVE"

    return change


def test_an_update_rereads_the_administrators_under_the_lock_when_written() -> None:
    """a1's update was planned while a2 was an administrator too; a2 is deactivated (by the
    API) before the batch is written: the batch takes the institution's lock, reads the
    administrators again and leaves a1 as the last one."""
    store = _Store([_user("a1", admin=True), _user("a2", admin=True)])
    _, items = _run(store, [_user("a1", status="INACTIVE")], after_first_read=_api_deactivates(
        store, 2
    ))
    assert items["a1"] == (ActionKind.REJECT, LAST_ADMIN)
    assert store.locks == ["MAIN"]
    assert _is_admin(store.users[1])


def test_an_update_that_leaves_no_administrator_takes_no_lock() -> None:
    store = _Store([_user("a1", admin=True), _user("p1")])
    _, items = _run(store, [_user("p1", status="INACTIVE")])
    assert items["p1"][0] is ActionKind.UPDATE and store.locks == []


def test_missing_users_reread_the_administrators_under_the_lock() -> None:
    """The missing a1 was an administrator beside a2 when the run started; a2 is deactivated
    before the missing users are: a1 is left as the last one."""
    store = _Store([_user("a1", admin=True), _user("a2", admin=True), _user("p1")])
    file = [_user("a2", admin=True), _user("p1")]
    _, items = _run(
        store, file, missing=MissingPolicy.DEACTIVATE, after_first_read=_api_deactivates(store, 2)
    )
    assert items["a1"] == (ActionKind.REJECT, LAST_ADMIN)
    assert store.locks == ["MAIN"]
    assert _is_admin(store.users[1])
