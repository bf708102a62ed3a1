"""The in-memory adapter: the reference implementation of every store protocol.

Open it with ``memory://``. Everything lives in Python objects and is gone when the process
ends, which is what tests want. It is thread-safe.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import attrs

from avgkit.consent._values import ConsentEvent, LatestEvents, replay
from avgkit.consent._vocab import ConsentAction
from avgkit.errors import ConflictError, NotFound, ValidationError
from avgkit.storage import StoreSet
from avgkit.storage._memory_breaches import MemoryBreachStore

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.audit._chain import AuditEntry
    from avgkit.pseudonym._keys import KeyKind, StoredKey
    from avgkit.subjects import SubjectId

__all__ = [
    "MemoryAuditStore",
    "MemoryBreachStore",
    "MemoryConsentStore",
    "MemoryKeyStore",
    "open_url",
]


class MemoryAuditStore:
    """An :class:`~avgkit.storage.AuditStore` in a Python list.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryAuditStore(entries={len(self._entries)})"

    def head(self) -> AuditEntry | None:
        """Return the newest entry."""
        with self._lock:
            return self._entries[-1] if self._entries else None

    def append(self, seal: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        """Seal the head's successor under the lock and append it."""
        with self._lock:
            entry = seal(self._entries[-1] if self._entries else None)
            if entry.seq != len(self._entries) + 1:
                msg = f"audit entry {entry.seq} does not follow the head {len(self._entries)}"
                raise ConflictError(msg)
            self._entries.append(entry)
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
            return self._secret


class MemoryKeyStore:
    """A :class:`~avgkit.storage.KeyStore` in Python dicts (gone when the process ends).

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._keys: dict[str, StoredKey] = {}
        self._by_subject: dict[str, str] = {}
        self._shredded: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryKeyStore(keys={len(self._keys)}, shredded={len(self._shredded)})"

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
            self._shredded.setdefault(subject_ref, at)
            key_id = self._by_subject.pop(subject_ref, None)
            if key_id is None:
                return False
            del self._keys[key_id]
            return True

    def shredded_at(self, subject_ref: str) -> datetime | None:
        """Return when the subject's key was shredded."""
        with self._lock:
            return self._shredded.get(subject_ref)


class MemoryConsentStore:
    """A :class:`~avgkit.storage.ConsentStore` in a Python list: the reference semantics.

    Its answers are plain replays of the stored events (:func:`avgkit.consent.replay`), which
    is what the SQL adapters' set-based queries are checked against.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._events: list[ConsentEvent] = []
        self._by_subject: dict[str, list[ConsentEvent]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryConsentStore(events={len(self._events)})"

    def _add(self, event: ConsentEvent) -> ConsentEvent:
        stored = attrs.evolve(event, seq=len(self._events) + 1)
        self._events.append(stored)
        self._by_subject.setdefault(stored.subject, []).append(stored)
        return stored

    def append(self, event: ConsentEvent) -> ConsentEvent:
        """Store one event and return it with its seq."""
        with self._lock:
            return self._add(event)

    def append_many(self, events: Sequence[ConsentEvent]) -> int:
        """Store a batch (validated by its values already, so it cannot fail half-way)."""
        # Check the whole batch before storing any of it, so a bad item stores nothing.
        for index, event in enumerate(events):
            if not isinstance(event, ConsentEvent):
                msg = f"item {index} of the batch is a {type(event).__name__}, not a ConsentEvent"
                raise ValidationError(msg)
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

    def count(self) -> int:
        """Return the number of events."""
        with self._lock:
            return len(self._events)


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
    """Open fresh in-memory stores for ``memory://``.

    .. versionadded:: 0.1.0
    """
    if url.rstrip("/").lower() != "memory:":
        msg = f"the memory adapter takes exactly 'memory://', got a URL with a path ({url!r})"
        raise ValidationError(msg)
    return StoreSet(
        url=url,
        audit=MemoryAuditStore(),
        keys=MemoryKeyStore(),
        consent=MemoryConsentStore(),
        breaches=MemoryBreachStore(),
    )
