"""Users for storage tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bookplate.users.model import (
    Address,
    Block,
    ContactInfo,
    Email,
    Identifier,
    Note,
    Phone,
    Statistic,
    User,
)


def make_user(
    primary_id: str,
    institution: str = "MAIN",
    identifiers: list[tuple[str, str]] | None = None,
    **fields: Any,
) -> User:
    user = User(
        primary_id=primary_id,
        institution=institution,
        identifiers=[Identifier(id_type=k, value=v) for k, v in identifiers or []],
        last_modified_date=datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
        created_date=datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
        last_modified_by="tester",
    )
    for name, value in fields.items():
        setattr(user, name, value)
    return user


def rich_user(primary_id: str = "jdoe", institution: str = "MAIN") -> User:
    """A user with every kind of field set, for search and round-trip tests."""
    return make_user(
        primary_id,
        institution,
        identifiers=[("BARCODE", "B-0001"), ("UNIV_ID", "U123")],
        first_name="Jane",
        middle_name="Quinn",
        last_name="Doe-Smith",
        pref_first_name="Janie",
        job_category="Librarian",
        user_group="GRAD",
        campus_code="NORTH",
        birth_date=date(1990, 5, 17),
        expiry_date=date(2030, 1, 1),
        purge_date=date(2031, 1, 1),
        force_password_change=False,
        contact_info=ContactInfo(
            addresses=[
                Address(
                    line1="1 Main St",
                    city="Springfield",
                    address_types=["home"],
                    preferred=True,
                    start_date=date(2020, 1, 1),
                )
            ],
            emails=[
                Email(
                    email_address="Jane.Doe@Example.org", email_types=["personal"], preferred=True
                )
            ],
            phones=[Phone(phone_number="+1 (555) 010-9999", phone_types=["mobile"])],
        ),
        blocks=[
            Block(
                block_type="GENERAL",
                block_description="LOST",
                created_date=datetime(2024, 2, 1, 8, 30, tzinfo=UTC),
            )
        ],
        notes=[
            Note(
                note_type="CIRCULATION",
                note_text="Prefers large print books",
                created_date=datetime(2024, 3, 1, tzinfo=UTC),
            )
        ],
        statistics=[Statistic(statistic_category="ENG", category_type="DEPT")],
        manual_fields={"user_group": "UNDERGRAD"},
    )
