"""Packaging: the metadata tells the truth, and an unpacked sdist's tests behave."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from shareddata import REQUIRE_SHARED_VARIABLE, require_shared

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def test_missing_reference_data_skips_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.delenv(REQUIRE_SHARED_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="reference data not found"):
        require_shared(tmp_path / "absent")


def test_missing_reference_data_fails_where_ci_requires_it(tmp_path, monkeypatch):
    monkeypatch.setenv(REQUIRE_SHARED_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="AVGKIT_REQUIRE_SHARED_DATA=1"):
        require_shared(tmp_path / "absent")


def test_present_reference_data_is_returned(tmp_path):
    assert require_shared(tmp_path) == tmp_path


def test_the_classifiers_name_the_python_this_suite_runs_on():
    classifiers = _project()["project"]["classifiers"]
    versions = {c.rsplit(" :: ", 1)[1] for c in classifiers if c.count("::") == 2 and "3." in c}
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert running in versions, "the Python the tests run on is not among the classifiers"


def test_the_build_backend_supports_the_licence_fields():
    requires = _project()["build-system"]["requires"]
    assert any(r.startswith("hatchling>=1.27") for r in requires), requires
    assert _project()["project"]["license-files"] == ["LICENSE"]
