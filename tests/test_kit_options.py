"""Per-service settings reach the services through one options value each."""

from datetime import timedelta

import pytest

from avgkit import (
    BreachOptions,
    Channel,
    ConsentOptions,
    Evidence,
    Kit,
    NotPermitted,
    PseudonymOptions,
    ValidationError,
)
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

EVIDENCE = Evidence.from_wording("Ja!", channel=Channel.WEBSHOP, notice_version="2024-05")


def open_kit(**options):
    return Kit.open("memory://", inventory=ticketing.inventory(), clock=ManualClock(), **options)


def test_a_belgian_venue_sets_the_art8_age_through_kit_open():
    with open_kit(consent=ConsentOptions(minor_age=13)) as kit:
        assert kit.consent.minor_age == 13
        kit.consent.give("teen", "newsletter", EVIDENCE, age=13)
        with pytest.raises(NotPermitted, match="younger than 13"):
            kit.consent.give("child", "newsletter", EVIDENCE, age=12)


def test_the_dutch_age_is_the_default():
    with open_kit() as kit:
        assert kit.consent.options == ConsentOptions()
        with pytest.raises(NotPermitted, match="younger than 16"):
            kit.consent.give("teen", "newsletter", EVIDENCE, age=15)


def test_the_clock_skew_reaches_the_ledger():
    with (
        open_kit(consent=ConsentOptions(clock_skew=timedelta(0))) as kit,
        pytest.raises(ValidationError, match="clock-skew"),
    ):
        kit.consent.give("c", "newsletter", EVIDENCE, at=kit.clock.now() + timedelta(1))


@pytest.mark.parametrize("age", [12, 19, True, 16.0, "16"])
def test_consent_options_refuse_an_impossible_age(age):
    with pytest.raises(ValidationError, match="minor_age"):
        ConsentOptions(minor_age=age)


def test_breach_options_reach_the_register():
    options = BreachOptions(
        processor_notice=timedelta(hours=48),
        processor_notice_by_recipient={"mail_platform": timedelta(hours=24)},
        large_volume=50,
    )
    with open_kit(breaches=options) as kit:
        assert kit.breaches.processor_term("mail_platform") == timedelta(hours=24)
        assert kit.breaches.processor_term("printer") == timedelta(hours=48)
        assert kit.breaches.options == options


def test_pseudonym_options_reach_the_service():
    with open_kit(pseudonyms=PseudonymOptions(default_country="BE")) as kit:
        kit.pseudonyms.ensure_key()
        belgian = kit.pseudonyms.pseudonym("0470123456", domain="crm_export", kind="phone")
        assert belgian == kit.pseudonyms.pseudonym(
            "+32470123456", domain="crm_export", kind="phone"
        )


def test_pseudonym_options_refuse_an_unknown_country():
    with pytest.raises(ValidationError, match="default_country"):
        PseudonymOptions(default_country="XX")


@pytest.mark.parametrize("name", ["consent", "breaches", "pseudonyms"])
def test_an_options_argument_of_the_wrong_kind_is_refused(name):
    with pytest.raises(ValidationError, match=f"{name}= takes"):
        open_kit(**{name: {"minor_age": 13}})
