"""A breach's renderings are values with to_json / to_html / to_csv, like the other reports."""

import json

import pytest

from avgkit import Kit
from avgkit.breach import BreachDocument, BreachRegisterReport
from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory import AUTHORITIES
from avgkit.presets import ticketing
from avgkit.testing import ManualClock
from test_breach import FOUND, NOW, facts


@pytest.fixture
def kit():
    with Kit.open("memory://", inventory=ticketing.inventory(), clock=ManualClock(NOW)) as opened:
        yield opened


@pytest.fixture
def breach(kit):
    return kit.breaches.record(
        facts(), discovered_at=FOUND, became_aware_at=NOW, processor="mail_platform"
    )


@pytest.mark.parametrize("kind", ["notice", "notification"])
def test_a_document_renders_as_json_and_html(kit, breach, kind):
    document = getattr(kit.breaches, kind)(breach.id)
    assert isinstance(document, BreachDocument)
    assert document.kind == kind
    assert json.loads(document.to_json()) == getattr(kit.breaches, f"{kind}_json")(breach)
    assert document.to_html("en") == getattr(kit.breaches, f"{kind}_html")(breach, "en")
    assert "<html" in document.to_html("nl").lower()


def test_a_document_shows_only_the_breach_id_in_repr(kit, breach):
    shown = repr(kit.breaches.notification(breach))
    assert breach.id in shown
    assert breach.facts.summary not in shown
    assert breach.facts.root_cause not in shown


def test_the_register_report_renders_as_csv(kit, breach):
    report = kit.breaches.report()
    assert isinstance(report, BreachRegisterReport)
    assert len(report) == 1
    assert report.to_csv("en") == kit.breaches.register_csv("en")
    assert breach.id in report.to_csv("nl")
    assert breach.facts.summary not in repr(report)


def _notification_validator():
    from importlib import resources

    import jsonschema

    text = resources.files("avgkit.schemas").joinpath("breach-notification.schema.json")
    schema = json.loads(text.read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_the_notification_is_addressed_to_the_controllers_authority(kit, breach):
    document = kit.breaches.notification_json(breach)
    _notification_validator().validate(document)
    assert document["authority"] == kit.inventory.authority.as_dict()
    assert "Autoriteit Persoonsgegevens" in kit.breaches.notification_html(breach, "nl")


def test_a_venue_in_two_countries_addresses_another_countrys_authority(kit, breach):
    belgian = AUTHORITIES["BE"]
    document = kit.breaches.notification_json(breach, country="BE")
    _notification_validator().validate(document)
    assert document["authority"] == belgian.as_dict()
    page = kit.breaches.notification_html(breach, "nl", country="BE")
    assert belgian.name.nl in page
    assert "Autoriteit Persoonsgegevens" not in page


def test_a_country_without_a_known_authority_is_refused_before_anything_renders(kit, breach):
    with pytest.raises(PolicyError, match="no supervisory authority is known"):
        kit.breaches.notification(breach, country="JP")
    with pytest.raises(ValidationError):
        kit.breaches.notification(breach, country="Belgium")
