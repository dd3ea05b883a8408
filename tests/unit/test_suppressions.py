"""Every ``noqa`` and ``type: ignore`` in src/ says why (issue 15, global checks): on its own
line after the codes, or in a comment line just above that names the codes."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "bookplate"
_PRAGMA = re.compile(r"#\s*(?:noqa(?::\s*[A-Z0-9, ]+)?|type:\s*ignore(?:\[[^\]]*\])?)(.*)$")


def _has_reason(rest: str) -> bool:
    return len(re.sub(r"^[\s\-(:#]+", "", rest)) >= 4


def test_every_suppression_gives_its_reason() -> None:
    bare = []
    for path in sorted(SRC.rglob("*.py")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            match = _PRAGMA.search(line)
            if match is None or _has_reason(match.group(1)):
                continue
            above = lines[number - 2].strip() if number > 1 else ""
            if above.startswith("#") and " below: " in above:
                continue
            bare.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert bare == []
