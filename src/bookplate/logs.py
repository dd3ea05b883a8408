"""Structured logging set-up (structlog): console lines for people, JSON lines for collectors."""

from __future__ import annotations

import logging
from typing import TextIO

import structlog


def configure(level: str = "INFO", as_json: bool = False, stream: TextIO | None = None) -> None:
    """Configure structlog once per process; safe to call again. ``stream``: where the lines
    go (standard output when None; the CLI passes standard error, keeping its output clean
    for pipes)."""
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
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
