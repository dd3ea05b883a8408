"""``/bookplate/v1/network/zone``: Network Zone style central management (docs/networks.md,
"Network Zone"). The zone's settings need an API key with the Configuration area (read/write
to change) or a staff member allowed to configure user management; through the API only the
central institution changes them (an institution may make itself central when there is
none, and a member may leave). A member's copy of a central user is a user write: a Users
key (write) of the member, or a staff member the policy lets write users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bookplate.alma.json import dump_json
from bookplate.api import deps
from bookplate.api.wire import user_response
from bookplate.keys.model import Area
from bookplate.network.zone import Zone
from bookplate.roles.model import Caller
from bookplate.roles.policy import Action
from bookplate.roles.staff import require_any

router = APIRouter(prefix="/bookplate/v1/network/zone", tags=["Bookplate: network zone"])

Code = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


def _json(data: Any, status: int = 200) -> Response:
    return Response(dump_json(data), status, media_type="application/json")


def _configurer(request: Request, write: bool) -> Caller:
    return require_any(deps.caller(request, Area.CONFIGURATION, write), Action.CONFIGURE)


def _zone_out(zone: Zone) -> dict[str, Any]:
    return {"central": zone.central, "members": list(zone.members)}


class ZoneIn(BaseModel):
    """The central institution (null: no zone)."""

    model_config = ConfigDict(extra="forbid")

    central: Annotated[str | None, Field(min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9_.\-]+$")]


@router.get("", summary="The network zone: its central institution and its members")
def get_zone(request: Request) -> Response:
    _configurer(request, write=False)
    return _json(_zone_out(deps.container(request).network.zone()))


@router.put("", summary="Set (or clear) the zone's central institution")
async def put_zone(request: Request, body: Annotated[ZoneIn, Body()]) -> Response:
    who = _configurer(request, write=True)
    zone = await run_in_threadpool(deps.container(request).network.set_zone_central,
                                   body.central, who.who, by=who.institution)
    return _json(_zone_out(zone))


@router.put("/members/{code}", summary="Add a member institution to the zone")
def put_member(request: Request, code: Code) -> Response:
    who = _configurer(request, write=True)
    zone = deps.container(request).network.zone_member_set(code, who.who, by=who.institution)
    return _json(_zone_out(zone))


@router.delete("/members/{code}", summary="Remove a member institution from the zone")
def delete_member(request: Request, code: Code) -> Response:
    who = _configurer(request, write=True)
    zone = deps.container(request).network.zone_member_remove(code, who.who,
                                                              by=who.institution)
    return _json(_zone_out(zone))


@router.post("/copies/{user_id:path}",
             summary="The caller's institution (a member) copies a user of the central one")
def copy_user(request: Request, user_id: str) -> Response:
    """``user_id`` is any unique ID of the central's user. Answers the member's new copy
    (Alma JSON, as every answer of this API); 60227 when the member has one already."""
    who = deps.caller(request, Area.USERS, write=True)
    c = deps.container(request)
    user = c.network.zone_copy_user(who.institution, user_id, who.who,
                                    guard=c.staff.write_guard(who))
    return user_response(user, c.users.code_book(who.institution), as_json=True)
