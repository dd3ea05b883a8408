"""Tables the list commands print: every column folds long values onto more lines, so a
table fits the terminal (80 columns when the output is not a terminal, or ``COLUMNS``) and
nothing is cut off with an ellipsis: a key id or a code is copied from it as printed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table


def table(*headers: str, title: str | None = None) -> Table:
    from rich.table import Table

    out = Table(title=title)
    for header in headers:
        out.add_column(header, overflow="fold")
    return out
