"""Wall time, CPU time and peak memory of ``bookplate`` commands, each run in a fresh process
with ``/usr/bin/time`` (3 runs by default), on a SQLite file made for the run. Prints a table
with the load average before and after: wall times only mean something on a quiet machine;
the CPU time (user + system) moves less with the other processes' load.

    .venv/bin/python bench/cli_startup.py [--runs 3] [--only codes,institutions]
                                          [--before /tmp/before/src]

``--before SRC``: the same commands also from another checkout's ``src`` (first on
``PYTHONPATH``, e.g. ``git archive main | tar -x -C /tmp/before``), taking turns with this
tree command by command, so that both see the same minute's load.

Bytecode: the runs read the modules' cached bytecode, as an installed ``bookplate`` does (pip
compiles it at install). ``PYTHONDONTWRITEBYTECODE`` is dropped from the children's
environment and every command runs once unmeasured first, so that the caches exist;
otherwise every run would compile Bookplate's sources again (about 0.1 s).
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
CODES_FILE = "codes50.csv"  # 50 codes, written in the run's folder
COMMANDS: list[list[str]] = [
    ["--help"],
    *[[name, "--help"] for name in SUB_HELPS],
    ["codes", "set", "--help"],
    ["codes", "tables", "BENCH"],
    ["codes", "list", "BENCH", "UserGroups"],
    ["codes", "list", "BENCH", "Genders"],
    ["codes", "set", "BENCH", "UserGroups", "T", "Test"],
    ["codes", "set", "BENCH", "Genders", "X1", "Test"],
    ["codes", "set", "BENCH", "Genders", "--file", CODES_FILE],
    ["institutions", "list"],
    ["keys", "list"],
]
ENTRY = "import sys; from bookplate.cli import main; sys.argv[0] = 'bookplate'; main()"


def measure(args: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one run."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", sys.executable, "-c", ENTRY, *args],
        env=env, cwd=cwd, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        sys.exit(f"bookplate {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    figures = re.findall(r"^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$", out.stderr, re.MULTILINE)
    assert figures, out.stderr
    wall, user, system, rss = figures[-1]
    return float(wall), float(user) + float(system), int(rss) // 1024


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated first words to keep")
    parser.add_argument("--before", type=Path, help="another checkout's src to compare")
    options = parser.parse_args()
    if shutil.which("/usr/bin/time") is None:
        sys.exit("needs /usr/bin/time (GNU time)")
    keep = {w for w in options.only.split(",") if w}
    commands = [c for c in COMMANDS if not keep or c[0] in keep]
    folder = tempfile.mkdtemp(prefix="bookplate_bench_cli_")
    (Path(folder) / CODES_FILE).write_text(
        "".join(f"B{n:02d},Bench code {n}\n" for n in range(50)), encoding="utf-8")
    env = {**os.environ, "BOOKPLATE_DATABASE_URL": f"sqlite:///{folder}/bench.db"}
    for name in ("BOOKPLATE_REDIS_URL", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH"):
        env.pop(name, None)
    trees = {"this tree": env}
    if options.before is not None:
        trees = {"before": {**env, "PYTHONPATH": str(options.before.resolve())}, **trees}
    for tree_env in trees.values():
        where = subprocess.run(
            [sys.executable, "-c", "import bookplate; print(bookplate.__file__)"],
            env=tree_env, capture_output=True, text=True, check=True,
        )
        print(f"bookplate from {where.stdout.strip()}")
    subprocess.run([str(BOOKPLATE), "institutions", "add", "BENCH", "Bench"], env=env,
                   cwd=folder, check=True, capture_output=True)
    print(f"load average before: {_load()}; {options.runs} runs each, bytecode cached")
    print("| command | tree | wall (s) | CPU user+sys (s) | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for args in commands:
        for tree_env in trees.values():
            measure(args, tree_env, folder)  # writes the bytecode caches; not counted
        results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in trees}
        for _ in range(options.runs):
            for name, tree_env in trees.items():
                results[name].append(measure(args, tree_env, folder))
        for name, runs in results.items():
            walls = ", ".join(f"{w:.2f}" for w, _, _ in runs)
            cpus = ", ".join(f"{c:.2f}" for _, c, _ in runs)
            print(f"| `bookplate {' '.join(args)}` | {name} | {walls} | {cpus} | "
                  f"{max(r for _, _, r in runs)} |")
    print(f"load average after: {_load()}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
