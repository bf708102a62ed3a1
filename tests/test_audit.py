import itertools
import json
import re
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avgkit.audit import (
    GENESIS_HASH,
    AuditAnchor,
    AuditEntry,
    AuditLog,
    entry_hash,
    verify_chain,
)
from avgkit.audit._chain import ChainRows, verify_rows
from avgkit.errors import IntegrityError, ValidationError
from avgkit.storage import open_stores
from avgkit.storage.memory import MemoryAuditStore
from avgkit.testing import ManualClock

T0 = datetime(2024, 5, 1, 10, tzinfo=UTC)


def make_chain(n: int) -> list[AuditEntry]:
    log = AuditLog(MemoryAuditStore(), ManualClock(T0))
    for i in range(n):
        log.record("test.step", subject=f"cust-{i % 4}", details={"i": i})
    return list(log.entries())


def test_a_known_entry_hashes_to_a_fixed_value():
    """The canonical encoding is stable: changing it breaks every stored chain."""
    digest = entry_hash(
        seq=1,
        at=T0,
        action="consent.given",
        actor="system",
        subject_ref="sr1:" + "0" * 32,
        details={"purpose": "newsletter", "channel": "webshop"},
        prev_hash=GENESIS_HASH,
    )
    body = (
        '{"action":"consent.given","actor":"system","at":"2024-05-01T10:00:00.000000Z",'
        '"details":{"channel":"webshop","purpose":"newsletter"},"prev_hash":"' + "0" * 64 + '",'
        '"seq":1,"subject_ref":"sr1:' + "0" * 32 + '"}'
    )
    import hashlib

    assert digest == hashlib.sha256(b"avgkit.audit.v1\n" + body.encode()).hexdigest()


def test_record_links_entries_and_verify_passes():
    chain = make_chain(5)
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))
    assert verify_chain(chain).entries == 5


def test_subject_references_are_pseudonymous_and_stable():
    log = AuditLog(MemoryAuditStore(), ManualClock(T0))
    entry = log.record("test.step", subject="cust-42")
    assert entry.subject_ref == log.subject_ref("cust-42")
    assert entry.subject_ref is not None
    assert "cust-42" not in entry.subject_ref
    assert entry.subject_ref.startswith("sr1:")
    assert log.subject_ref("cust-43") != entry.subject_ref


def test_references_differ_between_installations():
    a = AuditLog(MemoryAuditStore(), ManualClock(T0)).subject_ref("cust-1")
    b = AuditLog(MemoryAuditStore(), ManualClock(T0)).subject_ref("cust-1")
    assert a != b


def test_for_subject_returns_only_that_subjects_entries():
    log = AuditLog(MemoryAuditStore(), ManualClock(T0))
    log.record("a.one", subject="cust-1")
    log.record("a.two", subject="cust-2")
    log.record("a.three", subject="cust-1")
    assert [e.action for e in log.for_subject("cust-1")] == ["a.one", "a.three"]


