"""The consent ledger: recording, refusals, states over time, decisions, audience, import."""

import importlib.util
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings

from avgkit import Kit
from avgkit.consent import (
    Actor,
    Channel,
    ConsentAction,
    ConsentEvent,
    ConsentLedger,
    ConsentStatus,
    DecisionCode,
    Evidence,
    age_on,
    hash_wording,
    replay,
)
from avgkit.errors import AvgkitError, NotPermitted, PolicyError, StorageError, ValidationError
from avgkit.inventory import LawfulBasis
from avgkit.presets import ticketing
from avgkit.storage import StoreSet
from avgkit.storage.memory import MemoryAuditStore
from avgkit.testing import ManualClock
from avgkit.testing.strategies import consent_histories

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WORDING = hash_wording("Ja, stuur mij de nieuwsbrief van het Voorbeeldpodium.")
WEBSHOP = Evidence(channel=Channel.WEBSHOP, notice_version="2023-11-10", wording_sha256=WORDING)
IMPORTED = attrs.evolve(WEBSHOP, channel=Channel.IMPORT)


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def kit(clock):
    with Kit.open("memory://", inventory=ticketing.inventory(), clock=clock) as kit:
        yield kit
        kit.audit.verify()


@pytest.fixture
def ledger(kit):
    return kit.consent


def _import(subject, purpose, kind, at, evidence=IMPORTED):
    return ConsentEvent(subject=subject, purpose=purpose, kind=kind, at=at, evidence=evidence)


# --------------------------------------------------------------------------- evidence


def test_hash_wording_is_the_sha256_of_the_utf8_text():
    assert hash_wording("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    with pytest.raises(ValidationError):
        hash_wording("")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"wording_sha256": ""}, "missing wording_sha256"),
        ({"notice_version": ""}, "missing notice_version"),
        ({"wording_sha256": "ABC"}, "64 lower-case hex"),
        ({"channel": "fax"}, "not one of"),
        ({"actor": "neighbour"}, "not one of"),
        ({"staff_key": "box_office_1"}, "only recorded when staff acted"),
        ({"expires_at": datetime(2025, 1, 1)}, "naive"),  # noqa: DTZ001 - the point of the test
    ],
)
def test_malformed_evidence_is_refused_with_the_reason(changes, message):
    fields = {"channel": "webshop", "notice_version": "v1", "wording_sha256": WORDING}
    with pytest.raises(ValidationError, match=message):
        Evidence(**{**fields, **changes})


def test_evidence_without_hash_or_notice_is_a_validation_error_not_a_type_error():
    with pytest.raises(ValidationError):
        Evidence(channel=Channel.API, notice_version="v1")
    with pytest.raises(ValidationError):
        Evidence(channel=Channel.API, wording_sha256=WORDING)


def test_the_order_reference_and_subject_stay_out_of_repr():
    evidence = attrs.evolve(WEBSHOP, order_ref="ord-SECRET-1")
    event = _import("klant-geheim", "newsletter", ConsentAction.GIVEN, NOW, evidence)
    assert "SECRET" not in repr(event)
    assert "geheim" not in repr(event)


def test_an_expiry_must_follow_the_event_and_belongs_to_given_consent_only():
    expiring = attrs.evolve(WEBSHOP, expires_at=NOW)
    with pytest.raises(ValidationError, match="later than"):
        _import("c1", "newsletter", ConsentAction.GIVEN, NOW, expiring)
    later = attrs.evolve(WEBSHOP, expires_at=NOW + timedelta(days=1))
    with pytest.raises(ValidationError, match="only given consent"):
        _import("c1", "newsletter", ConsentAction.WITHDRAWN, NOW, later)


# --------------------------------------------------------------------------- recording


