"""``UserRepository`` on SQLAlchemy Core."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    intersect,
    literal,
    or_,
    select,
    union,
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
    ORDERED_TERM_FIELDS,
    id_entries,
    identifier_pairs,
    term_rows,
    user_row,
    utc,
)
from bookplate.storage.user_insert import driver_sql, insert_user
from bookplate.users.errors import DuplicateId, PreconditionFailed, UserNotFound
from bookplate.users.model import User, normalise_id
from bookplate.users.ports import ALL_UNIQUE, LINKING_ID, PRIMARY_ID, HistoryRow, Version
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


# The GET look-ups, built once: a statement with bound parameters only is compiled once per
# engine and then found in SQLAlchemy's cache (an expanding IN would be re-rendered per call).
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

# Search for one exact word in one name field in the default order (``q=last_name~smith``),
# built once: the count and the page in one statement (the count as a scalar subquery, so a
# page with rows brings its total along), the page an ordered range of ix_user_terms_search.
_TERMS = t.user_terms
_ONE_TERM = (
    _TERMS.c.institution == bindparam("institution"),
    _TERMS.c.field == bindparam("field"),
    _TERMS.c.term == bindparam("term"),
)
_COUNT_ONE_TERM = select(func.count()).select_from(_TERMS).where(*_ONE_TERM)
_ONE_TERM_PAGE = (
    select(_TERMS.c.user_pk, _TERMS.c.order_key)
    .where(*_ONE_TERM)
    .order_by(_TERMS.c.order_key)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
    .subquery("page")
)
_SEARCH_ONE_TERM = (
    select(
        _COUNT_ONE_TERM.scalar_subquery().label("total"),
        t.users.c.institution,
        t.users.c.record,
    )
    .join_from(t.users, _ONE_TERM_PAGE, _ONE_TERM_PAGE.c.user_pk == t.users.c.id)
    .order_by(_ONE_TERM_PAGE.c.order_key)
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
        terms = term_rows(user)
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
        values = user_row(user, password_hash, with_password=password_hash is not None)
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

    def remove(self, institution: str, primary_id: str) -> None:
        pk = self._pk(institution, primary_id)
        if pk is None:
            raise UserNotFound(primary_id)
        outbox.enqueue(self._conn, [pk], OutboxKind.DELETED)
        self._delete_side_rows(pk)
        self._conn.execute(delete(t.sis_fingerprints).where(t.sis_fingerprints.c.user_pk == pk))
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
        """Count, then one page in the requested order.

        The ``q`` terms are answered from ``user_terms`` alone (it carries the institution):
        the count is an index-only pass over ``ix_user_terms_search`` when nothing else
        filters. When every condition names only fields whose term rows carry the user's
        ``order_key`` (the names) and the order is the default one, the page is read from the
        term index in that order (for one exact term: a range read with LIMIT); otherwise it
        sorts the matching ids on the covering ``ix_users_id_order`` (id → sort keys). Either
        way ``record`` is read for the page's rows only.
        """
        one = _one_ordered_term(search)
        if one is not None:
            return self._search_one_term(search, *one)
        u = t.users
        matched = self._matching(search.institution, search.conditions)
        where: list[ColumnElement[bool]] = [u.c.institution == search.institution]
        if search.modified_from is not None:
            start = datetime.combine(search.modified_from, time.min, tzinfo=UTC)
            where.append(u.c.last_modified_date >= start)
        if search.source_institution_code is not None:
            where.append(u.c.source_institution_code == search.source_institution_code)
        if search.source_user_id is not None:
            where.append(u.c.source_link_id == search.source_user_id)
        where.extend(_filters(search))
        if matched is not None and len(where) == 1:
            count = select(func.count()).select_from(matched.subquery())
        else:
            if matched is not None:
                where.append(u.c.id.in_(matched))
            count = select(func.count()).select_from(u).where(*where)
        total = self._conn.execute(count).scalar_one()
        if search.limit <= 0 or total == 0 or search.offset >= total:
            return SearchResult([], total)
        if matched is not None and len(where) == 1:
            if search.order_by is None and _keyed(search.conditions):
                return SearchResult(self._load(self._ordered_page(search)), total)
            where.append(u.c.id.in_(matched))
        if search.order_by == "last_name":
            keys = [u.c.last_name_sort, u.c.primary_id_norm]
        elif search.order_by == "first_name":
            keys = [u.c.first_name_sort, u.c.primary_id_norm]
        elif search.order_by == "primary_id":
            keys = [u.c.primary_id_norm]
        else:
            keys = [u.c.last_name_sort, u.c.first_name_sort, u.c.primary_id_norm]
        page = (
            select(u.c.id, *keys)
            .where(*where)
            .order_by(*keys)
            .limit(search.limit)
            .offset(max(search.offset, 0))
            .subquery("page")
        )
        query = (
            select(u.c.institution, u.c.record)
            .join(page, page.c.id == u.c.id)
            .order_by(*(page.c[key.name] for key in keys))
        )
        return SearchResult(self._load(query), total)

    def _search_one_term(self, search: UserSearch, field: str, term: str) -> SearchResult:
        params: dict[str, Any] = {"institution": search.institution, "field": field, "term": term}
        if search.limit > 0:
            params.update(limit=search.limit, offset=max(search.offset, 0))
            rows = self._conn.execute(_SEARCH_ONE_TERM, params).all()
            if rows:
                users = [stored_user(inst, record) for _total, inst, record in rows]
                return SearchResult(users, rows[0][0])
        # No page (limit 0, no match, or an offset past the end): the count alone.
        return SearchResult([], self._conn.execute(_COUNT_ONE_TERM, params).scalar_one())

    def _ordered_page(self, search: UserSearch) -> Select[Any]:
        """The page of the default order from the term rows' ``order_key`` (every condition
        passes ``_keyed``): a match in a field whose rows hold no key takes the key computed
        from its user's sort columns, which is the same string."""
        u = t.users
        matched = self._matching(search.institution, search.conditions, with_key=True)
        assert matched is not None  # the caller found terms
        keyed = matched.subquery("keyed")
        paged = (
            select(keyed.c.user_pk, keyed.c.order_key)
            .order_by(keyed.c.order_key)
            .limit(search.limit)
            .offset(max(search.offset, 0))
            .subquery("page")
        )
        return (
            select(u.c.institution, u.c.record)
            .join(paged, paged.c.user_pk == u.c.id)
            .order_by(paged.c.order_key)
        )

    @staticmethod
    def _matching(
        institution: str, conditions: tuple[Condition, ...], *, with_key: bool = False
    ) -> Select[Any] | CompoundSelect[Any] | None:
        """The ``user_pk`` (and with ``with_key`` the ``order_key``) of the users having every
        term (each in one of its condition's fields), each once; None when there is no term
        to match."""
        terms = t.user_terms
        parts: list[Select[Any]] = []
        one_row_per_user = False
        for condition in conditions:
            for term in condition.terms:
                one_row_per_user = _one_row_per_user(condition, term) or (
                    with_key and _split_by_key(condition)  # a UNION: already one row per user
                )
                if with_key:
                    parts.append(_keyed_matches(institution, condition, term))
                else:
                    parts.append(
                        select(terms.c.user_pk).where(
                            terms.c.institution == institution,
                            _field_test(condition.fields),
                            term_match(terms.c.term, term),
                        )
                    )
        if not parts:
            return None
        if len(parts) > 1:
            return intersect(*parts)  # INTERSECT removes duplicates
        if one_row_per_user:
            return parts[0]
        return parts[0].distinct()


