from __future__ import annotations

from bookplate.storage.documents import user_from_document, user_to_document
from bookplate.users.model import User

from .builders import rich_user


def test_round_trip_keeps_every_field() -> None:
    user = rich_user()
    assert user_from_document(user_to_document(user)) == user


def test_defaults_are_left_out() -> None:
    doc = user_to_document(User(primary_id="x"))
    assert doc == {"primary_id": "x", "contact_info": {}}
    assert user_from_document(doc) == User(primary_id="x")


def test_document_is_json() -> None:
    import json

    doc = user_to_document(rich_user())
    assert user_from_document(json.loads(json.dumps(doc))) == rich_user()