def test_giving_consent_records_the_event_and_an_audit_entry_without_personal_data(kit):
    evidence = attrs.evolve(WEBSHOP, order_ref="ord-1042")
    event = kit.consent.give("cust-1", "newsletter", evidence)
    assert event.seq == 1
    assert event.at == NOW
    assert kit.consent.history("cust-1") == (event,)
    (entry,) = kit.audit.entries()
    assert entry.action == "consent.given"
    assert entry.actor == "subject"
    assert entry.subject_ref == kit.audit.subject_ref("cust-1")
    details = dict(entry.details)
    assert len(details.pop("bound_digest")) == 64  # the stored event's, so verify() finds it edited
    assert details == {
        "purpose": "newsletter",
        "channel": "webshop",
        "notice_version": "2023-11-10",
        "actor": "subject",
        "bound": "consent_event",
        "bound_records": 1,
    }
    assert "cust-1" not in repr(entry)
    assert "ord-1042" not in repr(entry)


def test_each_kind_of_event_has_its_audit_action_and_staff_act_under_their_key(kit):
    staff = attrs.evolve(WEBSHOP, channel=Channel.BOX_OFFICE, actor=Actor.STAFF)
    keyed = attrs.evolve(staff, staff_key="box_office_2")
    kit.consent.give("c", "newsletter", staff)
    kit.consent.withdraw("c", "newsletter", keyed)
    kit.consent.object("c", "evaluation_mail", WEBSHOP)
    kit.consent.lift_objection("c", "evaluation_mail", WEBSHOP)
    entries = list(kit.audit.entries())
    assert [e.action for e in entries] == [
        "consent.given",
        "consent.withdrawn",
        "consent.objected",
        "consent.objection_lifted",
    ]
    assert [e.actor for e in entries[:2]] == ["staff", "box_office_2"]


@pytest.mark.parametrize("purpose", ["ticket_sale", "evaluation_mail", "audience_analysis"])
def test_consent_for_a_purpose_not_based_on_consent_is_a_policy_error(ledger, purpose):
    basis = ticketing.inventory().purpose(purpose).basis.value
    with pytest.raises(PolicyError, match=rf"{purpose}.*{basis}"):
        ledger.give("c1", purpose, WEBSHOP)
    with pytest.raises(PolicyError, match=purpose):
        ledger.withdraw("c1", purpose, WEBSHOP)
    assert ledger.history("c1") == ()


@pytest.mark.parametrize("purpose", ["ticket_sale", "share_with_artist", "waiting_list"])
def test_objection_to_a_purpose_that_allows_none_is_a_policy_error(ledger, purpose):
    basis = ticketing.inventory().purpose(purpose).basis.value
    with pytest.raises(PolicyError, match=rf"{purpose}.*{basis}"):
        ledger.object("c1", purpose, WEBSHOP)
    assert ledger.history("c1") == ()


def test_objection_is_possible_to_legitimate_interests_and_to_consent_based_marketing(ledger):
    ledger.object("c1", "share_with_coorganiser", WEBSHOP)
    ledger.object("c1", "newsletter", WEBSHOP)  # direct marketing: Art. 21(2)
    assert len(ledger.history("c1")) == 2


def test_an_unknown_purpose_is_a_policy_error_naming_it(ledger):
    with pytest.raises(PolicyError, match="no_such_purpose"):
        ledger.give("c1", "no_such_purpose", WEBSHOP)
    with pytest.raises(PolicyError, match="no_such_purpose"):
        ledger.state("c1", "no_such_purpose")
    with pytest.raises(PolicyError, match="no_such_purpose"):
        ledger.may_process("c1", "no_such_purpose")


def test_naive_datetimes_are_refused_everywhere(ledger):
    naive = datetime(2024, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError, match="naive"):
        ledger.give("c1", "newsletter", WEBSHOP, at=naive)
    with pytest.raises(ValidationError, match="naive"):
        ledger.state("c1", "newsletter", at=naive)
    with pytest.raises(ValidationError, match="naive"):
        ledger.may_process("c1", "newsletter", at=naive)
    assert ledger.history("c1") == ()


def test_events_in_the_future_beyond_the_clock_skew_are_refused(kit):
    ledger = kit.consent
    ledger.give("c1", "newsletter", WEBSHOP, at=NOW + timedelta(minutes=5))
    with pytest.raises(ValidationError, match="clock-skew"):
        ledger.give("c2", "newsletter", WEBSHOP, at=NOW + timedelta(minutes=5, seconds=1))
    confirmed_late = attrs.evolve(WEBSHOP, confirmed_at=NOW + timedelta(hours=1))
    with pytest.raises(ValidationError, match="confirmed_at"):
        ledger.give("c2", "newsletter", confirmed_late)
    assert ledger.history("c2") == ()
    assert len(kit.audit) == 1


