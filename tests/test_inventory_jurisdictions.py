"""Jurisdictions: the Art. 8 age per country with its source, and the supervisory authority."""

import attrs
import pytest

from avgkit._countries import EEA
from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory import (
    ART8_AGES,
    AUTHORITIES,
    GDPR_DEFAULT_AGE,
    Art8Age,
    Jurisdiction,
    SupervisoryAuthority,
    art8_age,
)
from avgkit.presets import ticketing


@pytest.mark.parametrize(("country", "age"), [("NL", 16), ("BE", 13), ("DE", 16), ("FR", 15)])
def test_the_seeds_countries_have_their_age(country, age):
    assert art8_age(country).age == age


def test_every_entry_is_an_eea_state_with_an_age_in_range_and_a_source():
    assert set(ART8_AGES) <= EEA
    assert len(ART8_AGES) >= 29  # the EEA but Liechtenstein
    for country, entry in ART8_AGES.items():
        assert entry.country == country
        assert 13 <= entry.age <= 16
        assert len(entry.source) > 10


def test_the_sources_name_the_national_acts():
    assert "UAVG" in art8_age("NL").source
    assert "30 juli 2018" in art8_age("BE").source
    assert "78-17" in art8_age("FR").source
    assert "Art. 8(1) GDPR" in art8_age("DE").source


def test_a_country_without_an_entry_gets_the_gdpr_default_and_says_so():
    found = art8_age("LI")
    assert found.age == GDPR_DEFAULT_AGE
    assert "knows no national age" in found.source


@pytest.mark.parametrize("country", ["nl", "XX", "", None, 31])
def test_an_unknown_country_is_refused(country):
    with pytest.raises(ValidationError, match="alpha-2"):
        art8_age(country)


def test_an_art8_age_outside_13_to_16_is_refused():
    with pytest.raises(ValidationError, match="13 to 16"):
        Art8Age(country="NL", age=12, source="x" * 20)


def test_the_inventory_gives_its_own_and_other_jurisdictions():
    inventory = ticketing.inventory()
    own = inventory.jurisdiction()
    assert (own.country, own.minor_age) == ("NL", 16)
    assert own.authority == AUTHORITIES["NL"]
    belgium = inventory.jurisdiction("BE")
    assert belgium.minor_age == 13
    assert belgium.require_authority().name.nl == "Gegevensbeschermingsautoriteit"


def test_a_country_without_a_known_authority_is_refused_when_one_is_needed():
    germany = ticketing.inventory().jurisdiction("DE")
    assert germany.authority is None
    with pytest.raises(PolicyError, match="no supervisory authority is known for country 'DE'"):
        germany.require_authority()


def test_a_declared_authority_counts_for_the_controllers_own_country_only():
    inventory = ticketing.inventory()
    own = SupervisoryAuthority(
        country="DE",
        name={"nl": "Landesbeauftragte", "en": "State commissioner"},
        address="Somewhere 1, Berlin",
        website="https://example.org",
        complaint_url="https://example.org/complaint",
    )
    controller = attrs.evolve(inventory.controller, country="DE", authority=own)
    german = attrs.evolve(inventory, controller=controller)
    assert german.jurisdiction().authority == own
    assert german.jurisdiction("NL").authority == AUTHORITIES["NL"]
    assert Jurisdiction.of("NL").authority == AUTHORITIES["NL"]
