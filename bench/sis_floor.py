"""The physical floor of an SIS load on this machine, measured on the same file (issue 20).

What any loader of the file must at least do, with nothing of Bookplate in it:

* a parser process reads the zip with lxml ``iterparse``, turns every ``<user>`` into plain
  rows (one per user holding the JSON document and the looked-up columns, one per identifier,
  one per email) and hands them over as COPY text in blocks of ``BLOCK`` users;
* the main process COPYs each block into plain PostgreSQL tables with their primary keys and
  unique indexes, all in one transaction (written to the WAL like real tables).

Parsing and COPY overlap (two processes, a bounded queue between them). The result is the
wall time of the whole load; ``bench/sis.py`` reports every Bookplate figure as a ratio to it.

    .venv/bin/python bench/sis_floor.py FILE.zip [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from lxml import etree

BLOCK = 5000
TABLES = {
    "floor_users": (
        "pk integer PRIMARY KEY, primary_id text NOT NULL UNIQUE, first_name text, "
        "last_name text, user_group text, status text, doc jsonb NOT NULL"
    ),
    "floor_identifiers": (
        "user_pk integer NOT NULL, id_type text NOT NULL, value text NOT NULL, "
        "PRIMARY KEY (id_type, value)"
    ),
    "floor_emails": (
        "user_pk integer NOT NULL, address text NOT NULL, PRIMARY KEY (user_pk, address)"
    ),
}


def _tree(el: Any) -> Any:
    """An element as plain JSON: text for leaves, a dict of lists of children otherwise."""
    if len(el) == 0:
        return el.text or ""
    out: dict[str, Any] = dict(el.attrib)
    for child in el:
        out.setdefault(child.tag, []).append(_tree(child))
    return out


def _esc(value: str) -> str:
    """A value in COPY text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _parse(path: str, out: Any) -> None:
    """Parser process: blocks of (users, identifiers, emails) COPY text into ``out``."""
    users: list[str] = []
    ids: list[str] = []
    emails: list[str] = []
    pk = 0
    with zipfile.ZipFile(path) as archive:
        name = archive.namelist()[0]
        with archive.open(name) as raw:
            for _, el in etree.iterparse(raw, tag="user"):
                pk += 1
                doc = _tree(el)

                def one(tag: str, d: dict[str, Any] = doc) -> str:
                    got = d.get(tag)
                    return _esc(got[0]) if got and isinstance(got[0], str) else "\\N"

                users.append(
                    f"{pk}\t{one('primary_id')}\t{one('first_name')}\t{one('last_name')}\t"
                    f"{one('user_group')}\t{one('status')}\t"
                    f"{_esc(orjson.dumps(doc).decode())}\n"
                )
                for ident in el.iterfind("user_identifiers/user_identifier"):
                    ids.append(
                        f"{pk}\t{_esc(ident.findtext('id_type') or '')}\t"
                        f"{_esc((ident.findtext('value') or '').lower())}\n"
                    )
                for addr in el.iterfind("contact_info/emails/email/email_address"):
                    emails.append(f"{pk}\t{_esc((addr.text or '').lower())}\n")
                el.clear()
                while el.getprevious() is not None:
                    del el.getparent()[0]
                if len(users) >= BLOCK:
                    out.put(("".join(users), "".join(ids), "".join(emails)))
                    users, ids, emails = [], [], []
    if users:
        out.put(("".join(users), "".join(ids), "".join(emails)))
    out.put(None)


def floor(path: Path, url: str) -> float:
    """Seconds of the floor load of ``path`` into fresh tables of a scratch schema."""
    schema = f"bench_sis_floor_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            for table, columns in TABLES.items():
                conn.exec_driver_sql(f"CREATE TABLE {schema}.{table} ({columns})")
        queue: Any = mp.get_context("fork").Queue(maxsize=4)
        start = time.perf_counter()
        parser = mp.get_context("fork").Process(target=_parse, args=(str(path), queue))
        parser.start()
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                while (block := queue.get()) is not None:
                    for table, text in zip(TABLES, block, strict=True):
                        with cur.copy(f"COPY {schema}.{table} FROM STDIN") as copy:
                            copy.write(text.encode())
        parser.join()
        elapsed = time.perf_counter() - start
        if parser.exitcode != 0:
            raise RuntimeError(f"floor parser exited with {parser.exitcode}")
        with engine.connect() as conn:
            counts = [
                conn.exec_driver_sql(f"SELECT count(*) FROM {schema}.{t}").scalar_one()
                for t in TABLES
            ]
        print(f"floor rows (users, identifiers, emails): {counts}")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    secs = floor(args.file, args.url)
    print(f"floor {secs:.2f} s")


if __name__ == "__main__":
    main()
