"""``/bookplate/v1/network``: partners and their linked account rules, the institution's
settings as a home institution, a user's history, the call a partner on another deployment
makes to copy a user, and the push a home there makes to its copies (docs/networks.md).

Configuration needs an API key with the Configuration area (read/write to change) or a staff
member allowed to configure user management. The partner call needs a Users key of the home
institution: that key is what the partner's registry entry holds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bookplate.alma.json import dump_json
from bookplate.alma.user import user_from_dict, user_to_dict
from bookplate.api import deps
from bookplate.keys.model import Area
from bookplate.network.base import PushBody
from bookplate.network.errors import InvalidPartner, SourceInstitutionInvalid
from bookplate.network.model import MemberSettings, Partner
from bookplate.roles.model import Caller
from bookplate.roles.policy import Action
from bookplate.roles.staff import require_any

router = APIRouter(prefix="/bookplate/v1/network", tags=["Bookplate: network"])

Code = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
PASSWORD_HEADER = "x-bookplate-network-password"  # noqa: S105 (a header name)


def _json(data: Any, status: int = 200) -> Response:
    return Response(dump_json(data), status, media_type="application/json")


def _configurer(request: Request, write: bool) -> Caller:
    return require_any(deps.caller(request, Area.CONFIGURATION, write), Action.CONFIGURE)


class PartnerIn(BaseModel):
    """The settings to change (only those sent); secrets are write-only."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(max_length=255)] = None
    base_url: Annotated[str | None, Field(max_length=1000)] = None
    api_key: Annotated[str | None, Field(max_length=1000)] = None
    search_password: Annotated[str | None, Field(max_length=1000)] = None
    timeout_seconds: Annotated[float | None, Field(gt=0, le=120)] = None
    retries: Annotated[int | None, Field(ge=0, le=10)] = None
    user_group: Annotated[str | None, Field(max_length=255)] = None
    expiry: Annotated[str | None, Field(pattern="^(source|fixed|none)$")] = None
    expiry_date: Annotated[str | None, Field(max_length=10)] = None
    purge: Annotated[str | None, Field(pattern="^(none|fixed|after_expiry)$")] = None
    purge_date: Annotated[str | None, Field(max_length=10)] = None
    purge_days: Annotated[int | None, Field(ge=0, le=36_500)] = None
    refresh_expiry: StrictBool | None = None
    refresh_purge: StrictBool | None = None
    accept_blocks: StrictBool | None = None
    send_blocks: StrictBool | None = None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    searchable_id_types: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]] | None, Field(max_length=50)
    ] = None
    search_password: Annotated[str | None, Field(min_length=1, max_length=1000)] = None
    clear_search_password: StrictBool = False
    share_blocks: StrictBool | None = None


def _member_out(settings: MemberSettings) -> dict[str, Any]:
    return {
        "institution": settings.institution,
        "searchable_id_types": list(settings.searchable_id_types),
        "search_password_set": settings.search_password_hash is not None,
        "share_blocks": settings.share_blocks,
    }


def _partner_out(partner: Partner) -> dict[str, Any]:
    return partner.public()


@router.get("/partners", summary="Partner institutions and their linked account rules")
def list_partners(request: Request) -> Response:
    who = _configurer(request, write=False)
    partners = deps.container(request).network.partners(who.institution)
    return _json({"partner": [_partner_out(p) for p in partners]})


@router.get("/partners/{code}", summary="One partner and its linked account rule")
def get_partner(request: Request, code: Code) -> Response:
    who = _configurer(request, write=False)
    return _json(_partner_out(deps.container(request).network.partner(who.institution, code)))


@router.put("/partners/{code}", summary="Add a partner or change its settings")
async def put_partner(request: Request, code: Code, body: Annotated[PartnerIn, Body()]) -> Response:
    who = _configurer(request, write=True)
    changes = body.model_dump(exclude_unset=True)
    partner = await run_in_threadpool(
        deps.container(request).network.put_partner, who.institution, code, changes, who.who
    )
    return _json(_partner_out(partner))


@router.delete("/partners/{code}", status_code=204, summary="Remove a partner")
def delete_partner(request: Request, code: Code) -> Response:
    who = _configurer(request, write=True)
    deps.container(request).network.remove_partner(who.institution, code, who.who)
    return Response(status_code=204)


