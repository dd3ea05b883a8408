"""The schema-revision check that spares commands Alembic's import (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

from bookplate.storage.engine import make_engine
from bookplate.storage.migrate import current_revision, head_revision, upgrade
from bookplate.storage.schema_revision import _revisions, at_head, head_from_files


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert head_from_files() is not None
    assert head_from_files() == head_revision()


def test_revision_lines_are_read_or_refused() -> None:
    assert _revisions('revision = "b"\ndown_revision = "a"\n') == ("b", {"a"})
    assert _revisions("revision: str = 'a'\ndown_revision = None\n") == ("a", set())
    assert _revisions('revision = "m"\ndown_revision = ("a", "b")  # merge\n') == (
        "m", {"a", "b"}
    )
    assert _revisions('revision = make()\ndown_revision = "a"\n') is None
    assert _revisions('down_revision = "a"\n') is None


def test_a_database_is_at_head_only_after_the_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert not at_head(engine)  # empty database: no alembic_version table
        upgrade(engine)
        assert at_head(engine)
        assert current_revision(engine) == head_from_files()
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0011_conf_names'"))
        assert not at_head(engine)  # an older schema: the container runs Alembic's upgrade
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM alembic_version"))
        assert not at_head(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO alembic_version VALUES (:v)"),
                         {"v": head_from_files()})
        assert at_head(engine)
    finally:
        engine.dispose()
