"""``UserRepository`` on SQLAlchemy Core."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import NETWORK_SCOPE_KEY, IdScope, uniqueness_scope
from bookplate.storage import tables as t
from bookplate.storage.documents import user_from_document
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.rows import id_entries, identifier_pairs, term_pairs, user_row
from bookplate.users.errors import DuplicateId, UserNotFound
from bookplate.users.model import User, normalise_id
from bookplate.users.ports import ALL_UNIQUE, LINKING_ID, PRIMARY_ID
from bookplate.users.queries import Condition, SearchResult, Term, UserSearch


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (code point
    order), or None when there is none."""
    chars = list(prefix)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            chars[-1] = chr(last + 1)
            return "".join(chars)
        chars.pop()
    return None


def term_match(column: Any, term: Term) -> ColumnElement[bool]:
    """Exact or prefix test on a byte-ordered column, written as a range so that an index on
    the column serves it on both SQLite and PostgreSQL."""
    if not term.prefix:
        return column == term.text  # type: ignore[no-any-return]
    upper = prefix_upper_bound(term.text)
    if upper is None:
        return column >= term.text  # type: ignore[no-any-return]
    return and_(column >= term.text, column < upper)


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
        scope = uniqueness_scope(self._mode(), user.institution)
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
        terms = term_pairs(user)
        if terms:
            self._conn.execute(
                insert(t.user_terms),
                [
                    {"user_pk": pk, "institution": user.institution, "field": f, "term": v}
                    for f, v in terms
                ],
            )

    def _delete_side_rows(self, pk: int) -> None:
        for table in (t.user_ids, t.user_identifiers, t.user_terms):
            self._conn.execute(delete(table).where(table.c.user_pk == pk))

    def _duplicate(self, user: User, own_pk: int | None) -> DuplicateId:
        """Name the first of ``user``'s ID values already held by another user."""
        scope = uniqueness_scope(self._mode(), user.institution)
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
            insert(t.audit_log).values(
                at=datetime.now(UTC),
                institution=user_institution,
                actor=actor,
                action=action,
                target=target,
                detail=detail,
            )
        )

    def _load(self, query: Select[Any]) -> list[User]:
        out = []
        for institution, record in self._conn.execute(query):
            user = user_from_document(record)
            user.institution = institution
            out.append(user)
        return out

    # -- UserRepository ----------------------------------------------------------------

    def find(self, institution: str, user_id: str, id_type: str = ALL_UNIQUE) -> User | None:
        u = t.users
        query = select(u.c.institution, u.c.record).where(u.c.institution == institution)
        norm = normalise_id(user_id)
        if id_type == ALL_UNIQUE:
            query = query.join(t.user_ids, t.user_ids.c.user_pk == u.c.id).where(
                # The rows of one deployment are all in one mode, and the user must belong to
                # ``institution``: so either scope key is right and no settings read is needed.
                t.user_ids.c.scope.in_([NETWORK_SCOPE_KEY, institution]),
                t.user_ids.c.value_norm == norm,
            )
        elif id_type == PRIMARY_ID:
            query = query.where(u.c.primary_id_norm == norm)
        elif id_type == LINKING_ID:
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
        try:
            with self._conn.begin_nested():
                pk = self._conn.execute(
                    insert(t.users).values(user_row(user, password_hash)).returning(t.users.c.id)
                ).scalar_one()
                self._write_side_rows(pk, user)
        except IntegrityError:
            raise self._duplicate(user, None) from None
        self._audit(
            user.institution, user.last_modified_by or user.created_by, "user.add", user.primary_id
        )

    def replace(self, previous_primary_id: str, user: User, password_hash: str | None) -> None:
        pk = self._pk(user.institution, previous_primary_id)
        if pk is None:
            raise UserNotFound(previous_primary_id)
        values = user_row(user, password_hash, with_password=password_hash is not None)
        try:
            with self._conn.begin_nested():
                self._conn.execute(update(t.users).where(t.users.c.id == pk).values(values))
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

    def remove(self, institution: str, primary_id: str) -> None:
        pk = self._pk(institution, primary_id)
        if pk is None:
            raise UserNotFound(primary_id)
        self._delete_side_rows(pk)
        self._conn.execute(delete(t.users).where(t.users.c.id == pk))
        self._audit(institution, None, "user.remove", primary_id)

    def password_hash(self, institution: str, primary_id: str) -> str | None:
        value = self._conn.execute(
            select(t.users.c.password_hash).where(
                t.users.c.institution == institution,
                t.users.c.primary_id_norm == normalise_id(primary_id),
            )
        ).scalar_one_or_none()
        return value

    def search(self, search: UserSearch) -> SearchResult:
        u = t.users
        where: list[ColumnElement[bool]] = [u.c.institution == search.institution]
        for condition in search.conditions:
            where.extend(self._condition(search.institution, condition))
        if search.modified_from is not None:
            start = datetime.combine(search.modified_from, time.min, tzinfo=UTC)
            where.append(u.c.last_modified_date >= start)
        if search.source_institution_code is not None:
            where.append(u.c.source_institution_code == search.source_institution_code)
        if search.source_user_id is not None:
            where.append(u.c.source_link_id == search.source_user_id)
        total = self._conn.execute(select(func.count()).select_from(u).where(*where)).scalar_one()
        if search.limit <= 0 or total == 0 or search.offset >= total:
            return SearchResult([], total)
        if search.order_by == "last_name":
            order = [u.c.last_name_sort, u.c.primary_id_norm]
        elif search.order_by == "first_name":
            order = [u.c.first_name_sort, u.c.primary_id_norm]
        elif search.order_by == "primary_id":
            order = [u.c.primary_id_norm]
        else:
            order = [u.c.last_name_sort, u.c.first_name_sort, u.c.primary_id_norm]
        query = (
            select(u.c.institution, u.c.record)
            .where(*where)
            .order_by(*order)
            .limit(search.limit)
            .offset(max(search.offset, 0))
        )
        return SearchResult(self._load(query), total)

    @staticmethod
    def _condition(institution: str, condition: Condition) -> list[ColumnElement[bool]]:
        """One EXISTS per term: each term must be found in one of the condition's fields."""
        out: list[ColumnElement[bool]] = []
        for term in condition.terms:
            terms = t.user_terms.alias()
            field_test = (
                terms.c.field == condition.fields[0]
                if len(condition.fields) == 1
                else terms.c.field.in_(condition.fields)
            )
            out.append(
                exists(
                    select(literal(1)).where(
                        terms.c.user_pk == t.users.c.id,
                        terms.c.institution == institution,
                        field_test,
                        term_match(terms.c.term, term),
                    )
                )
            )
        return out
