"""Which database an engine reaches, independent of how its URL is spelt.

SIS runs keep files in a spool directory named by run id; run ids are per database, and two
databases may share one spool (two deployments on a host, test schemas). The spool names are
therefore qualified by this identity. It must be the same for every process that reaches the
same tables (``localhost`` or ``127.0.0.1``, a relative or absolute SQLite path), or their
run locks would not meet.
"""

from __future__ import annotations

import os

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bookplate.storage.engine import Engine
from bookplate.storage.transaction import connection


def database_identity(engine: Engine) -> str:
    """``postgresql:<cluster>/<database>/<schema of sis_runs>`` or ``sqlite:<real path>``."""
    if engine.dialect.name == "postgresql":
        return _postgresql(engine)
    with connection(engine) as conn:
        rows = conn.exec_driver_sql("PRAGMA database_list").all()
    path = next((str(row[2]) for row in rows if row[1] == "main"), "")
    if not path:  # in memory: only this engine sees it
        return "sqlite-memory:" + engine.url.render_as_string(hide_password=True)
    return "sqlite:" + os.path.realpath(path)


def _postgresql(engine: Engine) -> str:
    with connection(engine) as conn:
        database, schema = conn.execute(
            text(
                "SELECT current_database(), coalesce("
                " (SELECT relnamespace::regnamespace::text FROM pg_class"
                "  WHERE oid = to_regclass('sis_runs')), current_schema())"
            )
        ).one()
    # The cluster: its system identifier when the role may read it, else the server's
    # address as the URL names it (the same cluster reached two ways then counts twice).
    try:
        with connection(engine) as conn:
            cluster = str(
                conn.execute(text("SELECT system_identifier FROM pg_control_system()")).scalar()
            )
    except DBAPIError:
        cluster = f"{engine.url.host or ''}:{engine.url.port or ''}"
    return f"postgresql:{cluster}/{database}/{schema}"
