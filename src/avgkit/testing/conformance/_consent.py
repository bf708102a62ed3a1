"""The contract every ConsentStore adapter passes (private; see the package docs)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar, SupportsIndex, overload

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from avgkit.consent import (
    Actor,
    Channel,
    ConsentAction,
    ConsentEvent,
    Evidence,
    LatestEvents,
    hash_wording,
    replay,
)
from avgkit.errors import ValidationError
from avgkit.storage import ConsentStore
from avgkit.subjects import SubjectId
from avgkit.testing.conformance._base import ContractBase, require
from avgkit.testing.strategies import consent_histories

T0 = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
_HASH = hash_wording("Ja, ik wil de nieuwsbrief ontvangen.")
_EVIDENCE = Evidence(channel=Channel.WEBSHOP, notice_version="2023-11-10", wording_sha256=_HASH)
_REF = "sr1:" + "0123456789abcdef" * 2  # what AuditLog.subject_ref() returns: 32 hex digits
_OTHER_REF = "sr1:" + "f" * 32


def _ev(
    subject: str,
    kind: ConsentAction,
    minutes: int,
    *,
    purpose: str = "newsletter",
    evidence: Evidence = _EVIDENCE,
) -> ConsentEvent:
    return ConsentEvent(
        subject=subject,
        purpose=purpose,
        kind=kind,
        at=T0 + timedelta(minutes=minutes),
        evidence=evidence,
    )


def _ordered(minutes: int) -> Evidence:
    """Evidence of an order's checkout: an order ref, a double opt-in, an expiry."""
    return attrs.evolve(
        _EVIDENCE,
        order_ref="ord-1042",
        confirmed_at=T0 + timedelta(minutes=minutes + 1),
        expires_at=T0 + timedelta(days=365),
    )


GIVEN = ConsentAction.GIVEN
WITHDRAWN = ConsentAction.WITHDRAWN
OBJECTED = ConsentAction.OBJECTED
LIFTED = ConsentAction.OBJECTION_LIFTED


class _BatchBrokeError(RuntimeError):
    """Raised by :class:`_BreaksAt` when an adapter reaches the breaking item."""


class _BreaksAt(list[ConsentEvent]):
    """A batch whose item ``at`` cannot be read, however the adapter walks the batch."""

    def __init__(self, at: int, items: list[ConsentEvent]) -> None:
        super().__init__(items)
        self._at = at

    def __iter__(self) -> Iterator[ConsentEvent]:
        for index in range(len(self)):
            yield self[index]

    @overload
    def __getitem__(self, index: SupportsIndex) -> ConsentEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[ConsentEvent]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> ConsentEvent | list[ConsentEvent]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index.__index__() == self._at:
            msg = f"the batch broke at item {self._at}"
            raise _BatchBrokeError(msg)
        return super().__getitem__(index)


