"""A look at a CSV sample through a profile's column mapping, before any run.

``preview_csv`` reads the header and the first rows of a sample (at most ``SAMPLE_BYTES``)
with the profile's delimiter and encoding, tells for each header which target it fills (a
mapping, a header that is a target name itself, or ignored), which mapped columns the header
lacks (and what the profile's ``missing_columns`` then does), and maps each row as a run would
(``mapping.CsvMapper`` and the API's validation), showing the user or the row's reason. It
writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from bookplate.errors import BookplateError
from bookplate.sis.errors import InvalidProfile, SourceError
from bookplate.sis.mapping import CsvMapper, check_target, type_column
from bookplate.sis.model import KEEP_MISSING, Profile
from bookplate.sis.plan import new_user, prepare
from bookplate.users.model import User

SAMPLE_BYTES = 256 * 1024
PREVIEW_ROWS = 5


@dataclass(slots=True)
class Column:
    header: str
    target: str  # what the column fills; "" when the column is ignored
    how: str  # "mapped", "by name" (the header is a target) or "ignored"
    type_from: str = ""  # the header a {HEADER} type is read from


@dataclass(slots=True)
class PreviewRow:
    line: int
    cells: list[str]
    user: User | None = None
    error: str = ""


@dataclass(slots=True)
class Preview:
    columns: list[Column] = field(default_factory=list)
    rows: list[PreviewRow] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # mapped columns the header lacks
    keeps_missing: bool = False  # missing_columns "keep": those fields stay as stored
    error: str = ""  # the sample cannot be run at all (as a run would fail)


def _column(header: str, profile: Profile) -> Column:
    mapped = profile.csv.columns.get(header)
    if mapped is not None:
        parts = check_target(mapped)
        kind = type_column(parts[1]) if len(parts) > 1 else None
        return Column(header, mapped, "mapped", kind or "")
    try:
        parts = check_target(header)
    except InvalidProfile:
        return Column(header, "", "ignored")
    if any(type_column(p) for p in parts[1:2]):
        return Column(header, "", "ignored")
    return Column(header, header, "by name")


def _text(sample: bytes, encoding: str) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding}") from None
    if len(sample) >= SAMPLE_BYTES:  # cut at the last whole line of the sample
        cut = sample.rfind(b"\n")
        sample = sample[: cut + 1] if cut > 0 else sample
    return sample.decode(encoding, errors="replace")


def preview_csv(
    profile: Profile,
    sample: bytes,
    check: Callable[[User], None],
    today: date,
    rows: int = PREVIEW_ROWS,
) -> Preview:
    """The sample's header and first ``rows`` rows through ``profile`` (see the module)."""
    out = Preview(keeps_missing=profile.csv.missing_columns == KEEP_MISSING)
    if sample.startswith(b"PK"):
        out.error = "The sample is a zip archive: upload one CSV file to preview its mapping."
        return out
    try:
        text = _text(sample[:SAMPLE_BYTES], profile.csv.encoding)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=profile.csv.delimiter)
        header = next(reader, None)
    except (SourceError, csv.Error) as exc:
        out.error = f"The sample cannot be read: {exc}"
        return out
    if not header or not any(h.strip() for h in header):
        out.error = "The sample is empty: it needs a header row."
        return out
    names = [h.strip() for h in header]
    out.columns = [_column(name, profile) for name in names]
    present = set(names)
    for name, target in profile.csv.columns.items():
        parts = check_target(target)
        kind = type_column(parts[1]) if len(parts) > 1 else None
        for needed in (name, kind):
            if needed and needed not in present and needed not in out.missing:
                out.missing.append(needed)
    try:
        mapper = CsvMapper(header, profile.csv, profile.match_id_type)
    except SourceError as exc:
        out.error = str(exc)
        mapper = None
    try:
        for row in reader:
            if len(out.rows) >= rows:
                break
            if not any(cell.strip() for cell in row):
                continue
            shown = PreviewRow(reader.line_num, row)
            if mapper is not None:
                try:
                    # As a new user of this profile (a run also keeps what staff changed).
                    user = new_user(
                        prepare(mapper.user(row, reader.line_num), profile), profile, today
                    )
                    check(user)
                    shown.user = user
                except BookplateError as exc:
                    shown.error = str(exc)
            out.rows.append(shown)
    except csv.Error as exc:
        out.error = out.error or f"The sample cannot be read past line {reader.line_num}: {exc}"
    return out
