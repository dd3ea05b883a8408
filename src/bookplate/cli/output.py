"""What every command module shares: the consoles, the one-line error and the container.

The consoles are made when a command prints, not when its module is imported: Rich costs
start-up time that ``--help`` and argument errors do not need, and a console made at import
keeps the terminal width (``COLUMNS``) of that moment, not of the moment it prints.

An error is one line on standard error, ``error: …``, and an exit status: 2 for input the
command refuses before it changes anything (a bad flag, an unknown institution, user or
table, an unreadable file), 1 for a refusal of the service. No traceback reaches the caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, Protocol, TypeVar

import typer

from bookplate.cli.wiring import build_container, code_tables, light_container, settings
from bookplate.errors import (
    AccessError,
    BookplateError,
    ConflictError,
    InputError,
    NotFoundError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from bookplate.bootstrap import Container
    from bookplate.bootstrap.light import CodeTablesOnly


class _Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T")
C = TypeVar("C", bound=_Closable)

#: Exit status of input refused before anything is changed (as click's own usage errors).
BAD_INPUT = 2
#: Exit status of a refusal of the service (the input was well formed).
REFUSED = 1


def console() -> Console:
    """The console of standard output, with the width the terminal (or ``COLUMNS``) has
    now; 80 columns when the output is not a terminal."""
    from rich.console import Console

    return Console()


def err() -> Console:
    """The console of standard error (same width rule as ``console()``)."""
    from rich.console import Console

    return Console(stderr=True)


def fail(message: str, code: int = REFUSED) -> NoReturn:
    """Print ``error: message`` on standard error and end the command with ``code``."""
    # markup off: a value the caller typed ("[red]", "[/]") is printed as given.
    # soft_wrap: one line however narrow the terminal, for people and for scripts alike.
    err().print(f"[red]error:[/red] {_one_line(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def bad_input(message: str) -> NoReturn:
    """``fail`` with the bad-input status (2)."""
    fail(message, BAD_INPUT)


def _one_line(message: str) -> str:
    from rich.markup import escape

    text = " ".join(message.replace("\x00", "\\x00").split())
    return escape(text if len(text) <= 300 else text[:297] + "...")


def exit_status(error: BookplateError) -> int:
    """2 when the input was at fault (an unknown institution, user, code or profile, a
    value the area refuses); 1 when well-formed input was refused (a conflict with what is
    stored, a missing privilege, a partner or the database not answering)."""
    from bookplate.network.errors import (
        LinkFailed,
        NetworkNotFound,
        PartnerUnavailable,
        RefreshFailed,
    )

    refusals = (ConflictError, AccessError, LinkFailed, NetworkNotFound, PartnerUnavailable,
                RefreshFailed)
    if isinstance(error, refusals):
        return REFUSED
    return BAD_INPUT if isinstance(error, InputError | NotFoundError) else REFUSED


def refuse(error: BookplateError) -> NoReturn:
    """End the command on a Bookplate error: its message on one line, with the Alma error
    code where the error carries one, and ``exit_status(error)``."""
    code = getattr(error, "code", None)
    suffix = f" (Alma code {code})" if isinstance(code, str) and code else ""
    fail(f"{error}{suffix}", exit_status(error))


def container(migrate: bool = True, *, light: bool = False) -> Container:
    """The container, its schema brought to the head; ``light``: one whose services are
    built on first use, for the commands that need only the code tables and institutions
    (``wiring.light_container``)."""
    return light_container(migrate=migrate) if light else build_container(settings(),
                                                                          migrate=migrate)


def run(work: Callable[[Container], T], *, light: bool = False) -> T:
    """``work(container)`` with the container closed after; a Bookplate error ends the
    command through ``refuse``."""
    return _run(lambda: container(light=light), work)


def run_codes(work: Callable[[CodeTablesOnly], T]) -> T:
    """``run`` for the code-table commands, on what ``wiring.code_tables`` opens."""
    return _run(code_tables, work)


def _run(opener: Callable[[], C], work: Callable[[C], T]) -> T:
    c = opener()
    try:
        return work(c)
    except BookplateError as error:
        refuse(error)
    finally:
        c.close()


def run_in(institution: str, work: Callable[[Container], T]) -> T:
    """``run(work)`` once the institution is known to exist (exit 2 if not)."""

    def checked(c: Container) -> T:
        known_institution(c, institution)
        return work(c)

    return run(checked)


def known_institution(c: CodeTablesOnly, institution: str) -> None:
    """Exit 2 with one line when the institution does not exist (or is no valid code)."""
    check_text("the institution", institution)
    with c.uow_factory() as uow:
        found = uow.institutions.get(institution) is not None
    if not found:
        fail(f"no institution {institution}; see bookplate institutions list", BAD_INPUT)


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
