"""User search on the term index (``user_terms``) and the ``users`` sort columns; on
PostgreSQL a condition on a field other than the names goes through ``users.search_terms``
(``term_vector``), whose GIN index holds every term.

``SqlUserRepository.search`` hands its ``UserSearch`` here; the ``q`` language itself is
``users.queries`` (pure), this module only turns its conditions into SQL.
"""

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
    func,
    intersect,
    literal,
    or_,
    select,
    union,
)

from bookplate.storage import tables as t
from bookplate.storage.documents import stored_user
from bookplate.storage.rows import ORDERED_TERM_FIELDS
from bookplate.storage.term_vector import on_vector, vector_match
from bookplate.users.model import User
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
        # [no-any-return] below: SQLAlchemy types == on an Any column as Any
        return column == term.text  # type: ignore[no-any-return]
    upper = prefix_upper_bound(term.text)
    if upper is None:
        # [no-any-return] below: SQLAlchemy types >= on an Any column as Any
        return column >= term.text  # type: ignore[no-any-return]
    return and_(column >= term.text, column < upper)


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


def search_users(conn: Connection, search: UserSearch) -> SearchResult:
    """``UserRepository.search`` on ``conn``."""
    return _Search(conn).search(search)


class _Search:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def _load(self, query: Select[Any], params: dict[str, Any] | None = None) -> list[User]:
        return [stored_user(inst, record) for inst, record in self._conn.execute(query, params)]

    def search(self, search: UserSearch) -> SearchResult:
        """Count, then one page in the requested order.

        The ``q`` terms are answered from ``user_terms`` alone (it carries the institution):
        the count is an index-only pass over ``ix_user_terms_search`` when nothing else
        filters. When every condition names only fields whose term rows carry the user's
        ``order_key`` (the names) and the order is the default one, the page is read from the
        term index in that order (for one exact term: a range read with LIMIT); otherwise it
        sorts the matching ids on the covering ``ix_users_id_order`` (id → sort keys). Either
        way ``record`` is read for the page's rows only. On PostgreSQL ``user_terms`` holds
        the names' rows only: a search naming another field matches ``users.search_terms``
        through its GIN index (``term_vector``), counted and sorted on ``users``.
        """
        one = _one_ordered_term(search)
        if one is not None:
            return self._search_one_term(search, *one)
        u = t.users
        where: list[ColumnElement[bool]] = [u.c.institution == search.institution]
        matched, match = self._terms(search)
        where.extend(match)
        if search.modified_from is not None:
            start = datetime.combine(search.modified_from, time.min, tzinfo=UTC)
            where.append(u.c.last_modified_date >= start)
        if search.source_institution_code is not None:
            where.append(u.c.source_institution_code == search.source_institution_code)
        if search.source_user_id is not None:
            where.append(u.c.source_link_id == search.source_user_id)
        where.extend(_filters(search))
        alone = len(where) == 1  # no other condition than the terms of ``matched``
        if matched is not None and alone:
            count = select(func.count()).select_from(matched.subquery())
        else:
            if matched is not None:
                where.append(u.c.id.in_(matched))
            count = select(func.count()).select_from(u).where(*where)
        total = self._conn.execute(count).scalar_one()
        if search.limit <= 0 or total == 0 or search.offset >= total:
            return SearchResult([], total)
        if matched is not None and alone:
            if search.order_by is None and _keyed(search.conditions):
                return SearchResult(self._load(self._ordered_page(search)), total)
            where.append(u.c.id.in_(matched))
        keys = _order_keys(search)
        if match:
            # The vector's matches first, then their sort: left to itself the planner walked
            # the default-order index testing every user's vector until the page was full
            # (21 ms for 238 matches among 100,000; docs/benchmarks.md, issue 20). OFFSET 0
            # keeps the matches a subquery of their own, read through the GIN index.
            found = select(u.c.id, *keys).where(*where).offset(0).subquery("found")
            order: list[Any] = [found.c[key.name] for key in keys]
            chosen = select(found.c.id, *order)
        else:
            order = list(keys)
            chosen = select(u.c.id, *keys).where(*where)
        page = (
            chosen.order_by(*order)
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

    def _terms(
        self, search: UserSearch
    ) -> tuple[Select[Any] | CompoundSelect[Any] | None, list[ColumnElement[bool]]]:
        """How the terms are matched: the ``user_pk`` of the term rows (``_matching``), or on
        PostgreSQL, when a condition names a field other than the names (whose terms are only
        on the user row), a condition on ``users.search_terms``."""
        if on_vector(self._conn.dialect) and needs_vector(search.conditions):
            match = vector_match(search.conditions)
            return None, [] if match is None else [match]
        return self._matching(search.institution, search.conditions), []

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


def _order_keys(search: UserSearch) -> list[Any]:
    """The ``users`` columns of the requested order."""
    u = t.users
    if search.order_by == "last_name":
        return [u.c.last_name_sort, u.c.primary_id_norm]
    if search.order_by == "first_name":
        return [u.c.first_name_sort, u.c.primary_id_norm]
    if search.order_by == "primary_id":
        return [u.c.primary_id_norm]
    return [u.c.last_name_sort, u.c.first_name_sort, u.c.primary_id_norm]


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


def needs_vector(conditions: tuple[Condition, ...]) -> bool:
    """Whether a condition names a field outside ``ORDERED_TERM_FIELDS``: on PostgreSQL its
    terms are only in ``users.search_terms`` (``term_vector``)."""
    return any(f not in ORDERED_TERM_FIELDS for c in conditions for f in c.fields)


def _keyed(conditions: tuple[Condition, ...]) -> bool:
    """Whether every condition names a field whose term rows carry ``order_key`` (the default
    order is then read from the term rows rather than sorted through ``users``)."""
    return all(any(f in ORDERED_TERM_FIELDS for f in c.fields) for c in conditions)