class ConsentStoreContract(ContractBase[ConsentStore]):
    """Subclass this in your adapter's tests and implement :meth:`make_store`.

    Example::

        class TestMyConsentStore(ConsentStoreContract):
            def make_store(self) -> ConsentStore:
                return MyConsentStore(self.tmp_path / "consent.db")

    The answers are checked against :func:`avgkit.consent.replay`, the reference semantics,
    including a property test over generated event sequences.

    .. versionadded:: 0.1.0
    """

    replay_examples: ClassVar[int] = 40
    """How many generated histories the replay property test checks (lower it for slow
    backends)."""

    def test_a_new_store_is_empty(self) -> None:
        """A fresh store has no events, no history and an empty audience."""
        store = self.store()
        assert store.count() == 0
        assert list(store.history(SubjectId("cust-1"))) == []
        assert list(store.audience("newsletter", T0)) == []
        assert store.latest(SubjectId("cust-1"), "newsletter", T0) == LatestEvents()

    def test_appended_events_get_increasing_sequence_numbers(self) -> None:
        """append() returns the event, equal to what was given, with a larger seq each time."""
        store = self.store()
        first = store.append(_ev("cust-1", GIVEN, 0))
        second = store.append(_ev("cust-1", WITHDRAWN, 1))
        assert first == _ev("cust-1", GIVEN, 0)
        assert first.seq is not None
        assert second.seq is not None
        assert second.seq > first.seq
        assert store.count() == 2

    def test_history_is_oldest_first_with_ties_in_recording_order(self) -> None:
        """history() orders by at; events with the same at come in the order recorded."""
        store = self.store()
        late = store.append(_ev("cust-1", WITHDRAWN, 10))
        tie_a = store.append(_ev("cust-1", GIVEN, 5))
        tie_b = store.append(_ev("cust-1", OBJECTED, 5, purpose="evaluation_mail"))
        store.append(_ev("cust-2", GIVEN, 1))
        history = list(store.history(SubjectId("cust-1")))
        assert history == [tie_a, tie_b, late]
        assert [e.seq for e in history] == [tie_a.seq, tie_b.seq, late.seq]

    def test_values_survive_storage_exactly(self) -> None:
        """Microseconds, every evidence item and non-ASCII text come back identical."""
        store = self.store()
        evidence = Evidence(
            channel=Channel.BOX_OFFICE,
            notice_version="privacyverklaring 10 nov 2023 — ✓",
            wording_sha256=_HASH,
            actor=Actor.STAFF,
            staff_key="box_office_3",
            order_ref="ord-ÅØ-1042",
            confirmed_at=T0 + timedelta(seconds=1, microseconds=7),
            expires_at=T0 + timedelta(days=365, microseconds=1),
        )
        event = _ev("klant-é-1", GIVEN, 0, evidence=evidence)
        store.append(event)
        (back,) = store.history(SubjectId("klant-é-1"))
        assert back == event
        assert back.evidence == evidence
        assert back.at.tzinfo is not None

    def test_latest_answers_per_track_and_instant(self) -> None:
        """latest() returns each track's newest event at or before the instant."""
        store = self.store()
        given = store.append(_ev("cust-1", GIVEN, 0))
        objected = store.append(_ev("cust-1", OBJECTED, 5))
        withdrawn = store.append(_ev("cust-1", WITHDRAWN, 10))
        sid = SubjectId("cust-1")
        before = store.latest(sid, "newsletter", T0 - timedelta(seconds=1))
        assert before == LatestEvents()
        at_start = store.latest(sid, "newsletter", T0)
        assert at_start == LatestEvents(consent=given, ever_given=True)
        middle = store.latest(sid, "newsletter", T0 + timedelta(minutes=7))
        assert middle == LatestEvents(consent=given, objection=objected, ever_given=True)
        end = store.latest(sid, "newsletter", T0 + timedelta(days=1))
        assert end == LatestEvents(consent=withdrawn, objection=objected, ever_given=True)
        assert store.latest(sid, "loyalty_programme", T0 + timedelta(days=1)) == LatestEvents()

    def test_a_withdrawal_without_consent_is_not_ever_given(self) -> None:
        """A lone withdrawal is returned as the latest event, with ever_given False."""
        store = self.store()
        withdrawn = store.append(_ev("cust-1", WITHDRAWN, 0))
        latest = store.latest(SubjectId("cust-1"), "newsletter", T0 + timedelta(hours=1))
        assert latest == LatestEvents(consent=withdrawn, ever_given=False)

    def test_the_audience_holds_live_consent_only_once_each(self) -> None:
        """Given, re-given, withdrawn, expired and objected subjects are told apart."""
        store = self.store()
        expiring = Evidence(
            channel=Channel.API,
            notice_version="v2",
            wording_sha256=_HASH,
            expires_at=T0 + timedelta(minutes=30),
        )
        store.append_many(
            [
                _ev("given", GIVEN, 0),
                _ev("twice", GIVEN, 0),
                _ev("twice", GIVEN, 5),
                _ev("withdrawn", GIVEN, 0),
                _ev("withdrawn", WITHDRAWN, 10),
                _ev("back", GIVEN, 0),
                _ev("back", WITHDRAWN, 10),
                _ev("back", GIVEN, 20),
                _ev("expiring", GIVEN, 0, evidence=expiring),
                _ev("objected", GIVEN, 0),
                _ev("objected", OBJECTED, 10),
                _ev("lifted", GIVEN, 0),
                _ev("lifted", OBJECTED, 10),
                _ev("lifted", LIFTED, 20),
                _ev("never", WITHDRAWN, 0),
                _ev("other", GIVEN, 0, purpose="loyalty_programme"),
                _ev("future", GIVEN, 100),
            ]
        )

        def audience(minutes: int) -> list[str]:
            return sorted(store.audience("newsletter", T0 + timedelta(minutes=minutes)))

        everyone = ["back", "expiring", "given", "lifted", "objected", "twice", "withdrawn"]
        assert audience(0) == everyone
        assert audience(15) == ["expiring", "given", "twice"]
        assert audience(25) == ["back", "expiring", "given", "lifted", "twice"]
        assert audience(30) == ["back", "given", "lifted", "twice"]
        assert audience(200) == ["back", "future", "given", "lifted", "twice"]
        assert sorted(store.objectors("newsletter", T0 + timedelta(minutes=15))) == [
            "lifted",
            "objected",
        ]
        assert sorted(store.objectors("newsletter", T0 + timedelta(minutes=25))) == ["objected"]

    def test_same_instant_events_are_decided_by_recording_order(self) -> None:
        """With equal at, the event recorded last wins, in every answer."""
        store = self.store()
        store.append(_ev("a", GIVEN, 0))
        store.append(_ev("a", WITHDRAWN, 0))
        store.append(_ev("b", WITHDRAWN, 0))
        store.append(_ev("b", GIVEN, 0))
        assert sorted(store.audience("newsletter", T0)) == ["b"]
        latest = store.latest(SubjectId("a"), "newsletter", T0)
        assert latest.consent is not None
        assert latest.consent.kind is WITHDRAWN

    def test_long_audiences_and_periods_stream_completely(self) -> None:
        """More subjects and events than any sensible page still come back complete."""
        store = self.store()
        n = 6101
        store.append_many([_ev(f"s{i:05d}", GIVEN, i % 60) for i in range(n)])
        store.append_many([_ev(f"s{i:05d}", WITHDRAWN, 70) for i in range(0, n, 3)])
        audience = list(store.audience("newsletter", T0 + timedelta(hours=2)))
        assert len(audience) == len(set(audience)) == n - len(range(0, n, 3))
        events = list(store.events(since=T0, until=T0 + timedelta(hours=2), purpose="newsletter"))
        assert len(events) == n + len(range(0, n, 3))
        keys = [(e.at, e.seq or 0) for e in events]
        assert keys == sorted(keys)

    def test_events_cover_a_half_open_period_and_one_purpose(self) -> None:
        """events(since, until) includes since, excludes until, and filters by purpose."""
        store = self.store()
        inside = store.append(_ev("a", GIVEN, 0))
        other = store.append(_ev("a", OBJECTED, 1, purpose="evaluation_mail"))
        store.append(_ev("a", WITHDRAWN, 2))
        store.append(_ev("b", GIVEN, -1))
        until = T0 + timedelta(minutes=2)
        assert list(store.events(since=T0, until=until)) == [inside, other]
        assert list(store.events(since=T0, until=until, purpose="newsletter")) == [inside]

    def test_a_failing_batch_stores_nothing(self) -> None:
        """append_many() with an item that is no ConsentEvent raises ValidationError.

        None of the batch is stored.
        """
        require(self.capabilities, "atomic_batches")
        store = self.store()
        store.append(_ev("kept", GIVEN, 0))
        batch: list[ConsentEvent] = [_ev("a", GIVEN, 1), _ev("b", GIVEN, 2), None]  # type: ignore[list-item]
        with pytest.raises(ValidationError):
            store.append_many(batch)
        assert store.count() == 1
        assert list(store.history(SubjectId("a"))) == []

    def test_a_batch_that_breaks_midway_stores_nothing(self) -> None:
        """A batch failing at its 50th item leaves no trace.

        It models a write failing half-way: an adapter that writes item by item without one
        transaction fails this test.
        """
        require(self.capabilities, "atomic_batches")
        store = self.store()
        batch = _BreaksAt(50, [_ev(f"s{i:03d}", GIVEN, i % 30) for i in range(100)])
        with pytest.raises(_BatchBrokeError):
            store.append_many(batch)
        assert store.count() == 0
        assert list(store.audience("newsletter", T0 + timedelta(days=1))) == []

    def test_data_survives_reopening(self) -> None:
        """A persistent store returns its events after being reopened."""
        require(self.capabilities, "persistent")
        store = self.store()
        event = store.append(_ev("cust-1", GIVEN, 0))
        again = self.reopened(store)
        assert list(again.history(SubjectId("cust-1"))) == [event]

    def test_concurrent_threads_lose_no_event_and_share_no_sequence_number(self) -> None:
        """Four threads appending at once: every event stored once, each with its own seq.

        All events carry the same ``at``, so only ``seq`` orders them: it must be unique,
        strictly increasing in the order ``events()`` and ``history()`` return them, equal
        to what ``append()`` returned, and each subject's history must be in the order its
        thread appended. A store that reads its counter and increments it in two steps
        without a lock hands out duplicate seqs here while still counting every event.
        """
        require(self.capabilities, "thread_safe")
        store = self.store()
        threads_n, per_thread = 4, 100
        returned: dict[str, list[ConsentEvent]] = {}
        lock = threading.Lock()

        def work(n: int) -> None:
            mine = [
                store.append(_ev(f"t{n}", WITHDRAWN if i % 2 else GIVEN, 0))
                for i in range(per_thread)
            ]
            with lock:
                returned[f"t{n}"] = mine

        threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = threads_n * per_thread
        assert store.count() == total
        stored = list(store.events(since=T0, until=T0 + timedelta(seconds=1)))
        assert len(stored) == total
        assert all(e.seq is not None for e in stored), "a stored event has no seq"
        seqs = [e.seq or 0 for e in stored]
        assert len(set(seqs)) == total, f"{total - len(set(seqs))} duplicate seqs"
        assert seqs == sorted(seqs), "events() does not return equal-at events in seq order"
        for subject, mine in returned.items():
            history = list(store.history(SubjectId(subject)))
            # seq is not part of ConsentEvent equality: compare it on its own.
            assert history == mine, f"{subject}'s history differs from what append() returned"
            ordered = [e.seq or 0 for e in history]
            assert ordered == [e.seq for e in mine], f"{subject}: seqs differ from append()'s"
            assert all(a < b for a, b in itertools.pairwise(ordered))
        # Odd appends withdraw: each thread's last event (i = 99) is a withdrawal.
        assert list(store.audience("newsletter", T0 + timedelta(hours=1))) == []

    def _erasable(self, store: ConsentStore) -> list[ConsentEvent]:
        """cust-1's events on two purposes, each track, with order refs; cust-2's beside."""
        store.append(_ev("cust-2", GIVEN, 0, evidence=attrs.evolve(_EVIDENCE, order_ref="o-7")))
        return [
            store.append(_ev("cust-1", GIVEN, 0, evidence=_ordered(0))),
            store.append(_ev("cust-1", OBJECTED, 5, purpose="evaluation_mail")),
            store.append(_ev("cust-1", GIVEN, 5, purpose="evaluation_mail", evidence=_ordered(5))),
            store.append(
                _ev("cust-1", WITHDRAWN, 10, evidence=attrs.evolve(_EVIDENCE, order_ref="o-9"))
            ),
        ]

    def test_forget_rekeys_a_subjects_events_to_its_reference_without_order_refs(self) -> None:
        """forget() moves every event to the reference, drops order_ref, keeps the rest."""
        store = self.store()
        mine = self._erasable(store)
        others = list(store.history(SubjectId("cust-2")))
        assert store.forget(SubjectId("cust-1"), _REF) == len(mine)
        assert list(store.history(SubjectId("cust-1"))) == []
        rekeyed = list(store.history(SubjectId(_REF)))
        expected = [
            attrs.evolve(e, subject=_REF, evidence=attrs.evolve(e.evidence, order_ref=None))
            for e in sorted(mine, key=lambda e: (e.at, e.seq or 0))
        ]
        assert rekeyed == expected
        # seq is not part of equality: the events keep their place in the ledger too.
        assert [e.seq for e in rekeyed] == [e.seq for e in expected]
        assert all(e.evidence.order_ref is None for e in rekeyed)
        assert store.count() == len(mine) + 1
        assert list(store.history(SubjectId("cust-2"))) == others
        assert others[0].evidence.order_ref == "o-7"
        period = list(store.events(since=T0, until=T0 + timedelta(hours=1)))
        assert [e.seq for e in period] == sorted(e.seq or 0 for e in [*mine, *others])

    def test_after_forget_no_answer_knows_the_raw_id(self) -> None:
        """latest(), audience() and objectors() answer for the reference, not the raw id."""
        store = self.store()
        mine = self._erasable(store)
        store.forget(SubjectId("cust-1"), _REF)
        later = T0 + timedelta(hours=1)
        for purpose in ("newsletter", "evaluation_mail"):
            assert store.latest(SubjectId("cust-1"), purpose, later) == LatestEvents()
            assert "cust-1" not in set(store.audience(purpose, later))
            assert "cust-1" not in set(store.objectors(purpose, later))
        gone = attrs.evolve(mine[3], subject=_REF, evidence=_EVIDENCE)
        assert store.latest(SubjectId(_REF), "newsletter", later) == LatestEvents(
            consent=gone, ever_given=True
        )
        assert set(store.objectors("evaluation_mail", later)) == {_REF}
        assert set(store.audience("newsletter", T0)) == {"cust-2", _REF}

    def test_forget_again_rekeys_nothing(self) -> None:
        """A repeated erasure returns 0 and changes nothing; so does a subject with no events."""
        store = self.store()
        self._erasable(store)
        assert store.forget(SubjectId("cust-1"), _REF) == 4
        before = list(store.events(since=T0, until=T0 + timedelta(hours=1)))
        assert store.forget(SubjectId("cust-1"), _REF) == 0
        assert store.forget(SubjectId("nobody"), _OTHER_REF) == 0
        after = list(store.events(since=T0, until=T0 + timedelta(hours=1)))
        assert after == before
        assert [e.seq for e in after] == [e.seq for e in before]

    def test_forget_adds_to_what_the_reference_already_holds(self) -> None:
        """Events recorded under the raw id after an erasure join the reference's, in order."""
        store = self.store()
        self._erasable(store)
        store.forget(SubjectId("cust-1"), _REF)
        again = store.append(
            _ev("cust-1", GIVEN, 7, evidence=attrs.evolve(_EVIDENCE, order_ref="o"))
        )
        assert store.forget(SubjectId("cust-1"), _REF) == 1
        history = list(store.history(SubjectId(_REF)))
        assert len(history) == 5
        assert [(e.at, e.seq or 0) for e in history] == sorted((e.at, e.seq or 0) for e in history)
        (moved,) = (e for e in history if e.seq == again.seq)
        assert moved.evidence.order_ref is None
        assert list(store.history(SubjectId("cust-1"))) == []

    def test_forget_refuses_what_is_not_a_reference_and_changes_nothing(self) -> None:
        """A malformed reference, or a subject that is a reference already: ValidationError.

        The message never repeats the value, and no event changes.
        """
        store = self.store()
        mine = self._erasable(store)
        refused: list[tuple[object, object]] = [
            ("cust-1", bad)
            for bad in (
                "cust-1042",
                "sr1:" + "AB" * 16,
                "sr1:" + "ab" * 15,
                "sr1:" + "ab" * 17,
                "sr1:" + "ab" * 16 + "\n",
                "sr2:" + "ab" * 16,
                " " + _REF,
                "",
                None,
                b"sr1:" + b"ab" * 16,
            )
        ]
        refused += [(_REF, _OTHER_REF), ("sr1:cust-1", _REF), ("", _REF), (None, _REF)]
        for subject, reference in refused:
            with pytest.raises(ValidationError) as caught:
                store.forget(subject, reference)  # type: ignore[arg-type]
            for value in (subject, reference):
                if isinstance(value, str) and value.strip():
                    assert value.strip() not in str(caught.value), "the message shows a value"
        assert list(store.history(SubjectId("cust-1"))) == mine
        assert [e.evidence.order_ref for e in store.history(SubjectId("cust-1"))] == [
            e.evidence.order_ref for e in mine
        ]
        assert list(store.history(SubjectId(_REF))) == []

    def test_answers_match_a_replay_at_every_instant(self) -> None:
        """latest(), audience() and objectors() equal a pure replay of the events, always."""
        # One store for all examples (opening one can be slow, e.g. a new schema); each
        # example's subjects get a prefix of their own so examples never see each other.
        store = self.store()
        examples = itertools.count()

        # Every adapter's subclass runs this one method; the store is the only state shared
        # between examples, and the prefixes keep examples apart in it.
        @settings(
            max_examples=self.replay_examples,
            deadline=None,
            suppress_health_check=[
                HealthCheck.differing_executors,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )
        @given(history=consent_histories(max_size=25, hours=6, subjects=("cust-1", "cust-2")))
        def check(history: list[ConsentEvent]) -> None:
            prefix = f"x{next(examples)}-"
            history = [attrs.evolve(e, subject=prefix + e.subject) for e in history]
            for event in history:
                store.append(event)
            _compare(store, history, prefix)

        check()


def _compare(store: ConsentStore, history: list[ConsentEvent], prefix: str) -> None:
    instants = sorted({e.at for e in history} | {T0})
    probes = [t + d for t in instants for d in (timedelta(0), timedelta(minutes=30))]
    probes += [e.evidence.expires_at for e in history if e.evidence.expires_at is not None]
    pairs = {(e.subject, e.purpose) for e in history}
    purposes = {e.purpose for e in history}
    for at in probes:
        expected_audience: dict[str, set[str]] = {p: set() for p in purposes}
        expected_objectors: dict[str, set[str]] = {p: set() for p in purposes}
        for subject, purpose in pairs:
            state = replay(history, subject=subject, purpose=purpose, at=at)
            latest = store.latest(subject, purpose, at)
            assert latest.consent == state.consent_event
            assert latest.objection == state.objection_event
            assert latest.ever_given == (not state.never_given)
            if state.consent_live and not state.objected:
                expected_audience[purpose].add(subject)
            if state.objected:
                expected_objectors[purpose].add(subject)
        for purpose in purposes:
            audience = [s for s in store.audience(purpose, at) if s.startswith(prefix)]
            assert sorted(audience) == sorted(expected_audience[purpose])
            objectors = {s for s in store.objectors(purpose, at) if s.startswith(prefix)}
            assert objectors == expected_objectors[purpose]
