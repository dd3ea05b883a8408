"""A refresh/push worker in a process of its own, for the tests that kill it (``kill -9``)
or run two at once: ``python -m tests.integration.network.worker_proc DATABASE_URL
[--pause-after-writes N] [--pause-after-pushes N] [--marker FILE] [--limit N] [--until FILE]``.

It works the outbox and then sends the waiting pushes, as the background job does. With
``--pause-after-writes N`` it stops for good just after the group write that reaches its
N-th copy, inside that group's transaction (sent, uncommitted); with
``--pause-after-pushes N`` just after the N-th push was answered by the host, before the
home records it as delivered. In both cases it
first writes ``--marker`` so the test knows when to kill it. With ``--until FILE`` it keeps
working passes until that file exists and the outbox is empty. The last line it prints is
the pass's counts as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.network.base import PushBody
from bookplate.network.model import Partner


def _pause(marker: Path | None) -> None:
    if marker is not None:
        marker.write_text("paused", encoding="utf-8")
    time.sleep(3600)  # until killed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--pause-after-writes", type=int, default=0)
    parser.add_argument("--pause-after-pushes", type=int, default=0)
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--until", type=Path)
    args = parser.parse_args(argv)
    c = build_container(Settings(database_url=args.database_url, cache_seconds=0,
                                 redis_url=None))
    c.network_refresh.close()  # this process works the outbox itself, in the foreground
    counts = {"writes": 0, "pushes": 0}
    network = c.network
    if args.pause_after_writes:
        store_many_in = c.users.store_many_in

        def store_then_pause(uow: Any, pairs: Any, actor: str) -> Any:
            written = store_many_in(uow, pairs, actor)  # a group's copies, sent, uncommitted
            counts["writes"] += len(pairs)
            if counts["writes"] >= args.pause_after_writes:
                _pause(args.marker)
            return written

        c.users.store_many_in = store_then_pause  # type: ignore[method-assign]  # the test's hook
    remote = network._remote  # the test hooks the HTTP client
    if args.pause_after_pushes and remote is not None:
        push = remote.push

        def push_then_pause(partner: Partner, body: PushBody) -> str:
            outcome = push(partner, body)
            counts["pushes"] += 1
            if counts["pushes"] == args.pause_after_pushes:
                _pause(args.marker)
            return outcome

        remote.push = push_then_pause  # type: ignore[method-assign]  # the test's hook
    totals = {"entries": 0, "refreshed": 0, "unchanged": 0, "delivered": 0, "stale": 0,
              "failed": 0}
    try:
        while True:
            report = network.process_outbox(args.limit)
            sent = network.deliver_pushes(args.limit)
            totals["entries"] += report.entries
            totals["refreshed"] += report.refreshed
            totals["unchanged"] += report.unchanged
            totals["delivered"] += sent.delivered
            totals["stale"] += sent.stale
            totals["failed"] += len(report.failed) + len(sent.failed)
            if args.until is None or (args.until.exists() and network.waiting() == 0):
                break
            time.sleep(0.05)
    finally:
        c.close()
    print(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
