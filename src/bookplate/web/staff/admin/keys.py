"""``/staff/admin/keys``: the institution's API keys. List them (areas, calls per second,
created, last use, revoked), create one (its secret shown once on the answer page, never
again and never logged) and revoke one after a confirmation. Every change goes through
``c.keys`` (``keys.services.KeyService``: the service of ``bookplate keys``), which asks the
policy for ``manage_keys`` and writes the ``keys.create``/``keys.revoke`` audit rows."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.keys.errors import KeyNotFound
from bookplate.keys.model import Access, ApiKey, Area
from bookplate.keys.services import MAX_PER_SECOND
from bookplate.roles.policy import Action
from bookplate.web.staff.admin.common import needs, saved_or_again
from bookplate.web.staff.common import Refused, Staff, field, render, see_other
from bookplate.web.staff.pages import get_page, post_page

router = APIRouter(include_in_schema=False)

BASE = "/staff/admin/keys"
KEY_ID = re.compile(r"^[0-9a-f]{1,64}$")
AREA_LABELS = {Area.USERS: "Users", Area.CONFIGURATION: "Configuration"}


def _who(staff: Staff) -> str:
    return f"staff:{staff.actor.primary_id}"


def _key_id(key_id: str) -> str:
    if not KEY_ID.match(key_id):
        raise Refused(404, "No such API key.")
    return key_id


def _list_page(staff: Staff, request: Request, *, error: str = "", notice: str = "",
               secret: str = "", form: dict[str, str] | None = None,
               status: int = 200) -> Response:
    keys = sorted(staff.c.keys.list(staff.institution),
                  key=lambda k: (k.revoked is not None, k.name, k.key_id))
    answer = render(staff, request, "staff/admin/keys.html", {
        "keys": keys, "base": BASE, "error": error, "notice": notice, "secret": secret,
        "form": form or {}, "areas": AREA_LABELS, "max_per_second": MAX_PER_SECOND,
    }, status)
    if secret:
        answer.headers["Cache-Control"] = "no-store"
    return answer


def _areas(form: FormData) -> dict[Area, Access]:
    """``area_users`` / ``area_conf``: "" (none), "ro" or "rw"; anything else is refused."""
    areas: dict[Area, Access] = {}
    for area in Area:
        value = field(form, f"area_{area.value}", 10)
        if not value:
            continue
        try:
            areas[area] = Access(value)
        except ValueError:
            raise Refused(400, f"Unknown access {value[:10]!r} for {AREA_LABELS[area]}.") from None
    if not areas:
        raise Refused(400, "Choose at least one area the key opens.")
    return areas


def _per_second(text: str) -> int:
    if not text.isdigit() or len(text) > 7:
        raise Refused(400, f"Calls per second must be a whole number from 1 to "
                           f"{MAX_PER_SECOND:,}.")
    return int(text)


def _stored(staff: Staff, key_id: str) -> ApiKey:
    try:
        return staff.c.keys.get(_key_id(key_id), staff.institution)
    except KeyNotFound as exc:
        raise Refused(404, str(exc)) from None


@get_page(router, BASE, needs(Action.MANAGE_KEYS))
def keys(staff: Staff, request: Request) -> Response:
    revoked = request.query_params.get("revoked", "")[:64]
    return _list_page(staff, request, notice=f"The key {revoked} was revoked." if revoked else "")


@post_page(router, BASE, needs(Action.MANAGE_KEYS))
def create_key(staff: Staff, request: Request, form: FormData) -> Response:
    kept: dict[str, str] = {}  # what was typed, shown again with a refusal

    def read() -> tuple[dict[Area, Access], int]:
        kept["name"] = field(form, "name", 255)
        kept["per_second"] = field(form, "per_second", 20)
        kept.update({f"area_{a.value}": field(form, f"area_{a.value}", 10) for a in Area})
        if not kept["name"]:
            raise Refused(400, "Give the key a name (who or what uses it).")
        return _areas(form), _per_second(kept["per_second"] or "50")

    def created(made: tuple[ApiKey, str]) -> Response:
        key, secret = made
        return _list_page(staff, request, secret=secret,
                          notice=f"The key {key.key_id} was created.")

    return saved_or_again(
        read,
        lambda asked: staff.c.keys.create(staff.institution, kept["name"], asked[0], asked[1],
                                          actor=staff.actor, who=_who(staff)),
        lambda _, error, status: _list_page(staff, request, error=error, form=kept,
                                            status=status),
        created,
    )


@get_page(router, f"{BASE}/{{key_id}}/revoke", needs(Action.MANAGE_KEYS))
def confirm_revoke(staff: Staff, request: Request, key_id: str) -> Response:
    return render(staff, request, "staff/admin/key_revoke.html",
                  {"key": _stored(staff, key_id), "base": BASE, "areas": AREA_LABELS})


@post_page(router, f"{BASE}/{{key_id}}/revoke", needs(Action.MANAGE_KEYS))
def revoke_key(staff: Staff, request: Request, form: FormData, key_id: str) -> Response:
    key = _stored(staff, key_id)
    if field(form, "confirm", 10) != "yes":
        return render(staff, request, "staff/admin/key_revoke.html", {
            "key": key, "base": BASE, "areas": AREA_LABELS,
            "error": "Tick the box to confirm that the key stops working."}, 400)
    if key.revoked is None:
        staff.c.keys.revoke(key.key_id, institution=staff.institution, actor=staff.actor,
                            who=_who(staff))
    return see_other(f"{BASE}?" + urlencode({"revoked": key.key_id}))