def _filters(search: UserSearch) -> list[ColumnElement[bool]]:
    """The staff page's filters on the ``users`` columns."""
    u = t.users
    out: list[ColumnElement[bool]] = []
    for column, value in (
        (u.c.record_type, search.record_type),
        (u.c.status, search.status),
        (u.c.user_group, search.user_group),
        (u.c.account_type, search.account_type),
    ):
        if value is not None:
            out.append(column == value)
    if search.expires_before is not None:
        out.append(u.c.expiry_date < search.expires_before)
    if search.expires_from is not None:
        out.append(or_(u.c.expiry_date.is_(None), u.c.expiry_date >= search.expires_from))
    return out


def _field_test(fields: tuple[str, ...] | list[str]) -> ColumnElement[bool]:
    column = t.user_terms.c.field
    return column == fields[0] if len(fields) == 1 else column.in_(fields)


def _users_order_key() -> ColumnElement[str]:
    """``rows.user_order_key`` computed from a ``users`` row's sort columns (as migration
    0007 does)."""
    u = t.users
    key: ColumnElement[str] | None = None
    for column in (u.c.last_name_sort, u.c.first_name_sort, u.c.primary_id_norm):
        part = func.replace(column, "\x01", "\x01\x02", type_=String()) + literal(
            "\x01\x01", String()
        )
        key = part if key is None else key + part
    assert key is not None
    return key


