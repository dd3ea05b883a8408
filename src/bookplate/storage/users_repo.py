"""``UserRepository`` on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import NETWORK_SCOPE_KEY, IdScope, OutboxKind, uniqueness_scope
from bookplate.storage import outbox
from bookplate.storage import tables as t
from bookplate.storage.documents import stored_user
from bookplate.storage.engine import ATOMIC_WRITE_OPTION
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.rows import (
    id_entries,
    identifier_pairs,
    term_rows,
    user_row,
    utc,
)
from bookplate.storage.term_vector import on_vector
from bookplate.storage.user_insert import driver_sql, insert_user
from bookplate.storage.user_search import search_users
from bookplate.users.errors import DuplicateId, PreconditionFailed, UserNotFound
from bookplate.users.model import User, normalise_id
from bookplate.users.ports import ALL_UNIQUE, LINKING_ID, PRIMARY_ID, HistoryRow, Version
from bookplate.users.queries import SearchResult, UserSearch

# The GET look-ups, built once: a statement with bound parameters only is compiled once per
# engine and then found in SQLAlchemy's cache (an expanding IN would be re-rendered per call).
# The two-key form of the advisory lock: (the schema, the institution).
_LOCK_INSTITUTION = text(
    "SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext(:name))"
)
_FIND_BY_ANY_ID = (
    select(t.users.c.institution, t.users.c.record)
    .join(t.user_ids, t.user_ids.c.user_pk == t.users.c.id)
    .where(
        t.users.c.institution == bindparam("institution"),
        # The rows of one deployment are all in one mode, and the user must belong to
        # ``institution``: so either scope key is right and no settings read is needed.
        or_(
            t.user_ids.c.scope == NETWORK_SCOPE_KEY,
            t.user_ids.c.scope == bindparam("institution"),
        ),
        t.user_ids.c.value_norm == bindparam("norm"),
    )
    .order_by(t.users.c.id)
    .limit(1)
)
_FIND_BY_PRIMARY_ID = select(t.users.c.institution, t.users.c.record).where(
    t.users.c.institution == bindparam("institution"),
    t.users.c.primary_id_norm == bindparam("norm"),
)

# Writes with the values as parameters (not ``.values(...)``): the statement is built and
# compiled once instead of per call.
_INSERT_USER = insert(t.users).returning(t.users.c.id)
_INSERT_AUDIT = insert(t.audit_log)
_ATOMIC = {ATOMIC_WRITE_OPTION: True}


class SqlUserRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    # -- helpers -----------------------------------------------------------------------

    def _mode(self) -> IdScope:
        # Read on each write: set_id_scope may have changed it in this transaction.
        return read_id_scope(self._conn)

    def _pk(self, institution: str, primary_id: str) -> int | None:
        pk = self._conn.execute(
            select(t.users.c.id).where(
                t.users.c.institution == institution,
                t.users.c.primary_id_norm == normalise_id(primary_id),
            )
        ).scalar_one_or_none()
        return pk

    def _write_side_rows(self, pk: int, user: User) -> None:
        scope = uniqueness_scope(
            self._mode(), user.institution, linked=user.source_institution_code is not None
        )
        self._conn.execute(
            insert(t.user_ids),
            [
                {"scope": scope, "value_norm": norm, "user_pk": pk, "id_type": id_type}
                for norm, _raw, id_type in id_entries(user)
            ],
        )
        identifiers = identifier_pairs(user)
        if identifiers:
            self._conn.execute(
                insert(t.user_identifiers),
                [{"user_pk": pk, "id_type": k, "value_norm": v} for k, v in identifiers],
            )
        terms = term_rows(user, vector=on_vector(self._conn.dialect))
        if terms:
            inst = user.institution
            self._conn.execute(
                insert(t.user_terms),
                [
                    {"user_pk": pk, "institution": inst, "field": f, "term": v, "order_key": k}
                    for f, v, k in terms
                ],
            )

    def _delete_side_rows(self, pk: int) -> None:
        for table in (t.user_ids, t.user_identifiers, t.user_terms):
            self._conn.execute(delete(table).where(table.c.user_pk == pk))

    def _duplicate(self, user: User, own_pk: int | None) -> DuplicateId:
        """Name the first of ``user``'s ID values already held by another user."""
        scope = uniqueness_scope(
            self._mode(), user.institution, linked=user.source_institution_code is not None
        )
        entries = id_entries(user)
        query = select(t.user_ids.c.value_norm).where(
            t.user_ids.c.scope == scope,
            t.user_ids.c.value_norm.in_([norm for norm, _, _ in entries]),
        )
        if own_pk is not None:
            query = query.where(t.user_ids.c.user_pk != own_pk)
        taken = set(self._conn.execute(query).scalars())
        for norm, raw, id_type in entries:
            if norm in taken:
                return DuplicateId(raw, id_type)
        return DuplicateId(user.primary_id, PRIMARY_ID)

    def _audit(
        self,
        user_institution: str,
        actor: str | None,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self._conn.execute(
            _INSERT_AUDIT,
            {
                "at": datetime.now(UTC),
                "institution": user_institution,
                "actor": actor,
                "action": action,
                "target": target,
                "detail": detail,
            },
        )

    def _load(self, query: Select[Any], params: dict[str, Any] | None = None) -> list[User]:
        return [stored_user(inst, record) for inst, record in self._conn.execute(query, params)]

    # -- UserRepository ----------------------------------------------------------------

    def find(self, institution: str, user_id: str, id_type: str = ALL_UNIQUE) -> User | None:
        u = t.users
        norm = normalise_id(user_id)
        if id_type == ALL_UNIQUE:
            found = self._load(_FIND_BY_ANY_ID, {"institution": institution, "norm": norm})
            return found[0] if found else None
        if id_type == PRIMARY_ID:
            found = self._load(_FIND_BY_PRIMARY_ID, {"institution": institution, "norm": norm})
            return found[0] if found else None
        query = select(u.c.institution, u.c.record).where(u.c.institution == institution)
        if id_type == LINKING_ID:
            query = query.where(u.c.linking_id == user_id.strip())
        else:
            ident = t.user_identifiers
            query = query.where(
                exists().where(
                    ident.c.user_pk == u.c.id,
                    ident.c.id_type == id_type,
                    ident.c.value_norm == norm,
                )
            )
        found = self._load(query.order_by(u.c.id).limit(1))
        return found[0] if found else None

    def add(self, user: User, password_hash: str | None) -> None:
        if self._conn.dialect.name == "postgresql":
            self._add_in_one_statement(user, password_hash)
            return
        try:
            with self._conn.begin_nested():
                pk = self._conn.execute(_INSERT_USER, user_row(user, password_hash)).scalar_one()
                self._write_side_rows(pk, user)
        except IntegrityError:
            raise self._duplicate(user, None) from None
        self._audit(
            user.institution, user.last_modified_by or user.created_by, "user.add", user.primary_id
        )

    def _add_in_one_statement(self, user: User, password_hash: str | None) -> None:
        """PostgreSQL: one round trip (``storage.user_insert``). Inside a transaction it runs
        under a savepoint so that the transaction stays usable after a clash; a unit in
        AUTOCOMMIT mode (``SqlUnitOfWork(single_write=True)``) needs none, the statement
        being atomic by itself."""
        statement, params = insert_user(
            user, password_hash, user.last_modified_by or user.created_by, datetime.now(UTC)
        )
        # Sent as the driver's own SQL: no statement cache look-up per call.
        sql = driver_sql(statement, self._conn.dialect)
        try:
            if self._conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                self._conn.exec_driver_sql(sql, params, execution_options=_ATOMIC)
            else:
                with self._conn.begin_nested():
                    self._conn.exec_driver_sql(sql, params)
        except IntegrityError:
            raise self._duplicate(user, None) from None

    def replace(
        self,
        previous_primary_id: str,
        user: User,
        password_hash: str | None,
        *,
        if_version: Version | None = None,
    ) -> None:
        pk = self._pk(user.institution, previous_primary_id)
        if pk is None:
            raise UserNotFound(previous_primary_id)
        values = user_row(
            user,
            password_hash,
            with_password=password_hash is not None,
            vector=on_vector(self._conn.dialect),
        )
        # Before the row changes: the entry keeps the primary ID the copies know.
        outbox.enqueue(self._conn, [pk], OutboxKind.CHANGED)
        where = [t.users.c.id == pk]
        if if_version is not None:
            # PostgreSQL re-reads the row a concurrent writer committed and finds the newer
            # date-time; SQLite serialises writers (BEGIN IMMEDIATE).
            modified = utc(if_version.last_modified)
            where.append(
                t.users.c.last_modified_date.is_(None)
                if modified is None
                else t.users.c.last_modified_date == modified
            )
        try:
            with self._conn.begin_nested():
                updated = self._conn.execute(update(t.users).where(*where).values(values))
                if updated.rowcount != 1:
                    if if_version is not None:
                        raise PreconditionFailed(previous_primary_id)
                    # Removed meanwhile by another transaction: no side rows without a user.
                    raise UserNotFound(previous_primary_id)
                self._delete_side_rows(pk)
                self._write_side_rows(pk, user)
        except IntegrityError:
            raise self._duplicate(user, pk) from None
        detail = None
        if normalise_id(previous_primary_id) != normalise_id(user.primary_id):
            detail = {"previous_primary_id": previous_primary_id}
        self._audit(
            user.institution, user.last_modified_by, "user.replace", user.primary_id, detail
        )

    def replace_many(self, items: Sequence[tuple[str, User]]) -> None:
        # On first use: users_bulk writes through the SIS batch writer, which imports this.
        from bookplate.storage.users_bulk import replace_many  # noqa: PLC0415 (import cycle)

        replace_many(self._conn, items)

    def remove(self, institution: str, primary_id: str) -> None:
        pk = self._pk(institution, primary_id)
        if pk is None:
            raise UserNotFound(primary_id)
        outbox.enqueue(self._conn, [pk], OutboxKind.DELETED)
        self._delete_side_rows(pk)
        self._conn.execute(delete(t.sis_fingerprints).where(t.sis_fingerprints.c.user_pk == pk))
        self._conn.execute(delete(t.users).where(t.users.c.id == pk))
        self._audit(institution, None, "user.remove", primary_id)

    def lock_institution(self, institution: str) -> None:
        """PostgreSQL: a transaction-scoped advisory lock named by the schema and the
        institution (no row is needed, and two deployments in two schemas never wait on
        each other). SQLite: nothing to do, a write transaction begins IMMEDIATE and holds
        the database's one write lock from its first statement (``storage.transaction``)."""
        lock_institution(self._conn, institution)

    def password_hash(self, institution: str, primary_id: str) -> str | None:
        value = self._conn.execute(
            select(t.users.c.password_hash).where(
                t.users.c.institution == institution,
                t.users.c.primary_id_norm == normalise_id(primary_id),
            )
        ).scalar_one_or_none()
        return value

    def history(self, institution: str, primary_id: str, limit: int) -> list[HistoryRow]:
        a = t.audit_log.c
        query = (
            select(a.at, a.actor, a.action, a.detail)
            .where(a.institution == institution, a.target == primary_id)
            .order_by(a.at.desc(), a.id.desc())
            .limit(limit)
        )
        return [HistoryRow(r.at, r.actor, r.action, r.detail) for r in self._conn.execute(query)]

    def search(self, search: UserSearch) -> SearchResult:
        return search_users(self._conn, search)


def lock_institution(conn: Connection, institution: str) -> None:
    """``UserRepository.lock_institution`` on a connection: the user services and the SIS
    batches (``SqlSisBatch.lock_institution``) take the same lock."""
    if conn.dialect.name != "postgresql":
        return
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        raise RuntimeError("lock_institution needs a transaction (not a read-only unit)")
    conn.execute(_LOCK_INSTITUTION, {"name": f"institution-admins:{institution}"})
