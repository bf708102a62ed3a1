"""The documentation's own Sphinx extension: enum members shown, standard names linked."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

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


# --------------------------------------------------------------------------- references


def test_third_party_names_link_to_their_projects_documentation():
    ext = _extension()
    engine = "https://docs.sqlalchemy.org/en/20/core/connections.html#sqlalchemy.engine.Engine"
    assert ext._external("sqlalchemy.engine.Engine") == engine
    # another path to the same object: where the class is defined, how a hint names it
    assert ext._external("sqlalchemy.engine.base.Engine") == engine
    assert ext._external("_pytest.fixtures.FixtureRequest") == (
        "https://docs.pytest.org/en/stable/reference/reference.html#pytest.FixtureRequest"
    )
    assert ext._external("dateutil.relativedelta.relativedelta").startswith(
        "https://dateutil.readthedocs.io/"
    )
    # found by name, without importing the driver (the docs do not need it installed)
    assert ext._external("psycopg.Connection") == (
        "https://www.psycopg.org/psycopg3/docs/api/connections.html#psycopg.Connection"
    )
    assert ext._external("sqlalchemy.engine.Inspector") is None
    assert ext._external("avgkit.kit.Kit") is None
    assert ext._external("datetime.timedelta") is None


def test_every_third_party_page_is_an_https_page_of_its_project():
    ext = _extension()
    for name, uri in ext.EXTERNAL.items():
        assert uri.startswith("https://"), name
        if "#" in uri:
            assert uri.rpartition("#")[2] in {name, "pytest." + name.rpartition(".")[2]}, name


def test_a_short_name_means_what_the_module_that_wrote_it_imports():
    ext = _extension()
    host = ext._module_names("avgkit.host.sql._host")
    assert host["Engine"] == "sqlalchemy.engine.Engine"
    assert host["timedelta"] == "datetime.timedelta"
    assert host["SqlHostData"] == "avgkit.host.sql._host.SqlHostData"  # its own
    # imports made for type checking only count: hints written with them stay strings
    assert ext._module_names("avgkit.consent._records")["Inventory"] == "avgkit.inventory.Inventory"


def test_a_full_name_means_itself_even_where_its_first_part_is_imported():
    ext = _extension()
    node = ext.pending_xref()
    # the module imports ``datetime`` from datetime; "datetime.timedelta" is still the class
    meanings = list(ext._meanings("datetime.timedelta", "avgkit.host.sql._host", node))
    assert meanings == ["datetime.timedelta"]
    assert next(ext._meanings("Engine", "avgkit.host.sql._host", node)) == (
        "sqlalchemy.engine.Engine"
    )


def test_a_private_base_gives_way_to_its_public_bases():
    import abc
    import enum

    from avgkit._vocab import Bilingual, WithArticle
    from avgkit.consent import ConsentLedger
    from avgkit.storage import AuditStore
    from avgkit.testing.conformance import AuditStoreContract

    ext = _extension()
    assert ext._is_private(Bilingual)
    assert ext._is_private(WithArticle)
    assert not ext._is_private(LawfulBasis)
    assert not ext._is_private(ConsentLedger)  # defined in a private module, exported
    assert not ext._is_private(enum.StrEnum)
    assert ext._public_bases([WithArticle]) == [enum.StrEnum]
    # ContractBase(abc.ABC, Generic[S]) is private: the contract shows abc.ABC
    assert ext._public_bases(list(AuditStoreContract.__orig_bases__)) == [abc.ABC]
    assert ext._public_bases([AuditStore]) == [AuditStore]


def test_members_from_a_private_base_are_documented_on_the_class():
    from types import SimpleNamespace

    from avgkit.pseudonym import PseudonymKey

    ext = _extension()
    assert ("automethod", "label") in set(ext._inherited_members(LawfulBasis))
    assert ("autoproperty", "article") in set(ext._inherited_members(LawfulBasis))
    assert {"generate", "from_bytes"} <= {name for _, name in ext._inherited_members(PseudonymKey)}

    lines: list[str] = []
    every = SimpleNamespace(members=object(), exclude_members=None, inherited_members=None)
    ext._document_inherited_members(
        None, "class", "avgkit.inventory.LawfulBasis", LawfulBasis, every, lines
    )
    assert ".. automethod:: avgkit.inventory.LawfulBasis.label" in lines
    # a chosen list of members: autodoc documents those itself
    chosen: list[str] = []
    listed = SimpleNamespace(members=["label"], exclude_members=None, inherited_members=None)
    ext._document_inherited_members(None, "class", "x.LawfulBasis", LawfulBasis, listed, chosen)
    assert chosen == []


def test_a_private_class_stands_for_the_public_classes_it_combines():
    from docutils import nodes

    from avgkit.storage import ConsentStore, WordingStore
    from avgkit.testing.conformance._consent_extras import _WordingLedger

    ext = _extension()
    reference = object.__new__(ext._Reference)
    linked: list[str] = []

    def resolve_name(name, contnode):
        linked.append(name)
        return nodes.reference("", "", contnode, refuri="#" + name)

    reference.resolve_name = resolve_name
    shown = reference.private_class(_WordingLedger)
    assert shown.astext() == "ConsentStore & WordingStore"
    assert linked == [
        f"{ConsentStore.__module__}.ConsentStore",
        f"{WordingStore.__module__}.WordingStore",
    ]
    assert reference.private_class(type("_Bare", (), {"__module__": "avgkit.x"})) is None


def test_a_type_variable_stands_for_what_a_subclass_fixed_it_to():
    from avgkit.storage import AuditStore, StoreSet
    from avgkit.testing.conformance import AuditStoreContract, FeedStoreContract
    from avgkit.testing.conformance._base import S

    ext = _extension()
    assert ext._type_arguments(AuditStoreContract)[S] is AuditStore
    assert ext._type_arguments(FeedStoreContract)[S] is StoreSet  # through a private base


def test_a_field_of_a_value_is_found_on_its_class():
    ext = _extension()
    assert ext._field_owner("avgkit.inventory.Purpose.confirmation") == "avgkit.inventory.Purpose"
    assert ext._field_owner("avgkit.inventory.Purpose.no_such_field") is None
    assert ext._field_owner("avgkit.inventory.Inventory.may_use") is None  # not attrs fields


def test_a_reexported_constant_has_the_docstring_written_where_it_is_defined():
    ext = _extension()
    assert ext._defining_docstring("avgkit.inventory.ART8_AGES")[0].startswith("The Art. 8 age")
    # re-exported through a package that re-exports it from a private module
    assert ext._defining_docstring("avgkit.storage.postgres.LIBPQ_PARAMETERS")
    assert ext._defining_docstring("avgkit.inventory.Inventory") == ()


def test_an_attribute_docstring_is_prose_not_napoleons_type_and_description():
    from types import SimpleNamespace

    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    ext = _extension()
    config = Config(napoleon_use_rtype=True)
    lines = ["Art. 34(3)(a): the data was unintelligible.", "", "More prose."]
    name = "avgkit.breach.Exemption.ENCRYPTED"
    ext._keep_attribute_docstring(None, "attribute", name, None, None, lines)
    lines[:] = GoogleDocstring(lines, config, None, "attribute", name).lines()  # napoleon
    assert ":type: Art. 34(3)(a)" in lines  # what napoleon alone makes of it
    ext._prose_attribute_docstring(
        SimpleNamespace(config=config), "attribute", name, None, None, lines
    )
    assert lines[0] == "Art. 34(3)(a): the data was unintelligible."
    assert not any(line.startswith(":type:") for line in lines)


# Sphinx's own napoleon reads autodoc's options through the interface Sphinx deprecates
@pytest.mark.filterwarnings("ignore:The mapping interface for autodoc options")
def test_a_page_of_vocabularies_and_outside_names_builds_without_a_warning(tmp_path):
    import io

    from sphinx.application import Sphinx

    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r})\n"
        "extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon', 'avgkit_refs']\n"
        "nitpicky = True\n"
        "autodoc_typehints = 'description'\n",
        "utf-8",
    )
    (source / "index.rst").write_text(
        "Page\n====\n\n"
        ".. autoclass:: avgkit.inventory.LawfulBasis\n   :members:\n   :show-inheritance:\n\n"
        ".. autoclass:: avgkit.breach.Exemption\n   :members:\n\n"
        "See :class:`avgkit.LawfulBasis`, :class:`sqlalchemy.engine.base.Engine` and\n"
        ":class:`datetime.timedelta`.\n",
        "utf-8",
    )
    warnings = io.StringIO()
    app = Sphinx(
        str(source),
        str(source),
        str(tmp_path / "html"),
        str(tmp_path / "doctrees"),
        "html",
        status=None,
        warning=warnings,
        freshenv=True,
    )
    app.build()
    assert warnings.getvalue() == ""
    page = (tmp_path / "html" / "index.html").read_text("utf-8")
    assert 'id="avgkit.inventory.LawfulBasis.label"' in page  # from the private base
    assert "library/enum.html#enum.StrEnum" in page  # the base shown instead of it
    assert "Art. 34(3)(a): the data was unintelligible" in page
    assert "sqlalchemy.engine.Engine" in page


def test_the_docs_build_is_nitpicky_and_ignores_no_reference():
    """Every cross-reference must resolve: the build is nitpicky and hides nothing."""
    conf = (ROOT / "docs" / "conf.py").read_text("utf-8")
    assert re.search(r"^nitpicky = True$", conf, re.MULTILINE)
    assert "nitpick_ignore" not in conf
