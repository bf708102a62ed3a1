"""Double opt-in, pre-ticked boxes and the Art. 8 age per country, on every adapter."""

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avgkit import Kit
from avgkit.consent import (
    Actor,
    Channel,
    ConfirmationError,
    ConsentAction,
    ConsentOptions,
    DecisionCode,
    Evidence,
    PendingConsent,
    Presentation,
    hash_wording,
)
from avgkit.consent._values import split_token, verifier_hash
from avgkit.errors import NotPermitted, PolicyError, StorageError, ValidationError
from avgkit.inventory import Controller, Inventory
from avgkit.presets import ticketing
from avgkit.storage import ConfirmationStore
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WORDING = hash_wording("Ja, stuur mij de nieuwsbrief.")
WEBSHOP = Evidence(
    channel=Channel.WEBSHOP,
    notice_version="2024-05",
    wording_sha256=WORDING,
    presentation=Presentation.UNTICKED_BOX,
)


def double_opt_in(inventory=None):
    """The ticketing inventory with a double opt-in for the newsletter."""
    inventory = inventory or ticketing.inventory()
    purposes = tuple(
        attrs.evolve(p, confirmation=True) if p.key == "newsletter" else p
        for p in inventory.purposes
    )
    return attrs.evolve(inventory, purposes=purposes)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/avg.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def kit(url, clock):
    with Kit.open(url, inventory=double_opt_in(), clock=clock) as kit:
        yield kit
        kit.audit.verify()


def rows(kit):
    """Everything the ledger wrote: events and audit entries."""
    return kit.consent.history("cust-1"), kit.audit.verify().entries


# --------------------------------------------------------------------------- double opt-in


def test_give_records_a_pending_consent_that_is_not_consent(kit):
    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
    assert isinstance(pending, PendingConsent)
    assert pending.token is not None
    assert pending.expires_at == NOW + timedelta(days=3)
    assert kit.consent.history("cust-1") == ()
    assert list(kit.consent.audience("newsletter")) == []
    decision = kit.may_process("cust-1", "newsletter")
    assert not decision
    assert decision.code is DecisionCode.CONSENT_PENDING
    assert "awaits confirmation" in decision.reason
    assert kit.consent.state("cust-1", "newsletter").awaiting_confirmation
    assert kit.audit.verify().entries == 1  # consent.requested


def test_confirming_makes_the_consent_live_at_the_confirmation_instant(kit, clock):
    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP, at=NOW - timedelta(minutes=1))
    clock.advance(timedelta(hours=5))
    event = kit.consent.confirm(pending.token)
    confirmed = NOW + timedelta(hours=5)
    assert event.kind is ConsentAction.GIVEN
    assert event.at == confirmed
    assert event.evidence.confirmed_at == confirmed
    assert event.evidence.requested_at == NOW - timedelta(minutes=1)
    assert event.evidence.confirmed_via is Channel.EMAIL_LINK
    assert event.evidence.channel is Channel.WEBSHOP  # where the box was ticked
    assert event.evidence.presentation is Presentation.UNTICKED_BOX
    assert kit.consent.history("cust-1") == (event,)
    assert list(kit.consent.audience("newsletter")) == ["cust-1"]
    assert kit.may_process("cust-1", "newsletter").code is DecisionCode.CONSENT_GIVEN
    # Not consent before the confirmation, even looking back.
    before = kit.may_process("cust-1", "newsletter", at=confirmed - timedelta(seconds=1))
    assert before.code is DecisionCode.CONSENT_PENDING
    assert list(kit.consent.audience("newsletter", at=confirmed - timedelta(seconds=1))) == []


def test_a_token_works_once(kit):
    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
    kit.consent.confirm(pending.token)
    before = rows(kit)
    with pytest.raises(ConfirmationError, match="used already") as caught:
        kit.consent.confirm(pending.token)
    assert caught.value.reason == "used"
    assert rows(kit) == before


