from __future__ import annotations

import os
from pathlib import Path

import pytest


def _find_samples() -> Path | None:
    """``<repo>/../shared/alma/samples``: the repo is cloned next to the ``shared`` folder."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "alma" / "samples"
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def samples() -> Path:
    found = _find_samples()
    if found is None:
        message = "the shared Alma samples folder (<repo>/../shared/alma/samples) is missing"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI always has it: the contract tests must run there
        pytest.skip(message)
    return found
