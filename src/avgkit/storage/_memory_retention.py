"""The memory adapter's retention and erasure stores (private).

Import them from :mod:`avgkit.storage.memory`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import count

import attrs

from avgkit.erasure._values import ErasureEntry, ErasureNotice
from avgkit.retention._values import (
    ClaimedAction,
    Hold,
    Outcome,
    PlannedAction,
    StoredHold,
)
from avgkit.storage._memory_unit import MemoryUnitOfWork
from avgkit.storage.checks import check_forget, hold_not_found
from avgkit.subjects import SubjectId, subject_id


@attrs.define
class _Staged:
    action: PlannedAction
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: Outcome | None = None


class _Journaled:
    """Dict writes that a unit of work can undo."""

    def __init__(self, unit: MemoryUnitOfWork | None) -> None:
        self._unit = MemoryUnitOfWork() if unit is None else unit
        self._lock = self._unit.lock()

    def _put(self, table: dict[object, object], key: object, value: object) -> None:
        missing = object()
        before = table.get(key, missing)
        table[key] = value
        if before is missing:
            self._unit.changed(lambda: table.pop(key, None))
        else:
            self._unit.changed(lambda: table.__setitem__(key, before))

    def _pop(self, table: dict[object, object], key: object) -> None:
        if key in table:
            before = table.pop(key)
            self._unit.changed(lambda: table.__setitem__(key, before))


class MemoryRetentionStore(_Journaled):
    """A :class:`~avgkit.storage.RetentionStore` in Python dicts.

    Args:
        unit: the unit of work shared with the other stores of the set.

    .. versionadded:: 0.2.0
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        super().__init__(unit)
        self._holds: dict[object, object] = {}  # id -> StoredHold
        self._numbers = count(1)
        self._warnings: dict[object, object] = {}  # (subject, rule, anchor) -> at
        self._plans: dict[object, object] = {}  # plan_id -> fingerprint
        self._actions: dict[object, object] = {}  # (plan_id, number) -> _Staged

    def __repr__(self) -> str:
        return f"MemoryRetentionStore(holds={len(self._holds)}, plans={len(self._plans)})"

    def _stored_holds(self) -> list[StoredHold]:
        return [h for h in self._holds.values() if isinstance(h, StoredHold)]

    def place_hold(self, hold: Hold, at: datetime) -> StoredHold:
        """Store a new hold."""
        with self._lock:
            stored = StoredHold(id=next(self._numbers), hold=hold, placed_at=at)
            self._put(self._holds, stored.id, stored)
            return stored

    def release_hold(self, hold_id: int, at: datetime) -> StoredHold:
        """Release a hold (again: no change)."""
        with self._lock:
            stored = self._holds.get(hold_id)
            if not isinstance(stored, StoredHold):
                raise hold_not_found(hold_id)
            if stored.released_at is None:
                stored = attrs.evolve(stored, released_at=at)
                self._put(self._holds, hold_id, stored)
            return stored

    @staticmethod
    def _in_force(stored: StoredHold, at: datetime) -> bool:
        return stored.released_at is None and stored.hold.active(at)

    def holds_for(self, subject: SubjectId, at: datetime) -> tuple[StoredHold, ...]:
        """The subject's holds in force at ``at``."""
        with self._lock:
            return tuple(
                h
                for h in self._stored_holds()
                if h.hold.subject == subject and self._in_force(h, at)
            )

    def active_holds(self, at: datetime) -> Iterator[StoredHold]:
        """Every hold in force at ``at``."""
        with self._lock:
            return iter([h for h in self._stored_holds() if self._in_force(h, at)])

    def warned_at(self, subject: SubjectId, rule: str, anchor: datetime) -> datetime | None:
        """When the subject was warned for this trigger."""
        with self._lock:
            found = self._warnings.get((subject, rule, anchor))
            return found if isinstance(found, datetime) else None

    def warnings_for(
        self, rule: str, subjects: Sequence[SubjectId]
    ) -> dict[tuple[SubjectId, datetime], datetime]:
        """Every warning of ``rule`` to one of ``subjects``."""
        wanted = set(subjects)
        with self._lock:
            return {
                (key[0], key[2]): at
                for key, at in self._warnings.items()
                if isinstance(key, tuple)
                and key[0] in wanted
                and key[1] == rule
                and isinstance(at, datetime)
            }

    def record_warning(self, subject: SubjectId, rule: str, anchor: datetime, at: datetime) -> None:
        """Remember the warning (the first one counts)."""
        with self._lock:
            if (subject, rule, anchor) not in self._warnings:
                self._put(self._warnings, (subject, rule, anchor), at)

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Drop the subject's holds and warnings; re-key its staged actions."""
        subject, ref = check_forget(subject, reference)
        with self._lock:
            changed = 0
            for stored in self._stored_holds():
                if stored.hold.subject == subject:
                    self._pop(self._holds, stored.id)
                    changed += 1
            for warned in [k for k in self._warnings if isinstance(k, tuple) and k[0] == subject]:
                self._pop(self._warnings, warned)
                changed += 1
            for key, staged in list(self._actions.items()):
                if isinstance(staged, _Staged) and staged.action.subject == subject:
                    moved = attrs.evolve(staged, action=attrs.evolve(staged.action, subject=ref))
                    self._put(self._actions, key, moved)
                    changed += 1
            return changed

    def stage(
        self, plan_id: str, fingerprint: str, at: datetime, actions: Iterator[PlannedAction]
    ) -> int:
        """Store the plan's actions; 0 if staged before."""
        del at  # the memory store keeps no planning time
        with self._unit.atomic():
            if plan_id in self._plans:
                return 0
            self._put(self._plans, plan_id, fingerprint)
            staged = 0
            items: set[str] = set()
            for action in actions:
                if action.item in items:
                    continue
                items.add(action.item)
                staged += 1
                self._put(self._actions, (plan_id, staged), _Staged(action=action))
            return staged

    def plan_fingerprint(self, plan_id: str) -> str | None:
        """The fingerprint the plan was staged with."""
        with self._lock:
            found = self._plans.get(plan_id)
            return found if isinstance(found, str) else None

    def _plan_actions(self, plan_id: str) -> list[tuple[int, _Staged]]:
        return sorted(
            (key[1], staged)
            for key, staged in self._actions.items()
            if isinstance(key, tuple) and key[0] == plan_id and isinstance(staged, _Staged)
        )

    def claim(
        self,
        plan_id: str,
        executor: str,
        at: datetime,
        *,
        limit: int,
        stale_before: datetime,
    ) -> tuple[ClaimedAction, ...]:
        """Claim up to ``limit`` open actions in number order."""
        with self._lock:
            claimed: list[ClaimedAction] = []
            for number, staged in self._plan_actions(plan_id):
                if len(claimed) >= limit:
                    break
                if staged.finished_at is not None:
                    continue
                if staged.claimed_at is not None and staged.claimed_at > stale_before:
                    continue
                self._put(
                    self._actions,
                    (plan_id, number),
                    attrs.evolve(staged, claimed_by=executor, claimed_at=at),
                )
                claimed.append(ClaimedAction(plan_id=plan_id, number=number, action=staged.action))
            return tuple(claimed)

    def finish(
        self,
        plan_id: str,
        number: int,
        outcome: Outcome,
        at: datetime,
        *,
        subject_ref: str | None,
    ) -> bool:
        """Mark an action finished; False if it was before."""
        with self._lock:
            staged = self._actions.get((plan_id, number))
            if not isinstance(staged, _Staged) or staged.finished_at is not None:
                return False
            action = staged.action
            if subject_ref is not None:
                action = attrs.evolve(action, subject=subject_id(subject_ref))
            self._put(
                self._actions,
                (plan_id, number),
                attrs.evolve(staged, action=action, finished_at=at, outcome=outcome),
            )
            return True

    def outcomes(self, plan_id: str) -> dict[tuple[str, str, str], int]:
        """Finished actions per (rule, action, outcome)."""
        with self._lock:
            counts: dict[tuple[str, str, str], int] = {}
            for _, staged in self._plan_actions(plan_id):
                if staged.outcome is not None:
                    key = (staged.action.rule, str(staged.action.action), str(staged.outcome))
                    counts[key] = counts.get(key, 0) + 1
            return counts

    def unfinished(self, plan_id: str) -> int:
        """How many actions are not finished."""
        with self._lock:
            return sum(1 for _, s in self._plan_actions(plan_id) if s.finished_at is None)


