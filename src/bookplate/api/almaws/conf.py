"""``/almaws/v1/conf/code-tables/{name}``: the code tables, read-only (Configuration area)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bookplate.api import deps
from bookplate.api.negotiation import wants_json
from bookplate.api.wire import code_table_response
from bookplate.keys.model import Area
from bookplate.users.errors import CodeTableNotFound

router = APIRouter(prefix="/almaws/v1/conf", tags=["Configuration"])


@router.get("/code-tables/{code_table_name}", summary="Retrieve a code table")
def get_code_table(request: Request, code_table_name: str) -> Response:
    key = deps.require_key(request, Area.CONFIGURATION, write=False)
    c = deps.container(request)
    with c.uow_factory() as uow:
        names = uow.codes.table_names(key.institution)
        if code_table_name not in names:
            raise CodeTableNotFound(code_table_name)
        rows = uow.codes.rows(key.institution, code_table_name)
    return code_table_response(code_table_name, code_table_name, rows, wants_json(request))
