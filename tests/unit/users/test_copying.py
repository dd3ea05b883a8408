"""``copy_record``: an independent copy of a user record."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bookplate.network.model import IdScope
from bookplate.users.copying import copy_record
from bookplate.users.model import (
    ContactInfo,
    Email,
    Identifier,
    Role,
    RoleParameter,
    User,
    UserInput,
)


def full_user() -> User:
    user = User(
        "jdoe",
        first_name="Jane",
        birth_date=date(1990, 5, 17),
        created_date=datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
        force_password_change=True,
        identifiers=[Identifier("BARCODE", "B-1"), Identifier("UNIV_ID", "U-1")],
        roles=[Role("200", "MAIN", parameters=[RoleParameter("CirculationDesk", "L", "D1")])],
        rs_libraries=["A", "B"],
        manual_fields={"first_name": "Janet"},
        contact_info=ContactInfo(emails=[Email("j@example.edu", email_types=["school"])]),
    )
    return user


def mutable_parts(value: Any) -> list[Any]:
    """Every list, dict and dataclass instance reachable from ``value``."""
    out: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            out.append(item)
            stack.extend(item)
        elif isinstance(item, dict):
            out.append(item)
            stack.extend(item.values())
        elif dataclasses.is_dataclass(item):
            out.append(item)
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
    return out


def test_copy_is_equal_and_shares_no_mutable_part() -> None:
    user = full_user()
    copied = copy_record(user)
    assert copied == user
    assert type(copied) is User
    original_ids = {id(part) for part in mutable_parts(user)}
    assert not original_ids & {id(part) for part in mutable_parts(copied)}


def test_changing_the_copy_leaves_the_original() -> None:
    user = full_user()
    copied = copy_record(user)
    copied.identifiers[0].value = "changed"
    copied.roles[0].parameters.append(RoleParameter("x", "y", "z"))
    copied.contact_info.emails[0].email_types.append("work")
    copied.manual_fields["last_name"] = "Doe"
    copied.rs_libraries.clear()
    assert user == full_user()


def test_wrapped_records_and_other_values() -> None:
    data = UserInput(full_user(), "secret")
    copied = copy_record(data)
    assert copied == data and copied.user is not data.user
    # enums and other immutable leaves are kept; unknown mutable types are deep-copied
    assert copy_record(IdScope.NETWORK) is IdScope.NETWORK
    assert copy_record(Decimal("1.5")) == Decimal("1.5")
    odd = {"set": {1, 2}, "tuple": ([1], 2)}
    odd_copy = copy_record(odd)
    assert odd_copy == odd
    assert odd_copy["set"] is not odd["set"]
    assert odd_copy["tuple"][0] is not odd["tuple"][0]
