"""The shape every unit of work shares: a context manager that commits or rolls back.

Each area declares its own unit of work (the repositories it needs) on top of this.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class Transactional(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back unless committed."""
        ...

    def commit(self) -> None: ...
