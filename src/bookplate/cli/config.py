"""``bookplate config import|export``: an institution's Alma configuration as files.

A configuration folder holds the documents Alma's configuration API returns, JSON or XML
(docs/operations.md, "Bringing configuration from Alma")::

    DIR/code-tables/{name}.json|.xml     GET /conf/code-tables/{name}
    DIR/libraries.json|.xml              GET /conf/libraries
    DIR/circ-desks/{library}.json|.xml   GET /conf/libraries/{library}/circ-desks
    DIR/mapping-tables/UserRecordTypeUserGroup.json|.xml   the user groups of each record type

Import reads every file first and stops with exit 2 on the first unreadable one (nothing
written); then adds or changes what differs and reports each change. Codes and libraries the
files do not name are kept. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bookplate.cli.config_plan import Folder, group_map_changes, library_changes
from bookplate.cli.wiring import settings as get_settings
from bookplate.errors import BookplateError
from bookplate.roles.validation import check_config_text
from bookplate.users.ports import CodeRow

if TYPE_CHECKING:
    from bookplate.bootstrap import Container

config_app = typer.Typer(
    no_args_is_help=True, help="Bring an institution's Alma configuration in, or write it out."
)

WHO = "config-import"
SUFFIXES = (".json", ".xml")


def _fail(message: str, code: int = 1) -> None:
    # One plain line (no wrapping): scripts and people read it as it is.
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _container() -> Container:
    from bookplate.cli.output import container

    return container()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def _read(path: Path, base: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(f"{path.relative_to(base)}: cannot read: {exc.strerror}", 2)
        raise  # pragma: no cover - _fail raises


def read_folder(folder: Path) -> Folder:  # noqa: PLR0912 - one branch per kind of document
    """Every document of a configuration folder, read and checked (exit 2 on the first bad)."""
    from bookplate.alma import configuration as docs  # the Alma codec, with lxml

    out = Folder()
    found = False
    try:
        tables_dir = folder / "code-tables"
        if tables_dir.is_dir():
            for path in _files(tables_dir):
                found = True
                try:
                    table = docs.read_code_table_doc(_read(path, folder))
                except docs.ConfigDocumentError as exc:
                    _fail(f"{path.relative_to(folder)}: {exc}", 2)
                if table.name in out.tables:
                    _fail(f"{path.relative_to(folder)}: table {table.name} is given twice", 2)
                out.tables[table.name] = table.rows
                out.descriptions[table.name] = table.description
        for suffix in SUFFIXES:
            path = folder / f"libraries{suffix}"
            if path.is_file():
                found = True
                if out.libraries is not None:
                    _fail("give libraries.json or libraries.xml, not both", 2)
                try:
                    out.libraries = docs.read_libraries(_read(path, folder))
                except docs.ConfigDocumentError as exc:
                    _fail(f"{path.name}: {exc}", 2)
        for suffix in SUFFIXES:
            path = folder / "mapping-tables" / f"{docs.GROUP_MAP_TABLE}{suffix}"
            if path.is_file():
                found = True
                if out.group_map is not None:
                    _fail(f"give {docs.GROUP_MAP_TABLE} as .json or .xml, not both", 2)
                try:
                    out.group_map = docs.read_group_map(_read(path, folder))
                except docs.ConfigDocumentError as exc:
                    _fail(f"{path.relative_to(folder)}: {exc}", 2)
        desks_dir = folder / "circ-desks"
        if desks_dir.is_dir():
            for path in _files(desks_dir):
                found = True
                if path.stem in out.desks:
                    _fail(f"{path.relative_to(folder)}: desks of {path.stem} are given twice", 2)
                try:
                    out.desks[path.stem] = docs.read_desks(_read(path, folder))
                except docs.ConfigDocumentError as exc:
                    _fail(f"{path.relative_to(folder)}: {exc}", 2)
    except OSError as exc:
        _fail(f"cannot read {folder}: {exc.strerror}", 2)
    if not found:
        _fail(f"{folder} holds no code-tables/, libraries.json|.xml, circ-desks/ or "
              "mapping-tables/ files", 2)
    return out


def _check_lengths(data: Folder) -> None:
    for name, rows in data.tables.items():
        for row in rows:
            if len(row.code) > 255 or len(row.description) > 1000:
                _fail(f"{name}: code {row.code[:40]}: code at most 255, description 1000", 2)
    for lib in data.libraries or []:
        if len(lib.code) > 64 or len(lib.name) > 255:
            _fail(f"library {lib.code[:40]}: code at most 64 characters, name 255", 2)
    for library, desks in data.desks.items():
        for desk in desks:
            if len(desk.code) > 64:
                _fail(f"circ-desks/{library}: desk {desk.code[:40]}: at most 64 characters", 2)


@config_app.command("import")
def config_import(  # noqa: PLR0912, PLR0915 - one branch per document kind and option
    institution: str,
    folder: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="the configuration folder")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report what would change; change nothing")
    ] = False,
) -> None:
    """Import code tables, libraries and circulation desks from Alma configuration files
    (JSON or XML); report each change. Safe to run again: unchanged entries are left alone."""
    data = read_folder(folder)
    _check_lengths(data)
    report: list[str] = []
    c = _container()
    try:
        with c.uow_factory() as uow:
            if uow.institutions.get(institution) is None:
                _fail(f"no institution {institution}")
        # Everything is worked out (and refused, exit 2) before the first write.
        try:
            lines, changed_libraries = library_changes(
                data, c.roles.config(institution).libraries
            )
        except LookupError as exc:
            _fail(str(exc.args[0]), 2)
        for lib in changed_libraries:
            check_config_text(lib, "library")
        with c.uow_factory() as uow:
            known = set(uow.codes.table_names(institution))
            described = uow.codes.descriptions(institution)
            groups = uow.codes.allowed_groups(institution)
            map_lines, group_changes = group_map_changes(data, groups)
            report += map_lines
            described_changes: dict[str, str] = {}
            table_changes: dict[str, list[CodeRow]] = {}
            for name, rows in sorted(data.tables.items()):
                if name not in known:
                    report.append(f"skipped code table {name}: Bookplate does not use it")
                    continue
                want = data.descriptions.get(name) or name
                if want != described.get(name, name):
                    report.append(f"changed code table {name} description: "
                                  f"{described.get(name, name)} -> {want}")
                    described_changes[name] = want
                have = {r.code: r for r in uow.codes.rows(institution, name)}
                for row in rows:
                    old = have.get(row.code)
                    if old == row:
                        continue
                    verb = "added" if old is None else "changed"
                    report.append(f"{verb} {name} {row.code} ({row.description})")
                    table_changes.setdefault(name, []).append(row)
            if not dry_run:
                for name, changed in table_changes.items():
                    for row in changed:
                        uow.codes.put_row(institution, name, row)
                        uow.roles.record(institution, WHO, "codes.set",
                                         f"code:{name}:{row.code}", {"description": row.description,
                                         "enabled": row.enabled, "default": row.default})
                for name, text in described_changes.items():
                    uow.codes.describe_table(institution, name, text)
                    uow.roles.record(institution, WHO, "codes.describe", f"table:{name}",
                                     {"description": text})
                for group, record_types in group_changes.items():
                    uow.codes.set_group_record_types(institution, group, record_types)
                    uow.roles.record(institution, WHO, "codes.group", f"code:UserGroups:{group}",
                                     {"record_types": sorted(record_types)})
                uow.commit()
                c.users.codes.clear()
        report += lines
        if not dry_run:
            for lib in changed_libraries:
                c.roles.put_library(institution, lib, WHO, exact=True)
    except BookplateError as exc:
        _fail(str(exc), 2)
    finally:
        c.close()
    for line in report:
        print(f"would be {line}" if dry_run and not line.startswith("skipped") else line)
    changes = sum(1 for line in report if not line.startswith("skipped"))
    if not changes:
        print(f"{institution}: nothing to change.")
    else:
        note = " (dry run: nothing written)" if dry_run else ""
        print(f"{institution}: {changes} change(s){note}.")


def _safe_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and not any(ch in name for ch in "/\\\0")


@config_app.command("export")
def config_export(
    institution: str,
    folder: Annotated[Path, typer.Argument(file_okay=False, help="the folder to write")],
    fmt: Annotated[str, typer.Option("--format", help="json or xml")] = "json",
) -> None:
    """Write the code tables, libraries and circulation desks as Alma's configuration API
    returns them, in the folder layout that `config import` reads."""
    from bookplate.alma import configuration as docs  # the Alma codec, with lxml
    from bookplate.alma.codetables import code_table_to_json, code_table_to_xml

    if fmt not in ("json", "xml"):
        _fail("--format is json or xml", 2)
    public = get_settings().public_url or "http://127.0.0.1:8000"
    base = public.rstrip("/") + "/almaws/v1"
    c = _container()
    try:
        with c.uow_factory() as uow:
            if uow.institutions.get(institution) is None:
                _fail(f"no institution {institution}")
            tables = {n: uow.codes.rows(institution, n) for n in uow.codes.table_names(institution)}
            described = uow.codes.descriptions(institution)
            pairs = sorted(
                (rt, g) for rt, gs in uow.codes.allowed_groups(institution).items() for g in gs
            )
        # What the configuration API answers: disabled libraries and desks are left out.
        libraries = {
            code: lib for code, lib in c.roles.config(institution).libraries.items() if lib.enabled
        }
    finally:
        c.close()
    for name in [*tables, *libraries]:
        if not _safe_name(name):
            _fail(f"{name[:40]!r} cannot be a file name; nothing written", 2)
    try:
        (folder / "code-tables").mkdir(parents=True, exist_ok=True)
        (folder / "circ-desks").mkdir(exist_ok=True)
        (folder / "mapping-tables").mkdir(exist_ok=True)
        write_map = docs.group_map_to_json if fmt == "json" else docs.group_map_to_xml
        (folder / "mapping-tables" / f"{docs.GROUP_MAP_TABLE}.{fmt}").write_bytes(write_map(pairs))
        for name, rows in tables.items():
            writer = code_table_to_json if fmt == "json" else code_table_to_xml
            body = writer(name, described.get(name, name), rows)
            (folder / "code-tables" / f"{name}.{fmt}").write_bytes(body)
        lib_docs = [
            docs.LibraryDoc(lib.code, lib.name, lib.description)
            for _, lib in sorted(libraries.items())
        ]
        write_libs = docs.libraries_to_json if fmt == "json" else docs.libraries_to_xml
        (folder / f"libraries.{fmt}").write_bytes(write_libs(lib_docs, base))
        write_desks = docs.desks_to_json if fmt == "json" else docs.desks_to_xml
        for code, lib in sorted(libraries.items()):
            desk_docs = [docs.DeskDoc(d.code, d.name) for d in lib.all_desks() if d.enabled]
            (folder / "circ-desks" / f"{code}.{fmt}").write_bytes(
                write_desks(code, desk_docs, base)
            )
    except OSError as exc:
        _fail(f"cannot write {folder}: {exc.strerror}", 2)
    print(f"{institution}: {len(tables)} code tables, {len(libraries)} libraries -> {folder}")