def test_the_clock_skew_allowance_is_configurable(kit, clock):
    strict = ConsentLedger(
        kit.stores.consent, kit.inventory, clock, kit.audit, clock_skew=timedelta(0)
    )
    with pytest.raises(ValidationError):
        strict.give("c1", "newsletter", WEBSHOP, at=NOW + timedelta(seconds=1))
    with pytest.raises(ValidationError, match="clock_skew"):
        ConsentLedger(kit.stores.consent, kit.inventory, clock, kit.audit, clock_skew=-1)


def test_a_bad_subject_id_is_refused_without_echoing_it(ledger):
    with pytest.raises(ValidationError) as info:
        ledger.give("\x00jan@example.org", "newsletter", WEBSHOP)
    assert "jan@example.org" not in str(info.value)


# --------------------------------------------------------------------------- minors (Art. 8)


def test_a_minor_cannot_consent_without_a_guardian(kit):
    with pytest.raises(NotPermitted, match=r"younger than 16.*Art\. 8") as info:
        kit.consent.give("kid", "newsletter", WEBSHOP, age=15)
    assert "15" not in str(info.value)
    assert kit.consent.history("kid") == ()
    assert len(kit.audit) == 0
    guardian = attrs.evolve(WEBSHOP, actor=Actor.GUARDIAN)
    kit.consent.give("kid", "newsletter", guardian, age=15)
    assert kit.consent.state("kid", "newsletter").consent_live


def test_the_age_is_derived_from_a_birth_date_on_the_day_of_the_event(ledger):
    sixteen_tomorrow = date(2008, 6, 2)
    with pytest.raises(NotPermitted):
        ledger.give("kid", "newsletter", WEBSHOP, birth_date=sixteen_tomorrow)
    ledger.give("kid", "newsletter", WEBSHOP, birth_date=date(2008, 6, 1))
    assert age_on(date(2008, 2, 29), date(2024, 2, 28)) == 15
    assert age_on(date(2008, 2, 29), date(2024, 3, 1)) == 16


def test_the_art8_age_is_configurable(kit, clock):
    belgian = ConsentLedger(kit.stores.consent, kit.inventory, clock, kit.audit, minor_age=13)
    belgian.give("teen", "newsletter", WEBSHOP, age=13)
    with pytest.raises(NotPermitted, match="younger than 13"):
        belgian.give("child", "newsletter", WEBSHOP, age=12)
    for bad in (12, 19, True, "16"):
        with pytest.raises(ValidationError, match="minor_age"):
            ConsentLedger(kit.stores.consent, kit.inventory, clock, kit.audit, minor_age=bad)


def test_age_and_birth_date_together_or_malformed_are_refused(ledger):
    with pytest.raises(ValidationError, match="either"):
        ledger.give("c", "newsletter", WEBSHOP, age=30, birth_date=date(1990, 1, 1))
    with pytest.raises(ValidationError, match="age"):
        ledger.give("c", "newsletter", WEBSHOP, age=-1)
    with pytest.raises(ValidationError, match="birth_date"):
        ledger.give("c", "newsletter", WEBSHOP, birth_date="1990-01-01")


# --------------------------------------------------------------------------- states


def test_state_at_any_past_instant_is_the_state_then(ledger, clock):
    ledger.give("c1", "newsletter", WEBSHOP)
    clock.advance(days=10)
    ledger.withdraw("c1", "newsletter", WEBSHOP)
    clock.advance(days=10)
    assert ledger.state("c1", "newsletter", at=NOW - timedelta(seconds=1)).never_given
    assert ledger.state("c1", "newsletter", at=NOW + timedelta(days=5)).consent_live
    withdrawn = ledger.state("c1", "newsletter")
    assert withdrawn.status is ConsentStatus.WITHDRAWN
    assert "withdrawn on 2024-06-11" in withdrawn.describe()


