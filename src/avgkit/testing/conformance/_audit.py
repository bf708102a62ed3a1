"""The contract every AuditStore adapter passes (private; see the package docs)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from avgkit.audit import GENESIS_HASH, AuditAnchor, AuditEntry, AuditLog
from avgkit.errors import ConflictError, IntegrityError
from avgkit.storage import AuditStore
from avgkit.testing._clock import ManualClock
from avgkit.testing.conformance._base import ContractBase, require

T0 = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _entry(seq: int, prev: str, **details: str | int | bool | None) -> AuditEntry:
    return AuditEntry.seal(
        seq=seq,
        at=T0 + timedelta(seconds=seq),
        action="test.appended",
        actor="system",
        subject_ref=f"sr1:{seq % 3:032x}",
        details=details,
        prev_hash=prev,
    )


def _as_is(entry: AuditEntry) -> Callable[[AuditEntry | AuditAnchor | None], AuditEntry]:
    """A seal that ignores the head: lets a test append a prebuilt entry."""
    return lambda _head: entry


def _chain(n: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        entry = _entry(seq, prev, n=seq)
        out.append(entry)
        prev = entry.hash
    return out


class AuditStoreContract(ContractBase[AuditStore]):
    """Subclass this in your adapter's tests and implement :meth:`make_store`.

    Example::

        class TestMyAuditStore(AuditStoreContract):
            def make_store(self) -> AuditStore:
                return MyAuditStore(self.tmp_path / "audit.db")

    Override :meth:`tamper` to let the contract prove that tampering done directly in your
    backend is caught by :meth:`~avgkit.audit.AuditLog.verify`.

    .. versionadded:: 0.1.0
    """

    def tamper(self, store: AuditStore, seq: int, action: str) -> None:
        """Overwrite the ``action`` of entry ``seq`` directly in the backend."""
        pytest.skip("the adapter does not implement tamper()")

    def test_a_new_store_is_empty(self) -> None:
        """A fresh store has no head, no entries and a count of zero."""
        store = self.store()
        assert store.head() is None
        assert store.count() == 0
        assert list(store.entries()) == []

    def test_appended_entries_come_back_in_order_and_unchanged(self) -> None:
        """entries() returns exactly what was appended, oldest first, with equal hashes."""
        store = self.store()
        chain = _chain(5)
        for entry in chain:
            store.append(_as_is(entry))
        assert list(store.entries()) == chain
        assert store.head() == chain[-1]
        assert store.count() == 5

    def test_entries_start_at_the_requested_sequence_number(self) -> None:
        """entries(start=n) skips the entries before n."""
        store = self.store()
        chain = _chain(4)
        for entry in chain:
            store.append(_as_is(entry))
        assert list(store.entries(start=3)) == chain[2:]

    def test_values_survive_storage_exactly(self) -> None:
        """Microseconds, non-ASCII text, None and booleans come back identical."""
        store = self.store()
        entry = AuditEntry.seal(
            seq=1,
            at=T0,
            action="test.unicode",
            actor="staff",
            subject_ref=None,
            details={"note": "Grüße uit Gröningen ✓", "flag": True, "count": 0, "none": None},
            prev_hash=GENESIS_HASH,
        )
        store.append(_as_is(entry))
        (back,) = store.entries()
        assert back == entry
        assert back.expected_hash() == entry.hash
        assert back.at.tzinfo is not None

    def test_the_seal_sees_the_current_head(self) -> None:
        """append() hands the seal the newest head (None when empty) and returns the result.

        The head is the newest entry or its anchor: a seal reads its ``seq`` and ``hash``.
        """
        store = self.store()
        chain = _chain(2)
        seen: list[AuditEntry | AuditAnchor | None] = []

        def seal(head: AuditEntry | AuditAnchor | None) -> AuditEntry:
            seen.append(head)
            return chain[len(seen) - 1]

        assert store.append(seal) == chain[0]
        assert store.append(seal) == chain[1]
        heads = [None if head is None else (head.seq, head.hash) for head in seen]
        assert heads == [None, (1, chain[0].hash)]

    def test_an_entry_that_does_not_extend_the_head_is_refused(self) -> None:
        """Appending a gap or a duplicate seq raises ConflictError and stores nothing."""
        store = self.store()
        chain = _chain(3)
        store.append(_as_is(chain[0]))
        with pytest.raises(ConflictError):
            store.append(_as_is(chain[2]))
        with pytest.raises(ConflictError):
            store.append(_as_is(chain[0]))
        assert store.count() == 1

    def test_long_logs_stream_across_pages(self) -> None:
        """More entries than any sensible page size still stream complete and in order."""
        store = self.store()
        log = AuditLog(store, ManualClock(T0))
        for i in range(1201):
            log.record("test.bulk", details={"i": i})
        seqs = [entry.seq for entry in store.entries()]
        assert seqs == list(range(1, 1202))
        assert log.verify().entries == 1201

    def test_entries_for_a_subject_reference(self) -> None:
        """entries_for() returns only that reference's entries, in order."""
        store = self.store()
        chain = _chain(9)
        for entry in chain:
            store.append(_as_is(entry))
        ref = chain[0].subject_ref
        assert ref is not None
        assert list(store.entries_for(ref)) == [e for e in chain if e.subject_ref == ref]
        assert list(store.entries_for("sr1:unknown")) == []

    def test_the_reference_secret_is_created_once(self) -> None:
        """The first call stores the factory's secret; later calls return it unchanged."""
        store = self.store()
        first = store.reference_secret(lambda: b"a" * 32)
        second = store.reference_secret(lambda: b"b" * 32)
        assert first == second == b"a" * 32

    def test_data_survives_reopening(self) -> None:
        """A persistent store returns its entries and secret after being reopened."""
        require(self.capabilities, "persistent")
        store = self.store()
        chain = _chain(3)
        for entry in chain:
            store.append(_as_is(entry))
        secret = store.reference_secret(lambda: b"s" * 32)
        again = self.reopened(store)
        assert list(again.entries()) == chain
        assert again.reference_secret(lambda: b"x" * 32) == secret

    def test_concurrent_threads_keep_one_valid_chain(self) -> None:
        """Four threads recording at once through AuditLog lose nothing and break nothing."""
        require(self.capabilities, "thread_safe")
        store = self.store()
        log = AuditLog(store, ManualClock(T0))
        per_thread = 25

        def work(n: int) -> None:
            for i in range(per_thread):
                log.record("test.threaded", details={"thread": n, "i": i})

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert log.verify().entries == 4 * per_thread

    def test_tampering_in_the_backend_is_detected(self) -> None:
        """An entry edited directly in the backend makes verify() name it."""
        store = self.store()
        log = AuditLog(store, ManualClock(T0))
        for i in range(5):
            log.record("test.entry", details={"i": i})
        self.tamper(store, 3, "test.forged")
        with pytest.raises(IntegrityError, match="entry 3"):
            log.verify()
