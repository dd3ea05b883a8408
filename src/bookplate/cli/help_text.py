"""Help for the arguments and options that many commands share (an institution, a code, a
user id…), given once here rather than in each signature. ``HelpfulGroup`` is the class of
the root command: when the tree is built it gives each parameter without its own help the
text of its name here (``"group command:name"`` first, then ``"name"``); a parameter's own
``help=`` wins. ``tests/functional/test_cli_help.py`` fails on any command or parameter that
is left without help."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

BY_NAME: dict[str, str] = {
    "institution": "Institution code (see: bookplate institutions list).",
    "code": "The code of the thing the command names (profile, library…).",
    "name": "A name for people to read.",
    "profile": "The SIS profile's code (see: bookplate sis profile list).",
    "user_id": "The user's primary ID.",
    "primary_id": "The staff member's primary ID.",
    "user_group": "A user group code (repeatable).",
    "record_type": "PUBLIC, STAFF or CONTACT (repeatable).",
    "job_category": "A job category code (repeatable).",
    "campus": "A campus code (repeatable).",
    "position": "Where the rule is tried: lower first.",
    "role_type": "A role type code (repeatable).",
    "rule_id": "The rule's id, chosen by you.",
    "run_id": "The run's id (see: bookplate sis runs).",
    "token_id": "The token's id, as bookplate staff token printed it.",
    "partner": "The partner institution's code.",
    "source_institution": "The partner institution holding the user.",
    "source_user_id": "The user's primary ID at the partner.",
    "scope": "network: IDs unique across institutions; institution: within each.",
    "clear_password": "Remove the search password partners must give.",
    "share_blocks": "Show this institution's blocks to partners (or stop).",
    "concurrency": "Jobs worked at the same time.",
    "host": "Address to listen on.",
    "port": "Port to listen on.",
    "serve_after": "Serve the API once set up.",
    "file": "The SIS file: .xml, .csv, or a .zip of them.",
    "directory": "The folder to watch for SIS files.",
    "interval": "Seconds between two looks at the folder.",
    "batch_size": "Users written per transaction.",
    "progress": "Show a progress bar on standard error.",
    "limit": "At most this many lines.",
    "offset": "Skip this many lines first.",
    "as_json": "Print JSON instead of a table.",
    "add_unmatched": "Add users of the file that match no one (or only update matches).",
    "default_user_group": "User group of new users whose record gives none.",
    "expiry_days": "New users without an expiry date expire this many days after the run.",
    "purge_days": "New users without a purge date are purged this many days after expiry.",
    "guard_share": "Stop the run when more than this share of the profile's users would be "
    "deactivated (0 to 1).",
    "guard_changes": "Count changed users, not only deactivated ones, against the guard.",
    "csv_delimiter": "The CSV files' field separator.",
    "csv_encoding": "The CSV files' text encoding.",
    "csv_multi_separator": "Separator of several values in one CSV cell (none by default).",
    "description": "A sentence saying what the profile is for.",
}

BY_COMMAND: dict[str, str] = {
    "sis profile:code": "The SIS profile's code.",
    "roles profile-set:code": "The role profile's code.",
    "roles profile-remove:code": "The role profile's code.",
    "libraries set:code": "The library's code.",
    "auth ldap:code": "The sign-in profile's code.",
}


def help_for(path: str, name: str) -> str | None:
    for key in (f"{path}:{name}", *(f"{path.rsplit(' ', n)[0]}:{name}" for n in (1, 2))):
        if key in BY_COMMAND:
            return BY_COMMAND[key]
    return BY_NAME.get(name)


def reflow(text: str) -> str:
    """A docstring's paragraphs each on one line: Rich keeps the docstring's line breaks, so
    a help wrapped at 92 columns in the source came out ragged on an 80-column terminal."""
    return "\n\n".join(" ".join(part.split()) for part in text.split("\n\n") if part.strip())


def fill(command: Any, path: str) -> None:
    """Give each parameter of ``command`` (and of its sub-commands) its shared help, and
    reflow the help of each command (``reflow``)."""
    if getattr(command, "help", None):
        command.help = reflow(command.help)
    for param in getattr(command, "params", []):
        if getattr(param, "help", "x") in (None, "") and param.name is not None:
            text = help_for(path, param.name)
            if text is not None:
                param.help = text
    for sub_name, sub in getattr(command, "commands", {}).items():
        fill(sub, f"{path} {sub_name}".strip())


class HelpfulGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fill(self, "")
