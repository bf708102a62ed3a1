"""The memory adapter's unit of work: StoreSet.atomic() is all-or-nothing on memory://."""

import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from avgkit.audit import GENESIS_HASH, AuditEntry
from avgkit.consent import Channel, ConsentAction, ConsentEvent, Evidence, hash_wording
from avgkit.errors import ConflictError, NotFound
from avgkit.pseudonym._keys import KeyKind, StoredKey
from avgkit.storage import Transactional, open_stores
from avgkit.storage.memory import MemoryAuditStore, MemoryUnitOfWork
from avgkit.testing.conformance._breaches import make_breach, next_version

T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
EVIDENCE = Evidence(channel=Channel.API, notice_version="v1", wording_sha256=hash_wording("x"))


class BoomError(Exception):
    """What a failing service raises inside a block."""


def fail_inside(unit, body, error=BoomError):
    """Run ``body`` in ``unit.atomic()`` and raise ``error`` at its end; expect it to escape."""

    def run():
        with unit.atomic():
            body()
            raise error

    with pytest.raises(error):
        run()


def event(subject, minutes=0, kind=ConsentAction.GIVEN):
    return ConsentEvent(
        subject=subject,
        purpose="newsletter",
        kind=kind,
        at=T0 + timedelta(minutes=minutes),
        evidence=EVIDENCE,
    )


def key(key_id, subject_ref=None):
    return StoredKey(
        key_id=key_id,
        kind=KeyKind.SUBJECT if subject_ref else KeyKind.PSEUDONYM,
        material=key_id.encode().ljust(32, b"\x07"),
        created_at=T0,
        subject_ref=subject_ref,
    )


def seal_next(head):
    return AuditEntry.seal(
        seq=1 if head is None else head.seq + 1,
        at=T0,
        action="test.entry",
        actor="system",
        subject_ref=None,
        details={},
        prev_hash=GENESIS_HASH if head is None else head.hash,
    )


def write_everything(stores, n):
    """One write to every store of the set (n keeps ids apart between calls)."""
    stores.audit.append(seal_next)
    stores.consent.append(event(f"cust-{n}"))
    stores.consent.append_many([event(f"bulk-{n}-{i}", i) for i in range(3)])
    stores.keys.add(key(f"p{n}"))
    stores.keys.add(key(f"s{n}", subject_ref=f"sr1:{n}"))
    stores.keys.shred(f"sr1:never-{n}", T0)
    stores.breaches.put(make_breach(f"br_{n}"))


def snapshot(stores):
    return (
        list(stores.audit.entries()),
        [list(stores.consent.history(s)) for s in ("cust-0", "cust-1", "bulk-1-0")],
        stores.consent.count(),
        stores.keys.ring(KeyKind.PSEUDONYM),
        [stores.keys.for_subject(f"sr1:{n}") for n in (0, 1)],
        [stores.keys.shredded_at(f"sr1:never-{n}") for n in (0, 1)],
        [list(stores.breaches.history(f"br_{n}")) for n in (0, 1)],
        stores.breaches.count(),
    )


@pytest.fixture
def stores():
    with open_stores("memory://") as opened:
        yield opened


def test_an_exception_undoes_every_write_of_the_block_in_every_store(stores):
    write_everything(stores, 0)
    before = snapshot(stores)
    seen = []

    def body():
        write_everything(stores, 1)
        seen.append(stores.consent.count())  # the block reads its own writes

    fail_inside(stores, body)
    assert seen == [8]
    assert snapshot(stores) == before


def test_a_block_that_ends_normally_keeps_every_write(stores):
    with stores.atomic():
        write_everything(stores, 1)
    assert stores.audit.count() == 1
    assert stores.consent.count() == 4
    assert stores.keys.get("p1").key_id == "p1"
    assert stores.keys.shredded_at("sr1:never-1") == T0
    assert stores.breaches.get("br_1").version == 1


def test_a_shredding_undone_gives_the_key_back_and_removes_the_tombstone(stores):
    stores.keys.add(key("s1", subject_ref="sr1:one"))
    fail_inside(stores, lambda: stores.keys.shred("sr1:one", T0))
    assert stores.keys.for_subject("sr1:one") == key("s1", subject_ref="sr1:one")
    assert stores.keys.shredded_at("sr1:one") is None
    assert stores.keys.shred("sr1:one", T0 + timedelta(hours=1)) is True
    assert stores.keys.shredded_at("sr1:one") == T0 + timedelta(hours=1)


def test_an_undone_block_keeps_an_older_tombstone_and_the_ring_order(stores):
    stores.keys.add(key("first"))
    stores.keys.shred("sr1:old", T0)

    def body():
        stores.keys.shred("sr1:old", T0 + timedelta(days=1))  # first instant wins: no change
        stores.keys.add(key("second"))

    fail_inside(stores, body)
    stores.keys.add(key("third"))
    assert stores.keys.shredded_at("sr1:old") == T0
    assert [k.key_id for k in stores.keys.ring(KeyKind.PSEUDONYM)] == ["first", "third"]


