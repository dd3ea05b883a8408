"""The CLI and an SIS run do not load the external-login protocol libraries or Alembic.

They weigh about 50 MiB of a process that must stay under 300 MB for a 1,000,000-user SIS
file; they are imported when a sign-in profile or a migration is first used.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("saml2", "xmlschema", "ldap3", "authlib", "alembic")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_cli_and_sis_run_do_not_import_login_protocols(tmp_path: object) -> None:
    loaded = _loaded_after(
        "import bookplate.cli.main\n"
        "from bookplate.bootstrap import build_container\n"
        "from bookplate.config import Settings\n"
        f"c = build_container(Settings(database_url='sqlite:///{tmp_path}/x.db'))\n"
        "c.sis\n"
    )
    assert "bookplate" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_external_logins_still_load_them_on_first_use(tmp_path: object) -> None:
    loaded = _loaded_after(
        "from bookplate.bootstrap import build_container\n"
        "from bookplate.config import Settings\n"
        f"c = build_container(Settings(database_url='sqlite:///{tmp_path}/x.db'))\n"
        "c.external\n"
    )
    assert {"saml2", "ldap3", "authlib"} <= loaded


def test_an_api_worker_starts_without_the_login_protocols(tmp_path: object) -> None:
    """An API worker (``create_app``) must start quickly: a replacement for a killed worker
    has to answer the supervisor's health check while the others are under load (issue 14
    item 15). pysaml2 alone took 2.4 s of it; the protocols load with the first sign-in."""
    loaded = _loaded_after(
        "from bookplate.api.app import create_app\n"
        "from bookplate.config import Settings\n"
        f"create_app(Settings(database_url='sqlite:///{tmp_path}/x.db'))\n"
    )
    assert "fastapi" in loaded
    assert not loaded & {"saml2", "xmlschema", "ldap3", "authlib"}, loaded & set(HEAVY)


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


# Not needed by ``bookplate --help``, ``codes list|set`` or ``keys list``.
NOT_FOR_LIGHT_COMMANDS = {
    "procrastinate",
    "fastapi",
    "starlette",
    "redis",
    "bookplate.auth.services",
    "bookplate.auth.backends",
    "bookplate.sis.jobs",
    "bookplate.storage.sis_queue",
    "bookplate.sandbox.services",
}


def test_importing_the_cli_loads_no_database_queue_or_web_layer() -> None:
    """``bookplate --help`` and argument errors need none of the wiring: the command modules
    get their container through ``cli/wiring.py`` when a command runs."""
    probe = (
        "import sys\nimport bookplate.cli.main\n"
        "print(' '.join(m for m in ('bookplate.bootstrap', 'sqlalchemy', 'procrastinate',"
        " 'fastapi', 'redis') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert out.split() == []


# What ``bookplate --help`` and a group's ``--help`` must not load (docs/benchmarks.md, "CLI
# start-up"): the settings (pydantic-settings), the database layer, logging, the web layer,
# and the command groups' own modules other than the one asked for.
NOT_FOR_HELP = {
    "pydantic",
    "pydantic_settings",
    "bookplate.config",
    "bookplate.bootstrap",
    "bookplate.logs",
    "structlog",
    "sqlalchemy",
    "lxml",
    "fastapi",
    "uvicorn",
    "argon2",
    "procrastinate",
    "redis",
    "alembic",
    "saml2",
    "ldap3",
    "authlib",
}
GROUP_MODULES = {
    "bookplate.cli.auth",
    "bookplate.cli.codes",
    "bookplate.cli.config",
    "bookplate.cli.db",
    "bookplate.cli.institutions",
    "bookplate.cli.keys",
    "bookplate.cli.network",
    "bookplate.cli.roles",
    "bookplate.cli.sandbox",
    "bookplate.cli.sis",
}


def _modules_after_help(*args: str) -> set[str]:
    code = (
        "import contextlib, io, sys\nfrom bookplate.cli.main import app\n"
        f"sys.argv = ['bookplate', *{list(args)!r}]\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        app()\n    except SystemExit as exit_:\n"
        "        assert exit_.code == 0, exit_.code\n"
    )
    return _modules_after(code)


def test_importing_the_cli_entry_point_loads_no_heavy_module() -> None:
    """The entry point imports typer and the command tree only: no settings, database,
    logging, Rich console, or command group (each is imported when it is used)."""
    loaded = _modules_after("import bookplate.cli.main")
    assert "typer" in loaded
    heavy = NOT_FOR_HELP | GROUP_MODULES | {"rich.console", "rich.table"}
    assert not loaded & heavy, sorted(loaded & heavy)


def test_help_loads_no_group_and_a_group_help_only_its_own() -> None:
    loaded = _modules_after_help("--help")
    assert "rich.console" in loaded  # the help was printed, with Rich
    assert not loaded & (NOT_FOR_HELP | GROUP_MODULES), sorted(loaded & NOT_FOR_HELP)
    for group, module in (("codes", "bookplate.cli.codes"), ("roles", "bookplate.cli.roles"),
                          ("network", "bookplate.cli.network"), ("auth", "bookplate.cli.auth")):
        loaded = _modules_after_help(group, "--help")
        assert module in loaded
        # typer itself reads some parameter types with pydantic (not pydantic-settings)
        others = (NOT_FOR_HELP | GROUP_MODULES) - {module, "pydantic"}
        assert not loaded & others, (group, sorted(loaded & others))


def _modules_after_command(
    tmp_path: object, *commands: list[str], chdir: bool = False
) -> set[str]:
    """The modules loaded after running these ``bookplate`` commands in a fresh process, on
    a SQLite file migrated beforehand (so the commands find the schema at its head); with
    ``chdir`` from ``tmp_path`` as the working folder."""
    db = f"sqlite:///{tmp_path}/light.db"
    runs = "\n".join(
        f"r = CliRunner().invoke(app, {cmd!r})\nassert r.exit_code == 0, r.output"
        for cmd in commands
    )
    code = (
        "import os\n"
        + (f"os.chdir({str(tmp_path)!r})\n" if chdir else "")
        + f"os.environ['BOOKPLATE_DATABASE_URL'] = {db!r}\n"
        "os.environ.pop('BOOKPLATE_REDIS_URL', None)\n"
        "from typer.testing import CliRunner\n"
        "from bookplate.cli.main import app\n"
        f"{runs}"
    )
    setup = (
        "from bookplate.storage.migrate import upgrade\n"
        "from bookplate.bootstrap import build_container\n"
        "from bookplate.config import Settings\n"
        f"upgrade({db!r})\n"
        f"c = build_container(Settings(database_url={db!r}))\n"
        "c.add_institution('LIGHT', 'Light')\nc.close()\n"
    )
    subprocess.run([sys.executable, "-c", setup], check=True, capture_output=True)
    return _modules_after(code)


def test_light_commands_load_no_jobs_sign_in_or_alembic(tmp_path: object) -> None:
    """``codes list|set`` and ``keys list`` open the database only: no SIS jobs, sign-in
    services, queue or web layer, and no Alembic when the schema is at its head
    (``storage/schema_revision.py``)."""
    loaded = _modules_after_command(
        tmp_path,
        ["codes", "list", "LIGHT", "UserGroups"],
        ["codes", "set", "LIGHT", "UserGroups", "L1", "Light group"],
        ["keys", "list"],
    )
    assert "sqlalchemy" in loaded  # the commands did open the database
    heavy = NOT_FOR_LIGHT_COMMANDS | {"alembic", "lxml", "saml2", "ldap3", "authlib"}
    assert not loaded & heavy, sorted(loaded & heavy)


# What the code-table and institution commands must not load (docs/benchmarks.md, "CLI"):
# the settings (pydantic-settings), logging (structlog, with Rich's tracebacks), Alembic, and
# the services and stores of users, keys, roles and sign-in that the full container builds.
NOT_FOR_CODE_TABLE_COMMANDS = NOT_FOR_LIGHT_COMMANDS | {
    "pydantic_settings",
    "bookplate.config",
    "bookplate.logs",
    "structlog",
    "rich.traceback",
    "alembic",
    "argon2",
    "pycountry",
    "lxml",
    "bookplate.users.services",
    "bookplate.keys.services",
    "bookplate.roles.services",
    "bookplate.roles.admin",
    "bookplate.auth.hasher",
    "bookplate.auth.staff_tokens",
    "bookplate.storage.users_repo",
    "bookplate.storage.keys_repo",
    "bookplate.storage.auth_repo",
    "bookplate.storage.rate_counter",
}


def test_code_table_commands_load_no_sqlalchemy_settings_logging_or_services(
    tmp_path: Path,
) -> None:
    """``codes tables|list|set`` (pairs and ``--file``), ``codes remove|group`` and
    ``institutions list`` on a SQLite file at the schema's head use the sqlite3 driver
    (``storage/sqlite_codes.py``): no SQLAlchemy, settings, logging or services. Run from a
    folder without a ``.env`` file (one makes them read the settings the full way)."""
    codes = tmp_path / "codes.csv"
    codes.write_text("L2,Light two\nL3,Light three,no\n", encoding="utf-8")
    loaded = _modules_after_command(
        tmp_path,
        ["codes", "tables", "LIGHT"],
        ["codes", "list", "LIGHT", "UserGroups"],
        ["codes", "set", "LIGHT", "UserGroups", "L1", "Light group"],
        ["codes", "set", "LIGHT", "UserGroups", "--file", str(codes)],
        ["codes", "remove", "LIGHT", "UserGroups", "L3"],
        ["codes", "group", "LIGHT", "L1", "--record-type", "STAFF"],
        ["institutions", "list"],
        chdir=True,
    )
    assert {"sqlite3", "bookplate.storage.sqlite_codes", "bookplate.roles.codes"} <= loaded
    heavy = NOT_FOR_CODE_TABLE_COMMANDS | {"sqlalchemy", "bookplate.storage.codes_repo"}
    assert not loaded & heavy, sorted(loaded & heavy)


def test_a_command_on_an_old_schema_still_upgrades_it(tmp_path: object) -> None:
    """Without Alembic's import on the common path, a database behind the code is still
    brought to the head by the first command that opens it."""
    db = f"sqlite:///{tmp_path}/old.db"
    code = (
        "import os\n"
        f"os.environ['BOOKPLATE_DATABASE_URL'] = {db!r}\n"
        "from typer.testing import CliRunner\n"
        "from bookplate.cli.main import app\n"
        "r = CliRunner().invoke(app, ['keys', 'list'])\n"
        "assert r.exit_code == 0, r.output\n"
        "from bookplate.storage.migrate import current_revision, head_revision\n"
        f"assert current_revision({db!r}) == head_revision()\n"
    )
    loaded = _modules_after(code)
    assert "alembic" in loaded


def test_the_cli_default_batch_is_the_writers() -> None:
    from bookplate.cli.sis.runs import DEFAULT_BATCH as CLI_BATCH
    from bookplate.sis.apply import DEFAULT_BATCH

    assert CLI_BATCH == DEFAULT_BATCH
