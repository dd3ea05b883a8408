"""Responses in Alma's wire format, built with the ``bookplate.alma`` codec."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.responses import Response

from bookplate.alma import codetables as alma_codetables
from bookplate.alma import errors as alma_errors
from bookplate.alma import json as alma_json
from bookplate.alma import tree as alma_tree
from bookplate.alma import user as alma_user
from bookplate.alma import xml as alma_xml
from bookplate.api.negotiation import JSON, XML
from bookplate.users.model import User, UserInput
from bookplate.users.ports import CodeRow
from bookplate.users.validation import CodeBook


def error_response(status: int, code: str, message: str, tid: str, as_json: bool) -> Response:
    errors = [(code, message, tid)]
    if as_json:
        return Response(alma_errors.error_body_json(errors), status, media_type=JSON)
    return Response(alma_errors.error_body_xml(errors), status, media_type=XML)


def read_user(body: bytes, as_json: bool) -> UserInput:
    if as_json:
        return alma_user.user_from_json(body)
    return alma_user.user_from_xml(body)


def _dump(data: dict[str, Any], as_json: bool, status: int = 200) -> Response:
    if as_json:
        return Response(alma_json.dump_json(data), status, media_type=JSON)
    return Response(alma_xml.to_bytes(alma_tree.dict_to_element(data)), status, media_type=XML)


def user_response(
    user: User,
    book: CodeBook,
    as_json: bool,
    *,
    view: str = "full",
    link: str | None = None,
    expand: Sequence[str] = (),
) -> Response:
    data = alma_user.user_to_dict(
        user, book.describe, view="brief" if view == "brief" else "full", link=link
    )
    # Bookplate holds no loans, requests or fees: asked for, they are counted as zero.
    for name in expand:
        data[name] = {"value": "0"}
    return _dump(data, as_json)


def users_response(
    users: Sequence[User],
    total: int,
    book: CodeBook,
    as_json: bool,
    *,
    full: bool,
    link_for: Callable[[User], str],
) -> Response:
    entries: Sequence[User | dict[str, Any]] = users
    if full:
        entries = [alma_user.user_to_dict(u, book.describe, link=link_for(u)) for u in users]
    if as_json:
        return Response(
            alma_user.users_to_json(entries, total, book.describe, link_for=link_for),
            200,
            media_type=JSON,
        )
    return Response(
        alma_user.users_to_xml(entries, total, book.describe, link_for=link_for),
        200,
        media_type=XML,
    )


def code_table_response(
    name: str, description: str, rows: list[CodeRow], as_json: bool
) -> Response:
    if as_json:
        return Response(
            alma_codetables.code_table_to_json(name, description, rows), 200, media_type=JSON
        )
    return Response(alma_codetables.code_table_to_xml(name, description, rows), 200, media_type=XML)
