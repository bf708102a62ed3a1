"""Keys in a second database: shredding leaves a trace at every failure point; first keys.

With ``Kit.open(..., keys_url=...)`` the key store and the audit log cannot share one
transaction. A shred then writes its intent to the audit log first, destroys the key, and
records the outcome; each test below breaks one of those steps.
"""

import threading
from datetime import UTC, datetime

import pytest

from avgkit import Kit
from avgkit.errors import ShreddedKeyError, StorageError
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
STARTED = "pseudonym.subject_key_shred_started"
SHREDDED = "pseudonym.subject_key_shredded"


@pytest.fixture(params=["memory", "sqlite"])
def kit(request, tmp_path):
    if request.param == "memory":
        urls = {"url": "memory://", "keys_url": "memory://"}
    else:
        urls = {"url": f"sqlite:///{tmp_path}/avg.db", "keys_url": f"sqlite:///{tmp_path}/k.db"}
    with Kit.open(
        urls["url"],
        keys_url=urls["keys_url"],
        inventory=ticketing.inventory(),
        clock=ManualClock(NOW),
    ) as opened:
        yield opened


def actions(kit, subject):
    return [entry.action for entry in kit.audit.for_subject(subject)]


def fail_audit_append(kit, monkeypatch, *, on_call):
    real = kit.stores.audit.append
    calls = {"n": 0}

    def append(seal):
        calls["n"] += 1
        if calls["n"] == on_call:
            raise StorageError("simulated: the audit database is unreachable")
        return real(seal)

    monkeypatch.setattr(kit.stores.audit, "append", append)


def sealed(kit):
    return kit.pseudonyms.seal("cust-1", b"iban", purpose="ticket_sale")


def test_a_failing_intent_leaves_the_key_alive_and_nothing_claimed(kit, monkeypatch):
    blob = sealed(kit)
    fail_audit_append(kit, monkeypatch, on_call=1)
    with pytest.raises(StorageError, match="simulated"):
        kit.pseudonyms.shred("cust-1")
    monkeypatch.undo()
    assert kit.pseudonyms.open("cust-1", blob, purpose="ticket_sale") == b"iban"
    assert actions(kit, "cust-1") == []


def test_a_failing_key_store_leaves_the_intent_and_a_retry_completes(kit, monkeypatch):
    blob = sealed(kit)

    def broken(_ref, _at):
        raise StorageError("simulated: the key database is unreachable")

    monkeypatch.setattr(kit.pseudonyms.store, "shred", broken)
    with pytest.raises(StorageError, match="simulated"):
        kit.pseudonyms.shred("cust-1")
    monkeypatch.undo()
    assert actions(kit, "cust-1") == [STARTED]
    assert kit.pseudonyms.open("cust-1", blob, purpose="ticket_sale") == b"iban"
    assert kit.pseudonyms.shred("cust-1") is True
    assert actions(kit, "cust-1") == [STARTED, STARTED, SHREDDED]
    with pytest.raises(ShreddedKeyError):
        kit.pseudonyms.open("cust-1", blob, purpose="ticket_sale")


def test_a_failing_outcome_still_leaves_the_intent_beside_the_destroyed_key(kit, monkeypatch):
    blob = sealed(kit)
    fail_audit_append(kit, monkeypatch, on_call=2)
    with pytest.raises(StorageError, match="simulated"):
        kit.pseudonyms.shred("cust-1")
    monkeypatch.undo()
    # The key is gone, and the log says an erasure was under way: no trace was lost.
    assert actions(kit, "cust-1") == [STARTED]
    with pytest.raises(ShreddedKeyError):
        kit.pseudonyms.open("cust-1", blob, purpose="ticket_sale")
    assert kit.pseudonyms.shred("cust-1") is False  # the retry records the outcome
    assert actions(kit, "cust-1") == [STARTED, STARTED, SHREDDED]
    assert kit.audit.verify().entries == len(list(kit.audit.entries()))


def test_a_shred_in_one_database_stays_one_atomic_entry(tmp_path):
    with Kit.open(
        f"sqlite:///{tmp_path}/avg.db", inventory=ticketing.inventory(), clock=ManualClock(NOW)
    ) as kit:
        sealed(kit)
        assert kit.pseudonyms.shred("cust-1") is True
        assert actions(kit, "cust-1") == [SHREDDED]


def test_a_key_made_apart_is_audited_intent_first(kit, monkeypatch):
    fail_audit_append(kit, monkeypatch, on_call=2)
    with pytest.raises(StorageError, match="simulated"):
        kit.pseudonyms.rotate()
    monkeypatch.undo()
    created = [e.action for e in kit.audit.entries()]
    assert created == ["pseudonym.key_creation_started"]
    assert len(kit.pseudonyms.key_ids()) == 1  # the key exists, and so does its trace


def test_ensure_key_makes_the_first_key_once(kit):
    first = kit.pseudonyms.ensure_key()
    assert kit.pseudonyms.ensure_key() == first
    assert kit.pseudonyms.key_ids() == (first,)
    assert kit.pseudonyms.ensure_key("token") != first
    rotated = kit.pseudonyms.rotate()
    assert kit.pseudonyms.ensure_key() == rotated


def test_workers_racing_on_the_first_key_share_one(tmp_path):
    url, keys_url = f"sqlite:///{tmp_path}/avg.db", f"sqlite:///{tmp_path}/keys.db"
    kits = [
        Kit.open(url, keys_url=keys_url, inventory=ticketing.inventory(), clock=ManualClock(NOW))
        for _ in range(4)
    ]
    barrier = threading.Barrier(len(kits))
    got: list[str] = []

    def work(kit):
        barrier.wait()
        got.append(kit.pseudonyms.ensure_key())

    threads = [threading.Thread(target=work, args=(kit,)) for kit in kits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(set(got)) == 1
        assert kits[0].pseudonyms.key_ids() == (got[0],)
        emails = {k.pseudonyms.pseudonym("a@example.org", domain="crm", kind="email") for k in kits}
        assert len(emails) == 1
    finally:
        for kit in kits:
            kit.close()
