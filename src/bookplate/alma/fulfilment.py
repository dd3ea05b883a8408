"""The collection shapes of a user's fulfilment sub-resources (``/users/{id}/loans`` ...).

Bookplate keeps no loans, requests, fees, deposits or purchase requests (docs/
alma-compatibility.md), so each collection is written empty, in the shape Alma's schema gives
it: XML ``<item_loans total_record_count="0"/>``, JSON ``{"total_record_count": 0}`` (the item
list is left out when empty, as in the users list). Fees also carry ``total_sum``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from bookplate.alma.json import dump_json
from bookplate.alma.xml import to_bytes
from bookplate.errors import NotFoundError


class FulfilmentEntryNotFound(NotFoundError):
    """One entry of a fulfilment collection asked by its id: none exists here. Each collection
    has its own Alma code (``Collection.missing_code``), which the API's error table reads."""

    def __init__(self, collection: Collection, shown_id: str) -> None:
        super().__init__(collection.missing_message.format(id=shown_id))
        self.code = collection.missing_code


@dataclass(frozen=True, slots=True)
class Collection:
    path: str  # the sub-path under /users/{id}
    root: str  # XML root element, from the XSD's name (rest_item_loans.xsd -> item_loans)
    item: str  # one entry's element and JSON list key
    noun: str  # for messages: "loan", "request", ...
    missing_code: str  # Alma's error code for an unknown entry id
    missing_message: str  # its message; {id} is the asked id
    with_sum: bool = False


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "loans", "item_loans", "item_loan", "loan", "401823", "Loan ID {id} does not exist."
    ),
    Collection(
        "requests", "user_requests", "user_request", "request", "401907",
        "Failed to find a request for the given request ID {id}.",
    ),
    Collection(
        "resource-sharing-requests", "user_resource_sharing_requests",
        "user_resource_sharing_request", "resource sharing request", "40166450",
        "No result found for given parameters: request ID {id}.",
    ),
    Collection("fees", "fees", "fee", "fee", "401665", "Fine not found: {id}.", with_sum=True),
    Collection(
        "deposits", "user_deposits", "user_deposit", "deposit", "402238",
        "Failed to get deposit {id}.",
    ),
    Collection(
        "purchase-requests", "purchase_requests", "purchase_request", "purchase request",
        "60276", "The purchase request identifier is not valid: {id}.",
    ),
)
BY_PATH = {c.path: c for c in COLLECTIONS}


def empty_dict(collection: Collection) -> dict[str, Any]:
    data: dict[str, Any] = {"total_record_count": 0}
    if collection.with_sum:
        data["total_sum"] = 0.0
    return data


def empty_json(collection: Collection) -> bytes:
    return dump_json(empty_dict(collection))


def empty_xml(collection: Collection) -> bytes:
    root = etree.Element(collection.root)
    root.set("total_record_count", "0")
    if collection.with_sum:
        root.set("total_sum", "0.0")
    return to_bytes(root)
