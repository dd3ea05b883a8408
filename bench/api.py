"""End-to-end API benchmark: Bookplate under uvicorn, driven by wrk, against raw SQL.

    .venv/bin/python bench/api.py [--reuse] [--workers 2,3,4] [--duration 20] [--warmup 5]

1. seeds ``bookplate_bench`` (bench/seed.py; ``--reuse`` keeps a seeded database),
2. creates an API key (users:rw, per_second 1,000,000),
3. for each worker count starts ``uvicorn bookplate.api.app:app_factory --factory`` and runs
   wrk (its own process) on each scenario: warm-up, then a measured run,
4. runs the raw-SQL baseline (bench/raw.py) with as many processes as the best worker count,
5. prints a table, saves JSON to $BENCH_STATE/results.json and rewrites the results section
   of docs/benchmarks.md (``--no-doc`` to skip).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import raw
import seed
from common import (
    _SURNAME_BASE,
    BENCH_DIR,
    DB_URL,
    INSTITUTION,
    PSYCOPG_URL,
    REDIS_URL,
    STATE_DIR,
)

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.services import MAX_PER_SECOND, parse_areas

REPO = BENCH_DIR.parent
DOC = REPO / "docs" / "benchmarks.md"
LUA = BENCH_DIR / "wrk"
SCENARIOS: dict[str, dict[str, Any]] = {
    "get_id": {
        "label": "GET /users/{primary_id}",
        "lua": "get_user.lua",
        "env": {"BENCH_MODE": "primary"},
        "target": "≥ 2,000 req/s, p99 < 20 ms",
        "min_rps": 2000,
        "max_p99": 20,
    },
    "get_barcode": {
        "label": "GET /users/{barcode}",
        "lua": "get_user.lua",
        "env": {"BENCH_MODE": "barcode"},
        "target": "≥ 2,000 req/s, p99 < 20 ms",
        "min_rps": 2000,
        "max_p99": 20,
    },
    "search": {
        "label": "GET /users?q=last_name~X&limit=10",
        "lua": "search.lua",
        "env": {},
        "target": "p99 < 50 ms",
        "min_rps": 0,
        "max_p99": 50,
    },
    "post": {
        "label": "POST /users",
        "lua": "post_user.lua",
        "env": {},
        "target": "≥ 500 req/s",
        "min_rps": 500,
        "max_p99": None,
    },
}
# BENCH_APP=patched serves bench/patched.py (the proposed src/ fixes as monkeypatches).
APP = (
    "patched:app_factory"
    if os.environ.get("BENCH_APP") == "patched"
    else "bookplate.api.app:app_factory"
)
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"


def create_key() -> str:
    container = build_container(Settings(database_url=DB_URL, redis_url=REDIS_URL))
    try:
        _key, secret = container.keys.create(
            INSTITUTION, "bench", parse_areas(["users:rw"]), per_second=MAX_PER_SECOND
        )
    finally:
        container.close()
    return secret


def cleanup_written() -> int:
    """Remove users written by earlier POST runs (IDs bw…/br…) so --reuse stays valid, and
    vacuum after them: dead index entries would turn the index-only scans of the next search
    and GET runs into heap fetches."""
    with psycopg.connect(PSYCOPG_URL, autocommit=True) as conn:
        cur = conn.execute("DELETE FROM users WHERE primary_id LIKE 'bw%' OR primary_id LIKE 'br%'")
        conn.execute("DELETE FROM audit_log WHERE actor LIKE 'api:%'")
        if cur.rowcount:
            conn.execute("VACUUM (ANALYZE) users, user_ids, user_identifiers, user_terms")
        return cur.rowcount


@contextlib.contextmanager
def server(workers: int, port: int) -> Iterator[subprocess.Popen[bytes]]:
    cmd = server_command(workers, port)
    env = dict(os.environ)
    env.update(
        BOOKPLATE_DATABASE_URL=DB_URL,
        BOOKPLATE_REDIS_URL=REDIS_URL,
        BOOKPLATE_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")])),
    )
    log = (STATE_DIR / f"uvicorn-{workers}.log").open("wb")
    proc = subprocess.Popen(
        cmd, env=env, cwd=STATE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_ready(port, proc)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


def server_command(workers: int, port: int) -> list[str]:
    cmd = [
        str(Path(sys.executable).with_name("uvicorn")),
        APP,
        "--factory",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with contextlib.suppress(ImportError):
        import httptools  # noqa: F401
        import uvloop  # noqa: F401

        cmd += ["--loop", "uvloop", "--http", "httptools"]
    return cmd


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/almaws/v1/users/operation/test"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}; see {STATE_DIR}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # 401-ish without key is fine
                resp.read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("uvicorn did not answer in time")


def run_wrk(
    scenario: str,
    port: int,
    key: str,
    seconds: float,
    connections: int,
    threads: int,
    users: int,
    run_id: str,
) -> dict[str, Any]:
    spec = SCENARIOS[scenario]
    env = dict(os.environ)
    env.update(
        BENCH_KEY=key,
        BENCH_USERS=str(users),
        BENCH_LUA_DIR=str(LUA),
        BENCH_SURNAMES=str(STATE_DIR / "surnames.txt"),
        BENCH_RUN=run_id,
        **spec["env"],
    )
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(LUA / spec["lua"]),
        f"http://127.0.0.1:{port}",
    ]
    out = subprocess.run(
        cmd, env=env, capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "rps": data["requests"] / (data["duration_us"] / 1e6),
        "p50_ms": data["p50_us"] / 1000,
        "p90_ms": data["p90_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "mean_ms": data["mean_us"] / 1000,
        "errors": errors,
        "requests": data["requests"],
        "command": " ".join(cmd),
    }


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    with psycopg.connect(PSYCOPG_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        pg = row[0] if row else "?"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "memory": mem,
        "postgres": pg,
        "python": platform.python_version(),
        "commit": commit,
        "wrk": subprocess.run(
            ["wrk", "-v"], capture_output=True, text=True, check=False
        ).stdout.split("\n")[0],
        "loadavg_before": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def verdict(scenario: str, r: dict[str, Any]) -> str:
    spec = SCENARIOS[scenario]
    ok = r["rps"] >= spec["min_rps"] and (spec["max_p99"] is None or r["p99_ms"] < spec["max_p99"])
    return "met" if ok else "MISSED"


def table(results: dict[str, Any]) -> str:
    best = results["best_workers"]
    lines = [
        "| Scenario | Target | Bookplate req/s | p50 ms | p99 ms | Raw SQL q/s | raw p99 ms "
        "| Bookplate / raw (throughput) | Verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, spec in SCENARIOS.items():
        if name not in results["api"].get(str(best), {}):
            continue
        a = results["api"][str(best)][name]
        r = results["raw"].get(name, {"rps": 0, "p99_ms": 0})
        ratio = a["rps"] / r["rps"] if r.get("rps") else float("nan")
        lines.append(
            f"| {spec['label']} | {spec['target']} | {a['rps']:,.0f} | {a['p50_ms']:.1f} "
            f"| {a['p99_ms']:.1f} | {r['rps']:,.0f} | {r.get('p99_ms', 0):.1f} "
            f"| {ratio:.2f} | {verdict(name, a)} |"
        )
    return "\n".join(lines)


def workers_table(results: dict[str, Any]) -> str:
    names = [n for n in SCENARIOS if any(n in v for v in results["api"].values())]
    head = "| Workers | " + " | ".join(f"{n} req/s (p99 ms)" for n in names) + " |"
    lines = [head, "|---|" + "---:|" * len(names)]
    for workers, res in results["api"].items():
        cells = [
            f"{res[n]['rps']:,.0f} ({res[n]['p99_ms']:.1f})" if n in res else "-" for n in names
        ]
        lines.append(f"| {workers} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    s = results["seed"]
    a = results["args"]
    seed_line = (
        "reused an existing seeded database (seeded earlier; see the seed log)"
        if s.get("reused")
        else f"{int(s['users']):,} users through `bulk_insert_users` in {s['load_s']:.0f} s "
        f"(+ VACUUM ANALYZE {s['vacuum_analyze_s']:.0f} s; total with migrations "
        f"{s['total_s']:.0f} s)"
    )
    best = results["best_workers"]
    matches = results["raw"].get("search", {}).get("avg_matches", 0)
    return "\n".join(
        [
            START,
            f"Run of {m['date']}, commit `{m['commit']}`.",
            "",
            f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM; "
            f"load average before the run {m['loadavg_before']}",
            f"- PostgreSQL {m['postgres']}, Python {m['python']}, {m['wrk']}",
            f"- Data: {seed_line}",
            f"- Load: wrk -t{a['threads']} -c{a['connections']}, {a['warmup']:.0f} s warm-up "
            f"then {a['duration']:.0f} s measured per scenario; raw SQL: {best} processes "
            "(one psycopg connection each, closed loop), same durations",
            f"- Search: random base surname; on average {matches:,.0f} "
            "matching users per query (count + first page of 10)",
            "",
            f"### Best worker count ({best})",
            "",
            table(results),
            "",
            "### By worker count",
            "",
            workers_table(results),
            "",
            "Server command:",
            "",
            "```sh",
            " ".join(results["server_command"]),
            "```",
            "",
            "wrk command (per scenario, script in `bench/wrk/`):",
            "",
            "```sh",
            results["wrk_command_example"],
            "```",
            END,
        ]
    )


def write_doc(results: dict[str, Any]) -> None:
    block = render(results)
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _old, after = rest.split(END, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--workers", default="2,3,4")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-raw", action="store_true")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    worker_counts = [int(w) for w in args.workers.split(",")]

    seeded = seed.seed(args.users, args.reuse)
    removed = cleanup_written()
    if removed:
        print(f"removed {removed} users left by earlier POST runs")
    key = create_key()
    surnames = sorted(set(_SURNAME_BASE))
    (STATE_DIR / "surnames.txt").write_text("\n".join(surnames) + "\n")
    results: dict[str, Any] = {
        "machine": machine(),
        "seed": seeded,
        "args": vars(args),
        "api": {},
        "raw": {},
        "server_command": server_command(max(worker_counts), args.port),
    }
    run_id = str(int(time.time()))
    try:
        for workers in worker_counts:
            res: dict[str, Any] = {}
            with server(workers, args.port):
                for name in scenarios:
                    common = (args.port, key)
                    rest = (args.connections, args.threads, args.users)
                    run_wrk(name, *common, args.warmup, *rest, f"{run_id}w{workers}")
                    r = run_wrk(name, *common, args.duration, *rest, f"{run_id}m{workers}")
                    results["wrk_command_example"] = r.pop("command")
                    res[name] = r
                    print(
                        f"workers={workers} {name:12s} {r['rps']:8,.0f} req/s  "
                        f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                        f"errors {r['errors']}",
                        flush=True,
                    )
            results["api"][str(workers)] = res

        def score(w: str) -> float:
            return sum(
                results["api"][w][n]["rps"]
                for n in ("get_id", "get_barcode", "post")
                if n in results["api"][w]
            )

        best = max(results["api"], key=score)
        results["best_workers"] = int(best)
        results["server_command"] = server_command(int(best), args.port)
        if not args.no_raw:
            for name in scenarios:
                r = raw.run(name, int(best), args.users, surnames, args.warmup, args.duration)
                results["raw"][name] = r
                print(
                    f"raw x{best}   {name:12s} {r['rps']:8,.0f} q/s    "
                    f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms",
                    flush=True,
                )
    finally:
        cleanup_written()
    suffix = "-patched" if APP.startswith("patched") else ""
    (STATE_DIR / f"results{suffix}.json").write_text(json.dumps(results, indent=2, default=str))
    print()
    print(table(results))
    print()
    print(workers_table(results))
    if not args.no_doc and not suffix:
        write_doc(results)
        print(f"\nwrote {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
