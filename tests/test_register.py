"""The Art. 30(1) record of processing activities: structure and its four renderings."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given

from avgkit.errors import ValidationError
from avgkit.inventory import (
    Art9Condition,
    Controller,
    Field,
    IdentifierKind,
    Inventory,
    LawfulBasis,
    ProcessingActivity,
    ProcessingRegister,
    Purpose,
    Recipient,
    RecipientRole,
    SpecialCategory,
    Texts,
    TransferMechanism,
)
from avgkit.testing.strategies import inventories

SECURITY = Texts(nl="HTTPS en ISO 27001", en="HTTPS and ISO 27001")
HOSTILE = "<script>alert(1)</script> | **x** [y](z) =SUM(A1)"


def make_inventory(name="Voorbeeldpodium", security=SECURITY):
    return Inventory(
        controller=Controller(
            name=name,
            address="Voorbeeldstraat 1, Groningen",
            email="privacy@venue.example",
            country="NL",
            dpo="fg@venue.example",
        ),
        purposes=[
            Purpose(
                key="ticket_sale",
                description=Texts(nl="Kaartverkoop", en="Ticket sale"),
                basis=LawfulBasis.CONTRACT,
                recipients=("vendor",),
                retention=Texts(nl="7 jaar", en="7 years"),
            ),
            Purpose(
                key="newsletter",
                description=Texts(nl="Nieuwsbrief", en="Newsletter"),
                basis=LawfulBasis.CONSENT,
                direct_marketing=True,
                profiling=True,
                recipients=("mailer",),
                subject_categories=("visitors", "relations"),
            ),
        ],
        fields=[
            Field(
                key="email",
                category="EmailAddress",
                identifier=IdentifierKind.DIRECT,
                purposes=("ticket_sale", "newsletter"),
            ),
            Field(
                key="access_needs",
                category="Disability",
                identifier=IdentifierKind.SENSITIVE,
                purposes=("ticket_sale",),
                special_category=SpecialCategory.HEALTH,
                art9_condition=Art9Condition.EXPLICIT_CONSENT,
            ),
        ],
        recipients=[
            Recipient(
                key="vendor", name="Ticket vendor", role=RecipientRole.PROCESSOR, country="NL"
            ),
            Recipient(
                key="mailer",
                name="Mail platform",
                role=RecipientRole.PROCESSOR,
                country="US",
                transfer_mechanism=TransferMechanism.STANDARD_CONTRACTUAL_CLAUSES,
            ),
            Recipient(
                key="hosting", name="Hosting", role=RecipientRole.SUB_PROCESSOR, country="DE"
            ),
        ],
        security_measures=security,
    )


def test_register_has_one_activity_per_purpose_in_order():
    register = make_inventory().register()
    assert isinstance(register, ProcessingRegister)
    assert [a.purpose for a in register.activities] == ["ticket_sale", "newsletter"]
    assert all(isinstance(a, ProcessingActivity) for a in register.activities)


def test_activity_carries_basis_subjects_data_categories_and_special_categories():
    sale, news = make_inventory().register().activities
    assert sale.basis is LawfulBasis.CONTRACT
    assert sale.data_categories == ("EmailAddress", "Disability")
    assert sale.special_categories == ((SpecialCategory.HEALTH, Art9Condition.EXPLICIT_CONSENT),)
    assert news.subject_categories == ("visitors", "relations")
    assert news.field_keys == ("email",)


def test_register_lists_every_recipient_and_the_third_country_transfers():
    register = make_inventory().register()
    assert [r.key for r in register.recipients] == ["vendor", "mailer", "hosting"]
    assert [r.key for r in register.transfers] == ["mailer"]
    assert [r.key for r in register.activities[1].transfers] == ["mailer"]


def test_as_dict_is_json_ready_and_covers_article_30_1_a_to_g():
    data = make_inventory().register().as_dict()
    json.dumps(data)
    assert data["controller"]["dpo"] == "fg@venue.example"  # (a)
    sale = data["activities"][0]
    assert sale["basis"] == {
        "value": "contract",
        "article": "Art. 6(1)(b)",
        "iri": "https://w3id.org/dpv/legal/eu/gdpr#A6-1-b",
    }  # (b)
    assert sale["subject_categories"] == ["visitors"]  # (c)
    assert sale["data_categories"][0]["iri"] == "https://w3id.org/dpv/pd#EmailAddress"  # (c)
    assert sale["special_categories"][0]["condition_article"] == "Art. 9(2)(a)"
    assert sale["recipients"] == ["vendor"]  # (d)
    assert data["recipients"][1]["transfer_mechanism"]["article"] == "Art. 46(2)(c)"  # (e)
    assert data["transfers"] == ["mailer"]  # (e)
    assert sale["retention"] == {"nl": "7 jaar", "en": "7 years"}  # (f)
    assert data["security_measures"]["en"] == "HTTPS and ISO 27001"  # (g)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "en",
            [
                "Record of processing activities",
                "Art. 6(1)(b) Performance of a contract",
                "Art. 46(2)(c) Standard contractual clauses",
                "Email Address",
                "7 years",
                "HTTPS and ISO 27001",
                "Data protection officer",
            ],
        ),
        (
            "nl",
            [
                "Register van verwerkingsactiviteiten",
                "Art. 6(1)(b) Uitvoering van een overeenkomst",
                "Modelcontractbepalingen",
                "E-mailadres",
                "7 jaar",
                "HTTPS en ISO 27001",
                "Functionaris gegevensbescherming",
            ],
        ),
    ],
)
def test_markdown_covers_the_register_in_the_language(lang, expected):
    text = make_inventory().register().to_markdown(lang)
    for phrase in expected:
        assert phrase in text


def test_markdown_escapes_values_so_they_cannot_break_tables_or_inject_html():
    inv = make_inventory(name=HOSTILE)
    text = inv.register().to_markdown("en")
    assert "<script>" not in text
    assert "\\<script\\>" in text
    assert " | \\*\\*x" not in text
    assert "\\|" in text


def test_markdown_values_cannot_start_a_heading_or_list():
    text = make_inventory(security=Texts(nl="# kop", en="- item")).register().to_markdown("en")
    assert "\n\\- item\n" in text


def test_markdown_puts_multi_line_values_on_one_line():
    inv = make_inventory(name="line one\nline two")
    assert "line one line two" in inv.register().to_markdown("en")


def test_csv_has_one_row_per_activity_with_localised_header():
    text = make_inventory().register().to_csv("nl")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["Verwerkingsverantwoordelijke", "Sleutel", "Doel"]
    assert [row[1] for row in rows[1:]] == ["ticket_sale", "newsletter"]
    assert rows[2][rows[0].index("Direct marketing")] == "ja"


def test_csv_neutralises_formula_injection():
    text = make_inventory(name="=HYPERLINK(1)").register().to_csv("en")
    assert ",=HYPERLINK" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert all(not cell.startswith("=") for row in rows for cell in row)


def test_html_is_a_printable_page_in_the_language():
    page = make_inventory().register().to_html("nl")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="nl">' in page
    assert "@media print" in page
    assert "Doorgiften naar derde landen" in page
    assert "Mail platform" in page


def test_html_escapes_all_content():
    page = make_inventory(name=HOSTILE).register().to_html("en")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_register_without_security_measures_says_so():
    register = make_inventory(security=None).register()
    assert register.as_dict()["security_measures"] is None
    assert "not described" in register.to_markdown("en")
    assert "niet beschreven" in register.to_html("nl")


def test_renderings_refuse_an_unsupported_language():
    register = make_inventory().register()
    for render in (register.to_markdown, register.to_csv, register.to_html):
        with pytest.raises(ValidationError, match="language"):
            render("de")


@given(inventories())
def test_every_inventory_renders_in_every_format_and_language(inv):
    register = inv.register()
    json.dumps(register.as_dict())
    for lang in ("nl", "en"):
        assert register.to_markdown(lang)
        assert register.to_csv(lang)
        assert "<script" not in register.to_html(lang)
