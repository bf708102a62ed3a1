"""Where the reference standards live, and what a test does when they are missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""The W3C DPV term lists and the Kantara schema, beside the repository (../shared/data)."""

REQUIRE_SHARED_VARIABLE = "AVGKIT_REQUIRE_SHARED_DATA"


def require_shared(path: Path) -> Path:
    """Return ``path`` (under the reference data) or skip, or fail where CI requires it.

    The reference standards (W3C DPV term lists, the Kantara schema) live beside the project's
    repository, not in its source distribution: a test run from an unpacked sdist skips the
    tests that compare with them, saying why. ``.ci/run`` sets ``AVGKIT_REQUIRE_SHARED_DATA=1``,
    which makes missing data a failure.
    """
    if path.exists():
        return path
    problem = f"reference data not found at {path} (the standards beside the repository)"
    if os.environ.get(REQUIRE_SHARED_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_SHARED_VARIABLE}=1 but {problem}", pytrace=False)
    pytest.skip(f"{problem}; run the tests from a checkout next to ../shared/data")
