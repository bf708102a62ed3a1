"""may_process: the inventory's basis and the ledger combined, now or at a past instant."""

from datetime import UTC, datetime, timedelta

import pytest

from avgkit import Channel, Decision, Evidence, Kit, hash_wording
from avgkit.consent import DecisionCode, decide
from avgkit.errors import NotPermitted, StorageError, ValidationError
from avgkit.permissions import Permissions
from avgkit.presets import ticketing
from avgkit.storage import StoreSet
from avgkit.storage.memory import MemoryAuditStore
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
WORDING = "Ja, stuur mij de nieuwsbrief."


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def kit(clock):
    with Kit.open("memory://", inventory=ticketing.inventory(), clock=clock) as opened:
        yield opened


def evidence():
    return Evidence.from_wording(WORDING, channel="webshop", notice_version="2024-05")


def test_evidence_can_be_built_from_the_wording_itself():
    built = evidence()
    assert built.wording_sha256 == hash_wording(WORDING)
    assert built.channel is Channel.WEBSHOP
    assert WORDING not in repr(built)


def test_evidence_from_an_empty_wording_is_refused():
    with pytest.raises(ValidationError, match="hash_wording"):
        Evidence.from_wording("", channel="webshop", notice_version="2024-05")


def test_may_process_answers_at_a_past_instant(kit, clock):
    kit.consent.give("cust-1", "newsletter", evidence())
    clock.advance(days=3)
    kit.consent.withdraw("cust-1", "newsletter", evidence())
    assert not kit.may_process("cust-1", "newsletter")
    then = kit.may_process("cust-1", "newsletter", at=NOW + timedelta(days=1))
    assert isinstance(then, Decision)
    assert then.allowed
    assert then.at == NOW + timedelta(days=1)
    assert then.code is DecisionCode.CONSENT_GIVEN


def test_may_process_refuses_a_naive_instant(kit):
    with pytest.raises(ValidationError, match="naive"):
        kit.may_process("cust-1", "newsletter", at=datetime(2024, 6, 1))  # noqa: DTZ001


def test_the_kit_and_the_ledger_decide_alike(kit):
    kit.consent.give("cust-1", "newsletter", evidence())
    kit.consent.object("cust-2", "evaluation_mail", evidence())
    for subject in ("cust-1", "cust-2", "cust-3"):
        for purpose in ("newsletter", "evaluation_mail", "ticket_sale"):
            assert kit.may_process(subject, purpose) == kit.consent.may_process(subject, purpose)


def test_a_contract_purpose_needs_no_ledger(clock):
    stores = StoreSet(url="plugin://", audit=MemoryAuditStore())
    with Kit(stores=stores, inventory=ticketing.inventory(), clock=clock) as kit:
        decision = kit.may_process("cust-1", "ticket_sale")
        assert decision.allowed
        assert decision.code is DecisionCode.BASIS_WITHOUT_CONSENT
        with pytest.raises(StorageError, match="consent ledger"):
            kit.may_process("cust-1", "newsletter")


def test_permissions_can_be_built_by_hand(kit, clock):
    permissions = Permissions(kit.inventory, kit.consent, clock)
    assert not permissions.may_process("cust-1", "newsletter")
    with pytest.raises(NotPermitted):
        permissions.may_process("cust-1", "newsletter").require()


def test_decide_refuses_a_missing_state_for_a_consent_purpose(kit):
    purpose = kit.inventory.purpose("newsletter")
    with pytest.raises(ValidationError, match="consent state"):
        decide(purpose, None, subject="cust-1", at=NOW)
