"""``bookplate`` commands: serve, quickstart, database, institutions, keys, code tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bookplate.cli.auth import auth_app
from bookplate.cli.codes import codes_standard, codes_tables
from bookplate.cli.config import config_app
from bookplate.cli.network import network_app
from bookplate.cli.roles import libraries_app, roles_app, staff_app
from bookplate.cli.sandbox import sandbox_app
from bookplate.cli.sis import sis_app, worker
from bookplate.cli.wiring import build_container
from bookplate.config import get_settings
from bookplate.errors import BookplateError
from bookplate.keys.errors import InvalidKeyInput
from bookplate.keys.services import parse_areas
from bookplate.network.model import IdScope
from bookplate.users.ports import CodeRow

if TYPE_CHECKING:
    from bookplate.bootstrap import Container, ReindexReport

app = typer.Typer(no_args_is_help=True, help="Bookplate: library user management.")


@app.callback()
def _log_to_stderr() -> None:
    """Log lines go to standard error: a command's output (``sis report --json``) stays
    parseable. ``serve`` sets up its own logging when the app starts."""
    from bookplate import logs

    settings = get_settings()
    logs.configure(settings.log_level, settings.log_json, to_stderr=True)


db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
inst_app = typer.Typer(no_args_is_help=True, help="Institutions of this deployment.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
codes_app = typer.Typer(no_args_is_help=True, help="Code tables.")
app.add_typer(db_app, name="db")
app.add_typer(inst_app, name="institutions")
app.add_typer(keys_app, name="keys")
app.add_typer(codes_app, name="codes")
app.add_typer(sis_app, name="sis")
app.add_typer(roles_app, name="roles")
app.add_typer(libraries_app, name="libraries")
app.add_typer(staff_app, name="staff")
app.command("worker")(worker)
app.add_typer(auth_app, name="auth")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(network_app, name="network")
app.add_typer(config_app, name="config")

console = Console()
err = Console(stderr=True)

DEMO_INSTITUTION = "DEMO"


def _container(migrate: bool = True) -> Container:
    return build_container(get_settings(), migrate=migrate)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Apply migrations and serve the API."""
    import uvicorn

    _container().close()
    uvicorn.run(
        "bookplate.api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # info: the supervisor's lines (a worker started, died, replaced) reach the log; the
        # access log stays off (the app logs its errors with tracking ids).
        log_level="info",
        access_log=False,
        # A replacement worker starts while the others serve at full load: give it time to
        # answer the supervisor's health check rather than killing it again and again.
        timeout_worker_healthcheck=30,
    )


