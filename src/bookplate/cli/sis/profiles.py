"""``bookplate sis profile ...``: users integration profiles."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bookplate.cli import tables
from bookplate.cli.sis.common import console, container, fail, refuse, resolve
from bookplate.errors import BookplateError
from bookplate.sis.model import (
    KEEP_MISSING,
    REFUSE_MISSING,
    CsvOptions,
    FieldRule,
    MissingPolicy,
    Profile,
)


def _rules(items: list[str] | None) -> dict[str, FieldRule]:
    rules: dict[str, FieldRule] = {}
    for item in items or []:
        name, _, value = item.partition("=")
        try:
            rules[name.strip()] = FieldRule(value.strip())
        except ValueError:
            fail(f"bad --rule {item}: use FIELD=keep|replace|erase")
    return rules


def _columns(items: list[str] | None) -> dict[str, str]:
    columns: dict[str, str] = {}
    for item in items or []:
        header, sep, target = item.partition("=")
        if not sep:
            fail(f"bad --csv-column {item}: use HEADER=target")
        columns[header.strip()] = target.strip()
    return columns


def _missing_columns(value: str | None) -> str | None:
    if value is not None and value not in (REFUSE_MISSING, KEEP_MISSING):
        fail(f"bad --csv-missing-columns {value}: use {REFUSE_MISSING} or {KEEP_MISSING}")
    return value


RuleOption = Annotated[list[str] | None, typer.Option(help="FIELD=keep|replace|erase (repeatable)")]
ColumnOption = Annotated[
    list[str] | None,
    typer.Option(help="HEADER=target for CSV files (repeatable; {COLUMN} as a type: from it)"),
]
MissingColumnsOption = Annotated[
    str | None,
    typer.Option(
        help="a CSV header without a mapped column: refuse the file (default) or keep "
        "those fields as stored"
    ),
]


def profile_create(
    code: str,
    institution: Annotated[str, typer.Option("--institution", "-i")],
    record_type: str = "PUBLIC",
    match_id_type: Annotated[str, typer.Option(help="primary_id or an identifier type")] = (
        "primary_id"
    ),
    add_unmatched: Annotated[bool, typer.Option("--add-unmatched/--no-add-unmatched")] = True,
    default_user_group: str | None = None,
    expiry_days: int | None = None,
    purge_days: int | None = None,
    rule: RuleOption = None,
    missing: Annotated[MissingPolicy, typer.Option(help="users absent from a file")] = (
        MissingPolicy.OFF
    ),
    guard_share: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    guard_changes: bool = False,
    csv_column: ColumnOption = None,
    csv_delimiter: str = ",",
    csv_encoding: str = "utf-8-sig",
    csv_multi_separator: str = "",
    csv_missing_columns: MissingColumnsOption = None,
    description: str = "",
    replace: Annotated[
        bool,
        typer.Option(
            help="overwrite an existing profile with exactly these settings (options not "
            "given take their defaults; `sis profile update` changes only what is given)"
        ),
    ] = False,
) -> None:
    """Create (or with --replace, overwrite) a users integration profile."""
    profile = Profile(
        code=code,
        institution=institution,
        record_type=record_type.upper(),
        match_id_type=match_id_type,
        add_unmatched=add_unmatched,
        default_user_group=default_user_group,
        expiry_days=expiry_days,
        purge_days=purge_days,
        field_rules=_rules(rule),
        missing_policy=missing,
        guard_share=guard_share,
        guard_changes=guard_changes,
        description=description,
        csv=CsvOptions(
            _columns(csv_column),
            csv_delimiter,
            csv_encoding,
            "%Y-%m-%d",
            csv_multi_separator,
            _missing_columns(csv_missing_columns) or REFUSE_MISSING,
        ),
    )
    c = container()
    try:
        if replace and c.sis.store.get_profile(institution, code) is not None:
            c.sis.update_profile(profile, "cli")
        else:
            c.sis.create_profile(profile, "cli")
    except BookplateError as exc:
        refuse(exc)
    finally:
        c.close()
    console().print(f"Profile {code} saved for {institution}.")


def profile_update(  # noqa: PLR0912 - one branch per option that may be given
    code: str,
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
    record_type: str | None = None,
    match_id_type: Annotated[
        str | None, typer.Option(help="primary_id or an identifier type")
    ] = None,
    add_unmatched: Annotated[
        bool | None, typer.Option("--add-unmatched/--no-add-unmatched")
    ] = None,
    default_user_group: Annotated[
        str | None, typer.Option(help="a user group; '' removes it")
    ] = None,
    expiry_days: Annotated[int | None, typer.Option(help="days; -1 removes the setting")] = None,
    purge_days: Annotated[int | None, typer.Option(help="days; -1 removes the setting")] = None,
    rule: RuleOption = None,
    remove_rule: Annotated[
        list[str] | None, typer.Option(help="FIELD whose rule goes (repeatable)")
    ] = None,
    missing: Annotated[MissingPolicy | None, typer.Option(help="users absent from a file")] = None,
    guard_share: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    guard_changes: Annotated[bool | None, typer.Option("--guard-changes/--no-guard-changes")] = (
        None
    ),
    csv_column: ColumnOption = None,
    remove_csv_column: Annotated[
        list[str] | None, typer.Option(help="HEADER whose mapping goes (repeatable)")
    ] = None,
    csv_delimiter: str | None = None,
    csv_encoding: str | None = None,
    csv_multi_separator: str | None = None,
    csv_missing_columns: MissingColumnsOption = None,
    description: str | None = None,
) -> None:
    """Change only the given settings of a profile; every other setting stays as it is.
    --rule and --csv-column add or change one entry each (the others stay)."""
    c = container()
    try:
        profile = resolve(c, code, institution)
        if record_type is not None:
            profile.record_type = record_type.upper()
        if match_id_type is not None:
            profile.match_id_type = match_id_type
        if add_unmatched is not None:
            profile.add_unmatched = add_unmatched
        if default_user_group is not None:
            profile.default_user_group = default_user_group or None
        if expiry_days is not None:
            profile.expiry_days = None if expiry_days == -1 else expiry_days
        if purge_days is not None:
            profile.purge_days = None if purge_days == -1 else purge_days
        for name in remove_rule or []:
            profile.field_rules.pop(name.strip(), None)
        profile.field_rules.update(_rules(rule))
        if missing is not None:
            profile.missing_policy = missing
        if guard_share is not None:
            profile.guard_share = guard_share
        if guard_changes is not None:
            profile.guard_changes = guard_changes
        for header in remove_csv_column or []:
            if profile.csv.columns.pop(header.strip(), None) is None:
                fail(f"the profile maps no CSV column {header}", 1)
        profile.csv.columns.update(_columns(csv_column))
        if csv_delimiter is not None:
            profile.csv.delimiter = csv_delimiter
        if csv_encoding is not None:
            profile.csv.encoding = csv_encoding
        if csv_multi_separator is not None:
            profile.csv.multi_separator = csv_multi_separator
        value = _missing_columns(csv_missing_columns)
        if value is not None:
            profile.csv.missing_columns = value
        if description is not None:
            profile.description = description
        c.sis.update_profile(profile, "cli")
    except BookplateError as exc:
        refuse(exc)
    finally:
        c.close()
    console().print(f"Profile {code} updated for {profile.institution}.")


def profile_list(
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
) -> None:
    """List the SIS profiles, of one institution or all."""
    c = container()
    try:
        profiles = c.sis.profiles(institution)
    finally:
        c.close()
    table = tables.table(
        "institution", "code", "record type", "match ID", "add unmatched", "missing"
    )
    for p in profiles:
        table.add_row(
            p.institution,
            p.code,
            p.record_type,
            p.match_id_type,
            str(p.add_unmatched),
            p.missing_policy.value,
        )
    console().print(table)


def profile_show(
    code: str, institution: Annotated[str | None, typer.Option("--institution", "-i")] = None
) -> None:
    """Print one SIS profile's settings as JSON."""
    c = container()
    try:
        profile = resolve(c, code, institution)
    except BookplateError as exc:
        refuse(exc)
    finally:
        c.close()
    print(json.dumps(profile.to_dict(), indent=2))


def profile_delete(
    code: str, institution: Annotated[str | None, typer.Option("--institution", "-i")] = None
) -> None:
    """Delete a SIS profile."""
    c = container()
    try:
        profile = resolve(c, code, institution)
        c.sis.delete_profile(profile.institution, code, "cli")
    except BookplateError as exc:
        refuse(exc)
    finally:
        c.close()
    console().print(f"Profile {code} deleted.")
