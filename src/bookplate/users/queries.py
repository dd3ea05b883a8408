"""The `q` search language of ``GET /users`` and the search terms a user is indexed under.

Pure: parsing a query and deriving a user's terms need no storage. ``storage`` keeps a table of
``(institution, field, term)`` rows computed by :func:`search_terms` and answers a
:class:`UserSearch` from it.

Decisions (docs/alma-compatibility.md): a condition matches whole words, case-insensitively;
several words in one value must all match; a word ending in ``*`` matches as a prefix; ``_``
and ``+`` count as spaces (clients send both). Emails, identifiers and primary IDs match as
whole values; phone numbers by their digits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from bookplate.users.errors import InvalidParameter
from bookplate.users.model import User, normalise_id

# Fields a condition may name, per SPEC section 2.5.
NAME_FIELDS = ("first_name", "last_name", "middle_name")
WHOLE_VALUE_FIELDS = ("primary_id", "email", "identifiers")
# Coded fields match the whole code, case-insensitively (codes such as UNIV_ID hold underscores).
CODE_FIELDS = (
    "job_category",
    "user_group",
    "campus_code",
    "block_type",
    "id_type",
    "note_type",
    "statistic_category",
)
SEARCH_FIELDS: tuple[str, ...] = (
    "primary_id",
    "first_name",
    "last_name",
    "middle_name",
    "email",
    "phone_number",
    "job_category",
    "identifiers",
    "birth_date",
    "user_group",
    "campus_code",
    "block_type",
    "id_type",
    "note_text",
    "note_type",
    "statistic_category",
)
# general_info: keywords of every field except emails, birth date and identifiers.
GENERAL_INFO_FIELDS: tuple[str, ...] = tuple(
    f for f in SEARCH_FIELDS if f not in ("email", "birth_date", "identifiers")
)
ORDER_BY = ("last_name", "first_name", "primary_id")
MAX_LIMIT = 100
MAX_TERMS = 10

_WORD = re.compile(r"[\w*]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Term:
    """One word to find: exact, or a prefix when ``prefix`` is set."""

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Condition:
    """``field~value``: every term must be found in one of ``fields``."""

    fields: tuple[str, ...]
    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class UserSearch:
    institution: str
    conditions: tuple[Condition, ...] = ()
    modified_from: date | None = None
    order_by: str | None = None  # None: last_name, first_name, primary_id
    limit: int = 10
    offset: int = 0
    source_institution_code: str | None = None
    source_user_id: str | None = None
    # Filters of the staff "find users" page (not part of Alma's q): exact codes, and expiry
    # before (expired) or from (not expired; no expiry date counts as not expired) a day.
    record_type: str | None = None
    status: str | None = None
    user_group: str | None = None
    account_type: str | None = None
    expires_before: date | None = None
    expires_from: date | None = None

    @property
    def filtered(self) -> bool:
        return any(v is not None for v in (
            self.record_type, self.status, self.user_group, self.account_type,
            self.expires_before, self.expires_from))


@dataclass(slots=True)
class SearchResult:
    users: list[User] = field(default_factory=list)
    total: int = 0


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a word."""
    if text.isascii():
        # ASCII is its own NFKD form and has no combining marks; it casefolds as it lowers.
        return text.lower()
    if len(text) <= _CACHED_WORDS:
        return _fold_short(text)
    return _fold_unicode(text)


def _fold_unicode(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str | None) -> set[str]:
    if not text:
        return set()
    return set(_words(text))


# Names, groups and codes repeat a great deal across users: the Unicode work of folding and
# the splitting into words are kept for the most recent distinct texts up to this length.
# Longer texts are worked out each time, so each cache holds at most 65,536 short strings (a
# few MB), whatever the notes of a sync hold.
_CACHED_WORDS = 64


def _words(text: str) -> frozenset[str]:
    if len(text) <= _CACHED_WORDS:
        return _short_words(text)
    return _split_words(text)


def _split_words(text: str) -> frozenset[str]:
    return frozenset(fold(w) for w in _WORD.findall(text.replace("*", " ")))


_short_words = lru_cache(maxsize=65536)(_split_words)
_fold_short = lru_cache(maxsize=65536)(_fold_unicode)


def digits(text: str | None) -> str:
    return "".join(c for c in (text or "") if c.isdigit())


