"""``check_text`` accepts and refuses exactly what its first, plain version did, with the
same error; the plain version (every string walked by ``_strings``) is the reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bookplate.users.errors import InvalidFieldValue
from bookplate.users.model import Address, ContactInfo, Note, SegmentType, User
from bookplate.users.validation import DEFAULT_MAX, MAX_LENGTHS, _strings, check_text


def reference_check_text(user: User) -> None:
    for path, name, value in _strings(user, ""):
        if path.startswith("manual_fields") or path == "institution":
            continue
        limit = MAX_LENGTHS.get(name, DEFAULT_MAX)
        if len(value) > limit:
            raise InvalidFieldValue(path, value, f"longer than {limit} characters")
        if "\x7f" in value or any(c < " " and c not in "\t\n\r" for c in value):
            raise InvalidFieldValue(
                path, value.encode("unicode_escape").decode(), "control characters are not allowed"
            )


def outcome(check: object, user: User) -> tuple[str, ...] | None:
    try:
        check(user)  # type: ignore[operator]
    except InvalidFieldValue as error:
        return (type(error).__name__, str(error), *map(str, error.args))
    return None


def _same(user: User) -> None:
    assert outcome(check_text, user) == outcome(reference_check_text, user)


@settings(max_examples=300)
@given(st.from_type(User))
def test_generated_users_are_judged_as_by_the_reference(user: User) -> None:
    _same(user)


_LONG = st.sampled_from([254, 255, 256, 999, 1000, 1001, 1999, 2000, 2001, 3999, 4000, 4001])
_TEXT = st.one_of(
    st.text("ab\x00\x07\t\n\r\x1f\x7f\x80", max_size=6),
    _LONG.map(lambda n: "x" * n),
)


@given(
    first=st.none() | _TEXT,
    line1=st.none() | _TEXT,
    note=st.none() | _TEXT,
    job=st.none() | _TEXT,
    manual=_TEXT,
    codes=st.lists(_TEXT, max_size=2),
)
def test_long_and_control_text_gives_the_reference_error(
    first: str | None,
    line1: str | None,
    note: str | None,
    job: str | None,
    manual: str,
    codes: list[str],
) -> None:
    user = User(
        primary_id="p",
        first_name=first,
        job_description=job,
        contact_info=ContactInfo(addresses=[Address(line1=line1, address_types=codes)]),
        notes=[Note(note_text=note, segment_type=SegmentType.EXTERNAL)],
        manual_fields={"user_group": manual},
        institution=manual,
    )
    _same(user)
