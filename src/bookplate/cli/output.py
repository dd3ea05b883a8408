"""What every command module shares: the consoles, the one-line error and the container.

An error is one line on standard error, ``error: …``, and an exit status: 2 for input the
command refuses before it changes anything (a bad flag, an unknown institution or table, an
unreadable file), 1 for a refusal of the service. No traceback reaches the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from bookplate.cli.wiring import build_container
from bookplate.config import get_settings

if TYPE_CHECKING:
    from bookplate.bootstrap import Container

console = Console()
err = Console(stderr=True)

#: Exit status of input refused before anything is changed (as click's own usage errors).
BAD_INPUT = 2


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on standard error and end the command with ``code``."""
    # markup off: a value the caller typed ("[red]", "[/]") is printed as given.
    err.print(f"[red]error:[/red] {_one_line(message)}", highlight=False)
    raise typer.Exit(code)


def _one_line(message: str) -> str:
    from rich.markup import escape

    text = " ".join(message.replace("\x00", "\\x00").split())
    return escape(text if len(text) <= 300 else text[:297] + "...")


def container(migrate: bool = True) -> Container:
    return build_container(get_settings(), migrate=migrate)


def check_text(what: str, value: str, limit: int = 255) -> str:
    """A text argument the command passes on: refused (status 2) when empty, too long or
    holding control characters such as NUL."""
    if not value.strip():
        fail(f"{what} must not be empty", BAD_INPUT)
    if len(value) > limit:
        fail(f"{what} is {len(value)} characters; at most {limit}", BAD_INPUT)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        fail(f"{what} holds a control character (such as NUL); remove it", BAD_INPUT)
    return value