def search_terms(user: User) -> set[tuple[str, str]]:
    """Every ``(field, term)`` under which ``user`` is found."""
    # Built as one list of candidates and filtered once (empty terms dropped, long ones cut):
    # this runs for every user a sync writes, so it avoids a set and a call per field.
    found: list[tuple[str, str]] = [("primary_id", normalise_id(user.primary_id))]
    for field_name, own, preferred in (
        ("first_name", user.first_name, user.pref_first_name),
        ("last_name", user.last_name, user.pref_last_name),
        ("middle_name", user.middle_name, user.pref_middle_name),
    ):
        if own:
            found.extend((field_name, w) for w in _words(own))
        if preferred:
            found.extend((field_name, w) for w in _words(preferred))
    contact = user.contact_info
    found.extend(
        ("email", normalise_id(e.email_address)) for e in contact.emails if e.email_address
    )
    found.extend(("phone_number", digits(p.phone_number)) for p in contact.phones)
    if user.job_category:
        found.append(("job_category", fold(user.job_category)))
    identifiers = user.identifiers
    found.extend(("identifiers", normalise_id(i.value)) for i in identifiers if i.value)
    if user.birth_date:
        found.append(("birth_date", user.birth_date.isoformat()))
    if user.user_group:
        found.append(("user_group", fold(user.user_group)))
    if user.campus_code:
        found.append(("campus_code", fold(user.campus_code)))
    found.extend(("block_type", fold(b.block_type)) for b in user.blocks if b.block_type)
    found.extend(("id_type", fold(i.id_type)) for i in identifiers if i.id_type)
    for note in user.notes:
        if note.note_text:
            found.extend(("note_text", w) for w in _words(note.note_text))
        if note.note_type:
            found.append(("note_type", fold(note.note_type)))
    # Not searchable with q: lets the roles area find holders of a role (e.g. the last admin).
    found.extend(
        ("role_type", r.role_type)
        for r in user.roles
        if r.role_type and (r.status or "ACTIVE").upper() == "ACTIVE"
    )
    found.extend(
        ("statistic_category", fold(s.statistic_category))
        for s in user.statistics
        if s.statistic_category
    )
    return {(f, t[:200]) for f, t in found if t}


def _condition(field_name: str, raw_value: str) -> Condition:
    value = raw_value.replace("_", " ").replace("+", " ").strip().strip('"').strip()
    if field_name == "ALL":
        fields: tuple[str, ...] = SEARCH_FIELDS
    elif field_name == "general_info":
        fields = GENERAL_INFO_FIELDS
    elif field_name in SEARCH_FIELDS:
        fields = (field_name,)
    else:
        raise InvalidParameter("q", field_name)
    if field_name in WHOLE_VALUE_FIELDS:
        # Whole-value fields keep their underscores: IDs and emails contain them.
        whole = raw_value.strip().strip('"')
        prefix = whole.endswith("*")
        text = normalise_id(whole.rstrip("*"))
        terms: tuple[Term, ...] = (Term(text, prefix),) if text else ()
    elif field_name in CODE_FIELDS:
        code = fold(raw_value.strip().strip('"'))
        terms = (Term(code.rstrip("*"), code.endswith("*")),) if code.rstrip("*") else ()
    elif field_name == "phone_number":
        terms = (Term(digits(value), value.endswith("*")),) if digits(value) else ()
    elif field_name == "birth_date":
        terms = (Term(value.removesuffix("Z")),) if value else ()
    else:
        terms = tuple(
            Term(fold(w.rstrip("*")), w.endswith("*"))
            for w in _WORD.findall(value)
            if w.rstrip("*")
        )
    if not terms:
        raise InvalidParameter("q", raw_value)
    return Condition(fields, terms[:MAX_TERMS])


def box_conditions(text: str) -> tuple[Condition, ...]:
    """The staff search box: an e-mail address (it holds ``@``) matches whole (``*`` at the
    end for a prefix); anything else is a name, each word the start of a first, middle or
    last name (``jo smi`` finds Jo Smith and John Smithers), case- and accent-insensitively.
    Exact primary IDs and identifiers are looked up beside this (``users.services``)."""
    text = text.strip()
    if not text:
        return ()
    if "@" in text:
        whole = text.strip('"')
        norm = normalise_id(whole.rstrip("*"))
        return (Condition(("email",), (Term(norm, whole.endswith("*")),)),) if norm else ()
    terms = tuple(Term(fold(w.rstrip("*")), True) for w in _WORD.findall(text) if w.rstrip("*"))
    return (Condition(NAME_FIELDS, terms[:MAX_TERMS]),) if terms else ()


def parse_q(q: str) -> tuple[Condition, ...]:
    """Parse ``field~value [AND field~value ...]``; raises InvalidParameter(q) when malformed."""
    q = q.replace("+AND+", " AND ").strip()
    if not q:
        return ()
    if "\x00" in q:
        raise InvalidParameter("q", q.replace("\x00", "\\x00"))
    parts = re.split(r"\s+AND\s+", q)
    if len(parts) > MAX_TERMS:
        raise InvalidParameter("q", q)
    conditions = []
    for part in parts:
        field_name, sep, value = part.partition("~")
        if not sep:
            raise InvalidParameter("q", part)
        field_name = field_name.strip()
        if field_name == "ALL" and len(parts) > 1:
            raise InvalidParameter("q", q)  # ALL does not combine with AND (SPEC 2.5)
        conditions.append(_condition(field_name, value))
    return tuple(conditions)
