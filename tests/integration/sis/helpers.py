"""Building SIS XML files for the tests."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape


def user_xml(
    primary_id: str,
    first: str = "Ann",
    last: str = "Lee",
    group: str | None = "UNDERGRAD",
    barcode: str | None = None,
    email: str | None = None,
    extra: str = "",
) -> str:
    parts = [f"<primary_id>{escape(primary_id)}</primary_id>"]
    parts.append(f"<first_name>{escape(first)}</first_name><last_name>{escape(last)}</last_name>")
    if group is not None:
        parts.append(f"<user_group>{group}</user_group>")
    if email:
        parts.append(
            '<contact_info><emails><email preferred="true"><email_address>'
            f"{escape(email)}</email_address><email_types><email_type>personal</email_type>"
            "</email_types></email></emails></contact_info>"
        )
    if barcode:
        parts.append(
            "<user_identifiers><user_identifier><id_type>BARCODE</id_type>"
            f"<value>{escape(barcode)}</value></user_identifier></user_identifiers>"
        )
    parts.append(extra)
    return "<user>" + "".join(parts) + "</user>"


def users_doc(*users: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<users>\n' + "\n".join(users) + "\n</users>\n"
    ).encode()


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def write_lying_zip(path: Path, name: str, data: bytes) -> Path:
    """A zip whose member declares a thousandth of its real size (a bomb that passes a ratio
    check): reading it stops at the declared size with a checksum error."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    raw = bytearray(buffer.getvalue())
    lie = max(len(data) // 1000, 1)
    struct.pack_into("<I", raw, 22, lie)  # local file header: uncompressed size
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, lie)  # central directory: uncompressed size
    path.write_bytes(bytes(raw))
    return path
