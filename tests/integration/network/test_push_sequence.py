"""The push sequence of a home user keeps growing when the outbox was emptied in between: a
host applies a push only when its sequence is newer than the last it applied, so a number
given again after the outbox drained would be dropped there as stale (SQLite reused the
outbox's ids once the table was empty; migration 0017_outbox_autoincrement)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from bookplate.bootstrap import Container
from bookplate.storage import tables as t
from bookplate.storage.engine import make_engine
from bookplate.storage.migrate import alembic_config, check_models_match, upgrade
from bookplate.users.model import User, UserInput


def _rename(c: Container, last_name: str) -> None:
    stored = c.users.get("MAIN", "ann")
    stored.last_name = last_name
    c.users.replace("MAIN", "ann", UserInput(stored), "api")


def _owed_and_delivered(c: Container) -> int:
    """Work the outbox (which owes FAR one push), take the push as delivered; its sequence."""
    assert c.network.process_outbox().failed == []
    (entry,) = c.network.waiting_pushes()
    with c.engine.begin() as conn:
        p = t.network_pushes.c
        conn.execute(sa.delete(t.network_pushes).where(
            p.institution == entry.institution, p.source_pk == entry.source_pk,
            p.host == entry.host, p.seq == entry.seq))
    assert c.network.waiting() == 0 and c.network.waiting_pushes() == []
    return entry.seq


def test_the_second_push_after_the_outbox_drained_has_a_newer_sequence(c: Container) -> None:
    c.users.create("MAIN", UserInput(User(primary_id="ann", first_name="Ann", last_name="Lee",
                                          user_group="UNDERGRAD",
                                          expiry_date=date(2030, 1, 31))), "api")
    with c.engine.begin() as conn:  # a host on another deployment holds a copy of ann
        pk = conn.execute(sa.select(t.users.c.id).where(t.users.c.primary_id == "ann")
                          ).scalar_one()
        conn.execute(sa.insert(t.network_remote_copies).values(
            institution="MAIN", source_pk=pk, host="FAR", created_at=datetime.now(UTC)))
    _rename(c, "Park")
    first = _owed_and_delivered(c)
    _rename(c, "Park-Lee")  # the outbox is empty now
    second = _owed_and_delivered(c)
    assert second > first
    _rename(c, "Lee")
    _rename(c, "Lee-Park")
    assert _owed_and_delivered(c) > second


def test_the_migration_keeps_waiting_entries_and_counts_on_from_the_pushes_owed(
    tmp_path: Path,
) -> None:
    """SQLite before 0017: the waiting rows survive the rebuild, and the next id is above
    both them and every push still owed (whose entries are gone already)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0016_network_pushes")
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(t.network_outbox), [
                {"id": 7, "institution": "MAIN", "link_id": "ann", "source_pk": 1,
                 "kind": "changed", "created_at": now, "attempts": 2, "last_error": "x"}])
            conn.execute(sa.insert(t.network_pushes), [
                {"institution": "MAIN", "source_pk": 2, "host": "FAR", "link_id": "bo",
                 "seq": 41, "deleted": 0, "attempts": 0, "next_at": now}])
        upgrade(url)
        assert check_models_match(engine) == []
        with engine.begin() as conn:
            kept = conn.execute(sa.select(t.network_outbox)).one()
            assert (kept.id, kept.link_id, kept.attempts, kept.last_error) == (7, "ann", 2, "x")
            conn.execute(sa.delete(t.network_outbox))
            new = conn.execute(sa.insert(t.network_outbox).values(
                institution="MAIN", link_id="ann", source_pk=1, kind="changed",
                created_at=now, attempts=0).returning(t.network_outbox.c.id)).scalar_one()
            assert new == 42
            tables = set(conn.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
            assert "network_outbox_rebuilt" not in tables
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("network_outbox")}
            assert "ix_network_outbox_source" in indexes
        with engine.begin() as conn:  # and back: the rows stay
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0016_network_pushes")
        with engine.begin() as conn:
            assert conn.execute(sa.select(t.network_outbox.c.id)).scalars().all() == [42]
    finally:
        engine.dispose()
