"""Dependency audit for CI: pip-audit over the installed environment (docs/security.md).

Exit 1 when a dependency has a known vulnerability that ``scripts/audit-ignore.txt`` does not
list (one ID a line, with the reason after ``#``). When the vulnerability service cannot be
reached the audit is reported as not done and the run goes on (exit 0), unless
``BOOKPLATE_REQUIRE_AUDIT=1``: a network outage must not make CI fail at random.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ignored() -> list[str]:
    path = HERE / "audit-ignore.txt"
    if not path.exists():
        return []
    ids = []
    for line in path.read_text().splitlines():
        vuln = line.split("#", 1)[0].strip()
        if vuln:
            ids.append(vuln)
    return ids


def main() -> int:
    audit = Path(sys.executable).with_name("pip-audit")
    strict = os.environ.get("BOOKPLATE_REQUIRE_AUDIT") == "1"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        command = [str(audit), "--skip-editable", "--progress-spinner", "off",
                   "--format", "json", "--output", str(report)]
        for vuln in ignored():
            command += ["--ignore-vuln", vuln]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600,  # noqa: S603
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"audit: not done ({exc})")
            return 1 if strict else 0
        if not report.exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"audit: not done, the vulnerability service could not be asked ({last})")
            return 1 if strict else 0
        data = json.loads(report.read_text())
    deps = data.get("dependencies", [])
    found = [(d["name"], d["version"], v["id"], ", ".join(v.get("fix_versions", [])) or "-")
             for d in deps for v in d.get("vulns", [])]
    skipped = [d["name"] for d in deps if d.get("skip_reason")]
    print(f"audit: {len(deps) - len(skipped)} dependencies checked, {len(skipped)} not known "
          f"to the service, {len(found)} known vulnerabilities")
    for name, version, vuln, fixes in found:
        print(f"  {name} {version}: {vuln} (fixed in {fixes})")
    if skipped and strict and len(skipped) == len(deps):
        print("audit: no dependency could be checked")
        return 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
