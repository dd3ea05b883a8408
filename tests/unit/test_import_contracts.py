"""Each import-linter contract in pyproject.toml fails when its rule is broken.

A copy of the package gets one deliberate import that breaks one rule; ``lint-imports`` run on
that copy must report that contract as broken (and the untouched copy keeps every contract).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tools", tmp_path / "tools",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(repo: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=repo, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    done = _lint(_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert " BROKEN" not in done.stdout
    assert "0 broken" in done.stdout


VIOLATIONS = [
    ("Floors:", "alma/json.py", "import bookplate.sis.model"),
    ("Floors:", "sis/plan.py", "import bookplate.auth.model"),
    ("Storage is reached only through bootstrap", "api/app.py", "import bookplate.storage.engine"),
    ("Storage is reached only through bootstrap", "roles/services.py",
     "import bookplate.storage.tables"),
    ("Database and queue drivers only inside storage", "sis/jobs.py", "import psycopg"),
    ("Only the faces know HTTP", "users/services.py", "import fastapi"),
    ("Protocol libraries only in their sign-in backend", "auth/services.py", "import saml2"),
    ("Sign-in backends only through auth.external", "web/external.py",
     "import bookplate.auth.backends.saml"),
    ("Sign-in backends only through auth.external", "auth/services.py",
     "import bookplate.auth.backends.ldap"),
    ("Storage builds area models, never area services or backends",
     "storage/auth_profiles_repo.py", "import bookplate.auth.services"),
    ("The alma codec needs only users and the XML parser", "alma/xml.py", "import orjson"),
    ("SIS needs only users, the alma codec, roles and the base modules", "sis/apply.py",
     "import bookplate.keys.model"),
    ("Pure modules import only the standard library", "roles/policy.py", "import structlog"),
    ("Pure modules import only the standard library", "sis/plan.py",
     "import bookplate.users.services"),
    ("Pure modules import only the standard library", "sis/sources/formats.py",
     "import structlog"),
]


@pytest.mark.parametrize(("contract", "module", "line"), VIOLATIONS)
def test_a_broken_rule_breaks_its_contract(
    tmp_path: Path, contract: str, module: str, line: str
) -> None:
    repo = _copy(tmp_path)
    target = repo / "src" / "bookplate" / module
    target.write_text(target.read_text() + f"\n{line}  # deliberate violation\n")
    done = _lint(repo)
    assert done.returncode != 0
    broken = [row for row in done.stdout.splitlines() if row.endswith(" BROKEN")]
    assert any(row.startswith(contract) for row in broken), done.stdout
