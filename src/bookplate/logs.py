"""Structured logging set-up (structlog): console lines for people, JSON lines for collectors."""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog


class _StandardError:
    """Writes to whatever ``sys.stderr`` is at the moment of writing (it is replaced, and the
    replacement closed, by test runners and some embedding hosts)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "INFO", as_json: bool = False, *, to_stderr: bool = False) -> None:
    """Configure structlog once per process; safe to call again. Lines go to standard output,
    or with ``to_stderr`` to standard error (the CLI: its output stays clean for pipes)."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(
            file=cast(TextIO, _StandardError()) if to_stderr else None
        ),
        cache_logger_on_first_use=False,
    )
