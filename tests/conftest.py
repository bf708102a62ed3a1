"""Shared test configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester", "pgsupport"]  # pgsupport: the PostgreSQL fixtures

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The reference standards beside the project (W3C DPV, Kantara)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data not found at {SHARED_DATA}; tests need ../shared/data")
    return SHARED_DATA
