"""The ticketing preset: modelled on the seeds, shipped as a policy file, free of contradictions."""

from __future__ import annotations

import tomllib

import pytest

from avgkit import presets
from avgkit.inventory import (
    IdentifierKind,
    Inventory,
    LawfulBasis,
    RecipientRole,
    TransferMechanism,
    Treatment,
)
from avgkit.presets import ticketing

PURPOSES = [
    "ticket_sale",
    "service_mail",
    "evaluation_mail",
    "waiting_list",
    "newsletter",
    "loyalty_programme",
    "postal_mailing_visit_history",
    "share_with_artist",
    "share_with_coorganiser",
    "audience_analysis",
]


def test_the_preset_builds_an_inventory_that_passes_every_rule():
    inv = ticketing.inventory()
    assert isinstance(inv, Inventory)
    assert Inventory.from_mapping(inv.to_mapping()) == inv


def test_presets_package_exposes_ticketing():
    assert presets.ticketing is ticketing


def test_the_python_preset_is_the_shipped_policy_file(tmp_path):
    text = ticketing.policy_file().read_text("utf-8")
    path = tmp_path / "ticketing.toml"
    path.write_text(text, encoding="utf-8")
    assert Inventory.from_file(path) == ticketing.inventory()
    assert Inventory.from_mapping(tomllib.loads(text)) == ticketing.inventory()


def test_the_preset_declares_the_seed_purposes():
    assert [p.key for p in ticketing.inventory().purposes] == PURPOSES


@pytest.mark.parametrize(
    ("purpose", "basis"),
    [
        ("ticket_sale", LawfulBasis.CONTRACT),
        ("service_mail", LawfulBasis.CONTRACT),
        ("waiting_list", LawfulBasis.CONTRACT),
        ("newsletter", LawfulBasis.CONSENT),
        ("loyalty_programme", LawfulBasis.CONSENT),
        ("share_with_artist", LawfulBasis.CONSENT),
        ("evaluation_mail", LawfulBasis.LEGITIMATE_INTERESTS),
        ("postal_mailing_visit_history", LawfulBasis.LEGITIMATE_INTERESTS),
        ("share_with_coorganiser", LawfulBasis.LEGITIMATE_INTERESTS),
        ("audience_analysis", LawfulBasis.LEGITIMATE_INTERESTS),
    ],
)
def test_the_preset_bases_follow_the_privacy_policy(purpose, basis):
    assert ticketing.inventory().purpose(purpose).basis is basis


def test_direct_marketing_and_profiling_flags_follow_the_privacy_policy():
    inv = ticketing.inventory()
    marketing = {p.key for p in inv.purposes if p.direct_marketing}
    assert marketing == {
        "newsletter",
        "loyalty_programme",
        "evaluation_mail",
        "postal_mailing_visit_history",
    }
    assert {p.key for p in inv.purposes if p.profiling} == {"postal_mailing_visit_history"}


def test_the_preset_holds_the_ticket_buyers_fields():
    inv = ticketing.inventory()
    assert {
        "name",
        "street_address",
        "postcode",
        "city",
        "country",
        "email",
        "phone",
        "birth_date",
        "bank_account",
        "ip_address",
    } <= {f.key for f in inv.fields}


def test_postcode_and_birth_date_are_generalised_quasi_identifiers_for_audience_analysis():
    inv = ticketing.inventory()
    for key, generaliser in (("postcode", "postcode_pc4"), ("birth_date", "birth_date_year")):
        f = inv.field(key)
        assert f.identifier is IdentifierKind.QUASI
        assert f.treatment is Treatment.GENERALISE
        assert f.generaliser == generaliser
        assert inv.may_use(key, "audience_analysis")


def test_birth_date_serves_only_audience_analysis():
    assert [p.key for p in ticketing.inventory().purposes_for("birth_date")] == [
        "audience_analysis"
    ]


def test_only_name_and_email_are_shared_with_the_artist_and_coorganiser():
    inv = ticketing.inventory()
    for purpose in ("share_with_artist", "share_with_coorganiser"):
        assert {f.key for f in inv.fields_for(purpose)} == {"name", "email"}


def test_third_country_recipients_are_the_us_mail_platform_and_japanese_backups_under_scc():
    inv = ticketing.inventory()
    transfers = {r.key: (r.country, r.transfer_mechanism) for r in inv.third_country_recipients}
    scc = TransferMechanism.STANDARD_CONTRACTUAL_CLAUSES
    assert transfers == {"mail_platform": ("US", scc), "backup_storage": ("JP", scc)}


def test_artist_is_a_third_party_and_coorganiser_a_joint_controller():
    inv = ticketing.inventory()
    assert inv.recipient("artist").role is RecipientRole.THIRD_PARTY
    assert inv.recipient("coorganiser").role is RecipientRole.JOINT_CONTROLLER


def test_the_preset_controller_is_clearly_sample_data():
    controller = ticketing.inventory().controller
    assert "sample" in controller.name
    assert controller.email.endswith(".example")


def test_every_preset_purpose_has_a_retention_description():
    assert all(p.retention is not None for p in ticketing.inventory().purposes)


def test_the_preset_renders_its_register():
    html = ticketing.inventory().register().to_html("nl")
    assert "Modelcontractbepalingen" in html
