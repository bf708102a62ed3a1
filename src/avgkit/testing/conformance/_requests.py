"""The contracts every RequestStore and FeedStore adapter passes (private; see the package)."""

from __future__ import annotations

import abc
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit.dsar._values import (
    DueRequest,
    ExtensionReason,
    RefusalReason,
    RequestKind,
    RequestStatus,
    RequestTransition,
    SubjectRequest,
)
from avgkit.errors import ConflictError, NotFound, ValidationError
from avgkit.feed._values import FeedKind, FeedNotice
from avgkit.storage import FeedStore, RequestStore, StoreSet, open_stores
from avgkit.subjects import SubjectId
from avgkit.testing.conformance._base import ContractBase, require

T0 = datetime(2025, 4, 7, 8, 30, 15, 123456, tzinfo=UTC)
MONTH = timedelta(days=30)
"""The contract's answer period (the service computes the real one)."""
_CEST = timezone(timedelta(hours=2))
_HEALTH = [HealthCheck.differing_executors, HealthCheck.too_slow, HealthCheck.data_too_large]
_STATUSES = tuple(RequestStatus)


class _BlockFailedError(RuntimeError):
    """Raised by the contract inside an ``atomic()`` block, as a failing service would."""


def reference(n: int) -> str:
    """The ``n``-th subject reference: ``"sr1:"`` and 32 lower-case hex digits."""
    return f"sr1:{n:032x}"


def queued(*requests: SubjectRequest) -> list[DueRequest]:
    """The deadline queue's entries of ``requests``, in the order given."""
    return [DueRequest.of(r) for r in requests]


def make_request(
    request_id: str,
    subject: str = "cust-1",
    kind: RequestKind = RequestKind.ACCESS,
    *,
    received: datetime = T0,
    status: RequestStatus = RequestStatus.RECEIVED,
    **changes: Any,
) -> SubjectRequest:
    """A request received at ``received``, due a month later, in ``status``.

    The fields ``status`` needs are filled in (``verified_at``, an extension, a refusal's
    reason); ``changes`` override any field.
    """
    fields: dict[str, Any] = {
        "id": request_id,
        "kind": kind,
        "subject": subject,
        "received_at": received,
        "due_at": received + MONTH,
        "status": status,
        "updated_at": received,
    }
    if status not in {RequestStatus.RECEIVED, RequestStatus.REFUSED}:
        fields["verified_at"] = received
    if status is RequestStatus.EXTENDED:
        fields.update(extended=True, reason=ExtensionReason.COMPLEXITY)
    if status is RequestStatus.REFUSED:
        fields["reason"] = RefusalReason.MANIFESTLY_UNFOUNDED
    fields.update(changes)
    return SubjectRequest(**fields)


def first_step(request: SubjectRequest, note: str | None = None) -> RequestTransition:
    """The transition a request is added with (number 1, its status)."""
    return RequestTransition(
        request_id=request.id,
        seq=1,
        status=request.status,
        at=request.updated_at,
        actor="subject",
        reason=request.reason,
        note=note,
    )


def step(
    request: SubjectRequest,
    seq: int,
    *,
    actor: str = "staff:desk_1",
    note: str | None = None,
) -> RequestTransition:
    """Transition number ``seq`` to ``request``'s status (its reason, at its updated_at)."""
    reason = request.reason
    if request.status not in {RequestStatus.REFUSED, RequestStatus.EXTENDED}:
        reason = None
    return RequestTransition(
        request_id=request.id,
        seq=seq,
        status=request.status,
        at=request.updated_at,
        actor=actor,
        reason=reason,
        note=note,
    )


def verified(request: SubjectRequest, at: datetime) -> SubjectRequest:
    """``request`` moved to ``VERIFIED`` at ``at``."""
    return attrs.evolve(request, status=RequestStatus.VERIFIED, verified_at=at, updated_at=at)


def notice(
    recipient: str = "crm",
    kind: FeedKind = FeedKind.ERASURE,
    *,
    subject: str | None = "cust-1",
    n: int = 1,
    at: datetime = T0,
    **changes: Any,
) -> FeedNotice:
    """A notice for ``recipient`` about subject ``subject`` (reference ``n``)."""
    fields: dict[str, Any] = {
        "recipient": recipient,
        "kind": kind,
        "subject_ref": reference(n),
        "subject": subject,
        "at": at,
    }
    if kind.needs_purpose:
        fields["purpose"] = "newsletter"
    if kind is FeedKind.RECTIFICATION:
        fields["fields"] = ("email", "postal_address")
    fields.update(changes)
    return FeedNotice(**fields)


def _fail_inside(stores: StoreSet, body: Callable[[], object]) -> None:
    def run() -> None:
        with stores.atomic():
            body()
            raise _BlockFailedError

    with pytest.raises(_BlockFailedError):
        run()


class _StoreSetContract(ContractBase[StoreSet]):
    """The hooks both contracts share: a store set, reopened from its URL."""

    @abc.abstractmethod
    def make_stores(self) -> StoreSet:
        """Return a new, empty store set of the adapter under test (its store set)."""

    def make_store(self) -> StoreSet:
        """Return :meth:`make_stores` (the contracts' common hook name)."""
        return self.make_stores()

    def close_store(self, store: StoreSet) -> None:
        """Close the set (called at teardown for every set made)."""
        store.close()

    def reopen_store(self, store: StoreSet) -> StoreSet:
        """Close the set and open its URL again (:func:`~avgkit.storage.open_stores`)."""
        store.close()
        return open_stores(store.url)

    def raw_values(self, stores: StoreSet) -> list[str]:
        """Return every value the backend keeps for the store under test, each as text.

        Read around the adapter (its tables, its dicts). With it the contract proves that
        an erased subject's host id is gone from the backend, not only from the answers.
        """
        pytest.skip("the adapter does not implement raw_values()")


