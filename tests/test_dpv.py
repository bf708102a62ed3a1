"""Every DPV IRI avgkit emits exists in the W3C DPV 2.3 term lists, and the compact list of
personal-data terms shipped in the package agrees with DPV's CSV."""

from __future__ import annotations

import csv
import importlib.util
import json
from importlib import resources
from pathlib import Path

import pytest

from avgkit import _dpv
from avgkit.dsar import ExtensionReason, RefusalReason, RequestKind, RequestStatus
from avgkit.inventory import (
    SUPPORTED_CATEGORIES,
    Art9Condition,
    LawfulBasis,
    RecipientRole,
    SpecialCategory,
    TransferMechanism,
    category_label,
)
from avgkit.presets import ticketing
from shareddata import require_shared

VOCABULARIES = ("dpv", "pd", "eu-gdpr")
# The term lists live beside the project, in ../shared/data relative to its root.
DPV_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "dpv-2.3"


@pytest.fixture(scope="module")
def dpv_terms():
    rows = {}
    for name in VOCABULARIES:
        path = DPV_DIR / f"{name}.csv"
        require_shared(path)
        with path.open(encoding="utf-8", newline="") as stream:
            rows.update({row["iri"]: row for row in csv.DictReader(stream)})
    return rows


def _enum_iris():
    members = [*LawfulBasis, *SpecialCategory, *Art9Condition, *RecipientRole]
    iris = {member.iri for member in members}
    iris |= {m.iri for m in TransferMechanism if m.iri is not None}
    return iris


def test_every_shipped_iri_exists_in_the_dpv_term_lists(dpv_terms):
    missing = sorted((_dpv.used_iris() | _enum_iris()) - dpv_terms.keys())
    assert missing == []


def test_request_kinds_are_data_subject_rights(dpv_terms):
    for kind in RequestKind:
        assert dpv_terms[kind.right]["hasbroader"] == _dpv.DPV + "DataSubjectRight", kind


def test_request_statuses_are_dpv_request_statuses(dpv_terms):
    for status in RequestStatus:
        assert dpv_terms[status.dpv]["dpvtype"] == _dpv.DPV + "RequestStatus", status


def test_refusal_and_extension_reasons_are_dpv_terms(dpv_terms):
    for reason in [*RefusalReason, *ExtensionReason]:
        assert reason.dpv in _dpv.used_iris()
        assert reason.dpv in dpv_terms, reason
    for reason in ExtensionReason:
        # The eu-gdpr extension's delay justifications: "... is delayed due to ..."
        assert "delayed" in dpv_terms[reason.dpv]["definition"], reason


def test_the_preset_purpose_iris_exist_in_the_dpv_term_lists(dpv_terms):
    iris = {p.dpv_purpose for p in ticketing.inventory().purposes if p.dpv_purpose}
    assert iris
    assert sorted(iris - dpv_terms.keys()) == []


def test_preset_purpose_iris_are_dpv_purposes(dpv_terms):
    for purpose in ticketing.inventory().purposes:
        if purpose.dpv_purpose:
            row = dpv_terms[purpose.dpv_purpose]
            assert "Purpose" in row["dpvtype"] or "Purpose" in row["hasbroader"], purpose.key


def test_supported_categories_are_pd_terms_with_dpv_english_labels(dpv_terms):
    for term in SUPPORTED_CATEGORIES:
        row = dpv_terms[_dpv.PD + term]
        assert row["vocab"] == "pd"
        assert row["label"] == _dpv.DATA_CATEGORIES[term].en


def test_categories_marked_special_are_exactly_dpv_special_category_terms(dpv_terms):
    for term, category in _dpv.DATA_CATEGORIES.items():
        dpv_special = "SpecialCategoryPersonalData" in dpv_terms[category.iri]["dpvtype"]
        assert dpv_special == (category.special is not None), term


def test_lawful_basis_iris_are_the_article_6_1_terms():
    letters = "abcdef"
    for letter, basis in zip(letters, LawfulBasis, strict=True):
        assert basis.iri == f"https://w3id.org/dpv/legal/eu/gdpr#A6-1-{letter}"
        assert basis.article == f"Art. 6(1)({letter})"