class MemoryErasureStore(_Journaled):
    """An :class:`~avgkit.storage.ErasureStore` in Python dicts.

    .. versionadded:: 0.2.0
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        super().__init__(unit)
        self._log: dict[object, object] = {}  # subject_ref -> ErasureEntry
        self._suppressed: dict[object, object] = {}  # pseudonym -> subject_ref
        self._notices: dict[object, object] = {}  # seq -> ErasureNotice
        self._seq = count(1)

    def __repr__(self) -> str:
        return f"MemoryErasureStore(erasures={len(self._log)}, notices={len(self._notices)})"

    def begin(
        self, entry: ErasureEntry, *, suppressions: Sequence[str], recipients: Sequence[str]
    ) -> bool:
        """Log the erasure as begun; False if begun before."""
        with self._unit.atomic():
            if entry.subject_ref in self._log:
                return False
            self._put(self._log, entry.subject_ref, entry)
            for pseudonym in suppressions:
                if pseudonym not in self._suppressed:
                    self._put(self._suppressed, pseudonym, entry.subject_ref)
            for recipient in dict.fromkeys(recipients):
                notice = ErasureNotice(
                    seq=next(self._seq),
                    recipient=recipient,
                    subject_ref=entry.subject_ref,
                    at=entry.started_at,
                )
                self._put(self._notices, notice.seq, notice)
            return True

    def complete(self, subject_ref: str, at: datetime) -> bool:
        """Mark the erasure complete; False if it was."""
        with self._lock:
            entry = self._log.get(subject_ref)
            if not isinstance(entry, ErasureEntry) or entry.complete:
                return False
            self._put(self._log, subject_ref, attrs.evolve(entry, completed_at=at))
            return True

    def get(self, subject_ref: str) -> ErasureEntry | None:
        """The subject's log entry."""
        with self._lock:
            entry = self._log.get(subject_ref)
            return entry if isinstance(entry, ErasureEntry) else None

    def entries(self) -> Iterator[ErasureEntry]:
        """The log by start time."""
        with self._lock:
            found = [e for e in self._log.values() if isinstance(e, ErasureEntry)]
        return iter(sorted(found, key=lambda e: (e.started_at, e.subject_ref)))

    def is_suppressed(self, pseudonym: str) -> bool:
        """Whether ``pseudonym`` belongs to an erased subject."""
        with self._lock:
            return pseudonym in self._suppressed

    def erased_among(self, subject_refs: Sequence[str]) -> frozenset[str]:
        """Those of ``subject_refs`` the log holds."""
        with self._lock:
            return frozenset(ref for ref in subject_refs if ref in self._log)

    def notices(self, *, after: int = 0) -> Iterator[ErasureNotice]:
        """The notices after ``after``."""
        with self._lock:
            found = [n for n in self._notices.values() if isinstance(n, ErasureNotice)]
        return iter(sorted((n for n in found if n.seq > after), key=lambda n: n.seq))

    def count(self) -> int:
        """How many subjects the log holds."""
        with self._lock:
            return len(self._log)