@app.command()
def quickstart(
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Create the schema, a demo institution and an API key, print them, then serve."""
    settings = get_settings()
    c = build_container(settings, migrate=True)
    try:
        created = c.add_institution(DEMO_INSTITUTION, "Demo Library")
        _key, secret = c.keys.create(
            DEMO_INSTITUTION, "quickstart", parse_areas(["users:rw", "conf:ro"])
        )
    finally:
        c.close()
    base = f"http://{host}:{port}"
    console.print(f"Database: {settings.database_url}")
    if created:
        console.print(f"Institution {DEMO_INSTITUTION} created with default code tables.")
    # Plain print: these lines are copied by hand and must not be wrapped.
    print(f"API key (Users read/write, Configuration read-only): {secret}")
    print("Try:")
    print(f"  export BOOKPLATE_KEY={secret}")
    print(
        f'  curl -s -H "Authorization: apikey $BOOKPLATE_KEY" '
        f'-H "Accept: application/json" "{base}/almaws/v1/users"'
    )
    print(f"Serving the Alma API at {base}/almaws/v1; staff sign in at {base}/auth/login")
    sys.stdout.flush()
    if serve_after:
        serve(host=host, port=port, workers=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration."""
    _container().close()
    console.print("Schema is at the latest revision.")


@db_app.command("reindex")
def db_reindex(
    batch: Annotated[int, typer.Option(help="Users per transaction.")] = 1000,
    start_after: Annotated[
        int, typer.Option(help="Go on after this user key (the last one a run reported).")
    ] = 0,
) -> None:
    """Rebuild every user's search terms, identifier look-ups and derived columns from the
    stored records (after a field becomes searchable, for example). Safe to rerun."""
    from bookplate.bootstrap import reindex_database

    if not 1 <= batch <= 100_000:
        _fail("--batch must be between 1 and 100000", 2)
    if start_after < 0:
        _fail("--start-after must be 0 or more", 2)

    def progress(report: ReindexReport) -> None:
        console.print(f"{report.users:,} users reindexed, up to key {report.last_key}")

    report = reindex_database(get_settings().database_url, batch, start_after, progress)
    for key in report.unreadable:
        err.print(f"user key {key}: stored record unreadable, left as it was")
    console.print(f"Reindexed {report.users:,} users (last key {report.last_key}).")
    if report.unreadable:
        _fail(f"{len(report.unreadable)} stored records could not be read")


@db_app.command("check")
def db_check() -> None:
    """Fail when the tables in code differ from what the migrations build, or when side
    rows (IDs, identifiers, search terms, SIS fingerprints) have lost their user."""
    from bookplate.bootstrap import check_database

    diffs, orphans = check_database(get_settings().database_url)
    if diffs:
        for d in diffs:
            err.print(d)
        _fail("models and migrations differ; write a migration")
    if orphans:
        for table, count in orphans.items():
            err.print(f"{table}: {count} rows whose user is gone")
        _fail("side rows without their user; report this as a bug")
    console.print("Models match the migrations; every side row has its user.")


@inst_app.command("add")
def institution_add(code: str, name: str) -> None:
    """Add an institution (with the default code tables)."""
    c = _container()
    try:
        if not c.add_institution(code, name):
            _fail(f"institution {code} exists")
    finally:
        c.close()
    console.print(f"Institution {code} added.")


@inst_app.command("list")
def institution_list() -> None:
    """List the institutions and where IDs must be unique."""
    c = _container()
    try:
        with c.uow_factory() as uow:
            rows = uow.institutions.list()
            scope = uow.institutions.id_scope()
    finally:
        c.close()
    table = Table("code", "name", title=f"Institutions (IDs unique per {scope.value})")
    for inst in rows:
        table.add_row(inst.code, inst.name)
    console.print(table)


@inst_app.command("id-scope")
def institution_id_scope(scope: Annotated[IdScope, typer.Argument()]) -> None:
    """Make primary IDs and identifiers unique network-wide or per institution."""
    c = _container()
    try:
        c.network.set_scope(scope, "cli")
    except BookplateError as exc:
        _fail(str(exc))
    finally:
        c.close()
    console.print(f"IDs are now unique per {scope.value}.")


@keys_app.command("create")
def keys_create(
    institution: Annotated[str, typer.Option(help="Institution code")],
    area: Annotated[list[str], typer.Option(help="AREA:ro or AREA:rw; areas: users, conf")],
    name: str = "",
    per_second: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
) -> None:
    """Create a key and print its secret (shown once; stored hashed)."""
    try:
        areas = parse_areas(area)
    except ValueError as exc:
        _fail(f"bad --area: {exc}")
        return
    c = _container()
    try:
        with c.uow_factory() as uow:
            if uow.institutions.get(institution) is None:
                _fail(f"no institution {institution}")
        try:
            key, secret = c.keys.create(institution, name, areas, per_second, who="cli")
        except InvalidKeyInput as exc:
            _fail(str(exc))
            return
    finally:
        c.close()
    console.print(f"key id {key.key_id}")
    print(secret)


@keys_app.command("list")
def keys_list(institution: str | None = None) -> None:
    """List API keys (never their secrets), of one institution or all."""
    c = _container()
    try:
        keys = c.keys.list(institution)
    finally:
        c.close()
    table = Table("id", "institution", "name", "areas", "per second", "created", "revoked")
    for k in keys:
        table.add_row(
            k.key_id,
            k.institution,
            k.name,
            ",".join(f"{a.value}:{x.value}" for a, x in k.areas.items()),
            str(k.per_second),
            str(k.created or ""),
            str(k.revoked or ""),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key; every worker refuses it within the cache time."""
    c = _container()
    try:
        if not c.keys.revoke(key_id, who="cli"):
            _fail(f"no key {key_id}")
    finally:
        c.close()
    console.print(f"Key {key_id} revoked.")


codes_app.command("tables")(codes_tables)
codes_app.command("standard")(codes_standard)


@codes_app.command("list")
def codes_list(institution: str, table_name: str) -> None:
    """List one code table's codes."""
    c = _container()
    try:
        with c.uow_factory() as uow:
            rows = uow.codes.rows(institution, table_name)
    finally:
        c.close()
    table = Table("code", "description", "enabled", "default", title=table_name)
    for r in rows:
        table.add_row(r.code, r.description, str(r.enabled), str(r.default))
    console.print(table)


@codes_app.command("set")
def codes_set(
    institution: str,
    table_name: str,
    pairs: Annotated[
        list[str] | None,
        typer.Argument(help="CODE DESCRIPTION, as many pairs as wanted", show_default=False),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="a CSV file of code,description[,enabled][,default] rows (no header)",
        ),
    ] = None,
    enabled: Annotated[bool, typer.Option("--enabled/--disabled")] = True,
    default: bool = False,
) -> None:
    """Add or change codes: one or more CODE DESCRIPTION pairs, or --file; all in one
    transaction (a bad row changes nothing)."""
    items = list(pairs or [])
    if len(items) % 2:
        _fail("give codes as CODE DESCRIPTION pairs", 2)
    rows = [CodeRow(items[i], items[i + 1], enabled, default) for i in range(0, len(items), 2)]
    if from_file is not None:
        rows += _code_file(from_file)
    if not rows:
        _fail("give CODE DESCRIPTION pairs or --file", 2)
    for n, row in enumerate(rows, 1):
        if not row.code.strip() or len(row.code) > 255 or len(row.description) > 1000:
            _fail(f"code {n}: code must be 1-255 characters, description at most 1000")
    c = _container()
    try:
        with c.uow_factory() as uow:
            if uow.institutions.get(institution) is None:
                _fail(f"no institution {institution}")
            if table_name not in uow.codes.table_names(institution):
                _fail(f"no code table {table_name}; see GET /almaws/v1/conf/code-tables")
            for row in rows:
                uow.codes.put_row(institution, table_name, row)
            uow.commit()
    finally:
        c.close()
    names = ", ".join(r.code for r in rows[:5]) + (" …" if len(rows) > 5 else "")
    console.print(f"{table_name}: {len(rows)} code(s) set ({names}).")


def _code_file(path: Path) -> list[CodeRow]:
    """Rows of a code file: code,description[,enabled][,default] (true/false, yes/no, 1/0)."""
    import csv

    def flag(value: str, line: int, what: str, empty: bool) -> bool:
        text = value.strip().lower()
        if not text:
            return empty
        if text in ("true", "yes", "1", "y"):
            return True
        if text in ("false", "no", "0", "n"):
            return False
        _fail(f"{path.name} line {line}: {what} must be true or false, not {value!r}", 2)
        return False

    out: list[CodeRow] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for line, cells in enumerate(csv.reader(handle), 1):
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) < 2 or len(cells) > 4:
                    _fail(f"{path.name} line {line}: use code,description[,enabled][,default]", 2)
                full = [*cells, "", ""]
                out.append(
                    CodeRow(
                        full[0].strip(),
                        full[1].strip(),
                        flag(full[2], line, "enabled", True),
                        flag(full[3], line, "default", False),
                    )
                )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        _fail(f"cannot read {path.name}: {exc}", 2)
    return out


