"""Where the database is: the default SQLite file, and the URL a light CLI command reads
straight from the environment.

``bookplate codes list`` must start in well under a second, and pydantic-settings alone
costs about a tenth of it (docs/benchmarks.md, "CLI"). ``from_environment`` reads
``BOOKPLATE_DATABASE_URL`` as ``config.Settings`` does (the name in any case, the last one
winning; the default file when unset) and gives up — None — when a ``.env`` file could
change the answer, so that the caller reads the settings the full way."""

from __future__ import annotations

import os
from pathlib import Path

VARIABLE = "BOOKPLATE_DATABASE_URL"


def default_database_url() -> str:
    """An absolute SQLite path, the same from every folder: ``$XDG_DATA_HOME/bookplate`` (or
    ``~/.local/share/bookplate``)/bookplate.db. A relative default made a CLI run from
    another folder quietly start an empty database there."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base).resolve() / 'bookplate' / 'bookplate.db'}"


def from_environment() -> str | None:
    """The database URL ``Settings().database_url`` would give, or None when a ``.env`` file
    in the working folder may set it (the settings are then read in full)."""
    if Path(".env").exists():
        return None
    found: str | None = None
    wanted = VARIABLE.lower()
    for name, value in os.environ.items():  # as pydantic-settings: names lower-cased, last wins
        if name.lower() == wanted:
            found = value
    return default_database_url() if found is None else found
