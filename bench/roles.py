"""Cost of the staff policy and of the role assignment rules (issue: roles and permissions).

Targets: permission checks add < 1 ms p99 to an API call; applying assignment rules adds
< 10% to the SIS initial-sync throughput (5,000 users/s, i.e. 200 us per user).

Run: .venv/bin/python bench/roles.py   (pure Python, no database)
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from datetime import date

from bookplate.roles.assignment import default_profile, default_rule, roles_from_rules
from bookplate.roles.model import (
    AssignmentRule,
    ProfileRole,
    RestrictedSettings,
    RoleProfile,
)
from bookplate.roles.policy import Action, actor_for, check_user_change, decide
from bookplate.users.model import Role, RoleParameter, User

TODAY = date(2026, 11, 25)
INST = "MAIN"
N = 20_000


def timings(fn: Callable[[], object], n: int = N) -> tuple[float, float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return (statistics.median(samples) / 1000, samples[int(n * 0.99)] / 1000,
            samples[-1] / 1000)


def main() -> None:
    many_roles = [Role(str(code), "LIB_A" if i % 2 else INST, "ACTIVE",
                       parameters=[RoleParameter("CirculationDesk", "LIB_A", "D1")]
                       if code in (32, 221) else [])
                  for i, code in enumerate([21, 32, 221, 51, 204, 46, 227, 231] * 12)]
    manager = User("mgr", institution=INST, record_type="STAFF", roles=[Role("21", INST)])
    actor = actor_for(manager, TODAY)
    staff_before = User("s", institution=INST, record_type="STAFF", roles=many_roles)
    staff_after = User("s", institution=INST, record_type="STAFF",
                       roles=[*many_roles, Role("21", "LIB_A")])
    restricted = RestrictedSettings(frozenset({"STAFF"}), frozenset({"204"}))

    rows = [
        ("decide(view user)", timings(lambda: decide(actor, Action.VIEW_USER))),
        ("actor_for(user with 96 roles)", timings(lambda: actor_for(staff_before, TODAY))),
        ("check_user_change(96 roles, 1 added)",
         timings(lambda: check_user_change(actor, staff_before, staff_after, restricted,
                                           TODAY))),
    ]
    profiles = {"PATRON": default_profile()}
    rules = [default_rule()]
    for i in range(20):
        profiles[f"P{i}"] = RoleProfile(f"P{i}", f"Profile {i}",
                                        (ProfileRole("231", "LIB_A"), ProfileRole("46")))
        rules.append(AssignmentRule(f"r{i}", f"P{i}", user_groups=frozenset({f"G{i}"}),
                                    position=i + 1))
    student = User("stu", institution=INST, user_group="G7")
    rows.append(("roles_from_rules(21 rules)",
                 timings(lambda: roles_from_rules(student, INST, rules, profiles, TODAY))))

    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'operation':45} {'p50 us':>9} {'p99 us':>9} {'max us':>9}")
    for name, (p50, p99, worst) in rows:
        print(f"{name:45} {p50:9.1f} {p99:9.1f} {worst:9.1f}")
    per_user = rows[-1][1][0]
    print(f"assignment rules per SIS user: {per_user:.1f} us = "
          f"{per_user / 200 * 100:.1f}% of the 200 us budget at 5,000 users/s")




def api_overhead(calls: int = 3000) -> None:
    """GET /almaws/v1/users/{id} in-process (ASGI, SQLite): API key vs staff bearer token.

    The key path checks the area only; the token path resolves the staff member (cached) and
    asks the policy. The difference is what the permission check adds to an API call.
    """
    import asyncio
    import tempfile

    from bookplate.api.app import create_app
    from bookplate.bootstrap import build_container
    from bookplate.config import Settings
    from bookplate.keys.services import parse_areas
    from bookplate.users.model import UserInput

    folder = tempfile.mkdtemp()
    settings = Settings(database_url=f"sqlite:///{folder}/roles-bench.db", cache_seconds=60)
    c = build_container(settings, migrate=True)
    c.add_institution(INST, "Main")
    _, key = c.keys.create(INST, "bench", parse_areas(["users:rw"]), 10**9)
    c.users.create(INST, UserInput(User("patron1", last_name="Doe", user_group="UNDERGRAD")), "b")
    c.users.create(INST, UserInput(User("mgr", record_type="STAFF", user_group="STAFF",
                                        roles=[Role("21", INST)])), "b")
    _, token = c.tokens.issue(INST, "mgr")
    app = create_app(settings, c)

    async def one(auth: str) -> int:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/almaws/v1/users/patron1",
            "raw_path": b"/almaws/v1/users/patron1", "query_string": b"", "root_path": "",
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
            "headers": [(b"host", b"x"), (b"accept", b"application/json"),
                        (b"authorization", auth.encode())],
        }
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        start = time.perf_counter_ns()
        await app(scope, receive, send)
        assert sent[0]["status"] == 200, sent
        return time.perf_counter_ns() - start

    async def run(auth: str) -> list[int]:
        for _ in range(200):
            await one(auth)
        return sorted([await one(auth) for _ in range(calls)])

    by_key = asyncio.run(run(f"apikey {key}"))
    by_staff = asyncio.run(run(f"Bearer {token}"))
    c.close()

    def p(samples: list[int], q: float) -> float:
        return samples[int(len(samples) * q)] / 1000

    print(f"{'GET /users/{id}, in-process':45} {'p50 us':>9} {'p99 us':>9}")
    print(f"{'  with an API key (area check)':45} {p(by_key, 0.5):9.1f} {p(by_key, 0.99):9.1f}")
    print(f"{'  with a staff token (policy)':45} {p(by_staff, 0.5):9.1f} {p(by_staff, 0.99):9.1f}")
    print(f"added by the policy: p50 {p(by_staff, 0.5) - p(by_key, 0.5):+.1f} us, "
          f"p99 {p(by_staff, 0.99) - p(by_key, 0.99):+.1f} us")


if __name__ == "__main__":
    main()
    api_overhead()