def test_a_withdrawal_of_consent_never_given_is_recorded_and_says_so(kit):
    event = kit.consent.withdraw("c1", "newsletter", WEBSHOP)
    assert kit.consent.history("c1") == (event,)
    state = kit.consent.state("c1", "newsletter")
    assert state.status is ConsentStatus.NEVER_GIVEN
    assert state.withdrawn_without_consent
    assert "never given" in state.describe()
    assert "a withdrawal was recorded" in state.describe()
    (entry,) = kit.audit.entries()
    assert entry.details["never_given"] is True
    decision = kit.consent.may_process("c1", "newsletter")
    assert decision.code is DecisionCode.CONSENT_NEVER_GIVEN
    assert "never given" in decision.reason


def test_consent_expires_at_its_expiry(ledger, clock):
    expiring = attrs.evolve(WEBSHOP, expires_at=NOW + timedelta(days=365))
    ledger.give("c1", "newsletter", expiring)
    assert ledger.may_process("c1", "newsletter").allowed
    clock.advance(days=365)
    state = ledger.state("c1", "newsletter")
    assert state.status is ConsentStatus.EXPIRED
    decision = ledger.may_process("c1", "newsletter")
    assert decision.code is DecisionCode.CONSENT_EXPIRED
    assert "expired on 2025-06-01" in decision.reason
    assert list(ledger.audience("newsletter")) == []


def test_history_is_oldest_first_across_purposes(ledger, clock):
    clock.advance(hours=1)
    later = ledger.give("c1", "newsletter", WEBSHOP)
    earlier = ledger.give("c1", "loyalty_programme", WEBSHOP, at=NOW)
    ledger.give("c2", "newsletter", WEBSHOP)
    assert ledger.history("c1") == (earlier, later)


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize("purpose", ["ticket_sale", "service_mail", "waiting_list"])
def test_contract_purposes_are_allowed_without_consent(kit, purpose):
    decision = kit.may_process("c1", purpose)
    assert decision.allowed
    assert bool(decision)
    assert decision.basis is LawfulBasis.CONTRACT
    assert decision.code is DecisionCode.BASIS_WITHOUT_CONSENT
    assert "Art. 6(1)(b)" in decision.reason
    decision.require()


def test_consent_purposes_need_live_consent(kit, clock):
    denied = kit.may_process("c1", "newsletter")
    assert not denied
    assert denied.basis is LawfulBasis.CONSENT
    with pytest.raises(NotPermitted, match="never given"):
        denied.require()
    kit.consent.give("c1", "newsletter", WEBSHOP)
    allowed = kit.may_process("c1", "newsletter")
    assert allowed.allowed
    assert allowed.code is DecisionCode.CONSENT_GIVEN
    assert "given on 2024-06-01 via webshop" in allowed.reason
    clock.advance(minutes=1)
    kit.consent.withdraw("c1", "newsletter", WEBSHOP)
    assert kit.may_process("c1", "newsletter").code is DecisionCode.CONSENT_WITHDRAWN


def test_legitimate_interest_purposes_need_no_objection(kit, clock):
    assert kit.may_process("c1", "share_with_coorganiser").code is DecisionCode.NO_OBJECTION
    kit.consent.object("c1", "share_with_coorganiser", WEBSHOP)
    decision = kit.may_process("c1", "share_with_coorganiser")
    assert not decision.allowed
    assert decision.code is DecisionCode.OBJECTED
    assert "Art. 21(1)" in decision.reason
    assert "compelling legitimate grounds" in decision.reason
    clock.advance(minutes=1)
    kit.consent.lift_objection("c1", "share_with_coorganiser", WEBSHOP)
    assert kit.may_process("c1", "share_with_coorganiser").allowed


def test_an_objection_to_direct_marketing_or_profiling_is_absolute(kit):
    kit.consent.object("c1", "evaluation_mail", WEBSHOP)
    kit.consent.object("c1", "postal_mailing_visit_history", WEBSHOP)
    for purpose in ("evaluation_mail", "postal_mailing_visit_history"):
        decision = kit.may_process("c1", purpose)
        assert not decision.allowed
        assert "absolute (Art. 21(3)" in decision.reason


