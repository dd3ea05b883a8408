"""PostgreSQL's search terms on the user row: ``users.search_terms`` (issue 20).

On PostgreSQL every ``(field, term)`` of ``users.queries.search_terms`` is one element
``code:term`` of the ``text[]`` column ``users.search_terms``, written with the row itself;
the GIN index ``ix_users_search_terms`` on ``array_to_tsvector(search_terms)`` answers exact
and prefix matches of those elements (a ``tsquery`` lexeme, ``:*`` for a prefix). ``code`` is
the field's letter of ``FIELD_CODES`` (a field without one, added later, is written by its
name: longer, never the same as a letter) and holds no ``:``, so ``code:`` starts exactly the
elements of one field, and a prefix of ``code:term`` is a prefix of the term within that field.

The letters keep the vector small: a record may hold 256 KiB of text
(``users.validation.MAX_RECORD_TEXT_BYTES``), and a ``tsvector`` at most 1 MiB of lexemes;
with a two-byte ``code:`` a record of short distinct words stays well under that, where
``note_text:`` before every word could pass it. Stored data depends on the letters: never
change one (migration 0020 writes the same ones).

``user_terms`` keeps, on PostgreSQL, only the rows of the name fields
(``rows.ORDERED_TERM_FIELDS``): they carry the user's ``order_key``, from which a name search
reads its page of the default order. A search whose conditions name only those fields is
answered from them as before; any other goes through the vector. SQLite keeps every term as
a row of ``user_terms`` and leaves ``search_terms`` NULL.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Dialect, Text, cast, func, literal
from sqlalchemy.dialects.postgresql import TSQUERY

from bookplate.storage import tables as t
from bookplate.users.queries import Condition, Term

SEPARATOR = ":"
# One letter a search field (``users.queries.SEARCH_FIELDS`` and ``role_type``).
FIELD_CODES: dict[str, str] = {
    "primary_id": "p",
    "first_name": "f",
    "middle_name": "m",
    "last_name": "l",
    "job_category": "j",
    "user_group": "g",
    "campus_code": "c",
    "birth_date": "b",
    "email": "e",
    "phone_number": "t",
    "id_type": "y",
    "identifiers": "i",
    "block_type": "k",
    "note_type": "o",
    "note_text": "n",
    "statistic_category": "s",
    "role_type": "r",
}


def _prefix(field: str) -> str:
    return FIELD_CODES.get(field, field) + SEPARATOR


def on_vector(dialect: Dialect) -> bool:
    """Whether this database keeps the terms on the user row (PostgreSQL)."""
    return dialect.name == "postgresql"


def lexemes(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The ``search_terms`` elements of a user's ``(field, term)`` pairs, sorted (one order
    for the same terms, so an unchanged user writes an equal array)."""
    return sorted(_prefix(field) + term for field, term in pairs)


def _quoted(text: str) -> str:
    """``text`` as one quoted ``tsquery`` lexeme: inside the quotes a backslash escapes the
    next character and a quote is doubled; nothing else is read as syntax."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _operand(fields: Iterable[str], term: Term) -> str:
    suffix = ":*" if term.prefix else ""
    parts = [_quoted(_prefix(f) + term.text) + suffix for f in fields]
    return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


def tsquery_text(conditions: Iterable[Condition]) -> str:
    """The query of every term of every condition (AND), each term in one of its condition's
    fields (OR), in ``tsquery`` input syntax. Empty when there is no term."""
    return " & ".join(_operand(c.fields, term) for c in conditions for term in c.terms)


def vector_match(conditions: Iterable[Condition]) -> ColumnElement[bool] | None:
    """``users.search_terms`` has every term (None when there is none), as the expression of
    the GIN index so that the index answers it."""
    query = tsquery_text(conditions)
    if not query:
        return None
    vector = func.array_to_tsvector(t.users.c.search_terms)
    # The query's text is a bound parameter: the terms never become SQL.
    match: ColumnElement[bool] = vector.bool_op("@@")(cast(literal(query, Text()), TSQUERY))
    return match
