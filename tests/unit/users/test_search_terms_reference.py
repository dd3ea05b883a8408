"""``fold``, ``words`` and ``search_terms`` give what their first, plain versions gave.

The versions in ``users.queries`` take short cuts (ASCII text, bounded caches, one list of
candidates); the plain versions below are kept as the reference they must agree with.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bookplate.users.model import Note, User, normalise_id
from bookplate.users.queries import digits, fold, search_terms, words

_WORD = re.compile(r"[\w*]+", re.UNICODE)


def reference_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def reference_words(text: str | None) -> set[str]:
    if not text:
        return set()
    return {reference_fold(w) for w in _WORD.findall(text.replace("*", " "))}


def reference_search_terms(user: User) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()

    def add(field_name: str, terms: set[str]) -> None:
        out.update((field_name, t[:200]) for t in terms if t)

    add("primary_id", {normalise_id(user.primary_id)})
    add("first_name", reference_words(user.first_name) | reference_words(user.pref_first_name))
    add("last_name", reference_words(user.last_name) | reference_words(user.pref_last_name))
    add("middle_name", reference_words(user.middle_name) | reference_words(user.pref_middle_name))
    add(
        "email",
        {normalise_id(e.email_address) for e in user.contact_info.emails if e.email_address},
    )
    add("phone_number", {digits(p.phone_number) for p in user.contact_info.phones})
    add("job_category", {reference_fold(user.job_category)} if user.job_category else set())
    add("identifiers", {normalise_id(i.value) for i in user.identifiers if i.value})
    add("birth_date", {user.birth_date.isoformat()} if user.birth_date else set())
    add("user_group", {reference_fold(user.user_group)} if user.user_group else set())
    add("campus_code", {reference_fold(user.campus_code)} if user.campus_code else set())
    add("block_type", {reference_fold(b.block_type) for b in user.blocks if b.block_type})
    add("id_type", {reference_fold(i.id_type) for i in user.identifiers if i.id_type})
    for note in user.notes:
        add("note_text", reference_words(note.note_text))
        if note.note_type:
            add("note_type", {reference_fold(note.note_type)})
    add(
        "role_type",
        {
            r.role_type
            for r in user.roles
            if r.role_type and (r.status or "ACTIVE").upper() == "ACTIVE"
        },
    )
    add(
        "statistic_category",
        {reference_fold(s.statistic_category) for s in user.statistics if s.statistic_category},
    )
    return out


# Names as a library holds them: ASCII, accented Latin, other scripts, combining marks,
# compatibility forms (ligatures, full-width letters), and anything else text may be.
_NAMEY = st.sampled_from(
    [
        "Zoë",
        "Müller",
        "ÅSA",
        "Straße",
        "ﬁona",
        "\uff2d\uff41\uff52\uff59",
        "İlker",
        "Ωmega",
        "e\u0301",
        "O'Brien",
    ]
)
_TEXT = st.one_of(st.text(max_size=30), st.text("aAzZ09 _-*'.ÉéßİıΣς\u0301\u0308", max_size=30))
_WORDS = st.lists(st.one_of(_NAMEY, _TEXT), max_size=4).map(" ".join)


@given(st.one_of(_TEXT, _NAMEY, _WORDS))
def test_fold_and_words_agree_with_the_reference(text: str) -> None:
    assert fold(text) == reference_fold(text)
    assert fold(text) == reference_fold(text)  # again: now from the cache
    assert words(text) == reference_words(text)
    assert words(text) == reference_words(text)


def test_words_of_nothing_is_an_empty_set_a_caller_may_change() -> None:
    assert words(None) == set() and words("") == set()
    mine = words("Mary Ann")
    mine.add("x")  # the cached words stay as they were
    assert words("Mary Ann") == {"mary", "ann"}


@settings(max_examples=300)
@given(st.from_type(User))
def test_search_terms_agree_with_the_reference(user: User) -> None:
    assert search_terms(user) == reference_search_terms(user)


@given(
    first=_WORDS,
    last=_WORDS,
    pref=st.none() | _WORDS,
    note=st.none() | _WORDS,
    group=st.none() | _NAMEY | _TEXT,
)
def test_search_terms_of_name_like_users_agree_with_the_reference(
    first: str, last: str, pref: str | None, note: str | None, group: str | None
) -> None:
    user = User(
        primary_id=first,
        first_name=first,
        last_name=last,
        pref_last_name=pref,
        user_group=group,
        job_category=group,
        notes=[Note(note_type=group, note_text=note)],
    )
    assert search_terms(user) == reference_search_terms(user)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=65, max_size=400))
def test_long_texts_agree_and_stay_out_of_the_caches(text: str) -> None:
    """Texts longer than the cached length are worked out each time: the same answer, and a
    sync of long unique notes cannot fill the caches (a second call is no cache hit)."""
    from bookplate.users import queries

    assert words(text) == reference_words(text)
    assert fold(text) == reference_fold(text)
    hits = queries._short_words.cache_info().hits
    queries._words(text)
    assert queries._short_words.cache_info().hits == hits
    hits = queries._fold_short.cache_info().hits
    fold(text)
    assert queries._fold_short.cache_info().hits == hits
