"""The memory adapter's request store (private).

Import it from :mod:`avgkit.storage.memory`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import attrs

from avgkit import _validators
from avgkit.consent._values import check_forget
from avgkit.dsar._values import (
    DueRequest,
    RequestKind,
    RequestStatus,
    RequestTransition,
    SubjectRequest,
    check_change,
    check_request_id,
)
from avgkit.errors import ConflictError, NotFound, ValidationError
from avgkit.storage._memory_unit import MemoryUnitOfWork
from avgkit.storage._request_rules import (
    check_limit,
    check_update,
    lifted_early,
    moved,
    not_theirs,
    out_of_turn,
    stored_already,
    unknown,
)
from avgkit.subjects import SubjectId, subject_id

__all__ = ["MemoryRequestStore"]


@attrs.frozen
class _Restriction:
    subject: SubjectId
    request_id: str
    started_at: datetime
    lifted_at: datetime | None = None


class MemoryRequestStore:
    """A :class:`~avgkit.storage.RequestStore` in Python dicts and lists.

    Args:
        unit: the unit of work shared with the other stores of the set (a new one if
            omitted).

    .. versionadded:: 0.2.0
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        self._unit = MemoryUnitOfWork() if unit is None else unit
        self._lock = self._unit.lock()
        self._requests: dict[str, SubjectRequest] = {}  # in the order added
        self._numbers: dict[str, int] = {}
        self._added = 0
        self._transitions: dict[str, list[RequestTransition]] = {}
        self._restrictions: list[_Restriction] = []

    def __repr__(self) -> str:
        return f"MemoryRequestStore(requests={len(self._requests)})"

    # ------------------------------------------------------------------ journaled writes

    def _set_request(self, request: SubjectRequest) -> None:
        before = self._requests.get(request.id)
        self._requests[request.id] = request
        if before is None:
            self._unit.changed(lambda: self._requests.pop(request.id))
        else:
            self._unit.changed(lambda: self._requests.__setitem__(request.id, before))

    def _append_transition(self, transition: RequestTransition) -> None:
        mine = self._transitions.setdefault(transition.request_id, [])
        mine.append(transition)
        self._unit.changed(mine.pop)

    def _set_transition(self, index: int, transition: RequestTransition) -> None:
        mine = self._transitions[transition.request_id]
        before = mine[index]
        mine[index] = transition
        self._unit.changed(lambda: mine.__setitem__(index, before))

    def _set_restriction(self, index: int, restriction: _Restriction) -> None:
        before = self._restrictions[index]
        self._restrictions[index] = restriction
        self._unit.changed(lambda: self._restrictions.__setitem__(index, before))

    # ------------------------------------------------------------------ requests

    def add(self, request: SubjectRequest, transition: RequestTransition) -> None:
        """Store a new request with its first transition."""
        request, transition = check_change(request, transition, first=True)
        with self._lock:
            if request.id in self._requests:
                msg = stored_already(request.id)
                raise ConflictError(msg)
            self._added += 1
            number = self._added
            self._numbers[request.id] = number
            self._unit.changed(lambda: self._numbers.pop(request.id))
            self._set_request(request)
            self._append_transition(transition)

    def get(self, request_id: str) -> SubjectRequest:
        """The request's current state, or NotFound."""
        check_request_id(request_id)
        with self._lock:
            found = self._requests.get(request_id)
        if found is None:
            raise NotFound(unknown(request_id))
        return found

    def update(
        self,
        request: SubjectRequest,
        transition: RequestTransition,
        *,
        expected: RequestStatus,
    ) -> None:
        """Store the new state and the next transition if the status is still ``expected``."""
        request, transition = check_change(request, transition, first=False)
        expected = _validators.member(RequestStatus, expected, "expected")
        with self._lock:
            stored = self._requests.get(request.id)
            if stored is None:
                raise NotFound(unknown(request.id))
            if stored.status is not expected:
                raise ConflictError(moved(request.id, stored.status, expected))
            check_update(stored, request)
            following = len(self._transitions.get(request.id, ())) + 1
            if transition.seq != following:
                raise ConflictError(out_of_turn(request.id, transition.seq, following))
            with self._unit.atomic():
                self._set_request(request)
                self._append_transition(transition)

    def transitions(self, request_id: str) -> tuple[RequestTransition, ...]:
        """The request's transitions, oldest first."""
        check_request_id(request_id)
        with self._lock:
            return tuple(self._transitions.get(request_id, ()))

    def _received_order(self, requests: list[SubjectRequest]) -> list[SubjectRequest]:
        return sorted(requests, key=lambda r: (r.received_at, self._numbers[r.id]))

    def for_subject(self, subject: SubjectId) -> tuple[SubjectRequest, ...]:
        """The subject's requests in received order."""
        sid = subject_id(subject)
        with self._lock:
            mine = [r for r in self._requests.values() if r.subject == sid]
            return tuple(self._received_order(mine))

    def open_of(self, subject: SubjectId, kind: RequestKind) -> SubjectRequest | None:
        """The subject's oldest open request of ``kind``."""
        sid = subject_id(subject)
        kind = _validators.member(RequestKind, kind, "kind")
        with self._lock:
            mine = [
                r for r in self._requests.values() if r.subject == sid and r.kind is kind and r.open
            ]
            ordered = self._received_order(mine)
        return ordered[0] if ordered else None

    def due_by(self, before: datetime, *, limit: int | None = None) -> Iterator[DueRequest]:
        """The open requests due by ``before``, earliest due first (a snapshot)."""
        before = _validators.aware(before, "before")
        cap = check_limit(limit)
        with self._lock:
            due = [r for r in self._requests.values() if r.open and r.due_at <= before]
            due.sort(key=lambda r: (r.due_at, self._numbers[r.id]))
        return iter([DueRequest.of(r) for r in (due if cap is None else due[:cap])])

    def open_subjects(self, kinds: Sequence[RequestKind]) -> frozenset[SubjectId]:
        """The subjects with an open request of one of ``kinds``."""
        wanted = {_validators.member(RequestKind, k, "kind") for k in kinds}
        with self._lock:
            return frozenset(
                r.subject for r in self._requests.values() if r.open and r.kind in wanted
            )

    # ------------------------------------------------------------------ restrictions

    def _in_force(self, subject: SubjectId) -> int | None:
        for index, restriction in enumerate(self._restrictions):
            if restriction.subject == subject and restriction.lifted_at is None:
                return index
        return None

    def restrict(self, subject: SubjectId, request_id: str, at: datetime) -> None:
        """Begin the subject's restriction (no change while one is in force)."""
        sid = subject_id(subject)
        check_request_id(request_id)
        at = _validators.aware(at, "at")
        with self._lock:
            request = self._requests.get(request_id)
            if request is None:
                raise NotFound(unknown(request_id))
            if request.subject != sid:
                raise ValidationError(not_theirs(request_id))
            if self._in_force(sid) is not None:
                return
            self._restrictions.append(_Restriction(sid, request_id, at))
            self._unit.changed(self._restrictions.pop)

    def lift(self, subject: SubjectId, at: datetime) -> bool:
        """End the subject's restriction; False if none is in force."""
        sid = subject_id(subject)
        at = _validators.aware(at, "at")
        with self._lock:
            index = self._in_force(sid)
            if index is None:
                return False
            restriction = self._restrictions[index]
            if at < restriction.started_at:
                raise ValidationError(lifted_early())
            self._set_restriction(index, attrs.evolve(restriction, lifted_at=at))
            return True

    def restricted(self, subject: SubjectId, at: datetime) -> bool:
        """Whether a restriction of the subject was in force at ``at``."""
        sid = subject_id(subject)
        at = _validators.aware(at, "at")
        with self._lock:
            return any(
                r.subject == sid
                and r.started_at <= at
                and (r.lifted_at is None or at < r.lifted_at)
                for r in self._restrictions
            )

    # ------------------------------------------------------------------ erasure

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Re-key the subject's requests and restrictions; clear details and notes."""
        raw, ref = check_forget(subject, reference)
        changed = 0
        with self._unit.atomic():
            for request in [r for r in self._requests.values() if r.subject == raw]:
                self._set_request(attrs.evolve(request, subject=ref, details={}))
                changed += 1
                for index, transition in enumerate(self._transitions.get(request.id, ())):
                    if transition.note is not None:
                        self._set_transition(index, attrs.evolve(transition, note=None))
                        changed += 1
            for index, restriction in enumerate(self._restrictions):
                if restriction.subject == raw:
                    self._set_restriction(index, attrs.evolve(restriction, subject=ref))
                    changed += 1
        return changed

    def count(self) -> int:
        """The number of requests."""
        with self._lock:
            return len(self._requests)
