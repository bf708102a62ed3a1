"""Where data comes from, the supervisory authority, and the purposes' Art. 18/22 flags."""

from __future__ import annotations

import json

import pytest

from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory import (
    AUTHORITIES,
    Controller,
    DataOrigin,
    Field,
    IdentifierKind,
    Inventory,
    LawfulBasis,
    Purpose,
    SupervisoryAuthority,
    Texts,
    authority_for,
)
from avgkit.presets import ticketing

T = Texts(nl="Kaartverkoop", en="Ticket sales")
PARTNER = Texts(nl="Ticketpartner B.V.", en="Ticket partner Ltd")


def controller(country: str = "NL", **kw: object) -> Controller:
    return Controller(
        name="Venue",
        address="Plein 1, Groningen",
        email="privacy@venue.example",
        country=country,
        **kw,
    )


def inventory(country: str = "NL", **kw: object) -> Inventory:
    return Inventory(
        controller=controller(country, **kw),
        purposes=[Purpose(key="ticket_sale", description=T, basis=LawfulBasis.CONTRACT)],
        fields=[
            Field(
                key="email",
                category="EmailAddress",
                identifier=IdentifierKind.DIRECT,
                purposes=["ticket_sale"],
            ),
        ],
    )


def test_a_field_defaults_to_data_the_subject_provided():
    f = Field(
        key="email", category="EmailAddress", identifier=IdentifierKind.DIRECT, purposes=["x"]
    )
    assert f.origin is DataOrigin.PROVIDED
    assert f.source is None
    assert f.origin.portable


def test_received_data_names_the_party_it_came_from():
    f = Field(
        key="phone",
        category="TelephoneNumber",
        identifier=IdentifierKind.DIRECT,
        purposes=["x"],
        origin=DataOrigin.RECEIVED,
        source=PARTNER,
    )
    assert f.source == PARTNER
    assert not f.origin.portable
    with pytest.raises(ValidationError, match="required when origin is 'received'"):
        Field(
            key="phone",
            category="TelephoneNumber",
            identifier=IdentifierKind.DIRECT,
            purposes=["x"],
            origin=DataOrigin.RECEIVED,
        )
    with pytest.raises(ValidationError, match="origin must be 'received'"):
        Field(
            key="phone",
            category="TelephoneNumber",
            identifier=IdentifierKind.DIRECT,
            purposes=["x"],
            source=PARTNER,
        )


@pytest.mark.parametrize(
    ("origin", "portable"),
    [("provided", True), ("observed", True), ("derived", False), ("received", False)],
)
def test_only_provided_and_observed_data_is_portable(origin, portable):
    assert DataOrigin(origin).portable is portable
    assert DataOrigin(origin).label("nl") != DataOrigin(origin).label("en")


def test_the_authority_follows_the_controllers_country():
    assert inventory("NL").authority.name.nl == "Autoriteit Persoonsgegevens"
    assert inventory("BE").authority.name.nl == "Gegevensbeschermingsautoriteit"
    assert authority_for("BE") is AUTHORITIES["BE"]
    assert ticketing.inventory().authority.country == "NL"


def test_a_country_without_a_known_authority_is_a_policy_error_saying_how_to_declare_one():
    inv = inventory("DE")
    with pytest.raises(PolicyError, match="no supervisory authority is known for country 'DE'"):
        _ = inv.authority


def test_a_declared_authority_wins():
    own = SupervisoryAuthority(
        country="DE",
        name={"nl": "LfD Niedersachsen", "en": "LfD Lower Saxony"},
        address="Prinzenstraße 5, 30159 Hannover",
        website="https://lfd.niedersachsen.de",
        complaint_url="https://lfd.niedersachsen.de/beschwerde",
    )
    assert inventory("DE", authority=own).authority is own


def test_an_authority_needs_https_addresses():
    with pytest.raises(ValidationError, match="https://"):
        SupervisoryAuthority(
            country="NL", name=PARTNER, address="x", website="http://x", complaint_url="https://x"
        )


def test_the_policy_file_carries_origin_source_authority_and_the_new_purpose_flags(tmp_path):
    own = SupervisoryAuthority(
        country="DE",
        name=PARTNER,
        address="Somewhere 1",
        website="https://a.example",
        complaint_url="https://a.example/complaint",
    )
    inv = Inventory(
        controller=controller("DE", authority=own),
        purposes=[
            Purpose(
                key="ticket_sale", description=T, basis=LawfulBasis.CONTRACT, legal_claims=True
            ),
            Purpose(
                key="scoring",
                description=T,
                basis=LawfulBasis.LEGITIMATE_INTERESTS,
                profiling=True,
                automated_decisions=True,
            ),
        ],
        fields=[
            Field(
                key="phone",
                category="TelephoneNumber",
                identifier=IdentifierKind.DIRECT,
                purposes=["ticket_sale"],
                origin=DataOrigin.RECEIVED,
                source=PARTNER,
            ),
            Field(
                key="segment",
                category="Preference",
                identifier=IdentifierKind.NONE,
                purposes=["scoring"],
                origin=DataOrigin.DERIVED,
            ),
        ],
    )
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(inv.to_mapping()))
    again = Inventory.from_file(path)
    assert again == inv
    assert again.field("phone").source == PARTNER
    assert again.purpose("scoring").automated_decisions
    assert again.purpose("ticket_sale").legal_claims
    assert again.authority == own


def test_the_policy_file_refuses_an_unknown_origin(tmp_path):
    data = inventory().to_mapping()
    data["fields"]["email"]["origin"] = "guessed"
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValidationError, match="origin"):
        Inventory.from_file(path)
