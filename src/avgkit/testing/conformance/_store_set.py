"""The contract every store set passes: one unit of work, avgkit errors only (private)."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from avgkit.audit import GENESIS_HASH, AuditAnchor, AuditEntry
from avgkit.consent import Channel, ConsentAction, ConsentEvent, Evidence, hash_wording
from avgkit.errors import StorageError, ValidationError
from avgkit.pseudonym._keys import KeyKind, StoredKey
from avgkit.storage import StoreSet, open_stores
from avgkit.subjects import SubjectId
from avgkit.testing.conformance._base import ContractBase, require
from avgkit.testing.conformance._breaches import make_breach, next_version

T0 = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
_EVIDENCE = Evidence(channel=Channel.API, notice_version="v1", wording_sha256=hash_wording("Ja"))
_SECRET = b"\x11\x22" * 16
_OTHER_SECRET = b"\x99\x88" * 16
_SUBJECT_CLOSED = "cust-closed"


class _BlockFailedError(RuntimeError):
    """Raised by the contract inside an ``atomic()`` block, as a failing service would."""


@attrs.frozen(kw_only=True)
class FailingOpen:
    """A store set whose opening fails in a migration, and a way to see what it left open.

    :meth:`StoreSetContract.failing_open` returns one.

    .. versionadded:: 0.2.0
    """

    open: Callable[[], StoreSet]
    """Opens the store set as a user would (e.g. ``lambda: open_stores(url)``); one of its
    migrations must fail, e.g. because the data was written by a newer schema version."""
    left_open: Callable[[], int]
    """Counts the connections, pools or file handles the failed attempt still holds (it may
    wait briefly for a server to notice closed connections). The contract wants zero."""


def _event(subject: str, minutes: int = 0, evidence: Evidence = _EVIDENCE) -> ConsentEvent:
    return ConsentEvent(
        subject=subject,
        purpose="newsletter",
        kind=ConsentAction.GIVEN,
        at=T0 + timedelta(minutes=minutes),
        evidence=evidence,
    )


def _key(key_id: str, subject_ref: str | None = None, at: datetime = T0) -> StoredKey:
    return StoredKey(
        key_id=key_id,
        kind=KeyKind.SUBJECT if subject_ref is not None else KeyKind.PSEUDONYM,
        material=key_id.encode().ljust(32, b"\x07"),
        created_at=at,
        subject_ref=subject_ref,
    )


def _seal(
    **details: str | int | bool | None,
) -> Callable[[AuditEntry | AuditAnchor | None], AuditEntry]:
    def seal(head: AuditEntry | AuditAnchor | None) -> AuditEntry:
        return AuditEntry.seal(
            seq=1 if head is None else head.seq + 1,
            at=T0,
            action="test.store_set",
            actor="system",
            subject_ref=None,
            details=details,
            prev_hash=GENESIS_HASH if head is None else head.hash,
        )

    return seal


def _prepare(stores: StoreSet) -> None:
    """What is stored before a block: a subject key to shred and a breach to update."""
    if stores.keys is not None:
        stores.keys.add(_key("s-pre", subject_ref="sr1:pre"))
    if stores.breaches is not None:
        stores.breaches.put(make_breach("br_pre"))


def _write_everything(stores: StoreSet) -> None:
    """Write to every store the set has: the writes a block must keep or undo together."""
    stores.audit.reference_secret(lambda: _SECRET)
    stores.audit.append(_seal(step=1))
    if stores.consent is not None:
        stores.consent.append(_event("cust-1"))
        stores.consent.append_many([_event("cust-2", 1), _event("cust-3", 2)])
    if stores.keys is not None:
        stores.keys.add(_key("p-new"))
        stores.keys.add(_key("s-new", subject_ref="sr1:new"))
        stores.keys.shred("sr1:pre", T0)
        stores.keys.shred("sr1:tombstone-only", T0)
    if stores.breaches is not None:
        stores.breaches.put(make_breach("br_new"))
        stores.breaches.put(next_version(stores.breaches.get("br_pre")))
    stores.audit.append(_seal(step=2))


def _state(stores: StoreSet) -> dict[str, Any]:
    """Everything :func:`_write_everything` can change, read back through the protocols."""
    state: dict[str, Any] = {"audit": list(stores.audit.entries())}
    if stores.consent is not None:
        subjects = ("cust-1", "cust-2", "cust-3")
        state["consent"] = [list(stores.consent.history(SubjectId(s))) for s in subjects]
        state["consent_count"] = stores.consent.count()
    if stores.keys is not None:
        refs = ("sr1:pre", "sr1:new", "sr1:tombstone-only")
        state["ring"] = stores.keys.ring(KeyKind.PSEUDONYM)
        state["subject_keys"] = [stores.keys.for_subject(r) for r in refs]
        state["tombstones"] = [stores.keys.shredded_at(r) for r in refs]
    if stores.breaches is not None:
        state["breaches"] = [list(stores.breaches.history(b)) for b in ("br_pre", "br_new")]
        state["breach_count"] = stores.breaches.count()
    return state


def _fail_inside(stores: StoreSet, body: Callable[[], object]) -> None:
    def run() -> None:
        with stores.atomic():
            body()
            raise _BlockFailedError

    with pytest.raises(_BlockFailedError):
        run()


class StoreSetContract(ContractBase[StoreSet]):
    """Subclass this in your adapter's tests and implement :meth:`make_store_set`.

    It checks the set as a whole: :meth:`~avgkit.storage.StoreSet.atomic` is one unit of
    work across every store of the set (all-or-nothing, nesting, invisible to other threads
    until it ends), only avgkit's :class:`~avgkit.errors.StorageError` ever escapes (never a
    driver's exception), data survives reopening, and opening closes what it opened when a
    migration fails.

    Example::

        class TestMyStoreSet(StoreSetContract):
            def make_store_set(self) -> StoreSet:
                return open_stores(f"mysql://.../{self.tmp_path.name}")

    Every set made is closed at teardown (:meth:`close_store` calls
    :meth:`~avgkit.storage.StoreSet.close`).

    .. versionadded:: 0.2.0
    """

    @abc.abstractmethod
    def make_store_set(self) -> StoreSet:
        """Return a new, empty store set of the adapter under test."""

    def reopen_store_set(self, old: StoreSet) -> StoreSet:
        """Close ``old`` and open the same data again (used when ``persistent`` is declared).

        Default: ``old.close()``, then :func:`~avgkit.storage.open_stores` of ``old.url``,
        which suits every adapter opened from a URL of a registered scheme.
        """
        old.close()
        return open_stores(old.url)

    def failing_open(self) -> FailingOpen:
        """Prepare a backend whose next opening fails in a migration (adapters that migrate).

        Default: skip, since only adapters that migrate a schema when opened can fail there.
        Implement it by writing the backend so that a migration fails (e.g. a schema version
        row newer than the adapter knows), and count the connections or handles left open.
        """
        pytest.skip(
            "the adapter does not implement failing_open(): only adapters that migrate a "
            "schema when opened need it"
        )

    def make_store(self) -> StoreSet:
        """Return :meth:`make_store_set` (the contracts' common hook name)."""
        return self.make_store_set()

    def close_store(self, store: StoreSet) -> None:
        """Close the set (called at teardown for every set made; closing twice is fine)."""
        store.close()

    def reopen_store(self, store: StoreSet) -> StoreSet:
        """Return :meth:`reopen_store_set`."""
        return self.reopen_store_set(store)

    # -- the unit of work -----------------------------------------------------------------

    def test_an_exception_in_a_block_undoes_the_writes_to_every_store(self) -> None:
        """Audit, secret, consent, keys (shreddings too) and breaches: none of it stays."""
        require(self.capabilities, "transactions")
        stores = self.store()
        _prepare(stores)
        before = _state(stores)
        _fail_inside(stores, lambda: _write_everything(stores))
        assert _state(stores) == before
        secret = stores.audit.reference_secret(lambda: _OTHER_SECRET)
        assert secret == _OTHER_SECRET, "the reference secret made in the failed block stayed"

    def test_a_block_that_ends_normally_keeps_the_writes_to_every_store(self) -> None:
        """The same writes, committed together, are all there after the block."""
        stores = self.store()
        _prepare(stores)
        with stores.atomic():
            _write_everything(stores)
        assert [e.details["step"] for e in stores.audit.entries()] == [1, 2]
        assert stores.audit.reference_secret(lambda: _OTHER_SECRET) == _SECRET
        if stores.consent is not None:
            history = list(stores.consent.history(SubjectId("cust-1")))
            assert [attrs.evolve(e, seq=None) for e in history] == [_event("cust-1")]
            assert stores.consent.count() == 3
        if stores.keys is not None:
            assert stores.keys.ring(KeyKind.PSEUDONYM) == (_key("p-new"),)
            assert stores.keys.for_subject("sr1:new") == _key("s-new", subject_ref="sr1:new")
            assert stores.keys.for_subject("sr1:pre") is None
            assert stores.keys.shredded_at("sr1:pre") == T0
            assert stores.keys.shredded_at("sr1:tombstone-only") == T0
        if stores.breaches is not None:
            assert stores.breaches.get("br_new") == make_breach("br_new")
            assert stores.breaches.get("br_pre") == next_version(make_breach("br_pre"))

    def test_an_inner_block_joins_the_outer_one(self) -> None:
        """Writes of a nested block that succeeded are undone when the outer block fails."""
        require(self.capabilities, "transactions")
        stores = self.store()
        _prepare(stores)
        before = _state(stores)

        def outer() -> None:
            with stores.atomic():
                _write_everything(stores)
            stores.audit.append(_seal(step=3))

        _fail_inside(stores, outer)
        assert _state(stores) == before

    def test_a_failing_inner_block_undoes_only_its_own_writes(self) -> None:
        """As a savepoint: the outer block goes on and commits what it wrote itself."""
        require(self.capabilities, "transactions")
        stores = self.store()
        _prepare(stores)
        before = _state(stores)
        with stores.atomic():
            stores.audit.append(_seal(step=7))
            _fail_inside(stores, lambda: _write_everything(stores))
            stores.audit.append(_seal(step=8))
        after = _state(stores)
        assert [e.details["step"] for e in after.pop("audit")] == [7, 8]
        before.pop("audit")
        assert after == before

    def test_other_threads_never_see_a_block_before_it_ends(self) -> None:
        """A read on another thread waits for the block or sees the state before it."""
        require(self.capabilities, "transactions")
        require(self.capabilities, "thread_safe")
        stores = self.store()
        written = threading.Event()
        seen: list[int] = []

        def reader() -> None:
            written.wait(timeout=10)
            seen.append(stores.audit.count())

        thread = threading.Thread(target=reader)
        thread.start()

        def body() -> None:
            stores.audit.append(_seal(step=1))
            written.set()
            thread.join(timeout=0.3)  # the reader either finished or waits for the block

        _fail_inside(stores, body)
        thread.join()
        assert seen == [0]

    # -- only avgkit errors ---------------------------------------------------------------

    def test_a_closed_set_raises_storage_errors_only(self) -> None:
        """Every method of every store, called after close(), works or raises StorageError.

        A driver's own exception (``sqlite3.ProgrammingError``, a closed pool's error) must
        never reach the caller, and the message must not repeat stored values.
        """
        stores = self.store()
        _prepare(stores)
        if stores.consent is not None:
            stores.consent.append(_event(_SUBJECT_CLOSED))
        stores.close()
        for name, call in _every_call(stores):
            _only_storage_errors(name, call)

    def test_values_a_backend_cannot_hold_raise_storage_errors_or_round_trip(self) -> None:
        """NUL characters and extreme instants: kept exactly, or refused with StorageError.

        They pass avgkit's own validation but some databases cannot store them (PostgreSQL
        text refuses NUL). Silent truncation or a driver exception both fail. (Free-text
        fields of events and breaches refuse NUL in the values already, alike for every
        adapter; audit details and key references still carry it here.)
        """
        stores = self.store()
        nul = "nul\x00after"
        entry = AuditEntry.seal(
            seq=1,
            at=datetime(1, 1, 1, tzinfo=UTC),
            action="test.nul",
            actor="system",
            subject_ref=None,
            details={"note": nul},
            prev_hash=GENESIS_HASH,
        )
        if _stored("audit.append", lambda: stores.audit.append(lambda _head: entry)):
            assert list(stores.audit.entries()) == [entry]
        if stores.keys is not None:
            keys = stores.keys
            key = _key("k-nul", subject_ref="sr1:" + nul, at=datetime(9999, 12, 31, tzinfo=UTC))
            if _stored("keys.add", lambda: keys.add(key)):
                assert keys.get("k-nul") == key
                assert keys.for_subject("sr1:" + nul) == key
            if _stored("keys.shred", lambda: keys.shred("sr1:x" + nul, T0)):
                assert keys.shredded_at("sr1:x" + nul) == T0
        if stores.consent is not None:
            consent = stores.consent
            with pytest.raises(ValidationError):
                attrs.evolve(_EVIDENCE, notice_version="v" + nul)
            early = attrs.evolve(_event("cust-nul"), at=entry.at)
            late = attrs.evolve(early, at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
            if _stored("consent.append_many", lambda: consent.append_many([early, late])):
                back = list(consent.history(SubjectId("cust-nul")))
                assert [attrs.evolve(e, seq=None) for e in back] == [early, late]
        if stores.breaches is not None:
            breaches = stores.breaches
            breach = make_breach("br_nul")
            with pytest.raises(ValidationError):
                attrs.evolve(breach.facts, summary=nul)
            if _stored("breaches.put", lambda: breaches.put(breach)):
                assert breaches.get("br_nul") == breach

    # -- persistence and opening ----------------------------------------------------------

    def test_data_survives_reopening(self) -> None:
        """Everything written to every store, and the secret, is there after reopening."""
        require(self.capabilities, "persistent")
        stores = self.store()
        _prepare(stores)
        with stores.atomic():
            _write_everything(stores)
        before = _state(stores)
        again = self.reopened(stores)
        assert _state(again) == before
        assert again.audit.reference_secret(lambda: _OTHER_SECRET) == _SECRET

    def test_a_failing_migration_closes_what_the_opening_opened(self) -> None:
        """Opening raises StorageError and leaves no connection, pool or file handle open."""
        failing = self.failing_open()
        with pytest.raises(StorageError) as info:
            failing.open()
        # Counted while the error (and its traceback, which would keep a leaked connection
        # alive) still exists, so a leak cannot hide behind the garbage collector.
        left = failing.left_open()
        assert info.value is not None
        assert left == 0, f"the failed opening left {left} connection(s) or handle(s) open"


def _stored(name: str, call: Callable[[], object]) -> bool:
    """Run a write: ``True`` if it worked, ``False`` on StorageError, a failure otherwise."""
    try:
        call()
    except StorageError:
        return False
    except Exception as exc:  # noqa: BLE001 - any other exception is what the contract catches
        pytest.fail(_leaked(name, exc))
    return True


def _only_storage_errors(name: str, call: Callable[[], object]) -> None:
    message = ""
    try:
        call()
    except StorageError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - any other exception is what the contract catches
        pytest.fail(_leaked(name, exc))
    assert _SUBJECT_CLOSED not in message, f"{name}: the error message holds a subject id"


def _leaked(name: str, exc: Exception) -> str:
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return (
        f"{name} raised {kind}, not an avgkit StorageError: translate driver errors "
        "(raise StorageError(...) from exc)"
    )


def _every_call(stores: StoreSet) -> list[tuple[str, Callable[[], object]]]:
    """One call of every protocol method of every store of the set, on data stored before."""
    sid = SubjectId(_SUBJECT_CLOSED)
    audit = stores.audit
    calls: list[tuple[str, Callable[[], object]]] = [
        ("audit.head", audit.head),
        ("audit.append", lambda: audit.append(_seal(step=9))),
        ("audit.entries", lambda: list(audit.entries())),
        ("audit.entries_for", lambda: list(audit.entries_for("sr1:pre"))),
        ("audit.count", audit.count),
        ("audit.reference_secret", lambda: audit.reference_secret(lambda: _SECRET)),
    ]
    if (keys := stores.keys) is not None:
        calls += [
            ("keys.add", lambda: keys.add(_key("p-closed"))),
            ("keys.get", lambda: keys.get("s-pre")),
            ("keys.ring", lambda: keys.ring(KeyKind.PSEUDONYM)),
            ("keys.for_subject", lambda: keys.for_subject("sr1:pre")),
            ("keys.shred", lambda: keys.shred("sr1:pre", T0)),
            ("keys.shredded_at", lambda: keys.shredded_at("sr1:pre")),
        ]
    if (consent := stores.consent) is not None:
        later = T0 + timedelta(days=1)
        calls += [
            ("consent.append", lambda: consent.append(_event(_SUBJECT_CLOSED, 1))),
            ("consent.append_many", lambda: consent.append_many([_event(_SUBJECT_CLOSED, 2)])),
            ("consent.latest", lambda: consent.latest(sid, "newsletter", later)),
            ("consent.history", lambda: list(consent.history(sid))),
            ("consent.events", lambda: list(consent.events(since=T0, until=later))),
            ("consent.audience", lambda: list(consent.audience("newsletter", later))),
            ("consent.objectors", lambda: list(consent.objectors("newsletter", later))),
            ("consent.count", consent.count),
        ]
    if (breaches := stores.breaches) is not None:
        calls += [
            ("breaches.put", lambda: breaches.put(next_version(make_breach("br_pre")))),
            ("breaches.get", lambda: breaches.get("br_pre")),
            ("breaches.history", lambda: list(breaches.history("br_pre"))),
            ("breaches.breaches", lambda: list(breaches.breaches())),
            ("breaches.overdue", lambda: list(breaches.overdue(T0 + timedelta(days=30)))),
            ("breaches.count", breaches.count),
        ]
    return calls
