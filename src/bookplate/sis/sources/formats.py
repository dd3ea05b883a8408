"""The one registry of SIS input formats: what each kind of file is called, which media
types say it, how its first bytes give it away, and what a zip may carry.

Every part of Bookplate that must tell formats apart asks this module: the upload check
(``sis.upload``), the spool's file names (``sis.spool``), the inbox watcher (``bookplate sis
watch``), the choice of a reader (``sources.open_source``) and the readers themselves when
they open a file or a zip member. A new format is a row of ``FORMATS`` plus its reader.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from bookplate.sis.errors import SourceError

ZIP, XML, CSV = "zip", "xml", "csv"


@dataclass(frozen=True, slots=True)
class Format:
    kind: str
    suffix: str  # the name ending that says this kind (inbox files, uploads, the spool's copy)
    media_types: tuple[str, ...]
    in_zip: bool  # may be a member of a zip archive


FORMATS: tuple[Format, ...] = (
    Format(
        ZIP, ".zip", ("application/zip", "application/x-zip-compressed", "application/x-zip"), False
    ),
    Format(XML, ".xml", ("application/xml", "text/xml"), True),
    Format(CSV, ".csv", ("text/csv", "application/csv"), True),
)
KINDS = tuple(f.kind for f in FORMATS)
#: The endings the inbox watcher picks up (never ``.txt``: the inbox's own notes end so).
SUFFIXES = tuple(f.suffix for f in FORMATS)
#: The members of a zip that are read (others are skipped).
MEMBER_SUFFIXES = tuple(f.suffix for f in FORMATS if f.in_zip)
#: Further endings under which a file given to a run (``bookplate sis sync``) is read as CSV
#: when its content is neither a zip archive nor XML: exports often come as .txt or .tsv.
CSV_ALSO = (".txt", ".tsv")

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive
_LEADING = b"\xef\xbb\xbf \t\r\n"  # what may stand before XML's first '<' (a BOM, space)
_SNIFF_BYTES = 512


def head_kind(head: bytes) -> str | None:
    """'zip' or 'xml' from a file's first bytes; None when they say neither (CSV has no
    signature: its kind comes from a name or a declaration)."""
    if head.startswith(_ZIP_MAGIC):
        return ZIP
    if head.lstrip(_LEADING).startswith(b"<"):
        return XML
    return None


def kind_of(content_type: str | None, filename: str | None) -> str | None:
    """The kind a Content-Type or a file name declares (None: the content decides)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    for fmt in FORMATS:
        if ctype in fmt.media_types:
            return fmt.kind
    return suffix_kind(filename or "")


def suffix_kind(name: str) -> str | None:
    """The kind a name's own ending says (``.zip``, ``.xml``, ``.csv``), or None."""
    ending = Path(name).suffix.lower()
    for fmt in FORMATS:
        if ending == fmt.suffix:
            return fmt.kind
    return None


def member_kind(name: str) -> str | None:
    """The kind of a zip member that is read ('xml' or 'csv'), or None (skipped)."""
    lower = name.lower()
    for fmt in FORMATS:
        if fmt.in_zip and lower.endswith(fmt.suffix):
            return fmt.kind
    return None


def spool_suffix(kind: str | None, path: Path) -> str:
    """The ending of a run's copy in the spool: its kind's, else the file's own."""
    for fmt in FORMATS:
        if fmt.kind == kind:
            return fmt.suffix
    return path.suffix


def file_kind(path: Path) -> str:
    """'zip', 'xml' or 'csv' of a file a run reads: by its first bytes, CSV by its name."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise SourceError(f"cannot open {path.name}: {exc.strerror}") from None
    found = head_kind(head)
    if found is not None:
        return found
    if path.suffix.lower() in (".csv", *CSV_ALSO):
        return CSV
    if not head:
        raise SourceError("the file is empty")
    raise SourceError("the file is neither a zip archive, nor XML, nor a .csv file")


def archive_kind(path: Path) -> str:
    """What a zip archive carries: 'csv' when every member is CSV, else 'xml' (an archive
    that cannot be listed goes to the XML reader, which says why it cannot be read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        names = []
    if names and all(n.endswith("/") or member_kind(n) == CSV for n in names):
        return CSV
    return XML
