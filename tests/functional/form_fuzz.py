"""Fuzzing the web forms: every ``<form method="post">`` found on the pages, each posted with
huge, NUL, injection and wrong-type values (shared by the staff and patron page tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

# Values no form should choke on: too long for a field, too long for a form, NUL and other
# control characters, SQL and HTML injection, paths, numbers that overflow, dates that do not
# exist, wrong types for checkboxes and indexes, right-to-left override, astral characters.
BAD_VALUES: tuple[str, ...] = (
    "x" * 5000,
    "\x00",
    "a\x00b",
    "\x1b[31m\r\n",
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
    "../../../etc/passwd",
    "-1",
    "99999999999999999999999",
    "1e309",
    "2024-02-30",
    "0000-00-00",
    "maybe",
    " ",
    "\u202egnp.exe",
    "\U0001f600" * 50,
)


@dataclass
class Form:
    action: str
    page: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._current = Form(a.get("action", ""), self.page)
        elif self._current is not None and tag in ("input", "select", "textarea", "button"):
            name = a.get("name")
            if name:
                self._current.fields.setdefault(name, a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._current is not None:
            self.forms.append(self._current)
            self._current = None


def post_forms(client: Any, urls: list[str]) -> list[Form]:
    """The post forms of the pages at ``urls`` (one per distinct action)."""
    seen: dict[str, Form] = {}
    for url in urls:
        page = client.get(url)
        assert page.status_code == 200, (url, page.text[:500])
        parser = _Forms(url)
        parser.feed(page.text)
        for form in parser.forms:
            seen.setdefault(form.action, form)
    return list(seen.values())


def answered_cleanly(r: Any) -> str | None:
    """Why the answer is not clean (None when it is): no 500, no traceback, no echoed raw
    markup, and for a refusal a page with a sentence."""
    if r.status_code >= 500:
        return f"status {r.status_code}"
    body = r.text
    if "Traceback" in body or "Internal Server Error" in body:
        return "traceback"
    if "<script>alert(1)" in body or "<img src=x" in body:
        return "markup echoed unescaped"
    if r.status_code in (400, 403, 404) and 'role="alert"' not in body and \
            'id="refused"' not in body and 'class="error"' not in body:
        return f"status {r.status_code} without a message"
    if r.status_code not in (200, 303, 400, 403, 404):
        return f"status {r.status_code}"
    return None


def fuzz(client: Any, forms: list[Form], csrf: str) -> list[tuple[str, str, str]]:
    """Posts every form once per bad value in all its fields, then once per field with the
    bad value in that field only; also unreadable bodies. Returns the unclean answers."""
    problems: list[tuple[str, str, str]] = []

    def send(action: str, data: dict[str, str] | None = None, **kw: Any) -> None:
        r = client.post(action, data=data, follow_redirects=False, **kw)
        why = answered_cleanly(r)
        if action != "/auth/logout" and r.headers.get("location", "").startswith("/auth/login"):
            why = "the session was lost"
        if why:
            problems.append((action, repr(data)[:120] if data else repr(kw)[:120], why))

    # Signing out goes last: the other forms are fuzzed inside the session.
    ordered = sorted(forms, key=lambda f: f.action == "/auth/logout")
    for form in ordered:
        names = [n for n in form.fields if n != "csrf_token"]
        for value in BAD_VALUES:
            send(form.action, {**form.fields, **{n: value for n in names}, "csrf_token": csrf})
        for name in names:
            for value in ("\x00", "x" * 5000, "-1", "<script>alert(1)</script>"):
                send(form.action, {**form.fields, name: value, "csrf_token": csrf})
        # A form too big, bytes that are not UTF-8, a repeated field, a file, no body.
        send(form.action, {**form.fields, "csrf_token": csrf, "pad": "y" * 300_000})
        send(form.action, content=f"csrf_token={csrf}&{names[0] if names else 'x'}=%FF%FE%00"
             .encode(), headers={"content-type": "application/x-www-form-urlencoded"})
        send(form.action, content=f"csrf_token={csrf}&a=1&a=2&a=3".encode(),
             headers={"content-type": "application/x-www-form-urlencoded"})
        send(form.action, data={"csrf_token": csrf}, files={"f": ("a.txt", b"hello")})
        send(form.action, content=b"", headers={"content-type": "text/plain"})
    return problems
