"""``/almaws/v1/conf``: code tables, libraries and circulation desks, read-only (Configuration
area), in Alma's shapes (``bookplate.alma.configuration``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from fastapi import APIRouter, Request
from starlette.responses import Response

from bookplate.alma import configuration as conf_docs
from bookplate.api import deps
from bookplate.api.negotiation import JSON, XML, wants_json
from bookplate.api.wire import code_table_response
from bookplate.keys.model import Area
from bookplate.roles.errors import LibraryNotFound
from bookplate.users.errors import CodeTableNotFound

router = APIRouter(prefix="/almaws/v1/conf", tags=["Configuration"])
_C = TypeVar("_C")


def _base(request: Request) -> str:
    return f"{deps.base_url(request)}/almaws/v1"


def _answer(request: Request, content: _C, to_json: Callable[[_C, str], bytes],
            to_xml: Callable[[_C, str], bytes]) -> Response:
    """``content`` written by the codec in the format the caller asked for, its links under
    this base."""
    write = to_json if wants_json(request) else to_xml
    return Response(write(content, _base(request)), media_type=JSON if write is to_json else XML)


@router.get("/code-tables", summary="Retrieve the list of code tables")
def list_code_tables(request: Request) -> Response:
    key = deps.require_key(request, Area.CONFIGURATION, write=False)
    c = deps.container(request)
    with c.uow_factory() as uow:
        described = uow.codes.descriptions(key.institution)
        names = [(n, described.get(n, n)) for n in uow.codes.table_names(key.institution)]
    return _answer(request, names, conf_docs.code_table_list_to_json,
                   conf_docs.code_table_list_to_xml)


@router.get("/code-tables/{code_table_name}", summary="Retrieve a code table")
def get_code_table(request: Request, code_table_name: str) -> Response:
    key = deps.require_key(request, Area.CONFIGURATION, write=False)
    c = deps.container(request)
    with c.uow_factory() as uow:
        names = uow.codes.table_names(key.institution)
        if code_table_name not in names:
            raise CodeTableNotFound(code_table_name)
        rows = uow.codes.rows(key.institution, code_table_name)
        description = uow.codes.descriptions(key.institution).get(code_table_name)
    return code_table_response(
        code_table_name, description or code_table_name, rows, wants_json(request)
    )


@router.get("/libraries", summary="Retrieve the libraries")
def list_libraries(request: Request) -> Response:
    key = deps.require_key(request, Area.CONFIGURATION, write=False)
    libraries = deps.container(request).roles.config(key.institution).libraries
    # A disabled library is left out, as Alma leaves out a deleted one.
    docs = [
        conf_docs.LibraryDoc(lib.code, lib.name, lib.description)
        for _, lib in sorted(libraries.items())
        if lib.enabled
    ]
    return _answer(request, docs, conf_docs.libraries_to_json, conf_docs.libraries_to_xml)


@router.get("/libraries/{library_code}/circ-desks", summary="Retrieve the circulation desks")
def list_circ_desks(request: Request, library_code: str) -> Response:
    key = deps.require_key(request, Area.CONFIGURATION, write=False)
    library = deps.container(request).roles.config(key.institution).libraries.get(library_code)
    if library is None or not library.enabled:
        raise LibraryNotFound(library_code)
    desks = [conf_docs.DeskDoc(d.code, d.name) for d in library.all_desks() if d.enabled]
    return _answer(request, desks, partial(conf_docs.desks_to_json, library.code),
                   partial(conf_docs.desks_to_xml, library.code))
