"""External sign-in profiles (LDAP, SAML, CAS, OIDC, ...) as stored configuration.

A profile is its method's own dataclass (``LdapProfile``, ``SamlProfile``, ``CasProfile``,
``OidcProfile``, each with its :class:`~bookplate.auth.model.UserMapping`), named by the
backend registration (``auth/backends/__init__.py``); it is stored as JSON
(:func:`to_config`) and rebuilt, checked field by field against the dataclass's type hints, by
:func:`from_config`. Secrets (each backend's ``secret_settings``: the LDAP service password,
the OIDC client secret) are never shown back: :func:`public_config` masks them.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Union

from bookplate.auth.backends import PASSWORD_BACKENDS, REDIRECT_BACKENDS
from bookplate.auth.errors import ProfileInvalid
from bookplate.auth.model import Method
from bookplate.auth.ports import PasswordBackendType, RedirectBackendType

#: A profile of any method (the backend's dataclass; see ``ports.SignInProfile``).
Profile = Any
_TYPES: list[PasswordBackendType | RedirectBackendType] = [*PASSWORD_BACKENDS,
                                                            *REDIRECT_BACKENDS]
PROFILE_TYPES: dict[Method, type[Any]] = {b.method: b.profile_type for b in _TYPES}
#: Settings never printed back (CLI ``list``, logs).
SECRETS = frozenset(name for b in _TYPES for name in b.secret_settings)
MASK = "********"
CODE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
LABEL_KEY = "label"
#: Stored beside the settings: False takes the profile off the login page (kept, testable).
ENABLED_KEY = "enabled"


# --- configuration <-> dataclasses ------------------------------------------------------------


def _coerce(value: Any, hint: Any, where: str) -> Any:  # noqa: PLR0911, PLR0912 - one case per type
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is typing.Literal:
        if value not in args:
            raise ProfileInvalid(f"{where} must be one of {', '.join(map(repr, args))}.")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ProfileInvalid(f"{where} must be a list.")
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ProfileInvalid(f"{where} must be an object of strings.")
        return dict(value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise ProfileInvalid(f"{where} must be an object.")
        return _build(hint, value, where)
    if hint is bool:
        if not isinstance(value, bool):
            raise ProfileInvalid(f"{where} must be true or false.")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileInvalid(f"{where} must be a whole number.")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProfileInvalid(f"{where} must be a number.")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or len(value) > 200_000:
            raise ProfileInvalid(f"{where} must be a string.")
        return value
    raise ProfileInvalid(f"{where}: unsupported setting type.")


def _build(cls: type[Any], values: Mapping[str, Any], where: str,
           fixed: Mapping[str, Any] | None = None) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    fixed = fixed or {}
    unknown = sorted(set(values) - (names - set(fixed)))
    if unknown:
        raise ProfileInvalid(f"{where}: unknown setting(s) {', '.join(unknown)}.")
    kwargs = {name: _coerce(v, hints[name], f"{where}.{name}" if where else name)
              for name, v in values.items()}
    try:
        return cls(**kwargs, **fixed)
    except TypeError as exc:
        missing = re.findall(r"'(\w+)'", str(exc))
        raise ProfileInvalid(f"{where or cls.__name__}: missing setting(s) "
                             f"{', '.join(missing) or str(exc)}.") from exc


def from_config(method: Method, institution: str, code: str, config: Mapping[str, Any]
                ) -> Profile:
    """Rebuild (and check) a profile from its stored configuration."""
    if not CODE.fullmatch(code or ""):
        raise ProfileInvalid("A profile code is 1 to 64 letters, digits, '-' or '_'.")
    if not isinstance(config, Mapping):
        raise ProfileInvalid("The configuration must be a JSON object.")
    values = {k: v for k, v in config.items() if k not in (LABEL_KEY, ENABLED_KEY)}
    profile: Profile = _build(PROFILE_TYPES[method], values, "",
                              {"institution": institution, "code": code})
    return profile


def to_config(profile: Profile) -> dict[str, Any]:
    """The JSON stored for a profile (institution and code are the row's key)."""
    data = dataclasses.asdict(profile)
    data.pop("institution", None)
    data.pop("code", None)
    return typing.cast(dict[str, Any], _plain(data))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def public_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with secrets masked (for listing and logs)."""
    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (MASK if k in SECRETS and v else mask(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        return value
    return typing.cast(dict[str, Any], mask(dict(config)))


# --- the settings of each method, described for a form ------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One setting of a method's profile as a form shows it. ``kind``: ``text``, ``secret``
    (write-only), ``bool``, ``int``, ``float``, ``choice`` (``choices``), ``lines`` (a list
    of strings, one a line) or ``json`` (a nested object or list, as the CLI's JSON)."""

    name: str
    kind: str
    required: bool
    optional: bool  # None is a value (left empty: None)
    default: Any
    choices: tuple[Any, ...] = ()


def _kind(hint: Any) -> tuple[str, bool, tuple[Any, ...]]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        kind, _, choices = _kind(inner[0])
        return kind, True, choices
    if origin is typing.Literal:
        return "choice", False, args
    if origin is tuple:
        return ("lines" if args and args[0] is str else "json"), False, ()
    simple = {bool: "bool", int: "int", float: "float", str: "text"}
    if isinstance(hint, type) and hint in simple:
        return simple[hint], False, ()
    return "json", False, ()


def settings_of(method: Method) -> list[Setting]:
    """The settings of a method's profile, in the dataclass's order (``institution`` and
    ``code`` are the row's key, not settings)."""
    cls = PROFILE_TYPES[method]
    hints = typing.get_type_hints(cls)
    out: list[Setting] = []
    for f in dataclasses.fields(cls):
        if f.name in ("institution", "code"):
            continue
        kind, optional, choices = _kind(hints[f.name])
        if f.name in SECRETS:
            kind = "secret"
        required = f.default is dataclasses.MISSING and \
            f.default_factory is dataclasses.MISSING
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            default = dataclasses.asdict(default)
        out.append(Setting(f.name, kind, required, optional, _plain(default), choices))
    return out
