"""``/bookplate/v1``: the signed-in staff member's capabilities, and the roles configuration
(role types, profiles, assignment rules, restricted accounts, libraries, history).

Configuration changes need a staff member allowed to configure user management, or an API key
with the Configuration area read/write. Every change is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Request
from pydantic import BeforeValidator, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bookplate.api import deps
from bookplate.api.v1.bodies import Code, Strict
from bookplate.keys.model import Area
from bookplate.roles.admin import RolesAdmin
from bookplate.roles.model import (
    ROLE_TYPES,
    Actor,
    AssignmentRule,
    Library,
    ProfileRole,
    RestrictedSettings,
    RoleProfile,
)
from bookplate.roles.services import RolesConfig
from bookplate.roles.staff import capabilities

router = APIRouter(prefix="/bookplate/v1", tags=["Bookplate: roles"])

Text = Annotated[str, Field(min_length=1, max_length=64)]
Codes = Annotated[list[Text], Field(max_length=200)]
T = TypeVar("T")


def _iso_date_only(value: object) -> object:
    """Dates come as ISO strings (``2030-08-30``); a number is not a date (pydantic would read
    ``0`` as 1970-01-01)."""
    if isinstance(value, int | float):
        raise ValueError("a date is written YYYY-MM-DD, not as a number")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


class ParameterIn(Strict):
    type: Text
    scope: Annotated[str, Field(max_length=64)] = ""
    value: Text


class ProfileRoleIn(Strict):
    role_type: Text
    scope: Annotated[str | None, Field(max_length=64)] = None
    status: Annotated[str, Field(pattern="^(ACTIVE|INACTIVE)$")] = "ACTIVE"
    expiry_date: IsoDate | None = None
    parameters: Annotated[list[ParameterIn], Field(max_length=20)] = []


class ProfileIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    roles: Annotated[list[ProfileRoleIn], Field(max_length=500)] = []

    def item(self, code: str) -> RoleProfile:
        return RoleProfile(code, self.name, tuple(
            ProfileRole(r.role_type, r.scope or None,
                        tuple((p.type, p.scope, p.value) for p in r.parameters),
                        r.status, r.expiry_date)
            for r in self.roles))


class RuleIn(Strict):
    profile: Text
    user_groups: Codes = []
    job_categories: Codes = []
    record_types: Annotated[
        list[Annotated[str, Field(pattern="^(PUBLIC|STAFF|CONTACT)$")]], Field(max_length=3)
    ] = []
    campuses: Codes = []
    position: Annotated[int, Field(ge=0, le=10_000)] = 0

    def item(self, rule_id: str) -> AssignmentRule:
        return AssignmentRule(rule_id, self.profile, frozenset(self.user_groups),
                              frozenset(self.job_categories), frozenset(self.record_types),
                              frozenset(self.campuses), self.position)


class RestrictedIn(Strict):
    user_groups: Codes = []
    role_types: Codes = []

    def item(self) -> RestrictedSettings:
        return RestrictedSettings(frozenset(self.user_groups), frozenset(self.role_types))


class LibraryIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    circulation_desks: Codes = []

    def item(self, code: str) -> Library:
        return Library(code, self.name, frozenset(self.circulation_desks))


def _json(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status)


def _profile_out(p: RoleProfile) -> dict[str, Any]:
    return {
        "code": p.code,
        "name": p.name,
        "roles": [
            {
                "role_type": r.role_type,
                "scope": r.scope,
                "status": r.status,
                "expiry_date": r.expiry_date.isoformat() if r.expiry_date else None,
                "parameters": [{"type": t, "scope": s, "value": v} for t, s, v in r.parameters],
            }
            for r in p.roles
        ],
    }


def _rule_out(r: AssignmentRule) -> dict[str, Any]:
    return {
        "rule_id": r.rule_id,
        "profile": r.profile,
        "position": r.position,
        "user_groups": sorted(r.user_groups),
        "job_categories": sorted(r.job_categories),
        "record_types": sorted(r.record_types),
        "campuses": sorted(r.campuses),
    }


@router.get("/me/capabilities", summary="What the signed-in staff member may use")
def my_capabilities(request: Request) -> Response:
    return _json(capabilities(deps.caller(request, Area.USERS, write=False)))


@router.get("/roles/types", summary="The role catalogue")
def role_types(request: Request) -> Response:
    deps.caller(request, Area.CONFIGURATION, write=False)
    return _json(
        {
            "role_type": [
                {
                    "code": r.code,
                    "name": r.name,
                    "scope": r.scope.value,
                    "parameter": r.parameter.value if r.parameter else None,
                    "privileges": sorted(p.value for p in r.privileges),
                }
                for r in ROLE_TYPES.values()
            ]
        }
    )


# A configuration change: one of RolesAdmin's put / remove methods, picked from the admin.
Change = Callable[[RolesAdmin], Callable[[str, T, str, Actor | None], None]]


def _config(request: Request) -> RolesConfig:
    """The caller's institution's roles configuration, for a caller who may read it."""
    who = deps.caller(request, Area.CONFIGURATION, write=False)
    return deps.container(request).roles.config(who.institution)


async def _put(request: Request, change: Change[T], item: T,
               out: Callable[[T], dict[str, Any]]) -> Response:
    """Store one configuration item as the caller (staff member or key), off the loop, and
    answer with it as ``out`` shows it; the admin checks the caller may configure and writes
    the audit row."""
    who = deps.caller(request, Area.CONFIGURATION, write=True)
    admin = deps.container(request).roles
    await run_in_threadpool(change(admin), who.institution, item, who.who, who.actor)
    return _json(out(item))


def _removed(request: Request, change: Change[str], code: str) -> Response:
    who = deps.caller(request, Area.CONFIGURATION, write=True)
    change(deps.container(request).roles)(who.institution, code, who.who, who.actor)
    return Response(status_code=204)


def _restricted_out(settings: RestrictedSettings) -> dict[str, Any]:
    return {"user_groups": sorted(settings.user_groups), "role_types": sorted(settings.role_types)}


def _library_out(library: Library) -> dict[str, Any]:
    return {"code": library.code, "name": library.name, "circulation_desks": sorted(library.desks)}


@router.get("/roles/profiles", summary="Role profiles")
def list_profiles(request: Request) -> Response:
    return _json({"profile": [_profile_out(p) for p in _config(request).profiles.values()]})


@router.put("/roles/profiles/{code}", summary="Create or replace a role profile")
async def put_profile(request: Request, code: Code, body: Annotated[ProfileIn, Body()]) -> Response:
    return await _put(request, lambda admin: admin.put_profile, body.item(code), _profile_out)


@router.delete("/roles/profiles/{code}", status_code=204, summary="Delete a role profile")
def delete_profile(request: Request, code: Code) -> Response:
    return _removed(request, lambda admin: admin.remove_profile, code)


@router.get("/roles/rules", summary="Role assignment rules")
def list_rules(request: Request) -> Response:
    return _json({"rule": [_rule_out(r) for r in _config(request).rules]})


@router.put("/roles/rules/{rule_id}", summary="Create or replace an assignment rule")
async def put_rule(request: Request, rule_id: Code, body: Annotated[RuleIn, Body()]) -> Response:
    return await _put(request, lambda admin: admin.put_rule, body.item(rule_id), _rule_out)


@router.delete("/roles/rules/{rule_id}", status_code=204, summary="Delete an assignment rule")
def delete_rule(request: Request, rule_id: Code) -> Response:
    return _removed(request, lambda admin: admin.remove_rule, rule_id)


@router.get("/roles/restricted", summary="Restricted-account settings")
def get_restricted(request: Request) -> Response:
    return _json(_restricted_out(_config(request).restricted))


@router.put("/roles/restricted", summary="Set restricted-account settings")
async def put_restricted(request: Request, body: Annotated[RestrictedIn, Body()]) -> Response:
    return await _put(request, lambda admin: admin.set_restricted, body.item(), _restricted_out)


@router.get("/libraries", summary="Libraries and their circulation desks")
def list_libraries(request: Request) -> Response:
    libraries = _config(request).libraries
    return _json({"library": [_library_out(lib) for lib in libraries.values()]})


@router.put("/libraries/{code}", summary="Create or replace a library")
async def put_library(request: Request, code: Code, body: Annotated[LibraryIn, Body()]) -> Response:
    return await _put(request, lambda admin: admin.put_library, body.item(code), _library_out)


@router.get("/roles/history", summary="Who changed the roles configuration, and when")
def roles_history(request: Request) -> Response:
    who = deps.caller(request, Area.CONFIGURATION, write=False)
    rows = deps.container(request).roles.history(who.institution)
    return _json(
        {
            "change": [
                {
                    "at": r["at"].isoformat() if r["at"] else None,
                    "actor": r["actor"],
                    "action": r["action"],
                    "target": r["target"],
                    "detail": r["detail"],
                }
                for r in rows
            ]
        }
    )
