"""An SIS update writes only the side rows that differ (``SqlSisBatch.update``): what is left
must be exactly what a fresh write of the same record gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from bookplate.bootstrap import Container
from bookplate.storage import tables as t
from bookplate.storage.sis_repo import SqlSisStore
from bookplate.users.model import ContactInfo, Email, Identifier, Note, User, normalise_id

SIDE = (t.user_ids, t.user_identifiers, t.user_terms)


def person(
    primary_id: str,
    *,
    first: str = "Ann",
    last: str = "Lee",
    barcode: str | None = None,
    univ: str | None = None,
    email: str | None = None,
    note: str | None = None,
) -> User:
    identifiers = [
        Identifier(kind, value)
        for kind, value in (("BARCODE", barcode), ("UNIV_ID", univ))
        if value
    ]
    return User(
        primary_id=primary_id,
        first_name=first,
        last_name=last,
        user_group="UNDERGRAD",
        identifiers=identifiers,
        contact_info=ContactInfo(emails=[Email(email)] if email else []),
        notes=[Note("CIRCULATION", note)] if note else [],
        institution="MAIN",
        last_modified_date=datetime.now(UTC),
    )


def side_rows(conn: Connection, pk: int) -> dict[str, list[tuple[Any, ...]]]:
    """The user's rows of each side table without the user's key, sorted."""
    out = {}
    for table in SIDE:
        columns = [c for c in table.c if c.name != "user_pk"]
        rows = conn.execute(select(*columns).where(table.c.user_pk == pk))
        out[table.name] = sorted(tuple(r) for r in rows)
    return out


def fresh_rows(store: SqlSisStore, pk: int, user: User) -> dict[str, list[tuple[Any, ...]]]:
    """The side rows ``user`` gets when written new (after user ``pk``, who holds its IDs, is
    removed); nothing of it is kept."""
    with store.batch() as batch:
        batch.conn.execute(delete(t.users).where(t.users.c.id == pk))
        for table in (*SIDE, t.sis_fingerprints):
            batch.conn.execute(delete(table).where(table.c.user_pk == pk))
        (new_pk,) = batch.create([(user, "fresh")])
        rows = side_rows(batch.conn, new_pk)
        batch.rollback()
    return rows


def stored(store: SqlSisStore, pk: int) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        return side_rows(conn, pk)


def holder(store: SqlSisStore, value: str) -> int | None:
    i = t.user_ids
    with store.engine.connect() as conn:
        return conn.execute(
            select(i.c.user_pk).where(i.c.value_norm == normalise_id(value))
        ).scalar()


def test_updated_side_rows_are_those_of_a_fresh_write(c: Container) -> None:
    store = SqlSisStore(c.engine)
    before = person(
        "p1", first="Ann Marie", barcode="B1", univ="U1", email="ann@x.edu", note="Year one"
    )
    other = person("p2", first="Bo", last="Lee", barcode="B2")
    with store.batch() as batch:
        pk, other_pk = batch.create([(before, "fp1"), (other, "fp2")])
        batch.commit()
    others_rows = stored(store, other_pk)
    # Changed: a name (so every name term's order key), one identifier gone, one changed, the
    # email replaced, the note's words partly kept.
    after = person(
        "p1", first="Ann", last="Lee-Park", barcode="B9", email="ann@y.edu", note="Year two"
    )
    with store.batch() as batch:
        batch.update([(pk, after, "fp1b")])
        batch.commit()
    rows = stored(store, pk)
    assert rows == fresh_rows(store, pk, after)
    assert ("last_name", "park") in {(f, term) for _, f, term, _ in rows["user_terms"]}
    assert stored(store, other_pk) == others_rows  # the other user of the table is untouched
    with c.engine.connect() as conn:
        fingerprints = conn.execute(
            select(t.sis_fingerprints.c.fingerprint).where(t.sis_fingerprints.c.user_pk == pk)
        ).all()
    assert [f for (f,) in fingerprints] == ["fp1b"]


def test_an_update_that_changes_nothing_keeps_the_rows(c: Container) -> None:
    store = SqlSisStore(c.engine)
    user = person("p1", barcode="B1", email="ann@x.edu")
    with store.batch() as batch:
        (pk,) = batch.create([(user, "fp1")])
        batch.commit()
    rows = stored(store, pk)
    with store.batch() as batch:
        batch.update([(pk, user, "fp1")])
        batch.commit()
    assert stored(store, pk) == rows == fresh_rows(store, pk, user)


def test_ids_swapped_between_users_of_one_batch(c: Container) -> None:
    store = SqlSisStore(c.engine)
    with store.batch() as batch:
        a, b, d = batch.create(
            [
                (person("a", barcode="X", univ="UA"), "fa"),
                (person("b", barcode="Y"), "fb"),
                (person("d", univ="UD"), "fd"),
            ]
        )
        batch.commit()
    # b takes a's barcode and a takes b's; d takes the UNIV_ID a gives up. The users that take
    # an ID come before the one giving it up, so every removal must go before any insert.
    with store.batch() as batch:
        batch.update(
            [
                (b, person("b", barcode="X"), "fb2"),
                (d, person("d", univ="UA"), "fd2"),
                (a, person("a", barcode="Y"), "fa2"),
            ]
        )
        batch.commit()
    assert (holder(store, "X"), holder(store, "Y"), holder(store, "UA")) == (b, a, d)
    assert holder(store, "UD") is None
    assert c.users.get("MAIN", "X").primary_id == "b"
    assert c.users.get("MAIN", "UA").primary_id == "d"
    for pk, user in (
        (a, person("a", barcode="Y")),
        (b, person("b", barcode="X")),
        (d, person("d", univ="UA")),
    ):
        assert stored(store, pk) == fresh_rows(store, pk, user)


def test_a_user_without_fingerprint_gets_one_on_update(c: Container) -> None:
    store = SqlSisStore(c.engine)
    user = person("p1", barcode="B1")
    with store.batch() as batch:
        (pk,) = batch.create([(user, "fp1")])
        batch.conn.execute(delete(t.sis_fingerprints).where(t.sis_fingerprints.c.user_pk == pk))
        batch.commit()
    with store.batch() as batch:
        batch.update([(pk, person("p1", barcode="B2"), "fp2")])
        batch.commit()
    with c.engine.connect() as conn:
        rows = conn.execute(select(t.sis_fingerprints.c.user_pk, t.sis_fingerprints.c.fingerprint))
        assert rows.all() == [(pk, "fp2")]
