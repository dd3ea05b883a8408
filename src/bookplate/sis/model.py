"""Users integration profiles, plan actions and run reports (plain Python)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from bookplate.users.model import User

PRIMARY_ID_MATCH = "primary_id"

#: Top-level fields the SIS never writes, so no per-field rule can name them.
NOT_RULED = frozenset(
    {
        "primary_id",
        "record_type",
        "account_type",
        "external_id",
        "institution",
        "manual_fields",
        "roles",
        "created_by",
        "created_date",
        "last_modified_by",
        "last_modified_date",
        "last_patron_activity_date",
        "linking_id",
        "source_institution_code",
        "source_link_id",
        "proxy_for",
        "contact_info",
        "identifiers",
        "notes",
        "blocks",
        "statistics",
    }
)


class FieldRule(StrEnum):
    """What a synchronize does with one field beyond Alma's protected fields."""

    ERASE = "erase"  # swap-all (Alma's default): the file's value, blank clears it
    REPLACE = "replace"  # the file's value, but a blank keeps the stored value
    KEEP = "keep"  # the stored (staff) value wins once set; the file fills it only when blank


class MissingPolicy(StrEnum):
    OFF = "off"  # Alma: users absent from the file are left alone
    DEACTIVATE = "deactivate"  # status INACTIVE
    EXPIRE = "expire"  # expiry date = the run's date


class Mode(StrEnum):
    IMPORT = "import"  # create new users only
    SYNCHRONIZE = "synchronize"  # update matched, add unmatched


#: ``CsvOptions.missing_columns``: a header lacking a mapped column fails the run ...
REFUSE_MISSING = "refuse"
#: ... or the fields of the missing columns are left as stored.
KEEP_MISSING = "keep"


@dataclass(slots=True)
class CsvOptions:
    """How a CSV file maps to users (docs/sis.md). ``columns``: header -> target path."""

    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    date_format: str = "%Y-%m-%d"
    multi_separator: str = ""  # e.g. "|": one cell holds several values
    missing_columns: str = REFUSE_MISSING  # or KEEP_MISSING


@dataclass(slots=True)
class Profile:
    code: str  # becomes the users' external_id
    institution: str
    record_type: str = "PUBLIC"
    match_id_type: str = PRIMARY_ID_MATCH  # or an identifier type code
    add_unmatched: bool = True
    default_user_group: str | None = None
    expiry_days: int | None = None  # new users without expiry date: run date + days
    purge_days: int | None = None  # new users without purge date: expiry date + days
    field_rules: dict[str, FieldRule] = field(default_factory=dict)
    missing_policy: MissingPolicy = MissingPolicy.OFF
    guard_share: float = 0.1  # abort when more than this share of the profile's users
    guard_changes: bool = False  # ... would be deactivated (and, when set, changed)
    description: str = ""
    csv: CsvOptions = field(default_factory=CsvOptions)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["field_rules"] = {k: v.value for k, v in self.field_rules.items()}
        data["missing_policy"] = self.missing_policy.value
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Profile:
        values = dict(data)
        values["field_rules"] = {
            k: FieldRule(v) for k, v in (values.get("field_rules") or {}).items()
        }
        values["missing_policy"] = MissingPolicy(values.get("missing_policy") or "off")
        values["csv"] = CsvOptions(**(values.get("csv") or {}))
        known = set(Profile.__dataclass_fields__)
        return Profile(**{k: v for k, v in values.items() if k in known})

    def fingerprint_key(self) -> bytes:
        """What changes the outcome of a record besides the record: part of its fingerprint,
        so editing the profile makes the next run look at every record again."""
        data = self.to_dict()
        for name in ("description", "guard_share", "guard_changes", "missing_policy"):
            data.pop(name, None)
        text = json.dumps(data, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=16).digest()


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REJECT = "reject"
    DEACTIVATE = "deactivate"


@dataclass(slots=True)
class Incoming:
    """One record of the file, read and mapped (``user`` None when it could not be)."""

    record_no: int
    match_id: str | None
    user: User | None
    error: str | None = None
    fingerprint: str = ""
    line: int | None = None
    #: Fields the file has no column for (``mapping.untouched_key``): kept as stored.
    untouched: frozenset[tuple[str, str]] = frozenset()


@dataclass(slots=True)
class Existing:
    """A stored user found by the record's match ID."""

    pk: int
    user: User


@dataclass(slots=True)
class Action:
    kind: ActionKind
    record_no: int | None
    match_id: str | None
    primary_id: str | None = None
    user: User | None = None  # the record to store (create / update / unchanged)
    pk: int | None = None  # the stored user's key (update / unchanged / deactivate)
    diff: dict[str, list[Any]] = field(default_factory=dict)  # field -> [old, new]
    reason: str = ""
    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.kind.value,
            "record": self.record_no,
            "match_id": self.match_id,
            "primary_id": self.primary_id,
        }
        if self.diff:
            out["diff"] = self.diff
        if self.reason:
            out["reason"] = self.reason
        return out


BUCKETS = tuple(kind.value for kind in ActionKind)


@dataclass(slots=True)
class Report:
    run_id: int | None
    profile: str
    institution: str
    mode: Mode
    dry_run: bool
    source: str = ""
    status: str = "running"  # pending / running / done / aborted / failed / interrupted
    message: str = ""
    total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    started: str = ""
    finished: str = ""

    def count(self, kind: ActionKind, n: int = 1) -> None:
        self.counts[kind.value] += n

    @property
    def exit_code(self) -> int:
        if self.status != "done":  # aborted, failed, interrupted, or not run (pending)
            return 2
        return 1 if self.counts.get(ActionKind.REJECT.value) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "profile": self.profile,
            "institution": self.institution,
            "mode": self.mode.value,
            "dry_run": self.dry_run,
            "source": self.source,
            "status": self.status,
            "message": self.message,
            "total": self.total,
            **self.counts,
            "started": self.started,
            "finished": self.finished,
        }