class RequestStoreContract(_StoreSetContract):
    """Subclass this in your adapter's tests and implement :meth:`make_stores`.

    The store under test is the set's :attr:`~avgkit.storage.StoreSet.requests`; the set
    is needed for its unit of work (:meth:`~avgkit.storage.StoreSet.atomic`).

    Example::

        class TestMyRequestStore(RequestStoreContract):
            def make_stores(self) -> StoreSet:
                return open_stores(f"mysql://.../{self.tmp_path.name}")

    Override :meth:`raw_values` to let the contract prove that an erased subject's host id
    is gone from your backend, not only from the answers.

    .. versionadded:: 0.2.0
    """

    due_examples: ClassVar[int] = 40
    """How many generated request sets the ``due_by`` property test checks (lower it for
    slow backends)."""

    def requests(self) -> tuple[StoreSet, RequestStore]:
        """A new store set and its request store (which the adapter must keep)."""
        stores = self.store()
        assert stores.requests is not None, "the store set keeps no requests"
        return stores, stores.requests

    def _added(self, store: RequestStore, *requests: SubjectRequest) -> None:
        for request in requests:
            store.add(request, first_step(request))

    # ------------------------------------------------------------------ add and get

    def test_a_new_store_is_empty(self) -> None:
        """A fresh store knows no request, transition, restriction or subject."""
        _, store = self.requests()
        assert store.count() == 0
        assert store.for_subject(SubjectId("cust-1")) == ()
        assert store.open_of(SubjectId("cust-1"), RequestKind.ACCESS) is None
        assert list(store.due_by(T0 + timedelta(days=10_000))) == []
        assert store.open_subjects(list(RequestKind)) == frozenset()
        assert store.transitions("req_1") == ()
        assert not store.restricted(SubjectId("cust-1"), T0)
        assert not store.lift(SubjectId("cust-1"), T0)

    def test_a_request_comes_back_equal_with_every_field(self) -> None:
        """get() returns what add() stored: details, reason, flags, instants to the microsecond."""
        _, store = self.requests()
        received = datetime(2025, 4, 7, 10, 30, 15, 123456, tzinfo=_CEST)
        request = make_request(
            "req_all-fields",
            "cust-1042",
            RequestKind.RECTIFICATION,
            received=received,
            status=RequestStatus.EXTENDED,
            verified_at=received + timedelta(hours=2, microseconds=1),
            updated_at=received + timedelta(days=3),
            due_at=received + MONTH + timedelta(days=60, microseconds=999999),
            extended=True,
            reason=ExtensionReason.NUMBER_OF_REQUESTS,
            duplicate_of="req_0",
            details={"email": "jan@voorbeeld.nl", "postal_address": "Dorpsstraat 1\nGouda €"},
        )
        store.add(request, first_step(request, note="by phone"))
        found = store.get("req_all-fields")
        assert found == request
        assert dict(found.details) == dict(request.details)
        assert found.received_at.utcoffset() == timedelta(0)
        assert found.due_at == request.due_at
        assert store.count() == 1
        (transition,) = store.transitions("req_all-fields")
        assert transition == first_step(request, note="by phone")

    def test_a_request_without_optional_fields_comes_back_equal(self) -> None:
        """Unset verified_at, duplicate_of and reason and empty details come back unset."""
        _, store = self.requests()
        request = make_request("req_plain")
        self._added(store, request)
        found = store.get("req_plain")
        assert found == request
        assert found.verified_at is None
        assert found.duplicate_of is None
        assert found.reason is None
        assert dict(found.details) == {}

    def test_adding_a_stored_id_again_is_a_conflict_and_changes_nothing(self) -> None:
        """add() of a taken id raises ConflictError; the stored request and history stay."""
        _, store = self.requests()
        first = make_request("req_1", "cust-1")
        self._added(store, first)
        other = make_request("req_1", "cust-2", RequestKind.ERASURE)
        with pytest.raises(ConflictError):
            store.add(other, first_step(other))
        assert store.get("req_1") == first
        assert store.transitions("req_1") == (first_step(first),)
        assert store.for_subject(SubjectId("cust-2")) == ()
        assert store.count() == 1

    @pytest.mark.parametrize(
        "broken",
        [
            pytest.param({"seq": 2}, id="not-number-1"),
            pytest.param({"request_id": "req_other"}, id="another-request"),
            pytest.param({"status": RequestStatus.IN_PROGRESS}, id="another-status"),
        ],
    )
    def test_a_first_transition_that_does_not_fit_stores_nothing(
        self, broken: dict[str, Any]
    ) -> None:
        """add() refuses a transition that is not the request's first; nothing is stored."""
        _, store = self.requests()
        request = make_request("req_1")
        with pytest.raises(ValidationError):
            store.add(request, attrs.evolve(first_step(request), **broken))
        assert store.count() == 0
        assert store.transitions("req_1") == ()
        with pytest.raises(NotFound):
            store.get("req_1")

    def test_add_refuses_what_is_not_a_request(self) -> None:
        """add() with other types raises ValidationError."""
        _, store = self.requests()
        request = make_request("req_1")
        with pytest.raises(ValidationError):
            store.add(attrs.asdict(request), first_step(request))  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            store.add(request, None)  # type: ignore[arg-type]
        assert store.count() == 0

    def test_an_unknown_request_is_not_found_and_a_malformed_id_refused(self) -> None:
        """get() raises NotFound for an id never stored and ValidationError for a non-id."""
        _, store = self.requests()
        self._added(store, make_request("req_1"))
        with pytest.raises(NotFound):
            store.get("req_2")
        with pytest.raises(ValidationError):
            store.get("jan@voorbeeld.nl")
        with pytest.raises(ValidationError):
            store.transitions("")

    # ------------------------------------------------------------------ update

    def test_an_update_stores_the_state_and_appends_the_transition(self) -> None:
        """update() with the stored status expected: new state, history 1, 2, 3 in order."""
        _, store = self.requests()
        request = make_request("req_1")
        self._added(store, request)
        second = verified(request, T0 + timedelta(hours=1))
        store.update(second, step(second, 2), expected=RequestStatus.RECEIVED)
        third = attrs.evolve(
            second,
            status=RequestStatus.REFUSED,
            reason=RefusalReason.IDENTITY_NOT_ESTABLISHED,
            updated_at=T0 + timedelta(days=2),
        )
        store.update(third, step(third, 3, note="no ID shown"), expected=RequestStatus.VERIFIED)
        assert store.get("req_1") == third
        history = store.transitions("req_1")
        assert [t.seq for t in history] == [1, 2, 3]
        assert history == (first_step(request), step(second, 2), step(third, 3, note="no ID shown"))
        assert store.count() == 1

    def test_an_update_expecting_another_status_is_a_conflict(self) -> None:
        """The compare-and-set: a stale ``expected`` changes nothing and raises ConflictError."""
        _, store = self.requests()
        request = make_request("req_1")
        self._added(store, request)
        second = verified(request, T0 + timedelta(hours=1))
        with pytest.raises(ConflictError):
            store.update(second, step(second, 2), expected=RequestStatus.VERIFIED)
        assert store.get("req_1") == request
        assert store.transitions("req_1") == (first_step(request),)

    @pytest.mark.parametrize("seq", [1, 3], ids=["repeated", "skipping"])
    def test_an_update_out_of_turn_is_a_conflict(self, seq: int) -> None:
        """A transition that is not the next number raises ConflictError; nothing changes."""
        _, store = self.requests()
        request = make_request("req_1", status=RequestStatus.IN_PROGRESS)
        self._added(store, request)
        noted = attrs.evolve(request, updated_at=T0 + timedelta(hours=1))
        with pytest.raises(ConflictError):
            store.update(noted, step(noted, seq), expected=RequestStatus.IN_PROGRESS)
        assert store.get("req_1") == request
        assert store.transitions("req_1") == (first_step(request),)

    def test_the_same_status_twice_needs_the_next_number(self) -> None:
        """Two writers that keep the status apart by seq only: the second one conflicts."""
        _, store = self.requests()
        request = make_request("req_1", status=RequestStatus.IN_PROGRESS)
        self._added(store, request)
        noted = attrs.evolve(request, updated_at=T0 + timedelta(hours=1))
        store.update(noted, step(noted, 2, note="called"), expected=RequestStatus.IN_PROGRESS)
        later = attrs.evolve(request, updated_at=T0 + timedelta(hours=2))
        with pytest.raises(ConflictError):
            store.update(later, step(later, 2), expected=RequestStatus.IN_PROGRESS)
        assert store.get("req_1") == noted
        assert len(store.transitions("req_1")) == 2

    def test_updating_an_unknown_request_is_not_found(self) -> None:
        """update() of an id never stored raises NotFound and stores nothing."""
        _, store = self.requests()
        request = verified(make_request("req_1"), T0)
        with pytest.raises(NotFound):
            store.update(request, step(request, 2), expected=RequestStatus.RECEIVED)
        assert store.count() == 0
        assert store.transitions("req_1") == ()

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param({"kind": RequestKind.ERASURE}, id="kind"),
            pytest.param({"subject": "cust-2"}, id="subject"),
            pytest.param({"received_at": T0 - timedelta(days=1)}, id="received_at"),
        ],
    )
    def test_an_update_cannot_change_what_a_request_is(self, change: dict[str, Any]) -> None:
        """Kind, subject and received_at never change: ValidationError, nothing written."""
        _, store = self.requests()
        request = make_request("req_1")
        self._added(store, request)
        changed = attrs.evolve(verified(request, T0 + timedelta(hours=1)), **change)
        with pytest.raises(ValidationError):
            store.update(changed, step(changed, 2), expected=RequestStatus.RECEIVED)
        assert store.get("req_1") == request
        assert store.transitions("req_1") == (first_step(request),)

    def test_an_update_with_a_transition_of_another_status_is_refused(self) -> None:
        """The transition records the request's new status, or update() refuses both."""
        _, store = self.requests()
        request = make_request("req_1")
        self._added(store, request)
        second = verified(request, T0 + timedelta(hours=1))
        wrong = attrs.evolve(step(second, 2), status=RequestStatus.IN_PROGRESS)
        with pytest.raises(ValidationError):
            store.update(second, wrong, expected=RequestStatus.RECEIVED)
        assert store.get("req_1") == request

    def test_two_staff_members_acting_at_once_cannot_both_succeed(self) -> None:
        """Threads updating one request with the same ``expected``: exactly one wins."""
        require(self.capabilities, "thread_safe")
        _, store = self.requests()
        request = make_request("req_1")
        self._added(store, request)
        workers = 4
        barrier = threading.Barrier(workers)
        won: list[int] = []
        lost: list[int] = []
        errors: list[BaseException] = []

        def act(n: int) -> None:
            new = verified(request, T0 + timedelta(minutes=n + 1))
            try:
                barrier.wait()
                store.update(new, step(new, 2, actor=f"staff:desk_{n}"), expected=request.status)
                won.append(n)
            except ConflictError:
                lost.append(n)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=act, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(won) == 1, f"{len(won)} writers changed the request at once"
        assert len(lost) == workers - 1
        history = store.transitions("req_1")
        assert [t.seq for t in history] == [1, 2]
        assert history[1].actor == f"staff:desk_{won[0]}"
        assert store.get("req_1").updated_at == T0 + timedelta(minutes=won[0] + 1)

    # ------------------------------------------------------------------ queries

    def test_a_subjects_requests_come_in_received_order(self) -> None:
        """for_subject() orders by received_at, ties in the order added; others excluded."""
        _, store = self.requests()
        late = make_request("req_late", received=T0 + timedelta(days=2))
        tie_a = make_request("req_z", received=T0, kind=RequestKind.ERASURE)
        tie_b = make_request("req_a", received=T0)
        early = make_request("req_early", received=T0 - timedelta(days=1))
        theirs = make_request("req_theirs", "cust-10", received=T0 - timedelta(days=5))
        self._added(store, late, tie_a, tie_b, early, theirs)
        assert store.for_subject(SubjectId("cust-1")) == (early, tie_a, tie_b, late)
        assert store.for_subject(SubjectId("cust-10")) == (theirs,)
        assert store.for_subject(SubjectId("cust-2")) == ()

    def test_open_of_is_the_oldest_open_request_of_the_kind(self) -> None:
        """open_of() skips closed requests, other kinds and other subjects."""
        _, store = self.requests()
        done = make_request("req_done", status=RequestStatus.COMPLETED, received=T0 - MONTH)
        refused = make_request("req_refused", status=RequestStatus.REFUSED, received=T0 - MONTH)
        newer = make_request("req_newer", received=T0 + timedelta(hours=1))
        older = make_request("req_older", status=RequestStatus.IN_PROGRESS)
        erasure = make_request("req_erasure", kind=RequestKind.ERASURE, received=T0 - MONTH)
        theirs = make_request("req_theirs", "cust-2", received=T0 - MONTH)
        self._added(store, done, refused, newer, older, erasure, theirs)
        assert store.open_of(SubjectId("cust-1"), RequestKind.ACCESS) == older
        assert store.open_of(SubjectId("cust-1"), RequestKind.ERASURE) == erasure
        assert store.open_of(SubjectId("cust-1"), RequestKind.OBJECTION) is None
        assert store.open_of(SubjectId("cust-3"), RequestKind.ACCESS) is None
        completed = attrs.evolve(
            older, status=RequestStatus.COMPLETED, updated_at=T0 + timedelta(days=1)
        )
        store.update(completed, step(completed, 2), expected=RequestStatus.IN_PROGRESS)
        assert store.open_of(SubjectId("cust-1"), RequestKind.ACCESS) == newer

    def test_due_by_lists_the_open_requests_due_earliest_first(self) -> None:
        """due_by(): open ones only, due_at <= before (inclusive), by due_at then order added."""
        _, store = self.requests()
        first = make_request("req_b", received=T0 - timedelta(days=3))
        tie_1 = make_request("req_tie_2", received=T0, status=RequestStatus.VERIFIED)
        tie_2 = make_request("req_tie_1", received=T0, status=RequestStatus.EXTENDED)
        later = make_request("req_later", received=T0 + timedelta(days=1))
        closed = make_request("req_closed", received=T0 - MONTH, status=RequestStatus.COMPLETED)
        refused = make_request("req_refused", received=T0 - MONTH, status=RequestStatus.REFUSED)
        self._added(store, later, tie_1, closed, first, tie_2, refused)
        assert list(store.due_by(T0 + MONTH)) == queued(first, tie_1, tie_2)
        assert list(store.due_by(T0 + MONTH - timedelta(microseconds=1))) == queued(first)
        assert list(store.due_by((T0 + MONTH).astimezone(_CEST))) == queued(first, tie_1, tie_2)
        assert list(store.due_by(T0 + 2 * MONTH)) == queued(first, tie_1, tie_2, later)
        assert list(store.due_by(T0 + 2 * MONTH, limit=2)) == queued(first, tie_1)
        assert list(store.due_by(T0 + 2 * MONTH, limit=0)) == []

    def test_due_by_yields_each_request_as_its_queue_entry(self) -> None:
        """Each entry is the DueRequest of the request get() reads; get(id) gives the rest."""
        _, store = self.requests()
        rectify = make_request(
            "req_fix",
            "cust-secret",
            RequestKind.RECTIFICATION,
            status=RequestStatus.IN_PROGRESS,
            details={"email": "secret@example.org"},
        )
        extended = make_request(
            "req_long",
            "cust-2",
            RequestKind.ERASURE,
            status=RequestStatus.EXTENDED,
            due_at=T0 + 3 * MONTH,
        )
        waiting = make_request("req_new", "cust-3", received=T0 + timedelta(hours=1))
        self._added(store, rectify, extended, waiting)
        entries = list(store.due_by(T0 + 4 * MONTH))
        assert all(type(entry) is DueRequest for entry in entries)
        assert entries == [DueRequest.of(store.get(entry.id)) for entry in entries]
        assert [e.id for e in entries] == ["req_fix", "req_new", "req_long"]
        assert [e.extended for e in entries] == [False, False, True]
        assert "secret" not in repr(entries)
        # A change shows in the next read of the queue.
        moved = attrs.evolve(
            verified(waiting, T0 + timedelta(hours=2)),
            status=RequestStatus.EXTENDED,
            extended=True,
            reason=ExtensionReason.COMPLEXITY,
            due_at=waiting.due_at + 2 * MONTH,
        )
        store.update(moved, step(moved, 2), expected=RequestStatus.RECEIVED)
        assert list(store.due_by(T0 + 4 * MONTH)) == queued(rectify, extended, moved)

    def test_due_by_refuses_a_naive_instant_and_a_negative_limit(self) -> None:
        """ValidationError for a naive ``before`` and for ``limit=-1``, at the call."""
        _, store = self.requests()
        with pytest.raises(ValidationError):
            store.due_by(datetime(2025, 5, 1))  # noqa: DTZ001 - the naive instant refused
        with pytest.raises(ValidationError):
            store.due_by(T0, limit=-1)

    def test_due_by_streams_more_than_a_page(self) -> None:
        """A long queue comes back whole, in order, each request once."""
        stores, store = self.requests()
        total = 2_100  # more than two of the SQL adapters' pages
        requests = [
            make_request(f"req_{n:05d}", f"cust-{n}", received=T0 + timedelta(minutes=n % 700))
            for n in range(total)
        ]
        with stores.atomic():  # one transaction: thousands of commits are slow on a server
            for request in requests:
                store.add(request, first_step(request))
        expected = sorted(requests, key=lambda r: r.due_at)  # stable: ties in added order
        assert [r.id for r in store.due_by(T0 + 2 * MONTH)] == [r.id for r in expected]
        assert [r.id for r in store.due_by(T0 + 2 * MONTH, limit=1_500)] == [
            r.id for r in expected[:1_500]
        ]

    def test_due_by_follows_any_set_of_requests(self) -> None:
        """Property: due_by(before, limit) is the Python filter and sort of the stored requests."""
        _, store = self.requests()
        examples = itertools.count()
        request_strategy = st.tuples(
            st.sampled_from(_STATUSES),
            st.integers(min_value=0, max_value=2_000),  # received, minutes into the window
            st.integers(min_value=1, max_value=120),  # days to answer
        )

        @settings(max_examples=self.due_examples, deadline=None, suppress_health_check=_HEALTH)
        @given(
            drawn=st.lists(request_strategy, max_size=12),
            before=st.integers(min_value=-10, max_value=200_000),
            limit=st.one_of(st.none(), st.integers(min_value=0, max_value=8)),
        )
        def check(
            drawn: list[tuple[RequestStatus, int, int]], before: int, limit: int | None
        ) -> None:
            n = next(examples)
            # Each example lives in a window of its own, earlier than every earlier example's,
            # so the requests the store keeps from those are all due after this ``before``.
            base = T0 - timedelta(days=1_000 * (n + 1))
            made = []
            for index, (status, minutes, days) in enumerate(drawn):
                received = base + timedelta(minutes=minutes)
                request = make_request(
                    f"req_{n}_{index}",
                    f"cust-{index}",
                    received=received,
                    status=status,
                    due_at=received + timedelta(days=days),
                )
                store.add(request, first_step(request))
                made.append(request)
            cut = base + timedelta(minutes=before)
            due = sorted((r for r in made if r.open and r.due_at <= cut), key=lambda r: r.due_at)
            expected = due if limit is None else due[:limit]
            assert list(store.due_by(cut, limit=limit)) == queued(*expected)

        check()

    def test_open_subjects_names_the_subjects_with_open_requests_of_the_kinds(self) -> None:
        """open_subjects(): each subject once; closed requests and other kinds do not count."""
        _, store = self.requests()
        self._added(
            store,
            make_request("req_1", "cust-1", RequestKind.ERASURE),
            make_request("req_2", "cust-1", RequestKind.ERASURE, received=T0 + MONTH),
            make_request("req_3", "cust-2", RequestKind.ACCESS, status=RequestStatus.VERIFIED),
            make_request("req_4", "cust-3", RequestKind.ERASURE, status=RequestStatus.COMPLETED),
            make_request("req_5", "cust-4", RequestKind.OBJECTION, status=RequestStatus.EXTENDED),
            make_request("req_6", "cust-5", RequestKind.ERASURE, status=RequestStatus.REFUSED),
        )
        erasure = store.open_subjects([RequestKind.ERASURE])
        assert erasure == frozenset({SubjectId("cust-1")})
        both = store.open_subjects([RequestKind.ERASURE, RequestKind.ACCESS])
        assert both == frozenset({SubjectId("cust-1"), SubjectId("cust-2")})
        assert store.open_subjects([RequestKind.OBJECTION]) == frozenset({SubjectId("cust-4")})
        assert store.open_subjects([RequestKind.RECTIFICATION]) == frozenset()
        assert store.open_subjects([]) == frozenset()

    # ------------------------------------------------------------------ restrictions

    def test_a_restriction_holds_from_its_start_until_it_is_lifted(self) -> None:
        """restricted(at) is True from the start (inclusive) to the lifting (exclusive)."""
        _, store = self.requests()
        request = make_request("req_1", kind=RequestKind.RESTRICTION)
        self._added(store, request)
        subject = SubjectId("cust-1")
        start, end = T0 + timedelta(days=1), T0 + timedelta(days=9)
        store.restrict(subject, "req_1", start)
        assert store.restricted(subject, start)
        assert store.restricted(subject, start.astimezone(_CEST))
        assert not store.restricted(subject, start - timedelta(microseconds=1))
        assert store.restricted(subject, T0 + timedelta(days=400))
        assert not store.restricted(SubjectId("cust-2"), start)
        assert store.lift(subject, end)
        assert store.restricted(subject, end - timedelta(microseconds=1))
        assert not store.restricted(subject, end)
        assert not store.lift(subject, end + timedelta(days=1)), "nothing left to lift"

    def test_restricting_twice_keeps_the_first_start(self) -> None:
        """restrict() while a restriction is in force changes nothing."""
        _, store = self.requests()
        self._added(store, make_request("req_1", kind=RequestKind.RESTRICTION))
        subject = SubjectId("cust-1")
        store.restrict(subject, "req_1", T0 + timedelta(days=1))
        store.restrict(subject, "req_1", T0)
        assert not store.restricted(subject, T0)
        assert store.restricted(subject, T0 + timedelta(days=1))

    def test_a_lifted_restriction_can_begin_again_and_its_past_stays(self) -> None:
        """After lift(), restrict() begins a new period; the old one still answers for its time."""
        _, store = self.requests()
        first = make_request("req_1", kind=RequestKind.RESTRICTION)
        second = make_request("req_2", kind=RequestKind.RESTRICTION, received=T0 + MONTH)
        self._added(store, first, second)
        subject = SubjectId("cust-1")
        store.restrict(subject, "req_1", T0)
        assert store.lift(subject, T0 + timedelta(days=5))
        store.restrict(subject, "req_2", T0 + MONTH)
        assert store.restricted(subject, T0 + timedelta(days=2))
        assert not store.restricted(subject, T0 + timedelta(days=6))
        assert store.restricted(subject, T0 + MONTH + timedelta(days=1))

    def test_a_restriction_needs_the_subjects_own_request(self) -> None:
        """restrict() of an unknown request is NotFound, of another subject's ValidationError."""
        _, store = self.requests()
        self._added(store, make_request("req_1", "cust-1", RequestKind.RESTRICTION))
        with pytest.raises(NotFound):
            store.restrict(SubjectId("cust-1"), "req_9", T0)
        with pytest.raises(ValidationError):
            store.restrict(SubjectId("cust-2"), "req_1", T0)
        assert not store.restricted(SubjectId("cust-1"), T0)
        assert not store.restricted(SubjectId("cust-2"), T0)

    def test_a_restriction_cannot_be_lifted_before_it_began(self) -> None:
        """lift() at an instant before the start raises ValidationError; it stays in force."""
        _, store = self.requests()
        self._added(store, make_request("req_1", kind=RequestKind.RESTRICTION))
        store.restrict(SubjectId("cust-1"), "req_1", T0)
        with pytest.raises(ValidationError):
            store.lift(SubjectId("cust-1"), T0 - timedelta(seconds=1))
        assert store.restricted(SubjectId("cust-1"), T0 + timedelta(days=1))

    # ------------------------------------------------------------------ forgetting

    def _for_forgetting(self, store: RequestStore) -> None:
        forget = make_request(
            "req_f1",
            "cust-forget-me",
            RequestKind.RECTIFICATION,
            details={"email": "cust-forget-me@voorbeeld.nl"},
        )
        store.add(forget, first_step(forget, note="cust-forget-me called"))
        second = verified(forget, T0 + timedelta(hours=1))
        store.update(second, step(second, 2, note="ID checked"), expected=RequestStatus.RECEIVED)
        restriction = make_request("req_f2", "cust-forget-me", RequestKind.RESTRICTION)
        store.add(restriction, first_step(restriction))
        store.restrict(SubjectId("cust-forget-me"), "req_f2", T0)
        keep = make_request("req_k1", "cust-keep", details={"note": "cust-keep asked"})
        store.add(keep, first_step(keep, note="cust-keep's note"))
        store.restrict(SubjectId("cust-keep"), "req_k1", T0)

    def test_forgetting_a_subject_rekeys_its_requests_and_clears_details_and_notes(
        self,
    ) -> None:
        """forget_subject(): the reference takes the host id's place; details and notes go."""
        _, store = self.requests()
        self._for_forgetting(store)
        raw, ref = SubjectId("cust-forget-me"), reference(7)
        # Two requests, two notes (the third transition has none) and one restriction.
        assert store.forget_subject(raw, ref) == 5
        assert store.for_subject(raw) == ()
        rekeyed = store.for_subject(SubjectId(ref))
        assert [r.id for r in rekeyed] == ["req_f1", "req_f2"]
        assert all(r.subject == ref and dict(r.details) == {} for r in rekeyed)
        assert rekeyed[0].status is RequestStatus.VERIFIED
        assert rekeyed[0].kind is RequestKind.RECTIFICATION
        assert [t.note for t in store.transitions("req_f1")] == [None, None]
        assert [t.status for t in store.transitions("req_f1")] == [
            RequestStatus.RECEIVED,
            RequestStatus.VERIFIED,
        ]
        assert not store.restricted(raw, T0)
        assert store.restricted(SubjectId(ref), T0)
        assert store.open_of(raw, RequestKind.RECTIFICATION) is None
        assert store.open_of(SubjectId(ref), RequestKind.RECTIFICATION) == rekeyed[0]
        assert SubjectId(ref) in store.open_subjects([RequestKind.RECTIFICATION])
        # The other subject is untouched.
        (kept,) = store.for_subject(SubjectId("cust-keep"))
        assert dict(kept.details) == {"note": "cust-keep asked"}
        assert store.transitions("req_k1")[0].note == "cust-keep's note"
        assert store.restricted(SubjectId("cust-keep"), T0)
        # Nothing is left to change: a repeated erasure converges.
        assert store.forget_subject(raw, ref) == 0
        assert store.count() == 3

    def test_forgetting_refuses_a_malformed_reference_and_changes_nothing(self) -> None:
        """forget_subject() with a non-reference, or a reference as subject: ValidationError."""
        _, store = self.requests()
        self._for_forgetting(store)
        before = store.for_subject(SubjectId("cust-forget-me"))
        with pytest.raises(ValidationError):
            store.forget_subject(SubjectId("cust-forget-me"), "cust-forget-me-2")
        with pytest.raises(ValidationError):
            store.forget_subject(SubjectId(reference(3)), reference(7))
        assert store.for_subject(SubjectId("cust-forget-me")) == before

    def test_a_forgotten_subjects_host_id_is_gone_from_the_backend(self) -> None:
        """After forget_subject() no stored value holds the host's id (read around the store)."""
        stores, store = self.requests()
        self._for_forgetting(store)
        assert any("cust-forget-me" in value for value in self.raw_values(stores))
        store.forget_subject(SubjectId("cust-forget-me"), reference(7))
        left = [value for value in self.raw_values(stores) if "cust-forget-me" in value]
        assert left == [], "the erased subject's host id is still stored"
        assert any("cust-keep" in value for value in self.raw_values(stores))

    # ------------------------------------------------------------------ unit of work

    def test_writes_in_a_failed_block_leave_nothing(self) -> None:
        """add, update, restrict, lift and forget_subject inside a failing atomic() block."""
        require(self.capabilities, "transactions")
        stores, store = self.requests()
        kept = make_request("req_kept", kind=RequestKind.RESTRICTION)
        self._added(store, kept)
        store.restrict(SubjectId("cust-1"), "req_kept", T0)

        def body() -> None:
            new = make_request("req_new", "cust-2", details={"email": "x@voorbeeld.nl"})
            store.add(new, first_step(new, note="in the block"))
            moved = verified(new, T0 + timedelta(hours=1))
            store.update(moved, step(moved, 2), expected=RequestStatus.RECEIVED)
            store.restrict(SubjectId("cust-2"), "req_new", T0)
            store.lift(SubjectId("cust-1"), T0 + timedelta(days=1))
            store.forget_subject(SubjectId("cust-1"), reference(1))
            assert store.count() == 2

        _fail_inside(stores, body)
        assert store.count() == 1
        with pytest.raises(NotFound):
            store.get("req_new")
        assert store.transitions("req_new") == ()
        assert store.for_subject(SubjectId("cust-2")) == ()
        assert store.for_subject(SubjectId("cust-1")) == (kept,)
        assert not store.restricted(SubjectId("cust-2"), T0)
        assert store.restricted(SubjectId("cust-1"), T0 + timedelta(days=2))
        assert list(store.due_by(T0 + 2 * MONTH)) == queued(kept)
        # The id is free again.
        again = make_request("req_new", "cust-2")
        store.add(again, first_step(again))
        assert store.get("req_new") == again

    def test_a_failed_inner_block_undoes_only_its_own_writes(self) -> None:
        """A nested block that raises undoes its writes; the outer block's stay."""
        require(self.capabilities, "transactions")
        stores, store = self.requests()
        outer = make_request("req_outer")
        inner = make_request("req_inner", "cust-2")
        with stores.atomic():
            store.add(outer, first_step(outer))
            _fail_inside(stores, lambda: store.add(inner, first_step(inner)))
        assert store.get("req_outer") == outer
        with pytest.raises(NotFound):
            store.get("req_inner")
        assert store.count() == 1

    # ------------------------------------------------------------------ persistence

    def test_requests_transitions_and_restrictions_survive_reopening(self) -> None:
        """A persistent adapter keeps everything across a restart."""
        require(self.capabilities, "persistent")
        stores, store = self.requests()
        request = make_request("req_1", kind=RequestKind.RESTRICTION, details={"why": "dispute"})
        self._added(store, request)
        second = verified(request, T0 + timedelta(hours=1))
        store.update(second, step(second, 2, note="ok"), expected=RequestStatus.RECEIVED)
        store.restrict(SubjectId("cust-1"), "req_1", T0)
        history = store.transitions("req_1")
        again = self.reopened(stores)
        assert again.requests is not None
        assert again.requests.get("req_1") == second
        assert again.requests.transitions("req_1") == history
        assert again.requests.restricted(SubjectId("cust-1"), T0)
        assert list(again.requests.due_by(T0 + MONTH)) == queued(second)
        with pytest.raises(ConflictError):
            again.requests.add(request, first_step(request))


