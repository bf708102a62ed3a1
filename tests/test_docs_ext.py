"""The documentation's own Sphinx extension: enum members shown, standard names linked."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

from avgkit.inventory import LawfulBasis

ROOT = Path(__file__).resolve().parents[1]


def _extension():
    path = ROOT / "docs" / "_ext" / "avgkit_refs.py"
    spec = importlib.util.spec_from_file_location("avgkit_refs", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_enum_member_is_shown_even_without_a_docstring():
    ext = _extension()
    assert (
        ext._keep_enum_members(None, "class", "CONSENT", LawfulBasis.CONSENT, True, None) is False
    )
    assert ext._keep_enum_members(None, "class", "_private", object(), True, None) is None
    assert ext._keep_enum_members(None, "class", "iri", property(), True, None) is None


def test_standard_library_names_find_their_module_page():
    ext = _extension()
    assert ext._stdlib_module("datetime.datetime") == "datetime"
    assert ext._stdlib_module("collections.abc.Iterator") == "collections.abc"
    assert ext._stdlib_module("pathlib") == "pathlib"
    assert ext._stdlib_module("sqlalchemy.engine.Engine") is None
    assert ext._stdlib_module("ValidationError") is None


def test_the_docs_extra_has_what_the_documented_modules_import():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    docs = " ".join(extras["optional-dependencies"]["docs"])
    # avgkit.testing.plugin imports pytest, the strategies hypothesis, avgkit.host.sql
    # SQLAlchemy, and the changelog page needs MyST.
    for needed in ("sphinx", "pytest", "hypothesis", "sqlalchemy", "myst-parser"):
        assert needed in docs, needed


def test_the_public_docs_name_no_internal_document_or_vendors_contract():
    # What the docs render: the pages, the docstrings and the shipped schemas and presets.
    sources = [
        *(ROOT / "docs").glob("*.rst"),
        *(ROOT / "src" / "avgkit").rglob("*.py"),
        *(ROOT / "src" / "avgkit" / "schemas").glob("*.json"),
        *(ROOT / "src" / "avgkit" / "presets").glob("*.toml"),
        ROOT / "README.md",
    ]
    banned = re.compile(r"ActiveTickets|\bseed\s+00\d|\bseeds?/|DESIGN\.md|STYLE\.md|\bissue\s+\d+")
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sources
        for match in banned.finditer(path.read_text("utf-8"))
    ]
    assert not found, found