def test_art9_condition_iris_are_the_article_9_2_terms():
    for letter, condition in zip("abcdefghij", Art9Condition, strict=True):
        assert condition.iri == f"https://w3id.org/dpv/legal/eu/gdpr#A9-2-{letter}"
        assert condition.article == f"Art. 9(2)({letter})"


def _pd_rows():
    path = DPV_DIR / "pd.csv"
    require_shared(path)
    with path.open(encoding="utf-8", newline="") as stream:
        return {row["term"]: row for row in csv.DictReader(stream)}


def _generator():
    path = Path(__file__).resolve().parents[1] / "tools" / "dpv_terms.py"
    spec = importlib.util.spec_from_file_location("dpv_terms", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_dpv_personal_data_term_is_supported():
    rows = _pd_rows()
    assert len(rows) == 231
    assert set(SUPPORTED_CATEGORIES) == set(rows)
    assert "Nationality" in SUPPORTED_CATEGORIES


def test_the_shipped_term_list_matches_the_csv():
    rows = _pd_rows()
    shipped = json.loads(resources.files("avgkit").joinpath(_dpv.TERMS_FILE).read_text("utf-8"))
    assert shipped["columns"] == ["term", "iri", "label", "broader", "art9_category"]
    by_term = {row[0]: row for row in shipped["terms"]}
    assert set(by_term) == set(rows)
    for term, (_, iri, label, broader, _special) in by_term.items():
        assert iri == rows[term]["iri"] == _dpv.PD + term
        assert label == rows[term]["label"]
        assert set(broader) == {
            b.removeprefix(_dpv.PD) for b in rows[term]["hasbroader"].split(";")
        } & set(rows)


def test_the_shipped_term_list_is_what_the_generator_writes():
    generator = _generator()
    shipped = json.loads(resources.files("avgkit").joinpath(_dpv.TERMS_FILE).read_text("utf-8"))
    assert shipped["terms"] == generator.terms(DPV_DIR / "pd.csv")


def test_the_schema_enum_lists_every_term():
    schema = json.loads(
        resources.files("avgkit").joinpath("schemas/inventory.schema.json").read_text("utf-8")
    )
    enum = schema["$defs"]["field"]["properties"]["category"]["enum"]
    assert enum == sorted(SUPPORTED_CATEGORIES)


def test_special_terms_below_a_branch_take_its_article_9_category():
    assert _dpv.DATA_CATEGORIES["BloodType"].special == "health"
    assert _dpv.DATA_CATEGORIES["Fingerprint"].special == "biometric_data"
    assert _dpv.DATA_CATEGORIES["DNACode"].special == "genetic_data"
    assert _dpv.DATA_CATEGORIES["SexualPreference"].special == "sex_life_or_orientation"
    assert _dpv.DATA_CATEGORIES["Religion"].special == "religious_or_philosophical_beliefs"
    assert _dpv.DATA_CATEGORIES["Nationality"].special is None
    assert {c.special for c in _dpv.DATA_CATEGORIES.values()} - {None} == {
        s.value for s in SpecialCategory
    }


def test_terms_without_a_dutch_label_show_the_english_one():
    assert category_label("EmailAddress", "nl") == "E-mailadres"
    assert _dpv.DATA_CATEGORIES["EmailAddress"].translated
    assert category_label("Nationality", "nl") == "Nationality"
    assert not _dpv.DATA_CATEGORIES["Nationality"].translated
    assert set(_dpv.DUTCH_LABELS) <= set(SUPPORTED_CATEGORIES)


def test_the_package_ships_only_the_compact_term_list():
    """The package carries its own JSON list of pd terms, never DPV's CSV, Turtle or RDF."""
    shipped = resources.files("avgkit").joinpath(_dpv.TERMS_FILE)
    assert shipped.is_file()
    assert len(shipped.read_bytes()) < 40_000


def test_the_package_bundles_no_copy_of_the_dpv_term_lists():
    root = resources.files("avgkit")
    names = []
    stack = [root]
    while stack:
        item = stack.pop()
        if item.is_dir():
            stack.extend(item.iterdir())
        else:
            names.append(item.name)
    assert not [n for n in names if n.endswith((".csv", ".ttl", ".jsonld", ".rdf"))]