def test_an_objection_to_consent_based_marketing_overrides_the_consent(kit, clock):
    kit.consent.give("c1", "newsletter", WEBSHOP)
    clock.advance(minutes=1)
    kit.consent.object("c1", "newsletter", WEBSHOP)
    decision = kit.may_process("c1", "newsletter")
    assert decision.code is DecisionCode.OBJECTED
    assert list(kit.consent.audience("newsletter")) == []
    assert list(kit.consent.objectors("newsletter")) == ["c1"]


def test_decisions_carry_no_personal_data(kit):
    kit.consent.give("jan.jansen@example.org", "newsletter", WEBSHOP)
    decision = kit.may_process("jan.jansen@example.org", "newsletter")
    assert "jan" not in decision.reason
    assert "jan" not in repr(decision)


# --------------------------------------------------------------------------- audience


def test_the_audience_is_everyone_with_live_consent_now_or_then(ledger, clock):
    ledger.give("a", "newsletter", WEBSHOP)
    ledger.give("b", "newsletter", WEBSHOP)
    ledger.give("c", "loyalty_programme", WEBSHOP)
    clock.advance(days=1)
    ledger.withdraw("b", "newsletter", WEBSHOP)
    assert sorted(ledger.audience("newsletter")) == ["a"]
    assert sorted(ledger.audience("newsletter", at=NOW)) == ["a", "b"]


def test_the_audience_of_a_purpose_not_based_on_consent_is_a_policy_error(ledger):
    with pytest.raises(PolicyError, match="objectors"):
        ledger.audience("evaluation_mail")
    with pytest.raises(PolicyError, match="ticket_sale"):
        ledger.audience("ticket_sale")
    with pytest.raises(PolicyError, match="ticket_sale"):
        ledger.objectors("ticket_sale")


def test_events_of_a_period_stream_for_reports(ledger, clock):
    first = ledger.give("a", "newsletter", WEBSHOP)
    clock.advance(days=1)
    second = ledger.object("a", "evaluation_mail", WEBSHOP)
    clock.advance(days=1)
    ledger.give("b", "newsletter", WEBSHOP)
    period = {"since": NOW, "until": NOW + timedelta(days=2)}
    assert list(ledger.events(**period)) == [first, second]
    assert list(ledger.events(**period, purpose="newsletter")) == [first]
    assert first.day == date(2024, 6, 1)
    with pytest.raises(ValidationError, match="earlier"):
        ledger.events(since=NOW, until=NOW - timedelta(days=1))


# --------------------------------------------------------------------------- import


def test_a_bulk_import_stores_every_event_and_one_audit_entry(kit):
    events = [
        _import(f"c{i}", "newsletter", ConsentAction.GIVEN, NOW - timedelta(days=i))
        for i in range(3000)
    ]
    assert kit.consent.import_events(events) == 3000
    assert kit.stores.consent.count() == 3000
    assert len(list(kit.consent.audience("newsletter"))) == 3000
    (entry,) = kit.audit.entries()
    assert entry.action == "consent.imported"
    details = dict(entry.details)
    assert details.pop("bound_digest")
    assert details == {
        "channel": "import",
        "events": 3000,
        "purposes": "newsletter",
        "bound": "consent_event",
        "bound_records": 3000,
    }
    assert kit.consent.import_events([]) == 0


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (
            _import("c", "ticket_sale", ConsentAction.GIVEN, NOW),
            PolicyError,
            "ticket_sale",
        ),
        (
            _import("c", "no_such_purpose", ConsentAction.GIVEN, NOW),
            PolicyError,
            "no_such_purpose",
        ),
        (
            _import("c", "newsletter", ConsentAction.GIVEN, NOW + timedelta(days=1)),
            ValidationError,
            "clock-skew",
        ),
        (
            _import("c", "newsletter", ConsentAction.GIVEN, NOW, WEBSHOP),
            ValidationError,
            "Channel.IMPORT",
        ),
        ("not an event", ValidationError, "ConsentEvent"),
    ],
)
def test_a_bad_event_in_an_import_stores_none_of_the_batch(kit, bad, error, message):
    good = [_import(f"c{i}", "newsletter", ConsentAction.GIVEN, NOW) for i in range(5)]
    batch = [*good[:3], bad, *good[3:]]
    with pytest.raises(error, match=f"event 3 of the batch: .*{message}") as info:
        kit.consent.import_events(batch)
    assert isinstance(info.value, AvgkitError)
    assert "c3" not in str(info.value)
    assert kit.stores.consent.count() == 0
    assert len(kit.audit) == 0


