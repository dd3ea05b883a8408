"""Storage of the SIS area (``SqlSisStore``): profiles, runs and their report items, the
users of a profile, and the batches a run writes in (``storage.sis_batch``)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from bookplate.sis.model import Mode, Profile, Report
from bookplate.sis.ports import AuditRow, ItemRow, SisBatch
from bookplate.storage import outbox
from bookplate.storage import tables as t
from bookplate.storage.sis_batch import SqlSisBatch, rewrite, write_audit
from bookplate.storage.sis_sql import READ_ONLY

MISSING_PAGE = 5000  # users read at a time by ``missing_users``


def _report(row: Any) -> Report:
    report = Report(
        run_id=row.id,
        profile=row.profile,
        institution=row.institution,
        mode=Mode(row.mode),
        dry_run=bool(row.dry_run),
        source=row.source,
        status=row.status,
        message=row.message or "",
        total=row.total,
        started=row.started.isoformat() if row.started else "",
        finished=row.finished.isoformat() if row.finished else "",
    )
    report.counts.update(row.counts or {})
    return report


class SqlSisStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # PostgreSQL works in its own process: a run may write a batch on one connection
        # while it plans the next on another (``sis.apply.Runner._main_pass``).
        self.overlap_writes = engine.dialect.name == "postgresql"

    @contextmanager
    def batch(self, *, read_only: bool = False) -> Iterator[SqlSisBatch]:
        """The one way this store opens a transaction: every read and write of the SIS
        storage goes through a batch; what is not committed (``batch.commit()``) is rolled
        back when the batch ends."""
        # Read-only: on SQLite a batch otherwise begins IMMEDIATE, holding the database's one
        # write lock until it ends: a dry run's report items, stored meanwhile by another
        # connection, waited for it until "database is locked".
        options = READ_ONLY if read_only else {}
        with self.engine.connect().execution_options(**options) as conn:
            try:
                yield SqlSisBatch(conn)
            finally:
                conn.rollback()
                outbox.discard(conn)

    # -- profiles ----------------------------------------------------------------------

    def get_profile(self, institution: str, code: str) -> Profile | None:
        p = t.sis_profiles
        with self.batch(read_only=True) as batch:
            row = batch.conn.execute(
                select(p.c.settings).where(p.c.institution == institution, p.c.code == code)
            ).first()
        return Profile.from_dict(row[0]) if row else None

    def list_profiles(self, institution: str | None) -> list[Profile]:
        p = t.sis_profiles
        query = select(p.c.settings).order_by(p.c.institution, p.c.code)
        if institution is not None:
            query = query.where(p.c.institution == institution)
        with self.batch(read_only=True) as batch:
            return [Profile.from_dict(r[0]) for r in batch.conn.execute(query)]

    def put_profile(self, profile: Profile, *, create: bool, actor: str = "system") -> None:
        p = t.sis_profiles
        now = datetime.now(UTC)
        action = "sis.profile.create" if create else "sis.profile.update"
        with self.batch() as batch:
            if create:
                batch.conn.execute(
                    insert(p).values(
                        institution=profile.institution,
                        code=profile.code,
                        settings=profile.to_dict(),
                        modified=now,
                    )
                )
            else:
                batch.conn.execute(
                    update(p)
                    .where(p.c.institution == profile.institution, p.c.code == profile.code)
                    .values(settings=profile.to_dict(), modified=now)
                )
            batch.conn.execute(insert(t.audit_log).values(
                at=now, institution=profile.institution, actor=actor[:255], action=action,
                target=f"sis_profile:{profile.code}"[:255], detail=profile.to_dict(),
            ))
            batch.commit()

    def delete_profile(self, institution: str, code: str, actor: str = "system") -> bool:
        p = t.sis_profiles
        with self.batch() as batch:
            result = batch.conn.execute(
                delete(p).where(p.c.institution == institution, p.c.code == code)
            )
            if result.rowcount:
                batch.conn.execute(insert(t.audit_log).values(
                    at=datetime.now(UTC), institution=institution, actor=actor[:255],
                    action="sis.profile.delete", target=f"sis_profile:{code}"[:255], detail={},
                ))
            batch.commit()
        return bool(result.rowcount)

    # -- runs --------------------------------------------------------------------------

    def start_run(self, report: Report) -> int:
        with self.batch() as batch:
            pk = batch.conn.execute(
                insert(t.sis_runs)
                .values(
                    institution=report.institution,
                    profile=report.profile,
                    mode=report.mode.value,
                    dry_run=report.dry_run,
                    source=report.source[:1000],
                    status=report.status,
                    message="",
                    total=0,
                    counts=dict(report.counts),
                    started=datetime.fromisoformat(report.started) if report.started else None,
                )
                .returning(t.sis_runs.c.id)
            ).scalar_one()
            batch.commit()
        return int(pk)

    def finish_run(self, report: Report) -> None:
        with self.batch() as batch:
            batch.update_run(report)
            batch.commit()

    def clear_run_items(self, run_id: int) -> None:
        """Forget the report lists of a run about to be executed again (after a crash)."""
        with self.batch() as batch:
            batch.conn.execute(delete(t.sis_run_items).where(t.sis_run_items.c.run_id == run_id))
            batch.commit()

    def get_run(self, run_id: int) -> Report | None:
        with self.batch(read_only=True) as batch:
            row = batch.conn.execute(select(t.sis_runs).where(t.sis_runs.c.id == run_id)).first()
        return _report(row) if row else None

    def list_runs(self, institution: str, profile: str | None, limit: int) -> list[Report]:
        r = t.sis_runs
        query = select(r).where(r.c.institution == institution)
        if profile is not None:
            query = query.where(r.c.profile == profile)
        with self.batch(read_only=True) as batch:
            rows = batch.conn.execute(query.order_by(r.c.id.desc()).limit(limit)).all()
        return [_report(row) for row in rows]

    def run_ids(self, statuses: Collection[str], institution: str | None = None) -> list[int]:
        r = t.sis_runs
        query = select(r.c.id).where(r.c.status.in_(list(statuses)))
        if institution is not None:
            query = query.where(r.c.institution == institution)
        with self.batch(read_only=True) as batch:
            return [int(pk) for pk in batch.conn.execute(query.order_by(r.c.id)).scalars()]

    def run_items(self, run_id: int, kind: str | None, offset: int, limit: int) -> list[ItemRow]:
        i = t.sis_run_items
        query = select(i).where(i.c.run_id == run_id)
        if kind is not None:
            query = query.where(i.c.kind == kind)
        query = query.order_by(i.c.seq).offset(offset).limit(limit)
        with self.batch(read_only=True) as batch:
            return [
                ItemRow(r.seq, r.kind, r.record_no, r.match_id, r.primary_id, r.detail)
                for r in batch.conn.execute(query)
            ]

    # -- users of a profile ------------------------------------------------------------

    def _profile_users(self, institution: str, code: str) -> Any:
        u = t.users
        return (
            u.c.institution == institution,
            u.c.account_type == "EXTERNAL",
            u.c.external_id == code,
        )

    def profile_user_count(self, institution: str, code: str) -> int:
        with self.batch(read_only=True) as batch:
            return int(
                batch.conn.execute(
                    select(func.count())
                    .select_from(t.users)
                    .where(*self._profile_users(institution, code))
                ).scalar_one()
            )

    def missing_users(
        self,
        institution: str,
        code: str,
        seen: Container[int],
        active_only: bool,
        expire_on: date | None,
    ) -> Iterator[tuple[int, str]]:
        u = t.users
        query = select(u.c.id, u.c.primary_id, u.c.status, u.c.expiry_date).where(
            *self._profile_users(institution, code)
        )
        last = -1
        while True:
            # One page per connection: nothing is held open while the caller writes.
            with self.batch(read_only=True) as batch:
                page = batch.conn.execute(
                    query.where(u.c.id > last).order_by(u.c.id).limit(MISSING_PAGE)
                ).all()
            for pk, primary_id, status, expiry in page:
                if pk in seen:
                    continue
                if active_only and status != "ACTIVE":
                    continue
                if expire_on is not None and expiry is not None and expiry <= expire_on:
                    continue
                yield pk, primary_id
            if len(page) < MISSING_PAGE:
                return
            last = page[-1][0]

    def deactivate(
        self,
        pks: Iterable[int],
        *,
        expire_on: date | None,
        actor: str,
        now: datetime,
        run_id: int | None = None,
        leave: Callable[[SisBatch], Collection[int]] | None = None,
    ) -> None:
        with self.batch() as batch:
            left = leave(batch) if leave is not None else ()
            users = batch.load([pk for pk in pks if pk not in left])
            changed = []
            history = []
            action = "sis.deactivate" if expire_on is None else "sis.expire"
            for pk, user in users.items():
                if expire_on is None:
                    user.status = "INACTIVE"
                    user.status_date = now.date()
                else:
                    user.expiry_date = expire_on
                user.last_modified_by = actor
                user.last_modified_date = now
                changed.append((pk, user))
                history.append(AuditRow(action, user.primary_id, {"run": run_id}))
            rewrite(batch, changed)
            if changed:
                write_audit(batch, changed[0][1].institution, actor, now, history)
            batch.commit()
