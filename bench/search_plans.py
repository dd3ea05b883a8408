"""The plans of the search statements (issue 20): for each ``q``, the statements that
``UserService.search`` sends, each run again under ``EXPLAIN (ANALYZE, BUFFERS)`` with the
same parameters, on the seeded ``bookplate_bench`` database (``BENCH_DB=`` for another).

    .venv/bin/python bench/search_plans.py [--q "ALL~smith" --q "general_info~smith"]
        [--limit 10] [--full]

Prints per statement its execution time, the buffers it touched and its top plan nodes
(``--full``: the whole plan). Run it before and after a storage change on the same database
(the migrations up or down between the two) in the same minutes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DB_URL, INSTITUTION

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.users.queries import UserSearch, parse_q

DEFAULT_Q = ["ALL~smith", "general_info~smith", "ALL~smi*", "last_name~smith"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--q", action="append", help="a q= value (repeatable)")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--full", action="store_true", help="print the whole plans")
    args = parser.parse_args()
    container = build_container(Settings(database_url=DB_URL))
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, params))

    try:
        for q in args.q or DEFAULT_Q:
            search = UserSearch(INSTITUTION, parse_q(q), limit=args.limit)
            container.users.search(search)  # warm: caches, statistics
            event.listen(container.engine, "before_cursor_execute", capture)
            try:
                result = container.users.search(search)
            finally:
                event.remove(container.engine, "before_cursor_execute", capture)
            print(f"## q={q}  total {result.total}, page {len(result.users)}")
            with container.engine.connect() as conn:
                for statement, params in sent:
                    plan = [
                        r[0]
                        for r in conn.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, params
                        )
                    ]
                    lines = plan if args.full else [
                        line for line in plan
                        if "->" in line[:60] or not line.startswith(" ")
                        or "Buffers" in line or "Execution Time" in line
                    ][:14]
                    print("\n".join("    " + line for line in lines))
                    print()
            sent.clear()
    finally:
        container.close()


if __name__ == "__main__":
    main()
