"""kit.erasure: one erasure for retention and requests, on every adapter."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import attrs
import psycopg
import pytest

from avgkit import Kit
from avgkit.consent import Channel, ConsentStatus, Evidence, hash_wording
from avgkit.errors import NotFound, StorageError, ValidationError
from avgkit.host import HostErasure
from avgkit.host.memory import MemoryHostData
from avgkit.presets import ticketing
from avgkit.retention import HoldReason
from avgkit.testing import ManualClock
from test_host import BUYER, BYSTANDER, NOW, shop

EVIDENCE = Evidence(
    channel=Channel.WEBSHOP,
    notice_version="2024-01",
    wording_sha256=hash_wording("Yes, send me the newsletter"),
    order_ref="ORD-77123",
)


def open_kit(url, host, clock=None):
    return Kit.open(
        url,
        inventory=ticketing.inventory(),
        clock=clock or ManualClock(NOW),
        host=host,
        retention_policy=ticketing.retention_policy(),
    )


@pytest.fixture
def world(store_url):
    host, scenario = shop()
    kit = open_kit(store_url, host)
    yield kit, host, scenario
    kit.close()


def after_the_visit(kit, scenario):
    kit.clock.set(scenario.event_at + timedelta(hours=3))


def test_an_erasure_removes_the_subject_everywhere(world):
    kit, host, scenario = world
    buyer = scenario.buyer
    kit.consent.give(buyer, "newsletter", EVIDENCE, at=NOW - timedelta(days=1))
    kit.pseudonyms.seal(buyer, b"sealed note", purpose="ticket_sale")
    after_the_visit(kit, scenario)

    outcome = kit.erasure.erase(buyer)

    assert outcome.erased
    assert not outcome.repeated
    assert outcome.host.deleted >= 1
    assert outcome.host.anonymised >= 1
    assert outcome.consents_withdrawn == 1
    assert outcome.events_rekeyed == 2
    assert outcome.key_shredded
    assert outcome.suppressed == 1
    assert outcome.notices == len(kit.inventory.recipients)
    assert host.subject(buyer) is None
    assert kit.consent.history(buyer) == ()
    assert buyer not in set(kit.consent.audience("newsletter"))
    kept = kit.consent.history(outcome.subject_ref)
    assert [e.kind.value for e in kept] == ["given", "withdrawn"]
    assert all(e.evidence.order_ref is None for e in kept)
    assert kit.erasure.is_suppressed(BUYER["email"].upper())
    assert not kit.erasure.is_suppressed("somebody.else@example.nl")
    assert kit.erasure.entry(buyer).complete
    assert kit.audit.verify().entries
    actions = [e.action for e in kit.audit.entries()]
    assert actions.index("erasure.started") < actions.index("erasure.completed")


def test_an_erasure_is_repeatable_and_counts_once(world):
    kit, _host, scenario = world
    after_the_visit(kit, scenario)
    first = kit.erasure.erase(scenario.buyer)
    again = kit.erasure.erase(scenario.buyer)
    assert again.erased
    assert again.repeated
    assert (again.notices, again.suppressed, again.host) == (0, 0, HostErasure())
    assert len(list(kit.erasure.notices())) == first.notices
    assert kit.erasure.log().__next__().subject_ref == first.subject_ref
    assert kit.audit.verify().entries


def test_an_upcoming_visit_defers_the_erasure_and_changes_nothing(world):
    kit, host, scenario = world
    before = list(host.records(scenario.buyer))
    outcome = kit.erasure.erase(scenario.buyer)
    assert not outcome.erased
    assert outcome.deferred.reason is HoldReason.UPCOMING_VISIT
    assert outcome.deferred.until == scenario.event_at
    assert list(host.records(scenario.buyer)) == before
    assert kit.erasure.entry(scenario.buyer) is None
    assert [e.action for e in kit.audit.entries()][-1] == "erasure.deferred"


def test_a_hold_defers_until_released(world):
    kit, host, scenario = world
    after_the_visit(kit, scenario)
    number = kit.retention.hold(scenario.bystander, "payment_dispute")
    assert kit.erasure.erase(scenario.bystander).deferred.reason is HoldReason.PAYMENT_DISPUTE
    assert host.subject(scenario.bystander) is not None
    kit.retention.release(number)
    assert kit.erasure.erase(scenario.bystander).erased
    assert host.subject(scenario.bystander) is None
    with pytest.raises(NotFound, match="no hold number"):
        kit.retention.release(number + 1000)


def test_a_lapsed_hold_defers_nothing(world):
    kit, _host, scenario = world
    after_the_visit(kit, scenario)
    kit.retention.hold(scenario.bystander, "open_request", until=kit.clock.now() + timedelta(1))
    assert not kit.erasure.erase(scenario.bystander).erased
    kit.clock.advance(days=2)
    assert kit.erasure.erase(scenario.bystander).erased


def test_a_fiscal_hold_keeps_the_records_anonymised(world):
    kit, host, scenario = world
    after_the_visit(kit, scenario)
    kit.retention.hold(scenario.bystander, HoldReason.FISCAL_RETENTION)
    outcome = kit.erasure.erase(scenario.bystander)
    assert outcome.erased
    assert outcome.host.deleted == 0
    assert outcome.host.anonymised >= 1
    texts = {t for r in host.records(scenario.bystander) for t in r.texts()}
    assert not texts & scenario.personal[scenario.bystander]


def test_bad_holds_are_refused(world):
    kit, _host, scenario = world
    with pytest.raises(ValidationError, match="always says why"):
        kit.retention.hold(scenario.buyer, "because")
    with pytest.raises(ValidationError, match="after now"):
        kit.retention.hold(scenario.buyer, "open_request", until=NOW - timedelta(days=1))
    with pytest.raises(ValidationError, match="naive"):
        kit.retention.hold(scenario.buyer, "open_request", until=datetime(2030, 1, 1))  # noqa: DTZ001
    assert kit.retention.holds(scenario.buyer) == ()


class CrashingHost(MemoryHostData):
    crash = True

    def delete(self, subject):
        if self.crash:
            raise OSError("the host's database went away")
        return super().delete(subject)


def test_an_erasure_interrupted_at_the_host_completes_when_run_again(store_url):
    host, scenario = shop()
    crashing = CrashingHost(ticketing.inventory())
    crashing.__dict__.update(host.__dict__)
    with open_kit(store_url, crashing) as kit:
        after_the_visit(kit, scenario)
        kit.consent.give(scenario.bystander, "newsletter", EVIDENCE, at=NOW)
        with pytest.raises(OSError, match="went away"):
            kit.erasure.erase(scenario.bystander)
        entry = kit.erasure.entry(scenario.bystander)
        assert entry is not None
        assert not entry.complete
        crashing.crash = False
        outcome = kit.erasure.erase(scenario.bystander)
        assert outcome.erased
        assert outcome.repeated
        assert kit.erasure.entry(scenario.bystander).complete
        assert kit.erasure.is_suppressed(BYSTANDER["email"])
        assert kit.consent.history(scenario.bystander) == ()
        assert kit.audit.verify().entries


def test_replay_after_a_restore_erases_the_restored_subjects_again(store_url):
    host, scenario = shop()
    with open_kit(store_url, host) as kit:
        after_the_visit(kit, scenario)
        kit.erasure.erase(scenario.buyer)
        kit.erasure.erase(scenario.attendee)
        restored, _ = shop()  # the backup from before the erasures
        kit._host = restored
        kit._erasure = None
        seen = []
        report = kit.erasure.replay(progress=seen.append)
        assert (report.scanned, report.erased_again) == (3, 2)
        assert seen == [3]
        assert restored.subject(scenario.buyer) is None
        assert restored.subject(scenario.attendee) is None
        assert restored.subject(scenario.bystander) is not None
        assert kit.audit.verify().entries


def test_suppression_refuses_what_is_not_an_address(world):
    kit, _host, _scenario = world
    with pytest.raises(ValidationError, match="e-mail address"):
        kit.erasure.is_suppressed("not an address")


def test_the_erasure_state_is_under_pseudonymous_references_only(world):
    kit, _host, scenario = world
    after_the_visit(kit, scenario)
    outcome = kit.erasure.erase(scenario.attendee)
    assert outcome.subject_ref.startswith("sr1:")
    assert "att-7" not in repr(outcome)
    for notice in kit.erasure.notices():
        assert notice.subject_ref == outcome.subject_ref
    withdrawn = list(kit.consent.history(outcome.subject_ref))
    assert withdrawn == []
    assert kit.consent.state(outcome.subject_ref, "newsletter").status is (
        ConsentStatus.NEVER_GIVEN
    )


# -- nothing of the person in any avgkit table -------------------------------------------


def sqlite_texts(path):
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, str | bytes):
                        yield table, value if isinstance(value, str) else value.decode("latin-1")
    conn.close()


def postgres_texts(url):
    schema = url.rsplit("schema=", 1)[1].split("&")[0]
    base = url.split("?")[0]
    with psycopg.connect(base) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"'):
                for value in row:
                    if isinstance(value, str | bytes | memoryview):
                        text = value if isinstance(value, str) else bytes(value).decode("latin-1")
                        yield table, text


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_no_avgkit_table_keeps_the_erased_subject(backend, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'avgkit.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    host, scenario = shop()
    buyer = scenario.buyer
    with open_kit(url, host) as kit:
        kit.consent.give(buyer, "newsletter", EVIDENCE, at=NOW - timedelta(days=1))
        other = attrs.evolve(EVIDENCE, order_ref="ORD-00001")
        kit.consent.give(scenario.bystander, "newsletter", other, at=NOW - timedelta(days=1))
        kit.pseudonyms.seal(buyer, b"x", purpose="ticket_sale")
        kit.retention.hold(buyer, "open_request", until=NOW + timedelta(days=1))
        after_the_visit(kit, scenario)
        # Requests keep the subject too (and a rectification names the new value), the feed
        # names them to the recipients: all of it must go with the erasure.
        kit.dsar.receive(buyer, "rectification", details={"phone": "+31699999999"})
        restriction = kit.dsar.receive(buyer, "restriction")
        kit.dsar.verify(restriction.id, verified=True)
        kit.dsar.fulfil(restriction.id)
        erasure = kit.dsar.receive(buyer, "erasure")
        kit.dsar.verify(erasure.id, verified=True)
        assert kit.dsar.fulfil(erasure.id).done
    needles = {buyer, "ORD-77123", "+31699999999", *scenario.personal[buyer]}
    texts = list(
        sqlite_texts(tmp_path / "avgkit.db") if backend == "sqlite" else postgres_texts(url)
    )
    assert texts, "the scan read nothing"
    leaks = {(table, n) for table, text in texts for n in needles if n in text}
    assert not leaks, f"{len(leaks)} values of the erased subject remain in avgkit's tables"
    assert any(scenario.bystander in text for _, text in texts)  # the scan sees live ids


def test_a_store_set_without_an_erasure_log_is_refused():
    from avgkit.storage import open_stores

    stores = open_stores("memory://")
    stores.erasures = None
    host, _ = shop()
    kit = Kit(stores=stores, inventory=ticketing.inventory(), host=host)
    with pytest.raises(StorageError, match="no erasure log"):
        _ = kit.erasure
    kit.close()


def test_a_kit_without_a_host_says_so():
    with (
        Kit.open("memory://", inventory=ticketing.inventory()) as kit,
        pytest.raises(ValidationError, match="host="),
    ):
        _ = kit.erasure


def test_naive_instants_are_refused(world):
    kit, _host, scenario = world
    with pytest.raises(ValidationError, match="naive"):
        kit.erasure.erase(scenario.buyer, at=datetime(2024, 1, 1))  # noqa: DTZ001
    assert kit.erasure.entry(scenario.buyer) is None


def test_the_subjects_a_breach_touched_come_from_the_host(world):
    from avgkit.breach import BreachFacts, BreachKind, Headcount

    kit, _host, scenario = world
    facts = BreachFacts(
        summary="A mailing list went to the wrong partner.",
        system="mail platform",
        categories=("EmailAddress",),
        subjects=Headcount(minimum=1, maximum=5),
        subject_group="visitors",
        contact_details_known=True,
        root_cause="Selected by hand.",
        occurred_from=NOW - timedelta(days=3),
        kinds=(BreachKind.CONFIDENTIALITY,),
        likely_consequences="Phishing.",
        measures_taken="Deleted.",
        contact_point="the privacy desk",
    )
    breach = kit.breaches.record(facts, discovered_at=NOW - timedelta(hours=2))
    found = list(kit.breaches.subjects_to_inform(breach.id))
    assert scenario.buyer in found
    assert scenario.bystander in found
    assert len(found) == len(set(found))
    with Kit.open("memory://", inventory=ticketing.inventory()) as hostless:
        again = hostless.breaches.record(facts, discovered_at=NOW - timedelta(hours=2))
        with pytest.raises(ValidationError, match="host="):
            list(hostless.breaches.subjects_to_inform(again.id))