def test_an_import_into_sqlite_is_atomic_too(tmp_path, clock):
    url = f"sqlite:///{tmp_path}/avg.db"
    with Kit.open(url, inventory=ticketing.inventory(), clock=clock) as kit:
        batch = [_import(f"c{i}", "newsletter", ConsentAction.GIVEN, NOW) for i in range(100)]
        batch.append(_import("x", "ticket_sale", ConsentAction.GIVEN, NOW))
        with pytest.raises(PolicyError, match="event 100 of the batch"):
            kit.consent.import_events(batch)
        assert kit.stores.consent.count() == 0
        assert kit.consent.import_events(batch[:100]) == 100


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(history=consent_histories(max_size=30, hours=48, channels=[Channel.IMPORT]))
def test_the_ledger_answers_like_a_replay_of_its_events_at_every_instant(history):
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    with Kit.open("memory://", inventory=ticketing.inventory(), clock=clock) as kit:
        kit.consent.import_events(history)
        instants = sorted({e.at for e in history})
        probes = [t + d for t in instants for d in (timedelta(0), timedelta(minutes=1))]
        for subject, purpose in {(e.subject, e.purpose) for e in history}:
            for at in probes:
                expected = replay(history, subject=subject, purpose=purpose, at=at)
                assert kit.consent.state(subject, purpose, at=at) == expected


def test_replay_ignores_other_subjects_purposes_and_later_events():
    events = [
        _import("a", "newsletter", ConsentAction.GIVEN, NOW),
        _import("b", "newsletter", ConsentAction.WITHDRAWN, NOW),
        _import("a", "loyalty_programme", ConsentAction.WITHDRAWN, NOW),
        _import("a", "newsletter", ConsentAction.WITHDRAWN, NOW + timedelta(days=1)),
    ]
    assert replay(events, subject="a", purpose="newsletter", at=NOW).consent_live
    later = replay(events, subject="a", purpose="newsletter", at=NOW + timedelta(days=2))
    assert later.status is ConsentStatus.WITHDRAWN


# --------------------------------------------------------------------------- kit and demo


def test_a_kit_without_a_consent_store_says_so(clock):
    stores = StoreSet(url="plugin://", audit=MemoryAuditStore())
    kit = Kit(stores=stores, inventory=ticketing.inventory(), clock=clock)
    with pytest.raises(StorageError, match="ConsentStore"):
        kit.may_process("c1", "newsletter")


def test_the_avgkit_consent_fixture_is_a_ready_ledger(avgkit_consent, avgkit_clock):
    assert isinstance(avgkit_consent, ConsentLedger)
    event = avgkit_consent.give("c1", "newsletter", WEBSHOP)
    assert event.at == avgkit_clock.now()


def test_the_benchmark_runs_at_a_small_size():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "consent_audience.py"
    spec = importlib.util.spec_from_file_location("consent_audience", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    numbers = module.run(2000, "sqlite", out=out)
    assert numbers["audience"] == 1100
    assert "audience ratio" in out.getvalue()
    assert "events/s" in out.getvalue()


def test_an_imported_double_opt_in_confirmed_in_the_future_is_refused(kit):
    """Imports get the same future checks as give(), for the confirmation time too."""
    future = attrs.evolve(IMPORTED, confirmed_at=NOW + timedelta(days=365))
    batch = [
        _import("cust-1", "newsletter", ConsentAction.GIVEN, NOW - timedelta(days=2)),
        _import("cust-2", "newsletter", ConsentAction.GIVEN, NOW - timedelta(days=1), future),
    ]
    with pytest.raises(ValidationError, match=r"event 1 of the batch: .*confirmed_at"):
        kit.consent.import_events(batch)
    assert kit.consent.history("cust-1") == ()


def test_an_unknown_channel_is_not_echoed_when_it_looks_like_personal_data():
    with pytest.raises(ValidationError) as info:
        Evidence(channel="jan@example.com", notice_version="v1", wording_sha256=WORDING)
    assert "jan@example.com" not in str(info.value)
