from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from bookplate.storage.migrate import alembic_config, check_models_match, current_revision, upgrade
from bookplate.storage.tables import metadata


def test_models_match_migrations(engine: Engine) -> None:
    assert check_models_match(engine) == []


def test_upgrade_is_idempotent_and_at_head(engine: Engine) -> None:
    upgrade(engine)
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations must form one line, found heads {heads}"
    assert current_revision(engine) == heads[0]
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_upgrade_from_url(database_url: str) -> None:
    upgrade(database_url)
    assert check_models_match(database_url) == []