def test_an_expired_token_is_refused_and_changes_nothing(kit, clock):
    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
    clock.advance(timedelta(days=3))
    before = rows(kit)
    with pytest.raises(ConfirmationError, match="expired") as caught:
        kit.consent.confirm(pending.token)
    assert caught.value.reason == "expired"
    assert rows(kit) == before
    assert not kit.consent.state("cust-1", "newsletter").awaiting_confirmation


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # verifier changed
        lambda token: ("x" * 16) + token[16:],  # another selector
        lambda _token: "not-a-token",
        lambda _token: "",
        lambda _token: None,
    ],
)
def test_a_forged_or_malformed_token_is_refused_and_changes_nothing(kit, forge):
    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
    before = rows(kit)
    with pytest.raises(ConfirmationError) as caught:
        kit.consent.confirm(forge(pending.token))
    assert caught.value.reason == "unknown"
    assert pending.token not in str(caught.value)
    assert rows(kit) == before
    kit.consent.confirm(pending.token)  # the real one still works


def test_a_withdrawal_after_the_request_cancels_the_link(kit, clock):
    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
    clock.advance(timedelta(minutes=10))
    kit.consent.withdraw("cust-1", "newsletter", attrs.evolve(WEBSHOP, presentation=None))
    # The withdrawal supersedes the request: never given, and no longer awaiting anything.
    assert kit.may_process("cust-1", "newsletter").code is DecisionCode.CONSENT_NEVER_GIVEN
    assert not kit.consent.state("cust-1", "newsletter").awaiting_confirmation
    clock.advance(timedelta(minutes=10))
    with pytest.raises(ConfirmationError, match="withdrawn") as caught:
        kit.consent.confirm(pending.token)
    assert caught.value.reason == "withdrawn"
    assert list(kit.consent.audience("newsletter")) == []


def test_a_confirmation_for_a_purpose_no_longer_declared_is_refused(kit, clock):
    from avgkit.consent import ConsentLedger

    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
    inventory = kit.inventory
    fewer = Inventory(
        controller=inventory.controller,
        purposes=[p for p in inventory.purposes if p.key != "newsletter"],
        fields=[
            attrs.evolve(f, purposes=tuple(k for k in f.purposes if k != "newsletter"))
            for f in inventory.fields
        ],
        recipients=inventory.recipients,
    )
    later = ConsentLedger(kit.stores.consent, fewer, clock, kit.audit)
    entries = kit.audit.verify().entries
    with pytest.raises(PolicyError, match="newsletter"):
        later.confirm(pending.token)
    assert kit.audit.verify().entries == entries
    assert kit.stores.consent.count() == 0
    kit.consent.confirm(pending.token)  # unused: the refusal wrote nothing


def test_the_store_keeps_only_the_hash_of_the_verifier(kit):
    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
    selector, verifier = split_token(pending.token)
    stored = kit.stores.consent.pending(selector)
    assert stored.token is None
    assert stored.verifier_sha256 == verifier_hash(verifier)
    assert verifier not in repr(stored)
    assert pending.token not in repr(pending)


def test_a_consent_live_before_stays_live_while_a_new_request_waits(kit, clock):
    kit.consent.confirm(kit.consent.give("cust-1", "newsletter", WEBSHOP).token)
    clock.advance(timedelta(days=30))
    kit.consent.give("cust-1", "newsletter", WEBSHOP)  # e.g. a new wording version
    assert list(kit.consent.audience("newsletter")) == ["cust-1"]
    state = kit.consent.state("cust-1", "newsletter")
    assert state.consent_live
    assert not state.awaiting_confirmation


def test_a_double_opt_in_is_not_confirmed_through_give(kit):
    with pytest.raises(ValidationError, match="confirm"):
        kit.consent.give("cust-1", "newsletter", attrs.evolve(WEBSHOP, confirmed_at=NOW))
    assert kit.audit.verify().entries == 0


def test_purposes_without_confirmation_are_live_at_once(kit):
    event = kit.consent.give("cust-1", "loyalty_programme", WEBSHOP)
    assert event.kind is ConsentAction.GIVEN
    assert list(kit.consent.audience("loyalty_programme")) == ["cust-1"]


