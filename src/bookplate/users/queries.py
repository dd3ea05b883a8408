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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from bookplate.users.errors import InvalidParameter
from bookplate.users.model import User, normalise_id
from bookplate.users.shape import USER, Kind, Record, Search, SearchAs, walk

# Fields a condition may name (SPEC section 2.5): the ``search`` of the record's declaration
# (``users.shape``), in its order.
_SEARCHES: tuple[Search, ...] = tuple(s for _, f in walk() for s in f.search)
SEARCH_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(s.name for s in _SEARCHES))
WHOLE_VALUE_FIELDS = tuple(s.name for s in _SEARCHES if s.how is SearchAs.WHOLE)
# Coded fields match the whole code, case-insensitively (codes such as UNIV_ID hold underscores).
CODE_FIELDS = tuple(s.name for s in _SEARCHES if s.how is SearchAs.CODE)
# general_info: keywords of every field except emails, birth date and identifiers.
GENERAL_INFO_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(s.name for s in _SEARCHES if s.general)
)
_HOW = {s.name: s.how for s in _SEARCHES}  # one way per condition name (checked by a test)
ORDER_BY = ("last_name", "first_name", "primary_id")
# The fields a staff search box looks a name up in (preferred names are indexed under these).
NAME_FIELDS = ("first_name", "last_name", "middle_name")
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


def _iso(value: date) -> str:
    return value.isoformat()


# How one value gives its term (None: the value's words give one term each).
_TERM: dict[SearchAs, Callable[[Any], str] | None] = {
    SearchAs.WORDS: None,
    SearchAs.WHOLE: normalise_id,
    SearchAs.CODE: fold,
    SearchAs.DIGITS: digits,
    SearchAs.DATE: _iso,
}


@dataclass(frozen=True, slots=True)
class _Terms:
    """Where the terms of one record come from: its own fields, then its nested records."""

    own: tuple[tuple[str, str, Callable[[Any], str] | None], ...]  # attr, field, term
    nested: tuple[tuple[str, bool, _Terms], ...]  # attr, a list?, the nested record's plan


def _terms_of(record: Record) -> _Terms | None:
    own = tuple(
        (f.target, s.name, _TERM[s.how]) for f in record.fields if f.target for s in f.search
    )
    nested = []
    for f in record.fields:
        sub = _terms_of(f.record) if f.record is not None and f.target else None
        if sub is not None and f.target:
            nested.append((f.target, f.kind is Kind.RECORDS, sub))
    return _Terms(own, tuple(nested)) if own or nested else None


_USER_TERMS = _terms_of(USER)


def _gather(obj: Any, plan: _Terms, found: list[tuple[str, str]]) -> None:
    for attr, name, term in plan.own:
        value = getattr(obj, attr)
        if value:
            if term is None:
                found.extend((name, w) for w in _words(value))
            else:
                found.append((name, term(value)))
    for attr, many, sub in plan.nested:
        value = getattr(obj, attr)
        if many:
            for item in value:
                _gather(item, sub, found)
        else:
            _gather(value, sub, found)


def search_terms(user: User) -> set[tuple[str, str]]:
    """Every ``(field, term)`` under which ``user`` is found: the fields the declaration
    marks ``search`` (``users.shape``), and the holders of active roles."""
    # Built as one list of candidates and filtered once (empty terms dropped, long ones cut):
    # this runs for every user a sync writes, so it avoids a set and a call per term.
    found: list[tuple[str, str]] = []
    if _USER_TERMS is not None:
        _gather(user, _USER_TERMS, found)
    # Not searchable with q: lets the roles area find holders of a role (e.g. the last admin).
    found.extend(
        ("role_type", r.role_type)
        for r in user.roles
        if r.role_type and (r.status or "ACTIVE").upper() == "ACTIVE"
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
    how = _HOW.get(field_name)
    if how is SearchAs.WHOLE:
        # Whole-value fields keep their underscores: IDs and emails contain them.
        whole = raw_value.strip().strip('"')
        prefix = whole.endswith("*")
        text = normalise_id(whole.rstrip("*"))
        terms: tuple[Term, ...] = (Term(text, prefix),) if text else ()
    elif how is SearchAs.CODE:
        code = fold(raw_value.strip().strip('"'))
        terms = (Term(code.rstrip("*"), code.endswith("*")),) if code.rstrip("*") else ()
    elif how is SearchAs.DIGITS:
        terms = (Term(digits(value), value.endswith("*")),) if digits(value) else ()
    elif how is SearchAs.DATE:
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
