"""``bookplate sandbox``: an Alma-compatible sandbox to test an integration against locally
(docs/sandbox.md), and ``bookplate sandbox reset``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from bookplate.cli.output import console, run
from bookplate.sandbox.population import DEFAULT_SEED, DEFAULT_USERS, INSTITUTION, staff_password

if TYPE_CHECKING:
    from bookplate.bootstrap import Container

sandbox_app = typer.Typer(
    help="An Alma sandbox with a seeded institution: test your Alma integration locally.",
    invoke_without_command=True,
)
Users = Annotated[int, typer.Option(min=0, max=100_000, help="How many users to seed.")]
Seed = Annotated[int, typer.Option(min=0, help="Seed of the population (same seed, same users).")]


def _reset(c: Container, users: int, seed: int) -> None:
    with console().status(f"Seeding {users} users (seed {seed}) ..."):
        c.sandbox.reset(INSTITUTION, users, seed)


def _print_digest(c: Container, users: int, seed: int) -> None:
    # Plain print: the digest is compared by hand or by scripts and must not be wrapped. It
    # covers the whole institution, the sandbox key included (docs/sandbox.md).
    print(f"Seeded {users} users (seed {seed}); digest {c.sandbox.digest(INSTITUTION)}")


@sandbox_app.callback()
def sandbox(
    ctx: typer.Context,
    users: Users = DEFAULT_USERS,
    seed: Seed = DEFAULT_SEED,
    per_second: Annotated[int, typer.Option(min=1, max=100_000,
                                            help="Per-second threshold of the key.")] = 10,
    daily_threshold: Annotated[int, typer.Option(min=1, help="Calls per day (UTC) for the "
                                                 "institution; sent as X-Exl-Api-Remaining.")]
    = 100_000,
    latency_ms: Annotated[int, typer.Option(min=0, max=60_000,
                                            help="Latency added to each /almaws call.")] = 0,
    error_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of /almaws calls "
                                              "answered with a 500 (60101).")] = 0.0,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Port to listen on.")] = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve",
                                              help="Serve the API once seeded.")] = True,
) -> None:
    """Seed the SANDBOX institution (the first time, or after `reset`), print a key, serve."""
    if ctx.invoked_subcommand is not None:
        return

    def seed_and_key(c: Container) -> str:
        from bookplate.users.queries import UserSearch

        with c.uow_factory() as uow:
            empty = (
                uow.institutions.get(INSTITUTION) is None
                or uow.users.search(UserSearch(institution=INSTITUTION, limit=1)).total == 0
            )
        if empty:
            _reset(c, users, seed)
        else:
            console().print(f"Institution {INSTITUTION} kept as it was; "
                            "`bookplate sandbox reset` restores the seed.")
        secret = c.sandbox.issue_key(INSTITUTION, per_second)
        if empty:
            _print_digest(c, users, seed)
        return secret

    secret = run(seed_and_key)
    base = f"http://{host}:{port}"
    print(f"API key (Users read/write, Configuration read-only, {per_second}/s): {secret}")
    print(f"Daily threshold {daily_threshold} calls; staff sign in at {base}/auth/login "
          f"as sb00000 with password {staff_password(seed)}")
    print(f"Serving the Alma API at {base}/almaws/v1 (Ctrl-C stops it)")
    print(f'  curl -s -H "Authorization: apikey {secret}" -H "Accept: application/json" '
          f'"{base}/almaws/v1/users?limit=5"')
    sys.stdout.flush()
    if not serve_after:
        return
    os.environ.update(
        {
            "BOOKPLATE_SANDBOX": "true",
            "BOOKPLATE_DAILY_THRESHOLD": str(daily_threshold),
            "BOOKPLATE_INJECT_LATENCY_MS": str(latency_ms),
            "BOOKPLATE_INJECT_ERROR_RATE": str(error_rate),
            "BOOKPLATE_INJECT_SEED": str(seed),
        }
    )
    from bookplate.config import get_settings

    get_settings.cache_clear()
    import uvicorn

    uvicorn.run("bookplate.api.app:app_factory", factory=True, host=host, port=port,
                log_level="info")


@sandbox_app.command("reset")
def reset(users: Users = DEFAULT_USERS, seed: Seed = DEFAULT_SEED) -> None:
    """Remove every SANDBOX user and seed the population again (also: POST
    /bookplate/v1/sandbox/reset on a running sandbox)."""

    def again(c: Container) -> None:
        _reset(c, users, seed)
        _print_digest(c, users, seed)

    run(again)