def test_a_double_opt_in_needs_a_store_with_pending_consents(clock):
    class Bare:
        """A consent store that keeps events only (a plugin written before 0.3)."""

        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            # (nor bound to the audit chain: the kit's ledger binds the store it wraps)
            if name in {"add_pending", "pending", "settle_pending", "open_pending", "bind"}:
                raise AttributeError(name)
            return getattr(self._inner, name)

    with Kit.open("memory://", inventory=double_opt_in(), clock=clock) as kit:
        from avgkit.consent import ConsentLedger

        bare = Bare(kit.stores.consent)
        assert not isinstance(bare, ConfirmationStore)
        ledger = ConsentLedger(bare, kit.inventory, clock, kit.audit)
        with pytest.raises(StorageError, match="pending consents"):
            ledger.give("cust-1", "newsletter", WEBSHOP)
        assert ledger.may_process("cust-1", "newsletter").code is DecisionCode.CONSENT_NEVER_GIVEN


def test_confirmation_only_for_consent_purposes():
    sale = next(p for p in ticketing.inventory().purposes if p.key == "ticket_sale")
    with pytest.raises(ValidationError, match="double opt-in"):
        attrs.evolve(sale, confirmation=True)


def test_the_policy_file_round_trips_confirmation():
    inventory = double_opt_in()
    document = inventory.to_mapping()
    assert document["purposes"]["newsletter"]["confirmation"] is True
    assert "confirmation" not in document["purposes"]["loyalty_programme"]
    assert Inventory.from_mapping(document) == inventory


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=0, max_size=80))
def test_no_string_but_the_issued_token_confirms(other):
    """Whatever string is offered, only the issued token confirms (memory store)."""
    clock = ManualClock(NOW)
    with Kit.open("memory://", inventory=double_opt_in(), clock=clock) as kit:
        pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
        if other != pending.token:
            with pytest.raises(ConfirmationError):
                kit.consent.confirm(other)
            assert kit.stores.consent.count() == 0
        assert kit.consent.confirm(pending.token).kind is ConsentAction.GIVEN


# --------------------------------------------------------------------------- Planet49


def test_a_pre_ticked_box_is_not_consent(kit):
    with pytest.raises(NotPermitted, match="pre-ticked"):
        kit.consent.give(
            "cust-1", "loyalty_programme", attrs.evolve(WEBSHOP, presentation="pre_ticked")
        )
    with pytest.raises(NotPermitted, match="Planet49"):
        kit.consent.give("cust-1", "newsletter", attrs.evolve(WEBSHOP, presentation="pre_ticked"))
    assert kit.audit.verify().entries == 0
    assert kit.stores.consent.count() == 0


def test_an_import_with_a_pre_ticked_box_stores_nothing(kit):
    from avgkit.consent import ConsentEvent

    good = attrs.evolve(WEBSHOP, channel=Channel.IMPORT)
    events = [
        ConsentEvent(
            subject="cust-1", purpose="loyalty_programme", kind="given", at=NOW, evidence=good
        ),
        ConsentEvent(
            subject="cust-2",
            purpose="loyalty_programme",
            kind="given",
            at=NOW,
            evidence=attrs.evolve(good, presentation=Presentation.PRE_TICKED),
        ),
    ]
    with pytest.raises(NotPermitted, match="event 1 of the batch"):
        kit.consent.import_events(events)
    assert kit.stores.consent.count() == 0


def test_presentation_is_stored_with_the_event(kit):
    event = kit.consent.give(
        "cust-1", "loyalty_programme", attrs.evolve(WEBSHOP, presentation="asked_by_staff")
    )
    (stored,) = kit.consent.history("cust-1")
    assert stored == event
    assert stored.evidence.presentation is Presentation.ASKED_BY_STAFF


