"""CPU time per request by process group while wrk drives one scenario.

    .venv/bin/python bench/cpu_split.py [post] [--workers 2] [--seconds 10] [--port 8792]

Starts the server like ``bench/api.py`` (database reused as it is: run ``bench/seed.py``
first), warms up for 3 s, then reads utime + stime from ``/proc/PID/stat`` of every process
before and after the measured run and prints, per group (uvicorn workers, PostgreSQL backends
of the bench database, other PostgreSQL processes, wrk, Redis, the rest of the machine), the
share of one core and the CPU microseconds per request. On a shared machine the workers' CPU
per request is the steadiest figure to compare code changes by; users written by ``post``
are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api
from common import DB_NAME, STATE_DIR

TICK = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, CPU ticks, command line)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
            cmd = (
                (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        out[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), cmd)
    return out


def group(info: tuple[int, int, str], server_pid: int) -> str:
    parent, _, cmd = info
    if parent == server_pid:
        return "uvicorn workers"
    if cmd.startswith("postgres") and DB_NAME in cmd:
        return "postgres backends"
    if cmd.startswith("postgres"):
        return "postgres (other)"
    if cmd.startswith("wrk"):
        return "wrk"
    if "redis" in cmd:
        return "redis"
    return "rest of the machine"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="post", choices=list(api.SCENARIOS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=8792)
    args = parser.parse_args()
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    key = api.create_key()
    results: dict[str, Any] = {}

    def drive(seconds: float, name: str) -> None:
        results[name] = api.run_wrk(
            args.scenario, args.port, key, seconds, args.connections, 1, args.users,
            f"s{int(time.time())}{name}",
        )  # fmt: skip

    with api.server(args.workers, args.port) as proc:
        drive(3, "warm-up")
        before = processes()
        t0 = time.time()
        runner = threading.Thread(target=drive, args=(args.seconds, "measured"))
        runner.start()
        time.sleep(max(0.5, args.seconds - 0.5))
        after = processes()
        t1 = time.time()
        runner.join()
    measured = results["measured"]
    requests = measured["rps"] * (t1 - t0)
    totals: dict[str, int] = {}
    for pid, info in after.items():
        earlier = before.get(pid)
        name = group(info, proc.pid)
        totals[name] = totals.get(name, 0) + info[1] - (earlier[1] if earlier else 0)
    print(
        f"{args.scenario}: {measured['rps']:.0f} req/s, p50 {measured['p50_ms']:.1f} ms, "
        f"p99 {measured['p99_ms']:.1f} ms, errors {measured['errors']}; "
        f"load average (1 min): {os.getloadavg()[0]:.1f}"
    )
    for name, ticks in sorted(totals.items(), key=lambda item: -item[1]):
        seconds = ticks / TICK
        print(
            f"  {name:20s} {100 * seconds / (t1 - t0):6.1f}% of a core  "
            f"{seconds / requests * 1e6:7.0f} µs/request"
        )
    if args.scenario == "post":
        api.cleanup_written()


if __name__ == "__main__":
    main()
