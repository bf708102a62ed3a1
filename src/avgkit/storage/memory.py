"""The in-memory adapter: the reference implementation of every store protocol.

Open it with ``memory://``. Everything lives in Python objects and is gone when the process
ends, which is what tests want. It is thread-safe, and it has a real unit of work: the stores
of one set share a :class:`MemoryUnitOfWork`, so :meth:`StoreSet.atomic()
<avgkit.storage.StoreSet.atomic>` makes every write to any of them inside the block
all-or-nothing, exactly as the SQL adapters' transactions do. Tests of failure paths (an
audit entry that cannot be written after a consent event was) therefore behave the same on
``memory://`` as in production.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import attrs

from avgkit.audit._bound import BoundRecord
from avgkit.consent._values import (
    CompellingGrounds,
    ConsentEvent,
    LatestEvents,
    PendingConsent,
    check_batch,
    check_forget,
    replay,
)
from avgkit.consent._vocab import ConsentAction
from avgkit.consent._wordings import (
    Wording,
    WordingIndex,
    WordingWithdrawal,
    check_registration,
)
from avgkit.errors import ConflictError, NotFound, ValidationError
from avgkit.storage import StoreSet
from avgkit.storage._bound import CONSENT_EVENT, consent_bound
from avgkit.storage._memory_breaches import MemoryBreachStore
from avgkit.storage._memory_feed import MemoryFeedStore
from avgkit.storage._memory_requests import MemoryRequestStore
from avgkit.storage._memory_retention import MemoryErasureStore, MemoryRetentionStore
from avgkit.storage._memory_unit import MemoryUnitOfWork

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.audit._chain import AuditAnchor, AuditEntry
    from avgkit.pseudonym._keys import KeyKind, StoredKey
    from avgkit.subjects import SubjectId

__all__ = [
    "MemoryAuditStore",
    "MemoryBreachStore",
    "MemoryConsentStore",
    "MemoryErasureStore",
    "MemoryFeedStore",
    "MemoryKeyStore",
    "MemoryRequestStore",
    "MemoryRetentionStore",
    "MemoryUnitOfWork",
    "open_url",
]


class MemoryAuditStore:
    """An :class:`~avgkit.storage.AuditStore` in a Python list.

    Args:
        unit: the unit of work shared with the other stores of the set (a new one if
            omitted). It is also a :class:`~avgkit.storage.Transactional` store: its
            :meth:`atomic` is the unit's.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``unit``; writes inside :meth:`atomic` are undone by an exception.
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        self._entries: list[AuditEntry] = []
        self._secret: bytes | None = None
        self._unit = MemoryUnitOfWork() if unit is None else unit
        self._lock = self._unit.lock()

    def __repr__(self) -> str:
        return f"MemoryAuditStore(entries={len(self._entries)})"

    def head(self) -> AuditEntry | None:
        """Return the newest entry."""
        with self._lock:
            return self._entries[-1] if self._entries else None

    def append(self, seal: Callable[[AuditEntry | AuditAnchor | None], AuditEntry]) -> AuditEntry:
        """Seal the head's successor under the lock and append it."""
        with self._lock:
            entry = seal(self._entries[-1] if self._entries else None)
            if entry.seq != len(self._entries) + 1:
                msg = f"audit entry {entry.seq} does not follow the head {len(self._entries)}"
                raise ConflictError(msg)
            self._entries.append(entry)
            self._unit.changed(self._entries.pop)
            return entry

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries from ``start`` in order (a snapshot taken at the call)."""
        with self._lock:
            snapshot = self._entries[max(start, 1) - 1 :]
        return iter(snapshot)

    def entries_for(self, subject_ref: str) -> Iterator[AuditEntry]:
        """Stream the entries about one subject reference."""
        with self._lock:
            snapshot = [e for e in self._entries if e.subject_ref == subject_ref]
        return iter(snapshot)

    def count(self) -> int:
        """Return the number of entries."""
        with self._lock:
            return len(self._entries)

    def reference_secret(self, create: Callable[[], bytes]) -> bytes:
        """Return the subject-reference secret, creating it once."""
        with self._lock:
            if self._secret is None:
                self._secret = create()
                self._unit.changed(self._forget_secret)
            return self._secret

    def _forget_secret(self) -> None:
        self._secret = None

    def stored_reference_secret(self) -> bytes | None:
        """Return the subject-reference secret kept here, without making one.

        .. versionadded:: 0.2.0
        """
        with self._lock:
            return self._secret

    def discard_reference_secret(self) -> None:
        """Forget the secret kept here (the kit keeps it with the keys).

        .. versionadded:: 0.2.0
        """
        with self._lock:
            kept, self._secret = self._secret, None
            if kept is not None:
                self._unit.changed(lambda: setattr(self, "_secret", kept))

    def atomic(self) -> AbstractContextManager[None]:
        """The unit of work's block (see :meth:`MemoryUnitOfWork.atomic`).

        .. versionadded:: 0.2.0
        """
        return self._unit.atomic()


class MemoryKeyStore:
    """A :class:`~avgkit.storage.KeyStore` in Python dicts (gone when the process ends).

    Args:
        unit: the unit of work shared with the other stores of the set (a new one if
            omitted).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``unit``.
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        self._keys: dict[str, StoredKey] = {}
        self._by_subject: dict[str, str] = {}
        self._shredded: dict[str, datetime] = {}
        self._unit = MemoryUnitOfWork() if unit is None else unit
        self._lock = self._unit.lock()

    def __repr__(self) -> str:
        return f"MemoryKeyStore(keys={len(self._keys)}, shredded={len(self._shredded)})"

    def wrappings(self) -> frozenset[str | None]:
        """The ids of the KEKs wrapping stored keys, ``None`` for keys in the clear."""
        with self._lock:
            return frozenset(key.wrapped_by for key in self._keys.values())

    def add(self, key: StoredKey) -> None:
        """Store ``key``; ConflictError on a duplicate id or a subject with a key."""
        with self._lock:
            if key.key_id in self._keys:
                msg = f"a key with id {key.key_id!r} is already stored"
                raise ConflictError(msg)
            ref = key.subject_ref
            if ref is not None and (ref in self._by_subject or ref in self._shredded):
                msg = f"subject {ref} already has a data key, or had one that was shredded"
                raise ConflictError(msg)
            self._keys[key.key_id] = key
            if ref is not None:
                self._by_subject[ref] = key.key_id
            self._unit.changed(lambda: self._forget(key))

    def _forget(self, key: StoredKey) -> None:
        del self._keys[key.key_id]
        if key.subject_ref is not None:
            del self._by_subject[key.subject_ref]

    def _unshred(self, subject_ref: str) -> None:
        del self._shredded[subject_ref]

    def _restore(self, key: StoredKey) -> None:
        # Only subject keys are shredded, and rings never list them, so putting one back at
        # the end of the dict keeps every ring's order.
        self._keys[key.key_id] = key
        if key.subject_ref is not None:
            self._by_subject[key.subject_ref] = key.key_id

    def get(self, key_id: str) -> StoredKey:
        """Return the key with id ``key_id`` or raise NotFound."""
        with self._lock:
            found = self._keys.get(key_id)
        if found is None:
            msg = f"no key with id {key_id!r} is stored (never made, or shredded)"
            raise NotFound(msg)
        return found

    def ring(self, kind: KeyKind) -> tuple[StoredKey, ...]:
        """Return the keys of ``kind`` in the order they were added (dicts keep it)."""
        with self._lock:
            return tuple(k for k in self._keys.values() if k.kind == kind and k.subject_ref is None)

    def for_subject(self, subject_ref: str) -> StoredKey | None:
        """Return the subject's data key, if any."""
        with self._lock:
            key_id = self._by_subject.get(subject_ref)
            return None if key_id is None else self._keys[key_id]

    def shred(self, subject_ref: str, at: datetime) -> bool:
        """Forget the subject's data key (if any) and record the tombstone (first wins)."""
        with self._lock:
            if subject_ref not in self._shredded:
                self._shredded[subject_ref] = at
                self._unit.changed(lambda: self._unshred(subject_ref))
            key_id = self._by_subject.get(subject_ref)
            if key_id is None:
                return False
            key = self._keys[key_id]
            self._forget(key)
            self._unit.changed(lambda: self._restore(key))
            return True

    def shredded_at(self, subject_ref: str) -> datetime | None:
        """Return when the subject's key was shredded."""
        with self._lock:
            return self._shredded.get(subject_ref)