def test_an_undone_breach_version_leaves_the_previous_one_current(stores):
    v1 = make_breach("br_x")
    stores.breaches.put(v1)
    fail_inside(stores, lambda: stores.breaches.put(next_version(v1)))
    assert stores.breaches.get("br_x") == v1
    stores.breaches.put(next_version(v1))  # version 2 is free again
    assert stores.breaches.get("br_x").version == 2


def test_a_reference_secret_created_inside_an_undone_block_is_forgotten(stores):
    fail_inside(stores, lambda: stores.audit.reference_secret(lambda: b"a" * 32))
    assert stores.audit.reference_secret(lambda: b"b" * 32) == b"b" * 32


def test_undone_consent_events_free_their_sequence_numbers_without_gaps(stores):
    stores.consent.append(event("a"))
    fail_inside(stores, lambda: stores.consent.append_many([event("a", 1), event("b", 1)]))
    assert list(stores.consent.history("b")) == []
    assert stores.consent.append(event("c")).seq == 2


def test_an_inner_block_joins_the_outer_one(stores):

    def body():
        with stores.atomic():
            stores.consent.append(event("inner"))
        stores.consent.append(event("outer"))

    fail_inside(stores, body)
    assert stores.consent.count() == 0


def test_an_inner_block_that_fails_undoes_only_its_own_writes(stores):
    """As a SQL savepoint: the outer block goes on and commits what it wrote itself."""
    with stores.atomic():
        stores.consent.append(event("before"))
        fail_inside(stores, lambda: (stores.consent.append(event("in")), stores.keys.add(key("k"))))
        stores.consent.append(event("after"))
    assert [e.subject for e in stores.consent.events(since=T0, until=T0 + timedelta(1))] == [
        "before",
        "after",
    ]
    with pytest.raises(NotFound):
        stores.keys.get("k")


def test_a_refused_write_inside_a_block_undoes_nothing_else(stores):
    stores.keys.add(key("dup"))
    with stores.atomic():
        stores.consent.append(event("kept"))
        with pytest.raises(ConflictError):
            stores.keys.add(key("dup"))
    assert stores.consent.count() == 1
    assert stores.keys.get("dup") == key("dup")


def test_keyboard_interrupts_undo_the_block_too(stores):
    fail_inside(stores, lambda: stores.consent.append(event("a")), KeyboardInterrupt)
    assert stores.consent.count() == 0


def test_the_journal_holds_only_the_blocks_changes_and_is_dropped_at_commit(stores):
    """Cost is proportional to what a block writes, and nothing is kept after it."""
    for i in range(1000):
        stores.consent.append(event(f"old-{i}"))
    unit = stores.consent._unit
    with stores.atomic():
        stores.consent.append(event("new"))
        stores.audit.append(seal_next)
        assert len(unit._journal) == 2
    assert unit._journal == []


def test_writes_outside_a_block_are_final_and_not_journalled(stores):
    stores.consent.append(event("a"))
    assert stores.consent._unit._journal == []


def test_another_thread_waits_for_the_block_and_never_sees_it_half_done(stores):
    seen = []
    inside = threading.Event()

    def reader():
        inside.wait()
        seen.append((stores.consent.count(), stores.audit.count()))

    thread = threading.Thread(target=reader)
    thread.start()
    with stores.atomic():
        stores.consent.append(event("a"))
        inside.set()
        time.sleep(0.05)  # the reader is now waiting for the set's lock
        stores.audit.append(seal_next)
    thread.join()
    assert seen == [(1, 1)]


def test_threads_running_blocks_at_once_keep_each_block_whole(stores):
    """Blocks on several threads, half of them failing: only the whole good ones stay."""

    def block(n, i):
        with stores.atomic():
            stores.consent.append(event(f"t{n}-{i}"))
            stores.audit.append(seal_next)
            if i % 2:
                raise BoomError

    def work(n):
        for i in range(20):
            with contextlib.suppress(BoomError):
                block(n, i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stores.consent.count() == stores.audit.count() == 4 * 10
    seqs = [e.seq for e in stores.consent.events(since=T0, until=T0 + timedelta(1))]
    assert seqs == list(range(1, 41))


def test_stores_of_different_sets_do_not_share_a_unit_of_work():
    with open_stores("memory://") as one, open_stores("memory://") as two:
        fail_inside(one, lambda: (one.consent.append(event("a")), two.consent.append(event("b"))))
        assert one.consent.count() == 0
        assert two.consent.count() == 1


def test_a_lone_memory_audit_store_is_transactional():
    store = MemoryAuditStore()
    assert isinstance(store, Transactional)
    fail_inside(store, lambda: store.append(seal_next))
    assert store.count() == 0


def test_stores_built_by_hand_can_share_one_unit():
    from avgkit.storage.memory import MemoryConsentStore, MemoryKeyStore

    unit = MemoryUnitOfWork()
    consent, keys = MemoryConsentStore(unit=unit), MemoryKeyStore(unit=unit)
    fail_inside(unit, lambda: (consent.append(event("a")), keys.add(key("k1"))))
    assert consent.count() == 0
    assert keys.ring(KeyKind.PSEUDONYM) == ()
    assert "pending=0" in repr(unit)
