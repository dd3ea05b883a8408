"""Checks of the roles a user holds against the catalogue and the institution's libraries."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from bookplate.roles.model import MAX_ROLES_PER_USER, ROLE_TYPES, Library, Parameter, ScopeKind
from bookplate.users.errors import InvalidCode, InvalidFieldValue, MandatoryFieldMissing
from bookplate.users.model import User
from bookplate.users.validation import check_plain_text

#: Longest text a roles configuration value (a name, a code, a desk) may hold.
MAX_CONFIG_TEXT = 255


def _config_strings(obj: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, str):
        yield path, obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _config_strings(getattr(obj, f.name), f"{path}.{f.name}")
    elif isinstance(obj, tuple | list | frozenset | set):
        for item in obj:
            yield from _config_strings(item, path)


def check_config_text(item: object, what: str) -> None:
    """Every text of a profile, rule, library or restricted-account setting meets the Users
    API's rule (no control characters, at most 255 characters): whichever path sends it."""
    for path, value in _config_strings(item, what):
        check_plain_text(path, value, MAX_CONFIG_TEXT)


def check_roles(user: User, institution: str, libraries: Mapping[str, Library]) -> None:
    """Unknown role types, scopes, desks and parameters are refused (401864 / 40166404)."""
    if len(user.roles) > MAX_ROLES_PER_USER:
        raise InvalidFieldValue(
            "user_role", f"{len(user.roles)} roles", f"at most {MAX_ROLES_PER_USER} roles per user"
        )
    for role in user.roles:
        if not role.role_type:
            raise MandatoryFieldMissing("user_role.role_type")
        role_type = ROLE_TYPES.get(role.role_type)
        if role_type is None:
            raise InvalidCode("role", role.role_type)
        scope = role.scope or institution
        is_institution = scope == institution
        if role_type.scope is ScopeKind.INSTITUTION and not is_institution:
            raise InvalidCode("scope", scope)
        if role_type.scope is ScopeKind.LIBRARY and scope not in libraries:
            raise InvalidCode("scope", scope)
        if role_type.scope is ScopeKind.EITHER and not is_institution and scope not in libraries:
            raise InvalidCode("scope", scope)
        for param in role.parameters:
            if role_type.parameter is None:
                raise InvalidFieldValue(
                    "user_role.parameter",
                    param.type or "",
                    f"role {role_type.code} takes no parameters",
                )
            if param.type != role_type.parameter.value:
                raise InvalidCode("parameter", param.type or "")
            if role_type.parameter is Parameter.CIRCULATION_DESK:
                library = libraries.get(param.scope or scope)
                if library is None or (param.value or "") not in library.desks:
                    raise InvalidCode("circulation desk", param.value or "")
            elif not param.value:
                raise MandatoryFieldMissing("user_role.parameter.value")
