"""The sign-in profile form: one input per setting of the method's profile (the settings the
CLI's JSON has, described by ``auth.profiles.settings_of``), read back into that JSON.

Scalars are inputs, checkboxes and selectors; lists of strings are text areas with one value a
line; nested settings (LDAP servers, the just-in-time mapping) are text areas holding the same
JSON as the CLI's file. Secrets are password inputs that are never filled in: left empty, the
stored secret stays; "Remove" clears an optional one. Nothing here decides what is valid: the
service checks the result like the CLI's file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData

from bookplate.auth.errors import ProfileInvalid
from bookplate.web.staff.common import field

if TYPE_CHECKING:  # auth.profiles loads the protocol libraries: only when a page is used
    from bookplate.auth.profiles import Setting

#: ``auth.profiles.LABEL_KEY`` and ``ENABLED_KEY`` (not imported, as above).
LABEL_KEY = "label"
ENABLED_KEY = "enabled"

PREFIX = "s_"
#: The longest value of one setting (inline IdP metadata is the big one).
MAX_VALUE = 400_000
_LINE_BREAKS = {"\n", "\r", "\t"}


@dataclass(frozen=True, slots=True)
class Row:
    """One setting as the form shows it."""

    setting: Setting
    input_name: str
    value: str  # what the input holds ("" for a secret)
    checked: bool
    is_set: bool  # a secret that is stored


def _shown(setting: Setting, value: Any) -> str:
    if value is None:
        return ""
    if setting.kind == "lines":
        return "\n".join(str(v) for v in value)
    if setting.kind == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if setting.kind == "bool":
        return ""
    return str(value)


def rows(settings: list[Setting], config: dict[str, Any], secrets_set: frozenset[str],
         sent: FormData | None = None) -> list[Row]:
    """The form's rows: from the stored ``config``, or from the form ``sent`` back (after a
    refusal: what the person typed stays, secrets excepted)."""
    out = []
    for s in settings:
        name = PREFIX + s.name
        if sent is not None:
            raw = sent.get(name)
            text = raw if isinstance(raw, str) and s.kind != "secret" else ""
            checked = bool(sent.get(name))
        else:
            value = config.get(s.name, s.default)
            text = "" if s.kind == "secret" else _shown(s, value)
            checked = bool(value) if s.kind == "bool" else False
        out.append(Row(s, name, text, checked, s.name in secrets_set))
    return out


def _text(form: FormData, name: str, multiline: bool) -> str:
    value = field(form, name, MAX_VALUE)
    allowed = _LINE_BREAKS if multiline else set()
    if any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in value):
        raise ProfileInvalid(f"{name.removeprefix(PREFIX)} contains control characters.")
    return value


def _number(setting: Setting, text: str) -> int | float:
    try:
        return int(text) if setting.kind == "int" else float(text)
    except ValueError:
        kind = "a whole number" if setting.kind == "int" else "a number"
        raise ProfileInvalid(f"{setting.name} must be {kind}.") from None


def _value(setting: Setting, form: FormData) -> tuple[bool, Any]:
    """(given, value) of one setting; not given: the profile's default (or, for a secret,
    the stored one)."""
    name = PREFIX + setting.name
    if setting.kind == "bool":
        return True, bool(form.get(name))
    if setting.kind == "secret" and form.get(f"clear_{setting.name}"):
        return True, None
    text = _text(form, name, setting.kind in ("lines", "json"))
    if not text:
        return (True, None) if setting.optional and setting.kind != "secret" else (False, None)
    if setting.kind in ("int", "float"):
        return True, _number(setting, text)
    if setting.kind == "choice":
        for choice in setting.choices:
            if str(choice) == text:
                return True, choice
        raise ProfileInvalid(f"{setting.name} must be one of "
                             f"{', '.join(str(c) for c in setting.choices)}.")
    if setting.kind == "lines":
        return True, [line.strip() for line in text.splitlines() if line.strip()]
    if setting.kind == "json":
        try:
            return True, json.loads(text)
        except ValueError as exc:
            raise ProfileInvalid(f"{setting.name} is not valid JSON ({exc}).") from None
    return True, text


def config_from(settings: list[Setting], form: FormData) -> dict[str, Any]:
    """The profile's JSON, as the CLI's file would hold it, from the posted form."""
    config: dict[str, Any] = {}
    for setting in settings:
        given, value = _value(setting, form)
        if given:
            config[setting.name] = value
    label = _text(form, LABEL_KEY, False)
    if label:
        config[LABEL_KEY] = label
    config[ENABLED_KEY] = bool(form.get(ENABLED_KEY))
    return config
