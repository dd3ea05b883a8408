"""What ``bookplate config import`` would change: the documents read from a folder compared
with what Bookplate holds, as report lines and the records to write (no writes here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bookplate.roles.model import Desk, Library
from bookplate.users.ports import CodeRow

if TYPE_CHECKING:  # the Alma codec (lxml) loads with the command that reads a folder
    from bookplate.alma import configuration as docs


@dataclass
class Folder:
    tables: dict[str, list[CodeRow]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)  # table -> its description
    libraries: list[docs.LibraryDoc] | None = None
    desks: dict[str, list[docs.DeskDoc]] = field(default_factory=dict)
    group_map: list[tuple[str, str]] | None = None  # (record type, user group)


def _library_lines(code: str, old: Library | None, new: Library) -> list[str]:
    if old is None:
        lines = [f"added library {code} ({new.name})"]
    else:
        lines = []
        if old.name != new.name:
            lines.append(f"changed library {code} name: {old.name} -> {new.name}")
        if old.description != new.description:
            lines.append(f"changed library {code} description: {old.description or '(none)'}"
                         f" -> {new.description or '(none)'}")
        if not old.enabled:
            lines.append(f"enabled library {code}")
    before = {} if old is None else {d.code: d for d in old.all_desks()}
    for desk in new.all_desks():
        was = before.get(desk.code)
        if was is None:
            lines.append(f"added desk {code}/{desk.code}" + (
                f" ({desk.name})" if desk.name != desk.code else ""))
        elif was.name != desk.name:
            lines.append(f"changed desk {code}/{desk.code} name: {was.name} -> {desk.name}")
        elif not was.enabled and desk.enabled:
            lines.append(f"enabled desk {code}/{desk.code}")
    lines += [f"removed desk {code}/{d}" for d in sorted(set(before) - new.desks)]
    return lines


def library_changes(
    data: Folder, libraries: Mapping[str, Library]
) -> tuple[list[str], list[Library]]:
    """Report lines and the libraries to save: a library's name and description from
    libraries.*, its desks and their names from circ-desks/{code}.* (a library without a desks
    file keeps its desks). A library or desk named by a file is enabled. Raises LookupError
    for a desks file of a library that exists nowhere."""
    wanted: dict[str, Library] = {}
    for doc in data.libraries or []:
        old = libraries.get(doc.code)
        desks = old.all_desks() if old is not None else []
        wanted[doc.code] = Library.with_desks(doc.code, doc.name, desks, doc.description)
    for code, desk_docs in sorted(data.desks.items()):
        base = wanted.get(code) or libraries.get(code)
        if base is None:
            raise LookupError(f"circ-desks/{code}: no library {code} in libraries or in Bookplate")
        wanted[code] = Library.with_desks(
            code, base.name, [Desk(d.code, d.name) for d in desk_docs], base.description,
        )
    report: list[str] = []
    changed: list[Library] = []
    for code, lib in sorted(wanted.items()):
        old = libraries.get(code)
        if old == lib:
            continue
        changed.append(lib)
        report += _library_lines(code, old, lib)
    return report, changed


def group_map_changes(
    data: Folder, allowed: Mapping[str, frozenset[str]]
) -> tuple[list[str], dict[str, frozenset[str]]]:
    """Report lines and, per user group the mapping table names, its record types. Groups the
    table does not name keep theirs."""
    if data.group_map is None:
        return [], {}
    have: dict[str, set[str]] = {}
    for record_type, groups in allowed.items():
        for group in groups:
            have.setdefault(group, set()).add(record_type)
    want: dict[str, set[str]] = {}
    for record_type, group in data.group_map:
        want.setdefault(group, set()).add(record_type)
    lines: list[str] = []
    changes: dict[str, frozenset[str]] = {}
    for group, types in sorted(want.items()):
        before = have.get(group, set())
        if before != types:
            lines.append(f"changed user group {group} record types: "
                         f"{', '.join(sorted(before)) or '(none)'} -> {', '.join(sorted(types))}")
            changes[group] = frozenset(types)
    return lines, changes
