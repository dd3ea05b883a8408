"""The one registry of SIS input formats (``sis.sources.formats``): every reader, the upload
check, the spool and the inbox tell formats apart through it, and agree."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bookplate.sis.errors import SourceError, UploadError
from bookplate.sis.model import Profile
from bookplate.sis.sources import open_source
from bookplate.sis.sources.csv import CsvSource
from bookplate.sis.sources.formats import (
    SUFFIXES,
    archive_kind,
    file_kind,
    head_kind,
    kind_of,
    member_kind,
    spool_suffix,
)
from bookplate.sis.sources.xml import XmlSource
from bookplate.sis.upload import check_upload

PROFILE = Profile(code="SIS", institution="MAIN")


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PK\x03\x04rest", "zip"),
        (b"PK\x05\x06", "zip"),  # an empty archive
        (b"\xef\xbb\xbf <users/>", "xml"),
        (b"\r\n\t<?xml version='1.0'?>", "xml"),
        (b"PKEY,primary_id\n", None),  # a CSV header that starts like a zip's name
        (b"primary_id,first_name\n", None),
        (b"", None),
    ],
)
def test_first_bytes_give_zip_and_xml_away(head: bytes, kind: str | None) -> None:
    assert head_kind(head) == kind


@pytest.mark.parametrize(
    ("content_type", "filename", "kind"),
    [
        ("application/zip", None, "zip"),
        ("application/x-zip-compressed; charset=binary", "x.csv", "zip"),
        ("TEXT/XML", None, "xml"),
        ("text/csv", None, "csv"),
        ("application/octet-stream", "Users.CSV", "csv"),
        (None, "users.xml", "xml"),
        (None, "users.txt", None),  # a declared upload names its kind; .txt says none
        (None, None, None),
    ],
)
def test_a_declared_kind_comes_from_the_media_type_then_the_name(
    content_type: str | None, filename: str | None, kind: str | None
) -> None:
    assert kind_of(content_type, filename) == kind


def test_members_suffixes_and_spool_names() -> None:
    assert SUFFIXES == (".zip", ".xml", ".csv")
    assert [member_kind(n) for n in ("a/B.XML", "c.csv", "d.txt", "e.zip")] == [
        "xml",
        "csv",
        None,
        None,
    ]
    assert spool_suffix("csv", Path("upload.part")) == ".csv"
    assert spool_suffix(None, Path("file.TSV")) == ".TSV"


def test_a_run_reads_csv_by_its_name_and_refuses_what_it_cannot_tell(tmp_path: Path) -> None:
    for name in ("a.csv", "b.txt", "c.tsv"):
        (tmp_path / name).write_bytes(b"primary_id\np1\n")
        assert file_kind(tmp_path / name) == "csv"
    (tmp_path / "d.dat").write_bytes(b"primary_id\n")
    with pytest.raises(SourceError, match="neither a zip archive, nor XML"):
        file_kind(tmp_path / "d.dat")
    (tmp_path / "e.dat").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        file_kind(tmp_path / "e.dat")


def test_a_zip_of_csv_members_only_is_read_as_csv(tmp_path: Path) -> None:
    csv_zip, mixed = tmp_path / "a.zip", tmp_path / "b.zip"
    with zipfile.ZipFile(csv_zip, "w") as archive:
        archive.writestr("dir/", b"")
        archive.writestr("dir/users.CSV", b"primary_id\np1\n")
    with zipfile.ZipFile(mixed, "w") as archive:
        archive.writestr("users.csv", b"primary_id\np1\n")
        archive.writestr("users.xml", b"<users/>")
    assert archive_kind(csv_zip) == "csv"
    assert archive_kind(mixed) == "xml"
    assert isinstance(open_source(csv_zip, PROFILE), CsvSource)
    assert isinstance(open_source(mixed, PROFILE), XmlSource)


def test_a_csv_whose_first_header_starts_with_pk_is_read_as_csv(tmp_path: Path) -> None:
    """Only a zip's signature makes a file a zip: a CSV export whose first column is named
    ``PKEY`` (a database key the mapping ignores) is read as CSV, by the run as by the
    upload check."""
    path = tmp_path / "users.csv"
    path.write_bytes(b"PKEY,primary_id,first_name,last_name\n7,p1,Ann,Lee\n")
    source = open_source(path, PROFILE)
    assert [r.match_id for r in source.records()] == ["p1"]
    assert check_upload(path, "csv") == "csv"
    with pytest.raises(UploadError, match="neither a zip archive nor XML"):
        check_upload(path, None)