@router.get("/member", summary="What partners may do with this institution's users")
def get_member(request: Request) -> Response:
    who = _configurer(request, write=False)
    return _json(_member_out(deps.container(request).network.member(who.institution)))


@router.put("/member", summary="Change what partners may do with this institution's users")
async def put_member(request: Request, body: Annotated[MemberIn, Body()]) -> Response:
    who = _configurer(request, write=True)
    settings = await run_in_threadpool(
        lambda: deps.container(request).network.set_member(
            who.institution,
            who.who,
            searchable_id_types=body.searchable_id_types,
            search_password=body.search_password,
            clear_password=body.clear_search_password,
            share_blocks=body.share_blocks,
        )
    )
    return _json(_member_out(settings))


@router.get("/history/{user_id:path}", summary="A user's history (links, refreshes, writes)")
def user_history(request: Request, user_id: str) -> Response:
    who = deps.caller(request, Area.USERS, write=False)
    c = deps.container(request)
    c.staff.check_view(who, user_id)
    rows = c.network.history(who.institution, user_id)
    return _json({"history": [
        {**row, "at": row["at"].isoformat() if row["at"] else None} for row in rows
    ]})


@router.get("/source-users/{user_id:path}",
            summary="A user of this institution as a partner on another deployment copies it")
def source_user(
    request: Request, user_id: str, requester: str = "", institution: str = ""
) -> Response:
    """Answers with the Alma JSON of the user and whether its blocks travel with it. The
    home's searchable identifier types and network search password apply; ``institution``,
    when sent, must be the key's (a registry entry holding another institution's key)."""
    key = deps.require_key(request, Area.USERS, write=False)
    c = deps.container(request)
    if institution and institution != key.institution:
        raise SourceInstitutionInvalid(
            f"(the key belongs to {key.institution}, not to {institution})"
        )
    record = c.network.source_user(
        key.institution, requester or "?", user_id, request.headers.get(PASSWORD_HEADER)
    )
    book = c.users.code_book(key.institution)
    return _json({"user": user_to_dict(record.user, book.describe),
                  "share_blocks": record.share_blocks})


class PushIn(BaseModel):
    """A home on another deployment pushes its user's current record to this host."""

    model_config = ConfigDict(extra="forbid")

    source_institution_code: Annotated[str, Field(min_length=1, max_length=64,
                                                  pattern=r"^[A-Za-z0-9_.\-]+$")]
    source_pk: Annotated[int, Field(ge=1, le=2**62)]
    source_user_id: Annotated[str, Field(min_length=1, max_length=255)]
    sequence: Annotated[int, Field(ge=1, le=2**62)]
    deleted: StrictBool = False
    share_blocks: StrictBool = True
    #: The sender is a host sending its blocks on its copy (``user``) of this home's user
    #: ``source_user_id``.
    host_blocks: StrictBool = False
    user: dict[str, Any] | None = None


@router.post("/pushes", summary="A home on another deployment pushes a changed user")
async def receive_push(request: Request, body: Annotated[PushIn, Body()]) -> Response:
    """Needs a Users key (write) of this host institution: the one the home's partner entry
    for this host holds. Answers ``{"outcome": "applied"}`` or ``"stale"`` (a newer push was
    applied already); 4019990 when this host has no copy of that user. With
    ``host_blocks`` the sender is a host of this home: its blocks on its copy replace its
    blocks on the home's user (``refused`` when this institution's rules refuse them)."""
    key = deps.require_key(request, Area.USERS, write=True)
    if "\x00" in body.source_user_id:
        raise InvalidPartner("source_user_id", "control characters are not allowed")
    if body.deleted:
        user = None
    elif body.user is None:
        raise InvalidPartner("user", "the user is required unless deleted is true")
    else:
        user = user_from_dict(body.user).user
    push = PushBody(body.source_institution_code, body.source_pk, body.source_user_id,
                    body.sequence, user, body.share_blocks, body.host_blocks)
    outcome = await run_in_threadpool(
        deps.container(request).network.receive_push, key.institution, push)
    return _json({"outcome": outcome})
