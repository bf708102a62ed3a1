"""Compelling legitimate grounds (Art. 21(1)): recorded, audited, honoured, never for marketing."""

from datetime import UTC, datetime, timedelta

import pytest

from avgkit import Kit
from avgkit.consent import Channel, DecisionCode, Evidence, hash_wording
from avgkit.errors import PolicyError, ValidationError
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
EVIDENCE = Evidence(
    channel=Channel.WEBSHOP, notice_version="2024-05", wording_sha256=hash_wording("Bezwaar")
)
REASON = "Needed to settle a pending dispute with the co-organiser over this event's sales."


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
    with Kit.open(url, inventory=ticketing.inventory(), clock=clock) as kit:
        yield kit
        kit.audit.verify()


def test_grounds_override_an_objection_with_their_reason(kit, clock):
    kit.consent.object("cust-1", "share_with_coorganiser", EVIDENCE)
    assert kit.may_process("cust-1", "share_with_coorganiser").code is DecisionCode.OBJECTED
    clock.advance(timedelta(hours=1))
    grounds = kit.consent.record_grounds(
        "cust-1", "share_with_coorganiser", reason=REASON, decided_by="dpo"
    )
    assert grounds.seq is not None
    assert REASON not in repr(grounds)
    decision = kit.may_process("cust-1", "share_with_coorganiser")
    assert decision
    assert decision.code is DecisionCode.COMPELLING_GROUNDS
    assert REASON in decision.reason
    assert "dpo" in decision.reason
    assert "Art. 21(1)" in decision.reason
    assert decision.state.grounds == grounds
    # Before the grounds were recorded the objection stood.
    earlier = kit.may_process("cust-1", "share_with_coorganiser", at=NOW + timedelta(minutes=1))
    assert earlier.code is DecisionCode.OBJECTED


def test_grounds_are_audited_without_their_text(kit):
    kit.consent.object("cust-1", "audience_analysis", EVIDENCE)
    kit.consent.record_grounds("cust-1", "audience_analysis", reason=REASON, decided_by="legal_1")
    entry = list(kit.audit.entries())[-1]
    assert entry.action == "consent.grounds_recorded"
    assert entry.actor == "legal_1"
    assert entry.details["reason_sha256"] == hash_wording(REASON)
    assert REASON not in repr(entry)


def test_grounds_answer_only_the_objection_they_were_recorded_for(kit, clock):
    kit.consent.object("cust-1", "share_with_coorganiser", EVIDENCE)
    kit.consent.record_grounds("cust-1", "share_with_coorganiser", reason=REASON, decided_by="dpo")
    clock.advance(timedelta(days=1))
    kit.consent.lift_objection("cust-1", "share_with_coorganiser", EVIDENCE)
    clock.advance(timedelta(days=1))
    kit.consent.object("cust-1", "share_with_coorganiser", EVIDENCE)  # a new objection
    assert kit.may_process("cust-1", "share_with_coorganiser").code is DecisionCode.OBJECTED


def test_grounds_end_at_their_until(kit, clock):
    kit.consent.object("cust-1", "share_with_coorganiser", EVIDENCE)
    kit.consent.record_grounds(
        "cust-1",
        "share_with_coorganiser",
        reason=REASON,
        decided_by="dpo",
        until=NOW + timedelta(days=7),
    )
    clock.advance(timedelta(days=7))
    assert kit.may_process("cust-1", "share_with_coorganiser").code is DecisionCode.OBJECTED


@pytest.mark.parametrize(
    ("purpose", "error", "message"),
    [
        ("evaluation_mail", PolicyError, "absolute"),  # direct marketing
        ("postal_mailing_visit_history", PolicyError, "absolute"),  # profiling
        ("newsletter", PolicyError, "absolute"),  # consent-based direct marketing
        ("ticket_sale", PolicyError, "only possible"),  # no objection on a contract
        ("nope", PolicyError, "not declared"),
    ],
)
def test_grounds_are_refused_where_the_objection_is_absolute_or_impossible(
    kit, purpose, error, message
):
    if purpose in {"evaluation_mail", "postal_mailing_visit_history"}:
        kit.consent.object("cust-1", purpose, EVIDENCE)
    entries = kit.audit.verify().entries
    with pytest.raises(error, match=message):
        kit.consent.record_grounds("cust-1", purpose, reason=REASON, decided_by="dpo")
    assert kit.audit.verify().entries == entries
    assert kit.stores.consent.grounds("cust-1", purpose, NOW) is None


def test_direct_marketing_objection_stays_absolute_in_may_process(kit):
    kit.consent.object("cust-1", "evaluation_mail", EVIDENCE)
    decision = kit.may_process("cust-1", "evaluation_mail")
    assert not decision
    assert "absolute" in decision.reason


def test_grounds_need_an_objection_in_force(kit):
    with pytest.raises(ValidationError, match="no objection"):
        kit.consent.record_grounds(
            "cust-1", "share_with_coorganiser", reason=REASON, decided_by="dpo"
        )
    assert kit.stores.consent.grounds("cust-1", "share_with_coorganiser", NOW) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"reason": ""},
        {"decided_by": "Jan de Vries"},
        {"until": NOW - timedelta(days=1)},
    ],
)
def test_malformed_grounds_write_nothing(kit, changes):
    kit.consent.object("cust-1", "share_with_coorganiser", EVIDENCE)
    args = {"reason": REASON, "decided_by": "dpo"} | changes
    with pytest.raises(ValidationError):
        kit.consent.record_grounds("cust-1", "share_with_coorganiser", **args)
    assert kit.stores.consent.grounds("cust-1", "share_with_coorganiser", NOW) is None


def test_erasure_rekeys_the_grounds(kit):
    kit.consent.object("cust-1", "share_with_coorganiser", EVIDENCE)
    kit.consent.record_grounds("cust-1", "share_with_coorganiser", reason=REASON, decided_by="dpo")
    ref = kit.audit.subject_ref("cust-1")
    kit.stores.consent.forget("cust-1", ref)
    assert kit.stores.consent.grounds("cust-1", "share_with_coorganiser", NOW) is None
    assert kit.stores.consent.grounds(ref, "share_with_coorganiser", NOW).reason == REASON
