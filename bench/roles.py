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


if __name__ == "__main__":
    main()
