"""The garbage collector while SIS runs stream records: automatic passes off, the run collects
itself every ``COLLECT_EVERY`` records."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_GC_LOCK = threading.Lock()
_GC_RUNS: list[bool] = []  # per run going on: whether the collector was on when it started
# A run that keeps the automatic collector off collects all generations itself after about
# this many records (in ``Runner._main_pass``): garbage in reference cycles, rare here (none
# in a PostgreSQL initial sync of 20,000 users, under a thousand objects a run on SQLite), and
# other threads' garbage meanwhile, stays bounded.
COLLECT_EVERY = 100_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Keep the garbage collector's automatic runs off while records stream through (the
    run collects every ``COLLECT_EVERY`` records itself). A batch allocates hundreds of
    thousands of short-lived objects (parsed users, rows); the automatic collections walked
    the objects of the batches still in use each time (docs/benchmarks.md). Process-wide
    while a run lasts; when the last of the runs going at once (a worker may run several)
    ends, the collector is on again if it was on before the first."""
    with _GC_LOCK:
        _GC_RUNS.append(gc.isenabled())
        gc.disable()
    try:
        yield
    finally:
        with _GC_LOCK:
            was_on = _GC_RUNS[0]
            _GC_RUNS.pop()
            if not _GC_RUNS and was_on:
                gc.enable()


class Collector:
    """Counts the records a run has read and collects every ``COLLECT_EVERY`` of them."""

    def __init__(self) -> None:
        self.uncollected = 0

    def read(self, records: int) -> None:
        self.uncollected += records
        if self.uncollected >= COLLECT_EVERY:
            self.uncollected = 0
            gc.collect()  # see fewer_collections
