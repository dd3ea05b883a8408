"""The checks an uploaded SIS file meets before a run of it is created: cheap ones, on its
first bytes and a zip's directory (the run's reader applies every guard again while it
streams the whole file)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bookplate.sis.errors import EmptyUpload, UploadError
from bookplate.sis.sources.base import MAX_RATIO
from bookplate.sis.sources.formats import CSV, XML, ZIP, head_kind, member_kind

#: How much of an XML file (or zip member) the upload check reads for a DOCTYPE.
HEAD_BYTES = 64 * 1024


def _refuse_dtd(head: bytes, where: str) -> None:
    upper = head.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise UploadError(f"{where}: a DOCTYPE or entity declaration is not allowed (XML bomb?)")


def check_upload(path: Path, declared: str | None) -> str:
    """Cheap checks before a run is created; the kind ('zip', 'xml', 'csv') of the file.

    Refuses an empty file, a declared zip that is not one, an archive without .xml/.csv
    members or with a member compressed more than the bomb ratio, and XML with a DOCTYPE.
    The run's reader applies every guard again while streaming the whole file."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head:
        raise EmptyUpload()
    found = head_kind(head)
    if found is None and declared == CSV:
        found = CSV
    if declared == ZIP and found != ZIP:
        raise UploadError("the file is not a zip archive")
    if declared == XML and found != XML:
        raise UploadError("the file is not XML")
    if found is None:
        raise UploadError(
            "the file is neither a zip archive nor XML (send CSV as text/csv or name it .csv)"
        )
    if found == ZIP:
        _check_zip(path)
    elif found == XML:
        _refuse_dtd(head, "the file")
    return found


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                i for i in archive.infolist() if not i.is_dir() and member_kind(i.filename)
            ]
            if not members:
                raise UploadError("the zip archive holds no .xml or .csv file")
            for info in members:
                if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                    raise UploadError(
                        f"zip member {info.filename} is compressed more than {MAX_RATIO}:1 "
                        "(zip bomb?)"
                    )
                if member_kind(info.filename) == XML:
                    with archive.open(info) as member:
                        _refuse_dtd(member.read(HEAD_BYTES), f"zip member {info.filename}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise UploadError(f"the file is not a readable zip archive ({exc})") from None
    except NotImplementedError as exc:  # unsupported compression method
        raise UploadError(f"the zip archive cannot be read ({exc})") from None
