"""``/bookplate/v1/sis``: users integration profiles, file uploads that start SIS runs, and the
runs' reports.

Profiles need a staff member allowed to manage integration profiles, or an API key with the
Configuration area (read/write to change them). Runs need a staff member allowed to run SIS
jobs, or an API key with the Users area (read/write to start one). An upload's body is the
file itself (zip, XML or CSV, by Content-Type, name or content); it is streamed to the spool
under its own size limit (``BOOKPLATE_SIS_MAX_UPLOAD_BYTES``), checked, stored as a pending
run and queued: the answer is 202 with the run and its ``Location``.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import Field, StrictBool, StrictInt
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bookplate.api import deps
from bookplate.api.v1.bodies import Code, Strict
from bookplate.keys.model import Area
from bookplate.roles.model import Caller
from bookplate.roles.policy import Action
from bookplate.roles.staff import require_any
from bookplate.sis.errors import RunNotFound, UploadTooLarge
from bookplate.sis.model import (
    BUCKETS,
    CsvOptions,
    FieldRule,
    MissingPolicy,
    Mode,
    Profile,
    Report,
)
from bookplate.sis.ports import ItemRow
from bookplate.sis.sources.formats import kind_of
from bookplate.sis.upload import check_upload
from bookplate.users.errors import InvalidParameterValue

router = APIRouter(prefix="/bookplate/v1/sis", tags=["Bookplate: SIS integration"])

Name = Annotated[str, Field(min_length=1, max_length=255)]
#: ``kind`` of the report lists: a bucket, or its past participle.
KIND_ALIASES = {
    **{b: b for b in BUCKETS},
    "created": "create",
    "updated": "update",
    "rejected": "reject",
    "deactivated": "deactivate",
}


class CsvIn(Strict):
    columns: Annotated[dict[Name, Name], Field(max_length=500)] = {}
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    encoding: Annotated[str, Field(min_length=1, max_length=32)] = "utf-8-sig"
    date_format: Annotated[str, Field(min_length=1, max_length=32)] = "%Y-%m-%d"
    multi_separator: Annotated[str, Field(max_length=8)] = ""
    missing_columns: Literal["refuse", "keep"] = "refuse"


class SisProfileIn(Strict):
    record_type: Literal["PUBLIC", "STAFF", "CONTACT"] = "PUBLIC"
    match_id_type: Annotated[str, Field(min_length=1, max_length=64)] = "primary_id"
    add_unmatched: StrictBool = True
    default_user_group: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    expiry_days: Annotated[StrictInt | None, Field(ge=0, le=36500)] = None
    purge_days: Annotated[StrictInt | None, Field(ge=0, le=36500)] = None
    field_rules: Annotated[
        dict[Name, Literal["keep", "replace", "erase"]], Field(max_length=100)
    ] = {}
    missing_policy: Literal["off", "deactivate", "expire"] = "off"
    guard_share: Annotated[float, Field(ge=0, le=1, strict=True)] = 0.1
    guard_changes: StrictBool = False
    description: Annotated[str, Field(max_length=1000)] = ""
    csv: CsvIn = CsvIn()


def _require(request: Request, area: Area, write: bool, *actions: Action) -> Caller:
    """The caller, when its key has the area or the staff member may do one of ``actions``."""
    return require_any(deps.caller(request, area, write), *actions)


def _profile(code: str, institution: str, body: SisProfileIn) -> Profile:
    return Profile(
        code=code,
        institution=institution,
        record_type=body.record_type,
        match_id_type=body.match_id_type,
        add_unmatched=body.add_unmatched,
        default_user_group=body.default_user_group,
        expiry_days=body.expiry_days,
        purge_days=body.purge_days,
        field_rules={k: FieldRule(v) for k, v in body.field_rules.items()},
        missing_policy=MissingPolicy(body.missing_policy),
        guard_share=body.guard_share,
        guard_changes=body.guard_changes,
        description=body.description,
        csv=CsvOptions(
            dict(body.csv.columns),
            body.csv.delimiter,
            body.csv.encoding,
            body.csv.date_format,
            body.csv.multi_separator,
            body.csv.missing_columns,
        ),
    )


def _run_link(request: Request, run_id: int | None) -> str:
    return f"{deps.base_url(request)}/bookplate/v1/sis/runs/{run_id}"


def _run_out(request: Request, report: Report) -> dict[str, Any]:
    return {**report.to_dict(), "link": _run_link(request, report.run_id)}


def _item_out(item: ItemRow) -> dict[str, Any]:
    return item.to_dict()


# -- profiles ------------------------------------------------------------------------------


@router.get("/profiles", summary="Users integration profiles")
def list_profiles(request: Request) -> Response:
    who = _require(request, Area.CONFIGURATION, False, Action.MANAGE_INTEGRATIONS, Action.RUN_SIS)
    profiles = deps.container(request).sis.profiles(who.institution)
    return JSONResponse({"profile": [p.to_dict() for p in profiles]})


@router.get("/profiles/{code}", summary="A users integration profile")
def get_profile(request: Request, code: Code) -> Response:
    who = _require(request, Area.CONFIGURATION, False, Action.MANAGE_INTEGRATIONS, Action.RUN_SIS)
    return JSONResponse(deps.container(request).sis.profile(who.institution, code).to_dict())


@router.put("/profiles/{code}", summary="Create or replace a users integration profile")
async def put_profile(
    request: Request, code: Code, body: Annotated[SisProfileIn, Body()]
) -> Response:
    who = _require(request, Area.CONFIGURATION, True, Action.MANAGE_INTEGRATIONS)
    sis = deps.container(request).sis
    profile = _profile(code, who.institution, body)

    def save() -> bool:
        if sis.store.get_profile(who.institution, code) is None:
            sis.create_profile(profile, who.who)
            return True
        sis.update_profile(profile, who.who)
        return False

    created = await run_in_threadpool(save)
    return JSONResponse(profile.to_dict(), 201 if created else 200)


@router.delete("/profiles/{code}", status_code=204, summary="Delete a users integration profile")
def delete_profile(request: Request, code: Code) -> Response:
    who = _require(request, Area.CONFIGURATION, True, Action.MANAGE_INTEGRATIONS)
    deps.container(request).sis.delete_profile(who.institution, code, who.who)
    return Response(status_code=204)


# -- runs ----------------------------------------------------------------------------------


@router.post(
    "/profiles/{code}/runs",
    status_code=202,
    summary="Upload a file (zip, XML or CSV) and queue a run of it",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                # application/zip too; declared as octet-stream, which clients can send
                for media in ("application/octet-stream", "application/xml", "text/csv")
            },
        }
    },
)
async def start_run(
    request: Request,
    code: Code,
    dry_run: bool = False,
    import_only: bool = False,
    filename: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
) -> Response:
    who = _require(request, Area.USERS, True, Action.RUN_SIS)
    c = deps.container(request)
    await run_in_threadpool(c.sis.profile, who.institution, code)  # before reading the body
    limit = c.settings.sis_max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(limit)
    jobs = c.sis_jobs
    handle, path = jobs.spool_file()
    try:
        size = 0
        with handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(limit)
                handle.write(chunk)
        kind = await run_in_threadpool(
            check_upload, path, kind_of(request.headers.get("content-type"), filename)
        )
        report = await run_in_threadpool(
            lambda: jobs.create(
                who.institution,
                code,
                path,
                mode=Mode.IMPORT if import_only else Mode.SYNCHRONIZE,
                dry_run=dry_run,
                actor=who.who,
                source_name=filename or f"upload.{kind}",
                kind=kind,
                move=True,
            )
        )
    except BaseException:
        with suppress(OSError):
            path.unlink()
        raise
    await run_in_threadpool(jobs.submit, report)
    return JSONResponse(
        _run_out(request, report), 202, headers={"Location": _run_link(request, report.run_id)}
    )


def _own_run(request: Request, run_id: int) -> tuple[Caller, Report]:
    who = _require(request, Area.USERS, False, Action.RUN_SIS)
    report = deps.container(request).sis.report(run_id)
    if report.institution != who.institution:
        raise RunNotFound(run_id)
    return who, report


@router.get("/runs", summary="The latest runs, newest first")
def list_runs(
    request: Request,
    profile: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> Response:
    who = _require(request, Area.USERS, False, Action.RUN_SIS)
    c = deps.container(request)
    # A look at the runs shows a run whose owning process died as interrupted (sis.jobs).
    runs = c.sis_jobs.refresh(c.sis.runs(who.institution, profile, limit))
    return JSONResponse({"run": [_run_out(request, r) for r in runs]})


@router.get("/runs/{run_id}", summary="A run: status and counts")
def get_run(request: Request, run_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    _, report = _own_run(request, run_id)
    (report,) = deps.container(request).sis_jobs.refresh([report])
    return JSONResponse(_run_out(request, report))


@router.post(
    "/runs/{run_id}/requeue",
    status_code=202,
    summary="Queue again a run a crash interrupted (pending, running or interrupted)",
)
def requeue_run(request: Request, run_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    _own_run(request, run_id)
    _require(request, Area.USERS, True, Action.RUN_SIS)
    report = deps.container(request).sis_jobs.requeue(run_id)
    return JSONResponse(
        _run_out(request, report), 202, headers={"Location": _run_link(request, run_id)}
    )


@router.get("/runs/{run_id}/items", summary="A run's report lists")
def run_items(
    request: Request,
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    kind: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    bucket = None
    if kind is not None:
        bucket = KIND_ALIASES.get(kind)
        if bucket is None:
            raise InvalidParameterValue("kind", kind)
    _own_run(request, run_id)
    items = deps.container(request).sis.items(run_id, bucket, offset, limit)
    return JSONResponse(
        {
            "run_id": run_id,
            "kind": bucket,
            "offset": offset,
            "limit": limit,
            "item": [_item_out(i) for i in items],
        }
    )
