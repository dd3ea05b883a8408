"""``bookplate db reindex``: the side rows and derived columns of every user, rebuilt from the
stored documents.

The document (``users.record``) is the user; everything else about it in the database is
worked out from it (``rows``): the search terms (``user_terms``, and on PostgreSQL
``users.search_terms``), the identifier look-ups
(``user_identifiers``) and the copied columns of ``users`` (sort keys, group, status, dates).
When the rules that work them out change — a field becomes searchable in ``users.shape``, a
term is folded differently — this rebuilds them, so no hand-written backfill migration is
needed.

Users are taken in order of their key, ``batch`` at a time, each batch one transaction that
locks its users (PostgreSQL: ``FOR UPDATE``; SQLite holds the database's write lock), so a
write to one of them waits and is never overwritten by older rows. Rerunning is harmless (the
result depends only on the documents), and an interrupted run goes on from the last key it
reported (``start_after``). ``user_ids`` (the uniqueness index) is left alone: it is checked
by the database on every write, and rebuilding it could only find clashes, not fix them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, bindparam, delete, insert, select, update

from bookplate.storage import tables as t
from bookplate.storage.documents import stored_user
from bookplate.storage.rows import identifier_pairs, term_rows, user_order_key, user_row
from bookplate.storage.term_vector import on_vector
from bookplate.storage.transaction import transaction
from bookplate.users.model import User
from bookplate.users.queries import search_terms

# The columns of ``users`` worked out from the document (the document and the password hash
# are the stored facts; the key and institution never change).
_KEPT = frozenset({"record", "institution", "password_hash"})


@dataclass(slots=True)
class ReindexReport:
    users: int = 0
    last_key: int = 0
    unreadable: list[int] = field(default_factory=list)  # keys whose document is unreadable


def _derived(row: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in row.items() if k not in _KEPT}


_COLUMNS = tuple(_derived(user_row(User(primary_id="x"), None, with_password=False)))
# Parameters named apart from the columns: SQLAlchemy keeps the columns' own names for itself.
_UPDATE = (
    update(t.users)
    .where(t.users.c.id == bindparam("pk"))
    .values({c: bindparam("new_" + c) for c in _COLUMNS})
)


def _batch(engine: Engine, after: int, size: int, report: ReindexReport) -> int | None:
    """Rebuild the users with keys after ``after`` (at most ``size``); their last key."""
    users = t.users
    query = (
        select(users.c.id, users.c.institution, users.c.record)
        .where(users.c.id > after)
        .order_by(users.c.id)
        .limit(size)
    )
    vector = on_vector(engine.dialect)
    if engine.dialect.name == "postgresql":
        query = query.with_for_update()
    with transaction(engine) as conn:
        rows = conn.execute(query).all()
        if not rows:
            return None
        columns, identifiers, terms = [], [], []
        for pk, institution, document in rows:
            try:
                user = stored_user(institution, document)
                key = user_order_key(user)
                pairs = search_terms(user)
                derived = _derived(
                    user_row(user, None, with_password=False, vector=vector, pairs=pairs)
                )
                found = term_rows(user, key, vector=vector, pairs=pairs)
                ids = identifier_pairs(user)
            except (TypeError, ValueError, KeyError, AttributeError):
                report.unreadable.append(pk)
                continue
            columns.append({"pk": pk, **{"new_" + c: v for c, v in derived.items()}})
            identifiers += [{"user_pk": pk, "id_type": k, "value_norm": v} for k, v in ids]
            terms += [
                {"user_pk": pk, "institution": institution, "field": f, "term": v, "order_key": k}
                for f, v, k in found
            ]
        done = [c["pk"] for c in columns]
        for table in (t.user_terms, t.user_identifiers):
            conn.execute(delete(table).where(table.c.user_pk.in_(done)))
        if columns:
            conn.execute(_UPDATE, columns)
        if identifiers:
            conn.execute(insert(t.user_identifiers), identifiers)
        if terms:
            conn.execute(insert(t.user_terms), terms)
    report.users += len(columns)
    last = int(rows[-1][0])
    report.last_key = last
    return last


def reindex_users(
    engine: Engine,
    *,
    batch: int = 1000,
    start_after: int = 0,
    progress: Callable[[ReindexReport], None] | None = None,
) -> ReindexReport:
    """Rebuild every user's side rows and derived columns (see the module notes)."""
    if batch < 1:
        raise ValueError("the batch size must be at least 1")
    report = ReindexReport(last_key=start_after)
    after: int | None = start_after
    while after is not None:
        after = _batch(engine, after, batch, report)
        if after is not None and progress is not None:
            progress(report)
    return report