class MemoryConsentStore:
    """A :class:`~avgkit.storage.ConsentStore` in a Python list: the reference semantics.

    Its answers are plain replays of the stored events (:func:`avgkit.consent.replay`), which
    is what the SQL adapters' set-based queries are checked against.

    It is also the reference :class:`~avgkit.storage.WordingStore`,
    :class:`~avgkit.storage.ConfirmationStore` and :class:`~avgkit.storage.GroundsStore`.

    Args:
        unit: the unit of work shared with the other stores of the set (a new one if
            omitted).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``unit``.
    .. versionchanged:: 0.2.0
       The wording registry, pending double opt-ins and compelling grounds.
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        self._events: list[ConsentEvent] = []
        self._by_subject: dict[str, list[ConsentEvent]] = {}
        self._wordings: list[Wording] = []
        self._withdrawals: list[WordingWithdrawal] = []
        self._generation = 0
        # Never undone: a rolled-back change's generation is never handed out again, so a
        # WordingIndex cached inside the rolled-back block never looks current.
        self._generations = itertools.count(1)
        self._pending: dict[str, PendingConsent] = {}
        self._grounds: list[CompellingGrounds] = []
        self._unit = MemoryUnitOfWork() if unit is None else unit
        self._lock = self._unit.lock()

    def __repr__(self) -> str:
        return f"MemoryConsentStore(events={len(self._events)})"

    def _add(self, event: ConsentEvent) -> ConsentEvent:
        # Called holding the lock: reading the length and appending are one step, so every
        # event gets its own seq, in recording order.
        stored = attrs.evolve(event, seq=len(self._events) + 1)
        self._events.append(stored)
        self._by_subject.setdefault(stored.subject, []).append(stored)
        self._unit.changed(lambda: self._remove_last(stored.subject))
        return stored

    def _remove_last(self, subject: str) -> None:
        # Undone newest first, so the event to remove is the last of both lists.
        self._events.pop()
        mine = self._by_subject[subject]
        mine.pop()
        if not mine:
            del self._by_subject[subject]

    def append(self, event: ConsentEvent) -> ConsentEvent:
        """Store one event and return it with its seq."""
        with self._lock:
            return self._add(event)

    def append_many(self, events: Sequence[ConsentEvent]) -> int:
        """Store a batch (validated by its values already, so it cannot fail half-way)."""
        events = check_batch(events)  # all of it checked before any is stored
        with self._lock:
            for event in events:
                self._add(event)
        return len(events)

    def _ordered(self, events: list[ConsentEvent]) -> list[ConsentEvent]:
        return sorted(events, key=lambda e: (e.at, e.seq or 0))

    def latest(self, subject: SubjectId, purpose: str, at: datetime) -> LatestEvents:
        """Replay the subject's events for ``purpose`` up to ``at``."""
        with self._lock:
            mine = list(self._by_subject.get(subject, ()))
        state = replay(self._ordered(mine), subject=subject, purpose=purpose, at=at)
        return _latest(state.consent_event, state.objection_event, mine, purpose, at)

    def history(self, subject: SubjectId) -> Iterator[ConsentEvent]:
        """Return the subject's events ordered by at, then seq."""
        with self._lock:
            mine = list(self._by_subject.get(subject, ()))
        return iter(self._ordered(mine))

    def events(
        self, *, since: datetime, until: datetime, purpose: str | None = None
    ) -> Iterator[ConsentEvent]:
        """Return the events in ``[since, until)`` ordered by at, then seq."""
        with self._lock:
            found = [
                e
                for e in self._events
                if since <= e.at < until and (purpose is None or e.purpose == purpose)
            ]
        return iter(self._ordered(found))

    def _states(self, purpose: str, at: datetime) -> Iterator[tuple[SubjectId, bool, bool]]:
        with self._lock:
            subjects = {s: list(evs) for s, evs in self._by_subject.items()}
        for subject, mine in subjects.items():
            ordered = self._ordered([e for e in mine if e.purpose == purpose])
            if ordered:
                state = replay(ordered, subject=subject, purpose=purpose, at=at)
                yield state.subject, state.consent_live, state.objected

    def audience(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Yield the subjects with live consent and no objection."""
        for subject, live, objected in self._states(purpose, at):
            if live and not objected:
                yield subject

    def objectors(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Yield the subjects with an objection in force."""
        for subject, _live, objected in self._states(purpose, at):
            if objected:
                yield subject

    def forget(self, subject: SubjectId, reference: str) -> int:
        """Re-key the subject's events to ``reference``, without order refs; return how many.

        The subject's pending double opt-ins are deleted and its grounds re-keyed too.
        """
        raw, ref = check_forget(subject, reference)
        with self._lock:
            self._forget_extras(raw, ref)
            mine = self._by_subject.get(raw)
            if not mine:
                return 0
            before = self._by_subject.get(ref)
            changed: list[tuple[int, ConsentEvent]] = []
            for event in mine:
                # _add() numbers events by their place in the list and only the newest is
                # ever removed, so an event's seq is its place plus one.
                index = (event.seq or 0) - 1
                rekeyed = attrs.evolve(
                    event, subject=ref, evidence=attrs.evolve(event.evidence, order_ref=None)
                )
                changed.append((index, event))
                self._events[index] = rekeyed
            # Kept in recording order, as _add() builds it: _remove_last() relies on the
            # newest event being last.
            merged = sorted(
                (*(before or ()), *(self._events[i] for i, _ in changed)), key=lambda e: e.seq or 0
            )
            self._by_subject[ref] = merged
            del self._by_subject[raw]
            self._unit.changed(lambda: self._unforget(raw, mine, ref, before, changed))
            return len(changed)

    def _unforget(
        self,
        raw: str,
        mine: list[ConsentEvent],
        ref: str,
        before: list[ConsentEvent] | None,
        changed: list[tuple[int, ConsentEvent]],
    ) -> None:
        # Undone newest first, so the lists are as forget() left them: put back the very
        # objects it replaced.
        for index, event in changed:
            self._events[index] = event
        self._by_subject[raw] = mine
        if before is None:
            del self._by_subject[ref]
        else:
            self._by_subject[ref] = before

    def count(self) -> int:
        """Return the number of events."""
        with self._lock:
            return len(self._events)

    # -- bound to the audit chain (see avgkit.storage.BoundStore) ----------------------

    _bound: dict[int, int]  # event seq -> audit seq; made by the first bind()

    def appended(self, count: int) -> list[ConsentEvent]:
        """The ``count`` events stored last, oldest first (see ``AppendedEvents``)."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            msg = f"appended() takes a count of events, got {type(count).__name__}"
            raise ValidationError(msg)
        with self._lock:
            return list(self._events[len(self._events) - count :]) if count else []

    def bind(self, keys: Sequence[tuple[str, int]], audit_seq: int) -> None:
        """Remember that audit entry ``audit_seq`` binds the events ``("", seq)``."""
        with self._lock:
            bound = self.__dict__.setdefault("_bound", {})
            numbers = [number for _, number in keys]
            if any(number in bound for number in numbers):
                msg = "a consent event is bound to an audit entry already"
                raise ConflictError(msg)
            for number in numbers:
                bound[number] = audit_seq
            self._unit.changed(lambda: [bound.pop(number) for number in numbers])

    def bound_records(self) -> Iterator[BoundRecord]:
        """Every event with its digest: unbound ones, lost ones, then in audit order."""
        with self._lock:
            events = {e.seq or 0: e for e in self._events}
            bound = dict(self.__dict__.get("_bound", {}))
        records = [
            consent_bound(events[n], bound_seq=bound.get(n))
            if n in events
            else BoundRecord(
                kind=CONSENT_EVENT, record_id="", record_no=n, digest=None, bound_seq=bound[n]
            )
            for n in sorted(events.keys() | bound.keys())
        ]
        records.sort(
            key=lambda r: (r.bound_seq is not None, r.digest is not None, r.bound_seq or 0, r.key)
        )
        return iter(records)

    # ------------------------------------------------------------------ erasure of extras

    def _forget_extras(self, raw: str, ref: str) -> None:
        pending = {k: p for k, p in self._pending.items() if p.subject == raw}
        for selector in pending:
            del self._pending[selector]
        grounds = [(i, g) for i, g in enumerate(self._grounds) if g.subject == raw]
        for i, g in grounds:
            self._grounds[i] = attrs.evolve(g, subject=ref)

        def undo() -> None:
            self._pending.update(pending)
            for i, g in grounds:
                self._grounds[i] = g

        if pending or grounds:
            self._unit.changed(undo)

    # ------------------------------------------------------------------ the wording registry

    def register_wordings(self, wordings: Sequence[Wording]) -> int:
        """Register the new ones of ``wordings`` (all checked first); return how many."""
        with self._lock:
            fresh = check_registration(self._index(), wordings)
            if not fresh:
                return 0
            before = (len(self._wordings), self._generation)
            self._wordings.extend(fresh)
            self._generation = next(self._generations)
            self._unit.changed(lambda: self._unregister(*before))
            return len(fresh)

    def _unregister(self, count: int, generation: int) -> None:
        del self._wordings[count:]
        self._generation = generation

    def withdraw_wording(self, withdrawal: WordingWithdrawal) -> WordingWithdrawal:
        """Withdraw a registered version (the first withdrawal stays in force)."""
        with self._lock:
            index = self._index()
            if not any(
                (w.purpose, w.version) == (withdrawal.purpose, withdrawal.version)
                for w in index.wordings
            ):
                msg = (
                    f"no wording is registered for purpose {withdrawal.purpose!r}, version "
                    f"{withdrawal.version!r}; nothing to withdraw"
                )
                raise NotFound(msg)
            existing = index.withdrawal(withdrawal.purpose, withdrawal.version)
            if existing is not None:
                return existing
            before = (len(self._withdrawals), self._generation)
            self._withdrawals.append(withdrawal)
            self._generation = next(self._generations)
            self._unit.changed(lambda: self._unwithdraw(*before))
            return withdrawal

    def _unwithdraw(self, count: int, generation: int) -> None:
        del self._withdrawals[count:]
        self._generation = generation

    def _index(self) -> WordingIndex:
        # In the order the SQL stores read them: by purpose ('' for the notice), version,
        # language.
        return WordingIndex(
            wordings=tuple(
                sorted(self._wordings, key=lambda w: (w.purpose or "", w.version, w.lang))
            ),
            withdrawals=tuple(
                sorted(self._withdrawals, key=lambda w: (w.purpose or "", w.version))
            ),
            generation=self._generation,
        )

    def wording_index(self) -> WordingIndex:
        """Everything registered and withdrawn."""
        with self._lock:
            return self._index()

    def wording_generation(self) -> int:
        """The registry's generation: 0 when empty, a new number with every change.

        An undone change puts the generation before it back, and its own number is never
        used again.
        """
        with self._lock:
            return self._generation

    def _live(self, purpose: str, at: datetime) -> Iterator[ConsentEvent]:
        # The given event behind each live consent with no objection in force.
        with self._lock:
            subjects = {s: list(evs) for s, evs in self._by_subject.items()}
        for subject, mine in subjects.items():
            ordered = self._ordered([e for e in mine if e.purpose == purpose])
            if ordered:
                state = replay(ordered, subject=subject, purpose=purpose, at=at)
                if state.consent_live and not state.objected:
                    assert state.consent_event is not None  # noqa: S101 - live has its event
                    yield state.consent_event

    def current_audience(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """The audience without consents given under a withdrawn wording."""
        index = self.wording_index()
        for event in self._live(purpose, at):
            if not index.withdrawn(purpose, event.evidence.wording_sha256, at):
                yield event.subject

    def to_renew(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """The live consents whose wording needs renewal."""
        index = self.wording_index()
        for event in self._live(purpose, at):
            if index.needs_renewal(purpose, event.evidence.wording_sha256, at):
                yield event.subject

    # ------------------------------------------------------------------ double opt-in

    def add_pending(self, pending: PendingConsent) -> None:
        """Keep a pending consent, without its token."""
        stored = attrs.evolve(pending, token=None)
        with self._lock:
            if stored.selector in self._pending:
                msg = "a pending consent with this token selector exists already"
                raise ConflictError(msg)
            self._pending[stored.selector] = stored
            self._unit.changed(lambda: self._pending.pop(stored.selector))

    def pending(self, selector: str) -> PendingConsent | None:
        """The pending consent of ``selector``, if any."""
        with self._lock:
            return self._pending.get(selector)

    def settle_pending(self, selector: str, at: datetime) -> bool:
        """Mark it used, once."""
        with self._lock:
            found = self._pending.get(selector)
            if found is None or found.settled_at is not None:
                return False
            self._pending[selector] = attrs.evolve(found, settled_at=at)
            self._unit.changed(lambda: self._pending.__setitem__(selector, found))
            return True

    def open_pending(self, subject: SubjectId, purpose: str, at: datetime) -> PendingConsent | None:
        """The newest pending consent open at ``at``."""
        with self._lock:
            found = [
                p
                for p in self._pending.values()
                if p.subject == subject and p.purpose == purpose and p.open_at(at)
            ]
        return max(found, key=lambda p: p.requested_at, default=None)

    # ------------------------------------------------------------------ compelling grounds

    def add_grounds(self, grounds: CompellingGrounds) -> CompellingGrounds:
        """Append grounds and return them with their seq."""
        with self._lock:
            stored = attrs.evolve(grounds, seq=len(self._grounds) + 1)
            self._grounds.append(stored)
            self._unit.changed(self._grounds.pop)
            return stored

    def grounds(self, subject: SubjectId, purpose: str, at: datetime) -> CompellingGrounds | None:
        """The latest grounds recorded at or before ``at``."""
        with self._lock:
            found = [
                g
                for g in self._grounds
                if g.subject == subject and g.purpose == purpose and g.at <= at
            ]
        return max(found, key=lambda g: (g.at, g.seq or 0), default=None)


def _latest(
    consent: ConsentEvent | None,
    objection: ConsentEvent | None,
    events: list[ConsentEvent],
    purpose: str,
    at: datetime,
) -> LatestEvents:
    ever = any(
        e.purpose == purpose and e.at <= at and e.kind is ConsentAction.GIVEN for e in events
    )
    return LatestEvents(consent=consent, objection=objection, ever_given=ever)


def open_url(url: str) -> StoreSet:
    """Open fresh in-memory stores for ``memory://``, sharing one unit of work.

    The set's :meth:`~avgkit.storage.StoreSet.atomic` is the unit's
    :meth:`MemoryUnitOfWork.atomic`.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       The stores share a :class:`MemoryUnitOfWork`: ``atomic()`` blocks are all-or-nothing.
    """
    if url.rstrip("/").lower() != "memory:":
        msg = f"the memory adapter takes exactly 'memory://', got a URL with a path ({url!r})"
        raise ValidationError(msg)
    unit = MemoryUnitOfWork()
    return StoreSet(
        url=url,
        audit=MemoryAuditStore(unit=unit),
        keys=MemoryKeyStore(unit=unit),
        consent=MemoryConsentStore(unit=unit),
        breaches=MemoryBreachStore(unit=unit),
        retention=MemoryRetentionStore(unit=unit),
        erasures=MemoryErasureStore(unit=unit),
        requests=MemoryRequestStore(unit=unit),
        feed=MemoryFeedStore(unit=unit),
        transaction=unit.atomic,
    )
