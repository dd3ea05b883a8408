"""Profile one uvicorn worker with py-spy while wrk drives one scenario.

    .venv/bin/python bench/profile.py get_id [--workers 2] [--seconds 15] [--top 40]

Needs a seeded database (bench/seed.py) and py-spy (``pip install --target /tmp/pyspy
py-spy`` is enough; set PY_SPY=/tmp/pyspy/bin/py-spy). Writes the folded stacks to
$BENCH_STATE/<scenario>.folded and prints the functions with the most samples (own and
cumulative).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api
from common import _SURNAME_BASE, STATE_DIR


def children(pid: int) -> list[int]:
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            out.append(int(status.parent.name))
    return out


def summarise(folded: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    cum: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            cum[frame] += n
    print(f"{total} samples")
    print("\n-- own time --")
    for frame, n in own.most_common(top):
        print(f"{100 * n / total:5.1f}%  {frame}")
    print("\n-- cumulative --")
    for frame, n in cum.most_common(top):
        print(f"{100 * n / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=list(api.SCENARIOS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL (CPU)")
    args = parser.parse_args()
    py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy"
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    (STATE_DIR / "surnames.txt").write_text("\n".join(sorted(set(_SURNAME_BASE))) + "\n")
    key = api.create_key()
    folded = STATE_DIR / f"{args.scenario}.folded"
    try:
        with api.server(args.workers, args.port) as proc:
            workers = [p for p in children(proc.pid) if "resource_tracker" not in _cmd(p)]
            result: dict[str, object] = {}

            def load() -> None:
                result.update(
                    api.run_wrk(
                        args.scenario,
                        args.port,
                        key,
                        args.seconds + 4,
                        args.connections,
                        1,
                        args.users,
                        f"prof{int(time.time())}",
                    )
                )

            thread = threading.Thread(target=load)
            thread.start()
            time.sleep(2)
            subprocess.run(
                [
                    py_spy,
                    "record",
                    "-p",
                    str(workers[0]),
                    "-d",
                    str(int(args.seconds)),
                    "-r",
                    "250",
                    "-f",
                    "raw",
                    "-o",
                    str(folded),
                    "--nonblocking",
                    *(["--gil"] if args.gil else []),
                ],
                check=False,
                capture_output=True,
            )
            thread.join()
            print(f"wrk: {result.get('rps', 0):,.0f} req/s, p99 {result.get('p99_ms', 0):.1f} ms")
    finally:
        api.cleanup_written()
    summarise(folded, args.top)


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


if __name__ == "__main__":
    main()