def test_record_uses_the_clock_and_refuses_naive_times():
    clock = ManualClock(T0)
    log = AuditLog(MemoryAuditStore(), clock)
    clock.advance(hours=2)
    assert log.record("a.b").at == T0 + timedelta(hours=2)
    with pytest.raises(ValidationError, match="naive"):
        log.record("a.b", at=datetime(2024, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    "details",
    [{"nested": {"a": 1}}, {"ratio": 0.5}, {"Bad Key": 1}, {"items": [1, 2]}, "text"],
)
def test_details_must_be_flat_scalars_under_snake_case_keys(details):
    log = AuditLog(MemoryAuditStore(), ManualClock(T0))
    with pytest.raises(ValidationError):
        log.record("a.b", details=details)
    assert len(log) == 0


@pytest.mark.parametrize("action", ["", "Consent Given", "a..b", "x" * 65, 3])
def test_bad_actions_are_refused(action):
    log = AuditLog(MemoryAuditStore(), ManualClock(T0))
    with pytest.raises(ValidationError):
        log.record(action)


def test_truncating_the_tail_is_caught_only_with_an_anchor():
    log = AuditLog(MemoryAuditStore(), ManualClock(T0))
    for i in range(4):
        log.record("a.b", details={"i": i})
    anchor = log.anchor()
    assert anchor is not None
    chain = list(log.entries())
    assert verify_chain(chain[:-1]).entries == 3  # a shorter chain is self-consistent
    with pytest.raises(IntegrityError, match="removed from the end"):
        verify_chain(chain[:-1], anchor=anchor)
    assert verify_chain(chain, anchor=anchor).head == anchor


def test_an_anchor_that_does_not_match_is_reported():
    chain = make_chain(3)
    forged = AuditAnchor(seq=2, hash="f" * 64)
    with pytest.raises(IntegrityError, match="entry 2"):
        verify_chain(chain, anchor=forged)


def test_anchor_text_round_trips():
    anchor = AuditAnchor(seq=12, hash="a" * 64)
    assert AuditAnchor.parse(str(anchor)) == anchor
    with pytest.raises(ValidationError):
        AuditAnchor.parse("twelve:abc")


def test_an_empty_log_verifies_with_no_head():
    assert verify_chain([]).head is None
    assert AuditLog(MemoryAuditStore(), ManualClock(T0)).anchor() is None


def test_a_malformed_stored_entry_is_an_integrity_error():
    chain = make_chain(2)

    def rows():
        yield chain[0]
        raise ValidationError("at must be a timezone-aware datetime")

    with pytest.raises(IntegrityError, match="entry 2: it is malformed"):
        verify_chain(rows())


# --- property tests: any single tampering is detected --------------------------------------

chains = st.integers(min_value=2, max_value=12).map(make_chain)


@given(chains, st.data())
def test_any_changed_entry_is_detected(chain, data):
    i = data.draw(st.integers(0, len(chain) - 1))
    field = data.draw(st.sampled_from(["at", "action", "actor", "subject_ref", "details"]))
    victim = chain[i]
    changed = {
        "at": victim.at + timedelta(microseconds=1),
        "action": victim.action + "x",
        "actor": "staff",
        "subject_ref": "sr1:" + "f" * 32,
        "details": {**victim.details, "i": -1},
    }[field]
    tampered = [*chain[:i], attrs.evolve(victim, **{field: changed}), *chain[i + 1 :]]
    with pytest.raises(IntegrityError, match=f"entry {victim.seq}"):
        verify_chain(tampered)


@given(chains, st.data())
def test_any_removed_entry_is_detected(chain, data):
    i = data.draw(st.integers(0, len(chain) - 1))
    anchor = AuditAnchor(seq=chain[-1].seq, hash=chain[-1].hash)
    with pytest.raises(IntegrityError):
        verify_chain([*chain[:i], *chain[i + 1 :]], anchor=anchor)


@given(chains, st.data())
def test_any_inserted_entry_is_detected(chain, data):
    """An entry slipped in before any existing one breaks the chain (after the last, it is
    an ordinary append)."""
    i = data.draw(st.integers(0, len(chain) - 1))
    at = chain[i - 1] if i else None
    forged = AuditEntry.seal(
        seq=i + 1,
        at=T0,
        action="forged.entry",
        actor="system",
        subject_ref=None,
        details={},
        prev_hash=at.hash if at else GENESIS_HASH,
    )
    with pytest.raises(IntegrityError):
        verify_chain([*chain[:i], forged, *chain[i:]])


@given(chains, st.data())
def test_any_reordering_is_detected(chain, data):
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    swapped = list(chain)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    with pytest.raises(IntegrityError, match=f"entry {i + 1}"):
        verify_chain(swapped)


@given(chains, st.data())
def test_a_resealed_forgery_is_still_detected_by_its_successor(chain, data):
    """Even an attacker who recomputes the forged entry's own hash breaks the next link."""
    i = data.draw(st.integers(0, len(chain) - 2))
    victim = chain[i]
    forged = AuditEntry.seal(
        seq=victim.seq,
        at=victim.at,
        action="forged.entry",
        actor=victim.actor,
        subject_ref=victim.subject_ref,
        details=victim.details,
        prev_hash=victim.prev_hash,
    )
    with pytest.raises(IntegrityError, match=f"entry {victim.seq + 1}"):
        verify_chain([*chain[:i], forged, *chain[i + 1 :]])


def test_entries_serialise_without_personal_data():
    log = AuditLog(MemoryAuditStore(), ManualClock(T0))
    entry = log.record("test.step", subject="jan@example.nl")
    assert "jan@example.nl" not in repr(entry)
    assert "jan@example.nl" not in json.dumps(attrs.asdict(entry), default=str)


@pytest.mark.parametrize("details", [{"n": "\ud800"}, {"n": 10**5000}, {"n": -(2**64)}])
def test_details_that_cannot_be_stored_or_hashed_are_refused(details):
    log = AuditLog(MemoryAuditStore(), ManualClock(T0))
    with pytest.raises(ValidationError):
        log.record("a.b", details=details)
    assert len(log) == 0


# --- verifying stored rows: the same verdict as decoding every entry ------------------------

_ROW_CHANGES = {
    "at": [
        "2024-05-01T10:00:00.000001Z",  # another instant, canonical
        "2024-05-01T10:00:00,000000Z",  # the same instant, written differently
        "2024-05-01 10:00:00",
        b"\xff\xfe",
    ],
    "action": ["test.other", "test.step ", "Test.Step", b"\xff"],
    "actor": ["staff", "x y", ""],
    "subject_ref": [None, "sr1:" + "f" * 32, b"\x80"],
    "details": ['{"i":0}', '{"i": -1}', '{"i": 1, "j": 2}', '{"i": 1.0}', "{oops", "[1]", "null"],
    "prev_hash": [GENESIS_HASH, "f" * 64, "F" * 64],
    "hash": ["0" * 64, "not a hash"],
}


def _verdict(run):
    try:
        return run().entries
    except IntegrityError as exc:
        return re.search(r"entry (\d+)", str(exc)).group(1)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=4),
    st.sampled_from(sorted(_ROW_CHANGES)).flatmap(
        lambda column: st.tuples(st.just(column), st.sampled_from(_ROW_CHANGES[column]))
    ),
)
def test_verifying_stored_rows_reaches_the_verdict_of_decoding_every_entry(victim, change):
    """The row walk of a SQL store and the walk over decoded entries agree on any edit."""
    column, value = change
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/avg.db"
        with open_stores(url) as stores:
            log = AuditLog(stores.audit, ManualClock(T0))
            for i in range(4):
                log.record("test.step", subject=f"cust-{i}", details={"i": i % 2})
        conn = sqlite3.connect(f"{tmp}/avg.db")
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute(f"UPDATE audit_entries SET {column} = ? WHERE seq = ?", (value, victim))
        conn.commit()
        conn.close()
        with open_stores(url) as stores:
            store = stores.audit
            assert isinstance(store, ChainRows)
            by_rows = _verdict(lambda: verify_rows(store.chain_rows(), store.chain_entry))
            by_entries = _verdict(lambda: verify_chain(store.entries()))
            assert by_rows == by_entries
            assert _verdict(AuditLog(store, ManualClock(T0)).verify) == by_entries


def test_a_row_whose_text_no_longer_decodes_is_named_and_earlier_rows_still_count(tmp_path):
    url = f"sqlite:///{tmp_path}/avg.db"
    with open_stores(url) as stores:
        log = AuditLog(stores.audit, ManualClock(T0))
        for i in range(5):
            log.record("test.step", details={"i": i})
    conn = sqlite3.connect(tmp_path / "avg.db")
    conn.execute("DROP TRIGGER audit_entries_no_update")
    # Text that is not UTF-8 (not a blob): the driver itself fails to read the page.
    conn.execute("UPDATE audit_entries SET actor = CAST(X'FFFE' AS TEXT) WHERE seq = 4")
    conn.commit()
    conn.close()
    with open_stores(url) as stores:
        store = stores.audit
        seen = []
        with pytest.raises(IntegrityError, match="entry 4: it is malformed"):
            seen.extend(row[0] for row in store.chain_rows())
        assert seen == [1, 2, 3]
        with pytest.raises(IntegrityError, match="entry 4: it is malformed"):
            AuditLog(store, ManualClock(T0)).verify()
