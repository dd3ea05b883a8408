"""The file ``bookplate codes set --file`` reads: ``code,description[,enabled][,default]``
rows, no header; the flags as true/false, yes/no, 1/0 (empty: enabled, not the default)."""

from __future__ import annotations

import csv
from pathlib import Path

from bookplate.cli.output import BAD_INPUT, fail
from bookplate.users.ports import CodeRow

#: Larger files are refused unread: a code table holds hundreds of codes, not millions.
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000

_TRUE = ("true", "yes", "1", "y")
_FALSE = ("false", "no", "0", "n")


def read_code_file(path: Path) -> list[CodeRow]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        fail(f"cannot read {path.name}: {exc.strerror or exc}", BAD_INPUT)
    if size > MAX_BYTES:
        fail(f"{path.name} is {size:,} bytes; a code file is at most {MAX_BYTES:,}", BAD_INPUT)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path.name}: {exc.strerror or exc}", BAD_INPUT)
    if b"\x00" in raw:
        fail(f"{path.name} holds NUL bytes; is it a text (CSV) file?", BAD_INPUT)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{path.name} is not UTF-8 text (byte {exc.start})", BAD_INPUT)
    out: list[CodeRow] = []
    try:
        for line, cells in enumerate(csv.reader(text.splitlines(), strict=True), 1):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) < 2 or len(cells) > 4:
                fail(f"{path.name} line {line}: use code,description[,enabled][,default]",
                     BAD_INPUT)
            full = [*cells, "", ""]
            out.append(CodeRow(full[0].strip(), full[1].strip(),
                               _flag(path, full[2], line, "enabled", True),
                               _flag(path, full[3], line, "default", False)))
            if len(out) > MAX_ROWS:
                fail(f"{path.name}: more than {MAX_ROWS:,} codes", BAD_INPUT)
    except csv.Error as exc:
        fail(f"{path.name}: not CSV ({exc})", BAD_INPUT)
    return out


def _flag(path: Path, value: str, line: int, what: str, empty: bool) -> bool:
    text = value.strip().lower()
    if not text:
        return empty
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    fail(f"{path.name} line {line}: {what} must be true or false, not {value[:40]!r}", BAD_INPUT)
