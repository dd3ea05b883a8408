"""``user_to_document`` gives what its first, plain version gave, key for key and in order.

The stored JSON text is the document's text, so a different key order or a value of another
type would change what is stored; the plain version below is the reference.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookplate.storage.documents import document_text, user_from_document, user_to_document
from bookplate.users.model import Note, RecordType, SegmentType, User

from .builders import rich_user


def _reference_encode(value: Any) -> Any:
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_reference_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _reference_encode(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return reference_document(value)
    raise TypeError(type(value).__name__)


def reference_document(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.default_factory is not dataclasses.MISSING:
            if not value and isinstance(value, list | dict):
                continue
        elif f.default is not dataclasses.MISSING and (
            (value is None and f.default is None)
            or (value == f.default and (type(value) is type(f.default) or isinstance(value, Enum)))
        ):
            continue
        out[f.name] = _reference_encode(value)
    return out


def _same(user: User) -> None:
    mine, reference = user_to_document(user), reference_document(user)
    assert mine == reference
    assert json.dumps(mine) == json.dumps(reference)  # same keys in the same order
    assert user_from_document(json.loads(json.dumps(mine))) == user_from_document(reference)


@settings(max_examples=300)
@given(st.from_type(User))
def test_generated_users_give_the_reference_document(user: User) -> None:
    _same(user)


def test_rich_user_gives_the_reference_document() -> None:
    _same(rich_user())


def test_defaults_of_another_type_or_identity_are_judged_as_before() -> None:
    user = User(primary_id="p", record_type=RecordType.PUBLIC, status="ACTIVE" + "")
    user.notes = [Note(segment_type=SegmentType("Internal"), user_viewable=0)]  # type: ignore[arg-type]
    user.account_type = "".join(["INTER", "NAL"])  # equal to the default, another object
    user.force_password_change = False
    _same(user)
    assert "record_type" not in user_to_document(user)  # an enum equal to the default
    assert user_to_document(user)["notes"] == [{"user_viewable": 0}]  # 0 == False, not a bool


# --- the stored JSON text ---------------------------------------------------------------

_json_text = json.JSONEncoder(separators=(",", ":")).encode
_odd_text = st.text(
    st.one_of(
        st.characters(),  # any code point, lone surrogates included
        st.sampled_from(["\x00", "\x1f", "\x7f", "\x80", "\u2028", "é", "\U0001f600", '"', "\\"]),
    ),
    max_size=8,
)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _odd_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_odd_text, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=500)
@given(st.dictionaries(_odd_text, _json_values, max_size=5))
def test_document_text_is_the_text_json_writes(doc: dict[str, Any]) -> None:
    assert document_text(doc) == _json_text(doc)


@settings(max_examples=300)
@given(st.from_type(User))
def test_document_text_of_generated_users_is_the_text_json_writes(user: User) -> None:
    doc = user_to_document(user)
    assert document_text(doc) == _json_text(doc)


@pytest.mark.parametrize(
    "value",
    ["Zoë Müller", "\x7f", "a\U0001f600b", "\ud800", 1e16, 1.5e-05, float("nan"), 2**64, None],
)
def test_document_text_of_values_orjson_writes_differently(value: Any) -> None:
    doc = {"primary_id": "p", "x": value, "y": [value]}
    assert document_text(doc) == _json_text(doc)


def test_a_user_with_timestamps_is_written_by_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    """A timestamp's seconds (``":52.738"`` inside a string) are not taken for a float: the
    document is not handed to the slower ``json`` (every stored user carries timestamps)."""
    import bookplate.storage.documents as documents

    def refuse(doc: Any) -> str:
        raise AssertionError("written by json")

    user = rich_user()
    user.created_date = user.last_modified_date = datetime(2026, 12, 3, 7, 41, 52, 738000, UTC)
    doc = user_to_document(user)
    expected = _json_text(doc)
    assert ":52.738" in expected
    monkeypatch.setattr(documents, "_JSON", refuse)
    assert document_text(doc) == expected
    for value in (1.5, [2, 3.0], -1e16, None):  # what still goes to json
        with pytest.raises(AssertionError, match="written by json"):
            document_text({"primary_id": "p", "x": value})
