"""The standard code lists a new institution starts with: every ISO 3166-1 country (alpha-3,
the form Alma stores in ``address.country``) and every ISO 639-1 language (the two-letter
codes Alma uses for ``preferred_language``), taken from pycountry, which follows the ISO
registries. ``bookplate codes standard INST`` adds what an older institution lacks.
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

from bookplate.users.defaults import DEFAULT_CODE_TABLES, CodeList
from bookplate.users.errors import STANDARD_TABLE_NAMES

COUNTRY_TABLE = "CountryCodes"
LANGUAGE_TABLE = "UserPreferredLanguage"
STANDARD_TABLES = tuple(sorted(STANDARD_TABLE_NAMES))


def _countries() -> CodeList:
    rows = [(c.alpha_3, c.name) for c in pycountry.countries]
    return tuple(sorted(rows, key=lambda r: r[1]))


def _languages() -> CodeList:
    rows = [
        (lang.alpha_2, lang.name)
        for lang in pycountry.languages
        if getattr(lang, "alpha_2", None)
    ]
    return tuple(sorted(rows, key=lambda r: r[1]))


def _after_defaults(table: str, full: CodeList) -> CodeList:
    """The hand-picked defaults first (their order is what staff see at the top of a list),
    then every other standard code."""
    first = DEFAULT_CODE_TABLES.get(table, ())
    seen = {code for code, _ in first}
    return first + tuple(row for row in full if row[0] not in seen)


@lru_cache(maxsize=1)
def standard_tables() -> dict[str, CodeList]:
    """CountryCodes and UserPreferredLanguage, complete."""
    return {
        COUNTRY_TABLE: _after_defaults(COUNTRY_TABLE, _countries()),
        LANGUAGE_TABLE: _after_defaults(LANGUAGE_TABLE, _languages()),
    }


def new_institution_tables() -> dict[str, CodeList]:
    """Every default code table, with the standard ones complete."""
    return {**DEFAULT_CODE_TABLES, **standard_tables()}