def _split_by_key(condition: Condition) -> bool:
    """Whether the condition names fields with and fields without ``order_key``."""
    return any(f in ORDERED_TERM_FIELDS for f in condition.fields) and any(
        f not in ORDERED_TERM_FIELDS for f in condition.fields
    )


def _keyed_matches(institution: str, condition: Condition, term: Term) -> Select[Any]:
    """(user_pk, order_key) of the users having ``term`` in one of the condition's fields:
    from the term rows for the fields that carry the key, through ``users`` for the others."""
    terms = t.user_terms
    named = [f for f in condition.fields if f in ORDERED_TERM_FIELDS]
    other = [f for f in condition.fields if f not in ORDERED_TERM_FIELDS]
    parts: list[Select[Any]] = []
    if named:
        parts.append(
            select(terms.c.user_pk, terms.c.order_key).where(
                terms.c.institution == institution,
                _field_test(named),
                term_match(terms.c.term, term),
            )
        )
    if other:
        u = t.users
        parts.append(
            select(terms.c.user_pk, _users_order_key().label("order_key"))
            .join_from(terms, u, u.c.id == terms.c.user_pk)
            .where(
                terms.c.institution == institution,
                _field_test(other),
                term_match(terms.c.term, term),
            )
        )
    if len(parts) == 1:
        return parts[0]
    # A plain SELECT over the UNION (which removes duplicates), so that INTERSECT of several
    # terms needs no nested compound statement (SQLite has none).
    both = union(*parts).subquery("either")
    return select(both.c.user_pk, both.c.order_key)


def _one_row_per_user(condition: Condition, term: Term) -> bool:
    """(user_pk, field, term) is the primary key: an exact term in one field matches each
    user once."""
    return len(condition.fields) == 1 and not term.prefix


def _one_ordered_term(search: UserSearch) -> tuple[str, str] | None:
    """(field, word) when ``search`` is one exact word in one field whose terms carry the
    default order, in that order, with no other filter; None otherwise."""
    if (
        len(search.conditions) != 1
        or search.order_by is not None
        or search.modified_from is not None
        or search.source_institution_code is not None
        or search.source_user_id is not None
        or search.filtered
    ):
        return None
    condition = search.conditions[0]
    if len(condition.terms) != 1 or len(condition.fields) != 1:
        return None
    field, term = condition.fields[0], condition.terms[0]
    if term.prefix or field not in ORDERED_TERM_FIELDS:
        return None
    return field, term.text


def _keyed(conditions: tuple[Condition, ...]) -> bool:
    """Whether every condition names a field whose term rows carry ``order_key`` (the default
    order is then read from the term rows rather than sorted through ``users``)."""
    return all(any(f in ORDERED_TERM_FIELDS for f in c.fields) for c in conditions)
