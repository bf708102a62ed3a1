"""Shared test configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from shareddata import SHARED_DATA, require_shared

pytest_plugins = ["pytester", "pgsupport", "mariadbsupport"]  # the PostgreSQL, MariaDB fixtures

# Property tests here touch SQLite files and run beside PostgreSQL on a 2-core CI machine:
# per-example time limits would only make them flaky. Example counts stay as each test sets.
settings.register_profile("avgkit", deadline=None, print_blob=True)
settings.load_profile("avgkit")


@pytest.fixture
def shared_data() -> Path:
    """The reference standards beside the project (W3C DPV, Kantara)."""
    return require_shared(SHARED_DATA)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store set URL of each adapter (PostgreSQL: a new schema)."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'avgkit.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def mariadb_url(mariadb_databases: Callable[[], str]) -> str:
    """An SQLAlchemy URL of a fresh MariaDB database of its own (dropped afterwards)."""
    return mariadb_databases()
