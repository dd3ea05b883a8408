"""Wall time and peak memory of ``bookplate`` commands, each run in a fresh process with
``/usr/bin/time -v`` (3 runs by default), on a SQLite file made for the run. Prints a table
with the load average before and after: the figures only mean something on a quiet machine.

    .venv/bin/python bench/cli_startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BOOKPLATE = Path(sys.executable).with_name("bookplate")
SUB_HELPS = ["db", "institutions", "keys", "codes", "sis", "roles", "staff", "auth", "network",
             "config", "sandbox", "libraries"]
COMMANDS: list[list[str]] = [
    ["--help"],
    *[[name, "--help"] for name in SUB_HELPS],
    ["codes", "set", "--help"],
    ["codes", "list", "BENCH", "Genders"],
    ["codes", "set", "BENCH", "Genders", "X1", "Test"],
    ["codes", "tables", "BENCH"],
    ["keys", "list"],
]


def measure(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in MB) of one run."""
    out = subprocess.run(["/usr/bin/time", "-v", str(BOOKPLATE), *args], env=env,
                         capture_output=True, text=True, check=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+(?:\.\d+)?)", out.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    assert wall and rss, out.stderr
    return int(wall.group(1) or 0) * 60 + float(wall.group(2)), int(rss.group(1)) // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    if shutil.which("/usr/bin/time") is None:
        sys.exit("needs /usr/bin/time (GNU time)")
    folder = tempfile.mkdtemp(prefix="bookplate_bench_cli_")
    env = {**os.environ, "BOOKPLATE_DATABASE_URL": f"sqlite:///{folder}/bench.db"}
    env.pop("BOOKPLATE_REDIS_URL", None)
    subprocess.run([str(BOOKPLATE), "institutions", "add", "BENCH", "Bench"], env=env,
                   check=True, capture_output=True)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"| command | wall (s), {runs} runs | peak RSS (MB) |")
    print("|---|---|---|")
    for args in COMMANDS:
        results = [measure(args, env) for _ in range(runs)]
        walls = ", ".join(f"{w:.2f}" for w, _ in results)
        print(f"| `bookplate {' '.join(args)}` | {walls} | {max(r for _, r in results)} |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