def test_evidence_refuses_double_opt_in_fields_that_do_not_fit():
    with pytest.raises(ValidationError, match="confirmed_at"):
        attrs.evolve(WEBSHOP, confirmed_via="email_link")
    with pytest.raises(ValidationError, match="confirmed_at"):
        attrs.evolve(WEBSHOP, requested_at=NOW)
    with pytest.raises(ValidationError, match="later than confirmed_at"):
        attrs.evolve(WEBSHOP, requested_at=NOW, confirmed_at=NOW - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="not one of"):
        attrs.evolve(WEBSHOP, presentation="a_wink")


# --------------------------------------------------------------------------- Art. 8 per country


def belgian(inventory):
    controller = attrs.evolve(
        inventory.controller, country="BE", address="Grote Markt 1, 8500 Kortrijk, België"
    )
    return attrs.evolve(inventory, controller=controller)


def test_the_art8_age_comes_from_the_controllers_country(clock):
    with Kit.open("memory://", inventory=ticketing.inventory(), clock=clock) as kit:
        assert kit.consent.minor_age == 16
    with Kit.open("memory://", inventory=belgian(ticketing.inventory()), clock=clock) as kit:
        assert kit.consent.minor_age == 13
        assert kit.consent.jurisdiction.authority.country == "BE"
        kit.consent.give("cust-1", "loyalty_programme", WEBSHOP, age=14)
    with Kit.open(
        "memory://",
        inventory=belgian(ticketing.inventory()),
        clock=clock,
        consent=ConsentOptions(minor_age=16),
    ) as kit:
        assert kit.consent.minor_age == 16


def test_a_venue_in_two_countries_sets_the_age_per_subject_or_sale_channel(clock):
    options = ConsentOptions(channel_countries={"webshop_be": "BE", "box_office": "FR"})
    with Kit.open(
        "memory://", inventory=ticketing.inventory(), clock=clock, consent=options
    ) as kit:
        with pytest.raises(NotPermitted, match="younger than 16"):
            kit.consent.give("cust-1", "loyalty_programme", WEBSHOP, age=14)
        kit.consent.give("cust-1", "loyalty_programme", WEBSHOP, age=14, country="BE")
        kit.consent.give("cust-2", "loyalty_programme", WEBSHOP, age=14, sale_channel="webshop_be")
        staff = attrs.evolve(WEBSHOP, channel=Channel.BOX_OFFICE, actor=Actor.STAFF)
        with pytest.raises(NotPermitted, match="younger than 15 in FR"):
            kit.consent.give("cust-3", "loyalty_programme", staff, age=14)
        kit.consent.give("cust-3", "loyalty_programme", staff, age=15)
        with pytest.raises(ValidationError, match="sale channel 'webshop_de'"):
            kit.consent.give("cust-4", "loyalty_programme", WEBSHOP, sale_channel="webshop_de")


@pytest.mark.parametrize(
    "options",
    [
        {"country": "XX"},
        {"channel_countries": {"webshop_be": "be"}},
        {"channel_countries": ["BE"]},
        {"confirmation_expiry": timedelta(0)},
        {"strict_wordings": "yes"},
    ],
)
def test_consent_options_refuse_bad_values(options):
    with pytest.raises(ValidationError):
        ConsentOptions(**options)


def test_a_controller_outside_the_table_gets_the_gdpr_default(clock):
    inventory = ticketing.inventory()
    swiss = Controller(
        name="Theater Basel (sample)",
        address="Elisabethenstrasse 16, 4051 Basel",
        email="privacy@theater.example",
        country="CH",
    )
    with Kit.open(
        "memory://", inventory=attrs.evolve(inventory, controller=swiss), clock=clock
    ) as kit:
        assert kit.consent.minor_age == 16
        assert isinstance(kit.inventory, Inventory)


def test_erasure_deletes_the_pending_consents_and_their_tokens(kit):
    pending = kit.consent.give("cust-1", "newsletter", WEBSHOP)
    kit.stores.consent.forget("cust-1", kit.audit.subject_ref("cust-1"))
    with pytest.raises(ConfirmationError) as caught:
        kit.consent.confirm(pending.token)
    assert caught.value.reason == "unknown"
    assert kit.stores.consent.count() == 0
