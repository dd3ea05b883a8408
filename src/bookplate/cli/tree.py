"""The root of the command tree, with each group of commands imported when it is used.

``bookplate --help`` lists the groups from ``GROUPS`` (name, module, the start of the
group's help; tests/functional/test_cli_help.py checks it against the group's own) without
importing one of them; ``bookplate codes …`` imports ``bookplate.cli.codes`` only. Building
every group's click commands from their signatures took a quarter of a second at each start
(docs/benchmarks.md, "CLI start-up"). Each group gets the shared help of its parameters
(``help_text.fill``) when it is loaded."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NamedTuple, NoReturn

import typer
import typer.main
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from bookplate.cli.help_text import fill


class Lazy(NamedTuple):
    module: str
    attribute: str  # a ``typer.Typer`` (a group) or a function (one command)
    help: str


GROUPS: dict[str, Lazy] = {
    "db": Lazy("bookplate.cli.db", "db_app", "Database schema: upgrade, check, reindex."),
    "institutions": Lazy("bookplate.cli.institutions", "inst_app",
                         "Institutions of this deployment."),
    "keys": Lazy("bookplate.cli.keys", "keys_app", "API keys: create, list, revoke."),
    "codes": Lazy("bookplate.cli.codes", "codes_app",
                  "Code tables: list, set, remove, group."),
    "sis": Lazy("bookplate.cli.sis", "sis_app",
                "SIS integration: load and sync external users."),
    "roles": Lazy("bookplate.cli.roles", "roles_app",
                  "Role profiles, assignment rules, restricted accounts."),
    "libraries": Lazy("bookplate.cli.roles", "libraries_app",
                      "Libraries and circulation desks."),
    "staff": Lazy("bookplate.cli.roles", "staff_app", "Bearer tokens for staff members."),
    "worker": Lazy("bookplate.cli.sis.runs", "worker",
                   "Run a worker for queued jobs (SIS runs) on PostgreSQL; any number may "
                   "run at once."),
    "auth": Lazy("bookplate.cli.auth", "auth_app",
                 "Authentication: discovery-token signing keys, sign-in profiles."),
    "sandbox": Lazy("bookplate.cli.sandbox", "sandbox_app",
                    "An Alma sandbox with a seeded institution: test your Alma integration "
                    "locally."),
    "network": Lazy("bookplate.cli.network", "network_app",
                    "Fulfillment networks and linked accounts."),
    "config": Lazy("bookplate.cli.config", "config_app",
                   "Bring an institution's Alma configuration in, or write it out."),
}


def load(name: str) -> Any:
    """The click command of the group (or command) ``name``, built from its module."""
    lazy = GROUPS[name]
    found = getattr(import_module(lazy.module), lazy.attribute)
    if isinstance(found, typer.Typer):
        command = typer.main.get_command(found)
    else:  # one command: its help is its docstring
        single = typer.Typer()
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    # the completion options belong to the root only (as when a group is added to it)
    command.params = [p for p in command.params if p.name not in COMPLETION]
    fill(command, name)
    return command


COMPLETION = ("install_completion", "show_completion")


def usage_error(error: ClickException) -> NoReturn:
    """A usage error (a missing option, a value of the wrong type, an unknown command) on one
    line, ``error: …``, with where the help is, and status 2 (click's own)."""
    ctx = getattr(error, "ctx", None)
    path = " ".join(["bookplate", *ctx.command_path.split()[1:]]) if ctx is not None else ""
    where = f" (see: {path} --help)" if path else ""
    text = " ".join(error.format_message().split())
    print(f"error: {text}{where}", file=sys.stderr)
    sys.exit(error.exit_code)


class RootGroup(TyperGroup):
    """``bookplate``: its own commands (``serve``…) plus the groups of ``GROUPS``, each
    built on first use; for the list in ``--help`` a stand-in with the group's help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fill(self, "")
        self._loaded: dict[str, Any] = {}
        self._listing = False
        for name, lazy in GROUPS.items():
            self.commands[name] = TyperGroup(name=name, help=lazy.help)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in GROUPS or self._listing:
            return super().get_command(ctx, cmd_name)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = self.commands[cmd_name] = load(cmd_name)
        return self._loaded[cmd_name]

    def main(  # type: ignore[override]  # same parameters, the return type narrowed
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """As click's, with a usage error on one line (``usage_error``)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            status = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as error:  # the help is printed
            sys.exit(error.exit_code)
        except ClickException as error:
            usage_error(error)
        except typer.Abort:
            print("error: aborted", file=sys.stderr)
            sys.exit(1)
        sys.exit(status if isinstance(status, int) else 0)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
