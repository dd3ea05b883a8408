"""``bookplate``: the command tree, and the commands that serve the API.

Each group of commands lives in its own module (``db``, ``institutions``, ``keys``,
``codes``, ``sis``…), imported when the group is used (``cli/tree.py``); the modules import
the settings and the wiring only inside a command that runs (``cli/wiring.py``), so
``--help`` and argument errors load no settings, database layer or Rich console."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bookplate.cli.output import console, container
from bookplate.cli.tree import RootGroup
from bookplate.cli.wiring import build_container
from bookplate.cli.wiring import settings as get_settings

app = typer.Typer(cls=RootGroup, no_args_is_help=True, help="Bookplate: library user management.")

DEMO_INSTITUTION = "DEMO"

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(min=1, max=65_535, help="Port to listen on.")]


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (about one per core).")
    ] = 1,
) -> None:
    """Apply migrations and serve the API."""
    import uvicorn

    container().close()
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
    host: Host = "127.0.0.1",
    port: Port = 8000,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API once set up.")
    ] = True,
) -> None:
    """Create the schema, a demo institution and an API key, print them, then serve."""
    from bookplate.keys.services import parse_areas

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
    console().print(f"Database: {settings.database_url}")
    if created:
        console().print(f"Institution {DEMO_INSTITUTION} created with default code tables.")
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


@app.command()
def openapi(
    out: Annotated[
        Path | None, typer.Option(help="Write the document to this file (default: print it).")
    ] = None,
) -> None:
    """Print (or write) the OpenAPI document of the API."""
    from bookplate.api.openapi import document

    text = json.dumps(document(), indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        console().print(f"wrote {out}")
