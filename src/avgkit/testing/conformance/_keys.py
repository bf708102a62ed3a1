"""The contract every KeyStore adapter passes (private; see the package docs)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from avgkit.errors import ConflictError, NotFound
from avgkit.pseudonym._keys import KeyKind, StoredKey
from avgkit.storage import KeyStore
from avgkit.testing.conformance._base import ContractBase, require

T0 = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
_RACES = 100  # add() against shred() of one subject; an unserialised store loses many


def _key(
    key_id: str,
    kind: KeyKind = KeyKind.PSEUDONYM,
    *,
    at: datetime = T0,
    subject_ref: str | None = None,
    material: bytes | None = None,
    wrapped_by: str | None = None,
) -> StoredKey:
    return StoredKey(
        key_id=key_id,
        kind=kind,
        material=material if material is not None else key_id.encode().ljust(32, b"\x07"),
        created_at=at,
        subject_ref=subject_ref,
        wrapped_by=wrapped_by,
    )


class KeyStoreContract(ContractBase[KeyStore]):
    """Subclass this in your adapter's tests and implement :meth:`make_store`.

    Example::

        class TestMyKeyStore(KeyStoreContract):
            def make_store(self) -> KeyStore:
                return MyKeyStore(self.tmp_path / "keys.db")

    Override :meth:`raw_material` to let the contract prove that shredding leaves no key
    material behind in your backend.

    .. versionadded:: 0.1.0
    """

    def raw_material(self, store: KeyStore) -> list[bytes]:
        """Return every key material value stored in the backend, read around the adapter."""
        pytest.skip("the adapter does not implement raw_material()")

    def test_a_new_store_holds_no_keys(self) -> None:
        """A fresh store has empty rings and no subject keys."""
        store = self.store()
        assert store.ring(KeyKind.PSEUDONYM) == ()
        assert store.ring(KeyKind.TOKEN) == ()
        assert store.for_subject("sr1:" + "0" * 32) is None
        assert store.shredded_at("sr1:" + "0" * 32) is None

    def test_a_stored_key_comes_back_byte_for_byte(self) -> None:
        """get() returns exactly what add() stored, including zero bytes and wrapping."""
        store = self.store()
        material = bytes(range(256))[:64]
        key = _key("k1", KeyKind.TOKEN, material=material, wrapped_by="kek-1")
        store.add(key)
        assert store.get("k1") == key
        assert store.get("k1").material == material

    def test_an_unknown_key_id_is_not_found(self) -> None:
        """get() of an id never stored raises NotFound naming the id."""
        store = self.store()
        with pytest.raises(NotFound, match="nope"):
            store.get("nope")

    def test_a_duplicate_key_id_is_refused_and_the_first_kept(self) -> None:
        """add() with an id already stored raises ConflictError and changes nothing."""
        store = self.store()
        first = _key("same")
        store.add(first)
        with pytest.raises(ConflictError):
            store.add(_key("same", KeyKind.TOKEN, material=b"\x01" * 64))
        assert store.get("same") == first
        assert store.ring(KeyKind.TOKEN) == ()

    def test_a_ring_holds_one_kind_in_the_order_the_keys_were_added(self) -> None:
        """ring(kind) lists that kind's keys oldest first, never subject keys."""
        store = self.store()
        store.add(_key("first", at=T0))
        store.add(_key("tok", KeyKind.TOKEN, at=T0 + timedelta(days=1)))
        store.add(_key("second", at=T0 + timedelta(days=2)))
        store.add(_key("subj", KeyKind.SUBJECT, subject_ref="sr1:a"))
        assert [k.key_id for k in store.ring(KeyKind.PSEUDONYM)] == ["first", "second"]
        assert [k.key_id for k in store.ring(KeyKind.TOKEN)] == ["tok"]
        assert store.ring(KeyKind.SUBJECT) == ()

    def test_the_last_key_added_ends_the_ring_even_if_the_clock_stepped_back(self) -> None:
        """Order is insertion order, not created_at: a rotation always makes the current key.

        Wall clocks step back (NTP corrections, another host's clock behind); the key added
        last must still be the last of the ring, or a rotation would silently not take effect.
        """
        store = self.store()
        store.add(_key("before", at=T0))
        store.add(_key("after", at=T0 - timedelta(seconds=1)))
        assert [k.key_id for k in store.ring(KeyKind.PSEUDONYM)] == ["before", "after"]

    def test_keys_made_at_the_same_instant_keep_their_insertion_order(self) -> None:
        """Ties in created_at are in the order the keys were added too."""
        store = self.store()
        for key_id in ("b", "a", "c"):
            store.add(_key(key_id))
        assert [k.key_id for k in store.ring(KeyKind.PSEUDONYM)] == ["b", "a", "c"]

    def test_a_subject_key_is_found_by_its_reference(self) -> None:
        """for_subject() returns the subject's key and nothing for other subjects."""
        store = self.store()
        key = _key("s1", KeyKind.SUBJECT, subject_ref="sr1:one")
        store.add(key)
        assert store.for_subject("sr1:one") == key
        assert store.for_subject("sr1:two") is None

    def test_a_second_key_for_one_subject_is_refused(self) -> None:
        """A subject has at most one data key; the second add() raises ConflictError."""
        store = self.store()
        first = _key("s1", KeyKind.SUBJECT, subject_ref="sr1:one")
        store.add(first)
        with pytest.raises(ConflictError):
            store.add(_key("s2", KeyKind.SUBJECT, subject_ref="sr1:one"))
        assert store.for_subject("sr1:one") == first
        with pytest.raises(NotFound):
            store.get("s2")

    def test_shredding_destroys_the_key_and_records_when(self) -> None:
        """After shred() the key is gone by id and by subject; the tombstone has the time."""
        store = self.store()
        store.add(_key("s1", KeyKind.SUBJECT, subject_ref="sr1:one"))
        store.add(_key("s2", KeyKind.SUBJECT, subject_ref="sr1:two"))
        when = T0 + timedelta(hours=3)
        assert store.shred("sr1:one", when) is True
        assert store.for_subject("sr1:one") is None
        with pytest.raises(NotFound):
            store.get("s1")
        assert store.shredded_at("sr1:one") == when
        assert store.for_subject("sr1:two") is not None
        assert store.shredded_at("sr1:two") is None

    def test_shredding_twice_reports_nothing_destroyed_and_keeps_the_first_time(self) -> None:
        """shred() is idempotent and keeps the first tombstone's time."""
        store = self.store()
        store.add(_key("s1", KeyKind.SUBJECT, subject_ref="sr1:one"))
        assert store.shred("sr1:one", T0) is True
        assert store.shred("sr1:one", T0 + timedelta(days=1)) is False
        assert store.shredded_at("sr1:one") == T0

    def test_shredding_a_subject_without_a_key_still_records_the_shredding(self) -> None:
        """shred() of a subject with no key yet destroys nothing but leaves a tombstone.

        An erased subject must never get a data key afterwards, whether or not anything was
        sealed for it before the erasure.
        """
        store = self.store()
        assert store.shred("sr1:never", T0) is False
        assert store.shredded_at("sr1:never") == T0
        assert store.shred("sr1:never", T0 + timedelta(days=1)) is False
        assert store.shredded_at("sr1:never") == T0
        with pytest.raises(ConflictError):
            store.add(_key("s9", KeyKind.SUBJECT, subject_ref="sr1:never"))
        assert store.for_subject("sr1:never") is None
        with pytest.raises(NotFound):
            store.get("s9")

    def test_a_shredded_subject_gets_no_new_key(self) -> None:
        """add() of a key for a shredded subject raises ConflictError and stores nothing."""
        store = self.store()
        store.add(_key("s1", KeyKind.SUBJECT, subject_ref="sr1:one"))
        store.shred("sr1:one", T0)
        with pytest.raises(ConflictError):
            store.add(_key("s9", KeyKind.SUBJECT, subject_ref="sr1:one"))
        assert store.for_subject("sr1:one") is None
        with pytest.raises(NotFound):
            store.get("s9")

    def test_shredded_material_is_gone_from_the_backend(self) -> None:
        """No copy of a shredded key's material remains in the backend's key table."""
        store = self.store()
        secret = b"\x5a\xa5" * 16
        store.add(_key("s1", KeyKind.SUBJECT, subject_ref="sr1:one", material=secret))
        store.add(_key("s2", KeyKind.SUBJECT, subject_ref="sr1:two"))
        store.shred("sr1:one", T0)
        remaining = self.raw_material(store)
        assert secret not in remaining
        assert len(remaining) == 1

    def test_keys_and_tombstones_survive_reopening(self) -> None:
        """A persistent store returns its keys and tombstones after close and reopen."""
        require(self.capabilities, "persistent")
        store = self.store()
        ring_key = _key("p1")
        store.add(ring_key)
        store.add(_key("s1", KeyKind.SUBJECT, subject_ref="sr1:one"))
        store.shred("sr1:one", T0)
        again = self.reopened(store)
        assert again.ring(KeyKind.PSEUDONYM) == (ring_key,)
        assert again.shredded_at("sr1:one") == T0

    def test_concurrent_first_keys_for_one_subject_leave_exactly_one(self) -> None:
        """Threads racing to add a subject's first key: one wins, the rest get ConflictError."""
        require(self.capabilities, "thread_safe")
        store = self.store()
        outcomes: list[str] = []
        lock = threading.Lock()

        def attempt(n: int) -> None:
            try:
                store.add(_key(f"race{n}", KeyKind.SUBJECT, subject_ref="sr1:race"))
            except ConflictError:
                result = "conflict"
            else:
                result = "added"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["added"] + ["conflict"] * 5
        assert store.for_subject("sr1:race") is not None

    def test_add_racing_shred_of_one_subject_never_leaves_a_usable_key(self) -> None:
        """A subject's first add() racing its shred(): once both are done it has no key.

        The two must be serialised per subject (a lock, or a constraint): a shred() whose
        delete runs before the racing add() commits must not leave that key live beside its
        tombstone, which would let data sealed after the erasure be opened. Whichever comes
        first, the add() succeeds exactly when the shred() destroys its key, and the subject
        gets no key afterwards.
        """
        require(self.capabilities, "thread_safe")
        store = self.store()
        survivors = 0
        for n in range(_RACES):
            ref = f"sr1:race{n}"
            added, destroyed = _race_add_and_shred(
                store, _key(f"k{n}", KeyKind.SUBJECT, subject_ref=ref)
            )
            assert store.shredded_at(ref) == T0
            if store.for_subject(ref) is not None or added != destroyed:
                survivors += 1
        assert survivors == 0, f"{survivors} of {_RACES} races left a live key"
        with pytest.raises(ConflictError):
            store.add(_key("late", KeyKind.SUBJECT, subject_ref="sr1:race0"))
        with pytest.raises(NotFound):
            store.get("late")


def _race_add_and_shred(store: KeyStore, key: StoredKey) -> tuple[bool, bool]:
    """Start add(key) and shred() of its subject at once; whether each stored/destroyed it."""
    assert key.subject_ref is not None
    ref = key.subject_ref
    start = threading.Barrier(2)
    outcome: dict[str, bool] = {}

    def add() -> None:
        start.wait()
        try:
            store.add(key)
        except ConflictError:
            outcome["added"] = False  # the shredding came first: refused, as it must be
        else:
            outcome["added"] = True

    def shred() -> None:
        start.wait()
        outcome["destroyed"] = store.shred(ref, T0)

    threads = [threading.Thread(target=add), threading.Thread(target=shred)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome["added"], outcome["destroyed"]