@codes_app.command("remove")
def codes_remove(institution: str, table_name: str, code: str) -> None:
    """Remove a code from a table."""
    c = _container()
    try:
        with c.uow_factory() as uow:
            done = uow.codes.remove_row(institution, table_name, code)
            uow.commit()
    finally:
        c.close()
    if not done:
        _fail(f"{table_name} has no code {code}")
    console.print(f"{table_name}: {code} removed.")


@codes_app.command("group")
def codes_group(
    institution: str,
    user_group: str,
    record_type: Annotated[list[str], typer.Option(help="PUBLIC, STAFF or CONTACT")],
) -> None:
    """Enable a user group for the given record types (and no others)."""
    allowed = {"PUBLIC", "STAFF", "CONTACT"}
    chosen = frozenset(r.upper() for r in record_type)
    if not chosen <= allowed:
        _fail(f"record types must be among {sorted(allowed)}")
    c = _container()
    try:
        with c.uow_factory() as uow:
            uow.codes.set_group_record_types(institution, user_group, chosen)
            uow.commit()
    finally:
        c.close()
    console.print(f"{user_group}: enabled for {', '.join(sorted(chosen))}.")


@app.command()
def openapi(out: Path | None = None) -> None:
    """Print (or write) the OpenAPI document of the API."""
    from bookplate.api.openapi import document

    text = json.dumps(document(), indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        console.print(f"wrote {out}")