class FeedStoreContract(_StoreSetContract):
    """Subclass this in your adapter's tests and implement :meth:`make_stores`.

    The store under test is the set's :attr:`~avgkit.storage.StoreSet.feed`.

    Example::

        class TestMyFeedStore(FeedStoreContract):
            def make_stores(self) -> StoreSet:
                return open_stores(f"mysql://.../{self.tmp_path.name}")

    .. versionadded:: 0.2.0
    """

    cursor_examples: ClassVar[int] = 40
    """How many generated acknowledgement sequences the cursor property test checks."""

    def feed(self) -> tuple[StoreSet, FeedStore]:
        """A new store set and its feed store (which the adapter must keep)."""
        stores = self.store()
        assert stores.feed is not None, "the store set keeps no feed"
        return stores, stores.feed

    def test_a_new_feed_is_empty(self) -> None:
        """A fresh feed has no notices and every cursor at 0."""
        _, store = self.feed()
        assert store.count() == 0
        assert store.read("crm") == ()
        assert store.cursor("crm") == 0
        assert store.acknowledge("crm", 0) == 0

    def test_appended_notices_are_numbered_in_order_and_come_back_equal(self) -> None:
        """append() returns the notices with increasing seq; read() returns them equal."""
        _, store = self.feed()
        at = datetime(2025, 4, 7, 10, 30, 15, 999999, tzinfo=_CEST)
        batch = [
            notice("crm", FeedKind.CONSENT_WITHDRAWN, at=at),
            notice("crm", FeedKind.RECTIFICATION, n=2, subject="cust-2"),
            notice("mailer", FeedKind.OBJECTION, subject=None, purpose="newsletter"),
            notice("crm", FeedKind.RESTRICTION_LIFTED, n=3, subject="cust-3"),
        ]
        stored = store.append(batch)
        seqs = [n.seq for n in stored]
        assert seqs == sorted(set(seqs))
        assert seqs[0] >= 1
        assert [attrs.evolve(n, seq=0) for n in stored] == batch
        assert store.read("crm") == (stored[0], stored[1], stored[3])
        assert store.read("mailer") == (stored[2],)
        assert store.read("crm")[0].at == at
        assert store.read("crm")[1].fields == ("email", "postal_address")
        assert store.count() == 4
        later = store.append([notice("crm", n=4)])
        assert later[0].seq > seqs[-1]
        assert store.append([]) == ()

    def test_a_bad_item_stores_nothing_of_the_batch(self) -> None:
        """A non-notice, or a notice stored before (seq set), refuses the whole batch."""
        _, store = self.feed()
        (stored,) = store.append([notice()])
        for bad in ({"recipient": "crm"}, stored):
            with pytest.raises(ValidationError):
                store.append([notice(n=2), bad])  # type: ignore[list-item]
        with pytest.raises(ValidationError):
            store.append(notice())  # type: ignore[arg-type]
        assert store.count() == 1
        assert store.read("crm") == (stored,)

    def test_read_takes_after_and_limit(self) -> None:
        """read(after=, limit=) gives at most ``limit`` notices with a higher seq, in order."""
        _, store = self.feed()
        stored = store.append([notice(n=n) for n in range(1, 8)])
        assert store.read("crm", limit=3) == stored[:3]
        assert store.read("crm", after=stored[2].seq) == stored[3:]
        assert store.read("crm", after=stored[2].seq, limit=2) == stored[3:5]
        assert store.read("crm", after=stored[-1].seq) == ()
        assert store.read("crm", after=0) == stored
        with pytest.raises(ValidationError):
            store.read("crm", limit=0)
        with pytest.raises(ValidationError):
            store.read("crm", after=-1)

    def test_read_starts_after_the_acknowledged_cursor(self) -> None:
        """Without ``after``, read() continues where the recipient acknowledged."""
        _, store = self.feed()
        stored = store.append([notice("crm", n=n) for n in range(1, 5)])
        theirs = store.append([notice("mailer")])
        assert store.acknowledge("crm", stored[1].seq) == stored[1].seq
        assert store.cursor("crm") == stored[1].seq
        assert store.read("crm") == stored[2:]
        assert store.read("crm", after=0) == stored
        assert store.read("mailer") == theirs
        assert store.cursor("mailer") == 0

    def test_the_cursor_never_moves_back(self) -> None:
        """acknowledge() of a lower seq changes nothing and returns the cursor."""
        _, store = self.feed()
        stored = store.append([notice(n=n) for n in range(1, 4)])
        assert store.acknowledge("crm", stored[2].seq) == stored[2].seq
        assert store.acknowledge("crm", stored[0].seq) == stored[2].seq
        assert store.acknowledge("crm", 0) == stored[2].seq
        assert store.cursor("crm") == stored[2].seq
        assert store.read("crm") == ()

    def test_acknowledging_beyond_the_newest_notice_is_refused(self) -> None:
        """A seq the recipient cannot have read (beyond its newest notice) is ValidationError."""
        _, store = self.feed()
        (mine,) = store.append([notice("crm")])
        (theirs,) = store.append([notice("mailer")])
        with pytest.raises(ValidationError):
            store.acknowledge("crm", theirs.seq)
        with pytest.raises(ValidationError):
            store.acknowledge("newsletter_tool", 1)
        with pytest.raises(ValidationError):
            store.acknowledge("crm", -1)
        assert store.cursor("crm") == 0
        assert store.acknowledge("crm", mine.seq) == mine.seq

    def test_the_cursor_follows_any_sequence_of_acknowledgements(self) -> None:
        """Property: the cursor is the highest valid seq acknowledged, and never decreases."""
        _, store = self.feed()
        examples = itertools.count()

        @settings(max_examples=self.cursor_examples, deadline=None, suppress_health_check=_HEALTH)
        @given(
            size=st.integers(min_value=0, max_value=6),
            acks=st.lists(st.integers(min_value=0, max_value=8), max_size=10),
        )
        def check(size: int, acks: list[int]) -> None:
            recipient = f"crm_{next(examples)}"
            stored = store.append([notice(recipient, n=n) for n in range(size)])
            seqs = [0, *(n.seq for n in stored)]
            cursor = 0
            for index in acks:
                # An index past the stored notices asks for a seq beyond the newest.
                seq = seqs[index] if index < len(seqs) else seqs[-1] + index
                if seq > seqs[-1]:
                    with pytest.raises(ValidationError):
                        store.acknowledge(recipient, seq)
                else:
                    answered = store.acknowledge(recipient, seq)
                    assert answered >= cursor, "the cursor moved back"
                    cursor = max(cursor, seq)
                    assert answered == cursor
                assert store.cursor(recipient) == cursor
                assert store.read(recipient) == tuple(n for n in stored if n.seq > cursor)

        check()

    def test_forgetting_a_subject_drops_its_host_id_from_its_notices(self) -> None:
        """forget_subject() nulls ``subject`` in that subject's notices only; refs stay."""
        _, store = self.feed()
        stored = store.append(
            [
                notice("crm", subject="cust-forget-me", n=7),
                notice("mailer", FeedKind.CONSENT_WITHDRAWN, subject="cust-forget-me", n=7),
                notice("crm", subject="cust-keep", n=8),
            ]
        )
        assert store.forget_subject(SubjectId("cust-forget-me"), reference(7)) == 2
        crm = store.read("crm", after=0)
        assert crm == (attrs.evolve(stored[0], subject=None), stored[2])
        assert store.read("mailer", after=0) == (attrs.evolve(stored[1], subject=None),)
        assert store.forget_subject(SubjectId("cust-forget-me"), reference(7)) == 0
        with pytest.raises(ValidationError):
            store.forget_subject(SubjectId("cust-keep"), "not-a-reference")
        assert store.read("crm", after=0)[1].subject == "cust-keep"

    def test_a_forgotten_subjects_host_id_is_gone_from_the_backend(self) -> None:
        """After forget_subject() no stored value holds the host's id (read around the store)."""
        stores, store = self.feed()
        store.append([notice(subject="cust-forget-me"), notice("mailer", subject="cust-keep")])
        assert any("cust-forget-me" in value for value in self.raw_values(stores))
        store.forget_subject(SubjectId("cust-forget-me"), reference(1))
        assert [v for v in self.raw_values(stores) if "cust-forget-me" in v] == []
        assert any("cust-keep" in value for value in self.raw_values(stores))

    def test_writes_in_a_failed_block_leave_nothing(self) -> None:
        """append, acknowledge and forget_subject in a failing atomic() block are undone."""
        require(self.capabilities, "transactions")
        stores, store = self.feed()
        kept = store.append([notice(n=1), notice(n=2)])

        def body() -> None:
            store.append([notice(n=3), notice("mailer", n=4)])
            store.acknowledge("crm", kept[1].seq)
            store.forget_subject(SubjectId("cust-1"), reference(1))

        _fail_inside(stores, body)
        assert store.count() == 2
        assert store.cursor("crm") == 0
        assert store.read("crm") == kept
        assert store.read("mailer") == ()
        later = store.append([notice(n=5)])
        assert later[0].seq > kept[1].seq
        assert store.read("crm") == (*kept, *later)

    def test_concurrent_appenders_get_distinct_increasing_numbers(self) -> None:
        """Threads appending at once: every notice one number, each batch in order."""
        require(self.capabilities, "thread_safe")
        _, store = self.feed()
        workers, rounds = 4, 10
        barrier = threading.Barrier(workers)
        batches: list[tuple[FeedNotice, ...]] = []
        errors: list[BaseException] = []

        def append(worker: int) -> None:
            try:
                barrier.wait()
                batches.extend(
                    store.append([notice(n=worker), notice(n=worker + n)]) for n in range(rounds)
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=append, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        seqs = [n.seq for batch in batches for n in batch]
        assert len(set(seqs)) == workers * rounds * 2
        assert all(batch[0].seq < batch[1].seq for batch in batches)
        assert [n.seq for n in store.read("crm", limit=1_000)] == sorted(seqs)

    def test_notices_and_cursors_survive_reopening(self) -> None:
        """A persistent adapter keeps notices and cursors across a restart."""
        require(self.capabilities, "persistent")
        stores, store = self.feed()
        stored = store.append([notice(n=1), notice(n=2)])
        store.acknowledge("crm", stored[0].seq)
        again = self.reopened(stores)
        assert again.feed is not None
        assert again.feed.cursor("crm") == stored[0].seq
        assert again.feed.read("crm") == stored[1:]
        (later,) = again.feed.append([notice(n=3)])
        assert later.seq > stored[1].seq
