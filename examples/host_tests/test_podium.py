"""Podium Zuid's own tests of how its shop handles personal data, on avgkit's fixtures.

They run on in-memory stores by default; ``pytest --avgkit-store=sqlite`` runs the same
tests on a SQLite file per test (and a PostgreSQL URL on that server).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st
from podium import (
    NEWSLETTER_BOX,
    Shop,
    create_shop,
    host_data,
    load_inventory,
    load_retention_policy,
)

from avgkit import Kit, hash_wording
from avgkit.consent import Channel, ConsentAction, ConsentEvent, ConsentLedger, Evidence
from avgkit.testing import KitFactory, ManualClock
from avgkit.testing.strategies import consent_histories

pytestmark = pytest.mark.avgkit_now("2025-03-01T19:30+01:00")  # a Saturday evening sale

PODIUM = load_inventory()  # for the strategies, which are built when the module loads
VISITORS = ("v-1", "v-2", "v-3", "v-4")


def buy(shop: Shop, visitor: str = "v-1", *, newsletter: bool = False, **order: object) -> None:
    """A checkout of one ticket by ``visitor`` (order code: the visitor's, unless given)."""
    fields: dict[str, object] = {
        "name": f"Bezoeker {visitor}",
        "email": f"{visitor}@example.org",
        "order": f"ord-{visitor}",
        "cents": 2250,
    }
    fields.update(order)
    shop.checkout(visitor, newsletter=newsletter, **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the policy


def test_avgkits_fixtures_run_on_the_venues_policy(avgkit_kit: Kit) -> None:
    """The conftest's avgkit_inventory replaces the preset in every avgkit fixture."""
    purposes = {p.key for p in avgkit_kit.inventory.purposes}
    assert purposes == {"ticket_sale", "newsletter", "visit_survey"}
    assert not avgkit_kit.inventory.may_use("name", "newsletter")


def test_the_newsletter_needs_the_box_ticked(
    avgkit_consent: ConsentLedger, avgkit_evidence: Evidence, avgkit_kit: Kit
) -> None:
    """Without consent the newsletter is refused; with it (any wording) allowed."""
    assert not avgkit_kit.may_process("v-1", "newsletter").allowed
    avgkit_consent.give("v-1", "newsletter", avgkit_evidence)
    assert avgkit_kit.may_process("v-1", "newsletter").allowed


# --------------------------------------------------------------------------- checkout


def test_a_ticked_box_at_checkout_records_consent_with_its_evidence(
    shop: Shop, avgkit_clock: ManualClock
) -> None:
    buy(shop, newsletter=True)
    (event,) = shop.consent_history("v-1")
    assert (event.purpose, event.kind) == ("newsletter", ConsentAction.GIVEN)
    assert event.at == avgkit_clock.now()
    assert event.evidence.channel is Channel.WEBSHOP
    assert event.evidence.order_ref == "ord-v-1"
    assert event.evidence.wording_sha256 == hash_wording(NEWSLETTER_BOX)
    assert shop.mailing_list() == [("v-1", "v-1@example.org")]


def test_an_unticked_box_records_nothing_and_mails_nothing(shop: Shop) -> None:
    buy(shop, newsletter=False)
    assert shop.consent_history("v-1") == []
    assert not shop.kit.may_process("v-1", "newsletter").allowed
    assert shop.kit.may_process("v-1", "ticket_sale").allowed  # the contract needs no box
    assert shop.mailing_list() == []


def test_stopping_the_newsletter_counts_from_that_instant(
    shop: Shop, avgkit_clock: ManualClock
) -> None:
    buy(shop, newsletter=True)
    given_at = avgkit_clock.now()
    avgkit_clock.advance(days=10)
    shop.stop_newsletter("v-1")
    kinds = [e.kind for e in shop.consent_history("v-1")]
    assert kinds == [ConsentAction.GIVEN, ConsentAction.WITHDRAWN]
    assert not shop.kit.may_process("v-1", "newsletter").allowed
    assert shop.kit.may_process("v-1", "newsletter", at=given_at + timedelta(days=1)).allowed
    assert shop.mailing_list() == []


def test_the_survey_opt_out_stops_the_question_after_a_visit(shop: Shop) -> None:
    """The survey runs on legitimate interests: allowed until the visitor objects."""
    buy(shop)
    assert shop.kit.may_process("v-1", "visit_survey").allowed
    shop.no_survey("v-1")
    assert not shop.kit.may_process("v-1", "visit_survey").allowed


# --------------------------------------------------------------------------- my account


def test_the_download_holds_the_visitors_data_and_consent(shop: Shop) -> None:
    buy(shop, newsletter=True)
    export = shop.download("v-1")
    assert export["subject"] == {
        "id": "v-1",
        "reference": shop.kit.audit.subject_ref("v-1"),
        "kind": "account",
    }
    records = {(r["source"], r["key"]): r["values"] for r in export["data"]}
    assert records == {
        ("visitors", "v-1"): {"name": "Bezoeker v-1", "email": "v-1@example.org"},
        ("orders", "ord-v-1"): {"name": "Bezoeker v-1"},
    }
    assert [c["purpose"] for c in export["consent"]["current"]] == ["newsletter"]
    (rule,) = export["retention"]
    assert (rule["rule"], rule["due"]) == ("inactive_accounts", "2027-03-01T18:30:00Z")


def test_deleting_an_account_keeps_the_order_for_the_books_without_the_name(
    shop: Shop,
) -> None:
    buy(shop, newsletter=True)
    buy(shop, "v-2")
    outcome = shop.delete_account("v-1")
    assert outcome.deferred is None
    assert shop.visitors() == ["v-2"]
    assert shop.orders() == [("ord-v-1", None, 2250), ("ord-v-2", "Bezoeker v-2", 2250)]
    assert shop.consent_history("v-1") == []
    assert shop.mailing_list() == []
    again = shop.delete_account("v-1")
    assert again.repeated


def test_deleting_an_account_with_a_visit_to_come_waits_until_after_it(
    shop: Shop, avgkit_clock: ManualClock
) -> None:
    starts = avgkit_clock.now() + timedelta(days=20)
    performance = shop.add_performance("Strijkkwartet in de foyer", starts)
    buy(shop, performance=performance)
    outcome = shop.delete_account("v-1")
    assert outcome.deferred is not None
    assert outcome.deferred.until is not None
    assert outcome.deferred.until >= starts
    assert shop.visitors() == ["v-1"]
    avgkit_clock.advance(days=21)
    assert shop.delete_account("v-1").deferred is None
    assert shop.visitors() == []


# --------------------------------------------------------------------------- every night


def test_an_account_idle_for_two_years_is_deleted_by_the_nightly_cleanup(
    shop: Shop, avgkit_clock: ManualClock
) -> None:
    bought = avgkit_clock.now()
    buy(shop, "v-1")
    buy(shop, "v-2")
    avgkit_clock.advance(days=400)
    shop.log_in("v-2")  # v-2 comes back; v-1 does not
    avgkit_clock.set(bought + relativedelta(years=2) + timedelta(days=1))
    summary = shop.nightly_cleanup()
    assert summary.total() == 1
    assert shop.visitors() == ["v-2"]
    assert shop.orders()[0] == ("ord-v-1", None, 2250)


def test_nothing_is_deleted_before_the_two_years_are_up(
    shop: Shop, avgkit_clock: ManualClock
) -> None:
    buy(shop)
    avgkit_clock.advance(days=729)
    assert list(shop.kit.retention.plan()) == []
    assert shop.nightly_cleanup().total() == 0
    assert shop.visitors() == ["v-1"]


@pytest.mark.avgkit_store("sqlite")
def test_consent_is_on_disk_for_the_next_process(shop: Shop, avgkit_store_url: str) -> None:
    """Marked to run on SQLite whatever the command line says: a second kit reads it back."""
    assert avgkit_store_url.startswith("sqlite:///")
    buy(shop, newsletter=True)
    with Kit.open(avgkit_store_url, inventory=load_inventory()) as other:
        assert [e.purpose for e in other.consent.history("v-1")] == ["newsletter"]


# --------------------------------------------------------------------------- properties


@contextmanager
def fresh_shop(factory: KitFactory) -> Iterator[Shop]:
    """A new shop and kit for one hypothesis example (nothing carries over between them)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_shop(Path(folder) / "podium.db")
        try:
            with factory(
                PODIUM, host=host_data(engine, PODIUM), retention_policy=load_retention_policy()
            ) as kit:
                yield Shop(engine, kit)
        finally:
            engine.dispose()


@settings(max_examples=15, deadline=None)
@given(choices=st.lists(st.tuples(st.booleans(), st.booleans()), max_size=len(VISITORS)))
def test_the_mailing_list_is_who_ticked_the_box_and_did_not_stop(
    avgkit_kit_factory: KitFactory, choices: list[tuple[bool, bool]]
) -> None:
    with fresh_shop(avgkit_kit_factory) as shop:
        expected = []
        for visitor, (ticked, stopped) in zip(VISITORS, choices, strict=False):
            buy(shop, visitor, newsletter=ticked)
            if ticked and stopped:
                shop.stop_newsletter(visitor)
            if ticked and not stopped:
                expected.append((visitor, f"{visitor}@example.org"))
        assert shop.mailing_list() == expected


@settings(max_examples=15, deadline=None)
@given(
    history=consent_histories(
        inventory=PODIUM, subjects=VISITORS, channels=[Channel.IMPORT], max_size=12
    )
)
def test_the_mailing_list_agrees_with_may_process_for_every_visitor(
    avgkit_kit_factory: KitFactory, history: list[ConsentEvent]
) -> None:
    """Consents imported from the old system, in any order: the list and the page agree."""
    with fresh_shop(avgkit_kit_factory) as shop:
        for visitor in VISITORS:
            buy(shop, visitor)
        shop.kit.consent.import_events(history)
        listed = {visitor for visitor, _email in shop.mailing_list()}
        allowed = {v for v in VISITORS if shop.kit.may_process(v, "newsletter").allowed}
        assert listed == allowed
