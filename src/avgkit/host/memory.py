"""``MemoryHostData``: the reference :class:`~avgkit.host.HostData`, in Python objects.

For tests and examples: a host with subjects, their records and the tickets they hold, where
one record may name several people (the buyer of an order and the attendee on its ticket).
Field keys are the inventory's, so :meth:`MemoryHostData.subjects_with` finds data by its
DPV category.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from avgkit import _validators
from avgkit.errors import NotFound, ValidationError
from avgkit.host._values import (
    HostCapabilities,
    HostErasure,
    HostRecord,
    HostSubject,
    SubjectKind,
)
from avgkit.inventory import Inventory
from avgkit.subjects import SubjectId, subject_id

__all__ = ["MemoryHostData"]


@attrs.define
class _Stored:
    """A record and, per field, whose value it is."""

    record: HostRecord
    owners: dict[str, SubjectId]  # field key -> the subject the value belongs to


class MemoryHostData:
    """A host's data in memory: subjects, their records, their tickets.

    Args:
        inventory: the declared fields, so that values are found by their category.

    .. versionadded:: 0.2.0
    """

    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._lock = threading.RLock()
        self._subjects: dict[SubjectId, HostSubject] = {}
        self._records: list[_Stored] = []
        self._events: dict[SubjectId, list[datetime]] = {}
        self._restricted: set[SubjectId] = set()

    def __repr__(self) -> str:
        return f"MemoryHostData(subjects={len(self._subjects)}, records={len(self._records)})"

    @property
    def capabilities(self) -> HostCapabilities:
        """The memory host answers every fast path."""
        return HostCapabilities(inactive_since=True, last_active_before=True)

    # ------------------------------------------------------------------ filling it

    def add_subject(self, subject: HostSubject) -> None:
        """Add (or replace) a subject."""
        if not isinstance(subject, HostSubject):
            msg = f"add_subject takes a HostSubject, got {type(subject).__name__}"
            raise ValidationError(msg)
        with self._lock:
            self._subjects[subject.id] = subject

    def add_record(
        self,
        owner: SubjectId | str,
        record: HostRecord,
        *,
        others: Mapping[str, SubjectId | str] | None = None,
    ) -> None:
        """Add a record of ``owner``; ``others`` names fields whose value is another person's.

        A ticket on a buyer's order, sent to the buyer's e-mail, naming the attendee:
        ``add_record(buyer, ticket, others={"name": attendee})``.

        Raises:
            NotFound: ``owner`` or a subject in ``others`` was never added.
            PolicyError: a field of the record is not declared in the inventory.
        """
        sid = self._known(owner)
        for key in record.values:
            self._inventory.field(key)  # PolicyError naming an undeclared field
        owners = dict.fromkeys(record.values, sid)
        for key, other in (others or {}).items():
            if key not in record.values:
                msg = f"field {key!r} of others= is not a field of the record"
                raise ValidationError(msg)
            owners[key] = self._known(other)
        with self._lock:
            self._records.append(_Stored(record=record, owners=owners))

    def add_event(self, subject: SubjectId | str, starts_at: datetime) -> None:
        """Record that ``subject`` holds a ticket for an event starting at ``starts_at``."""
        sid = self._known(subject)
        when = _validators.aware(starts_at, "starts_at")
        with self._lock:
            self._events.setdefault(sid, []).append(when)

    def _known(self, subject: SubjectId | str) -> SubjectId:
        sid = subject_id(subject)
        if sid not in self._subjects:
            msg = "the subject was never added to this host; add_subject() it first"
            raise NotFound(msg)
        return sid

    # ------------------------------------------------------------------ HostData

    def subjects(self) -> Iterator[HostSubject]:
        """Every subject, in the order added."""
        with self._lock:
            return iter(list(self._subjects.values()))

    def subject(self, subject: SubjectId) -> HostSubject | None:
        """One subject, or ``None``."""
        with self._lock:
            return self._subjects.get(subject_id(subject))

    def event_dates(
        self, subject: SubjectId, *, after: datetime | None = None
    ) -> tuple[datetime, ...]:
        """The subject's event start times (after ``after``, if given), sorted."""
        when = None if after is None else _validators.aware(after, "after")
        with self._lock:
            dates = self._events.get(subject_id(subject), ())
            return tuple(sorted(t for t in dates if when is None or t > when))

    def records(self, subject: SubjectId) -> Iterator[HostRecord]:
        """The subject's own records, and their part of records shared with others."""
        sid = subject_id(subject)
        with self._lock:
            found = [
                attrs.evolve(stored.record, values=self._part(stored, sid))
                for stored in self._records
                if sid in stored.owners.values()
            ]
        return iter(found)

    @staticmethod
    def _part(stored: _Stored, sid: SubjectId) -> dict[str, Any]:
        return {k: v for k, v in stored.record.values.items() if stored.owners.get(k) == sid}

    def anonymise(self, subject: SubjectId) -> HostErasure:
        """Drop the subject's values from every record; keep the records."""
        sid = subject_id(subject)
        with self._lock:
            count = 0
            for stored in self._records:
                if self._strip(stored, sid):
                    count += 1
            return HostErasure(anonymised=count)

    def delete(self, subject: SubjectId) -> HostErasure:
        """Delete the subject's own records (fiscal ones anonymised) and the subject."""
        sid = subject_id(subject)
        with self._lock:
            anonymised = deleted = 0
            kept: list[_Stored] = []
            for stored in self._records:
                owns_record = all(owner == sid for owner in stored.owners.values())
                if owns_record and stored.owners and not stored.record.fiscal:
                    deleted += 1
                    continue
                if self._strip(stored, sid):
                    anonymised += 1
                kept.append(stored)
            self._records = kept
            self._subjects.pop(sid, None)
            self._events.pop(sid, None)
            self._restricted.discard(sid)
            return HostErasure(anonymised=anonymised, deleted=deleted)

    def rectify(self, subject: SubjectId, changes: Mapping[str, Any]) -> int:
        """Replace the subject's own values of ``changes``' fields in every record holding them.

        Raises:
            PolicyError: a field is not declared in the inventory.
        """
        sid = subject_id(subject)
        for key in changes:
            self._inventory.field(key)
        with self._lock:
            changed = 0
            for stored in self._records:
                mine = {k: v for k, v in changes.items() if stored.owners.get(k) == sid}
                if mine:
                    values = {**stored.record.values, **mine}
                    stored.record = attrs.evolve(stored.record, values=values)
                    changed += 1
            return changed

    def restrict(self, subject: SubjectId, *, restricted: bool) -> None:
        """Mark the subject's processing as restricted (Art. 18), or not any more."""
        sid = subject_id(subject)
        with self._lock:
            if restricted:
                self._restricted.add(sid)
            else:
                self._restricted.discard(sid)

    def restricted(self, subject: SubjectId | str) -> bool:
        """Whether :meth:`restrict` marked the subject (what a host's mailings would check)."""
        return subject_id(subject) in self._restricted

    @staticmethod
    def _strip(stored: _Stored, sid: SubjectId) -> bool:
        mine = [k for k, owner in stored.owners.items() if owner == sid]
        if not mine:
            return False
        values = {k: v for k, v in stored.record.values.items() if k not in mine}
        stored.record = attrs.evolve(stored.record, values=values)
        stored.owners = {k: o for k, o in stored.owners.items() if k not in mine}
        return True

    def subjects_with(
        self, categories: frozenset[str], *, since: datetime, until: datetime
    ) -> Iterator[SubjectId]:
        """Subjects holding a value of one of ``categories`` in a record made by ``until``."""
        _validators.aware(since, "since")
        end = _validators.aware(until, "until")
        wanted = frozenset(categories)
        with self._lock:
            seen: dict[SubjectId, None] = {}
            for stored in self._records:
                if stored.record.at is not None and stored.record.at > end:
                    continue
                for key, owner in stored.owners.items():
                    if self._inventory.field(key).category in wanted:
                        seen.setdefault(owner)
        return iter(list(seen))

    def collected_before(
        self, sources: frozenset[str], *, before: datetime
    ) -> Iterator[HostRecord]:
        """The dated records of ``sources`` made before ``before`` (stripped ones left out)."""
        when = _validators.aware(before, "before")
        wanted = frozenset(sources)
        with self._lock:
            found = [
                stored.record
                for stored in self._records
                if stored.record.source in wanted
                and stored.record.at is not None
                and stored.record.at < when
                and not (stored.record.fiscal and not stored.record.values)
            ]
        return iter(found)

    def erase_record(self, source: str, key: str, *, keep: bool = False) -> HostErasure:
        """Delete the record ``key`` of ``source``, or strip its values (``keep``, fiscal)."""
        with self._lock:
            for index, stored in enumerate(self._records):
                if stored.record.source != source or stored.record.key != key:
                    continue
                if keep or stored.record.fiscal:
                    if not stored.record.values:
                        return HostErasure()
                    stored.record = attrs.evolve(stored.record, values={})
                    stored.owners = {}
                    return HostErasure(anonymised=1)
                del self._records[index]
                return HostErasure(deleted=1)
        return HostErasure()

    def upcoming(
        self, subjects: Sequence[SubjectId], *, after: datetime
    ) -> dict[SubjectId, datetime]:
        """The last event after ``after`` of each of ``subjects`` that has one."""
        when = _validators.aware(after, "after")
        found: dict[SubjectId, datetime] = {}
        with self._lock:
            for sid in subjects:
                later = [t for t in self._events.get(sid, ()) if t > when]
                if later:
                    found[sid] = max(later)
        return found

    def inactive_since(
        self,
        activity_types: frozenset[str],
        *,
        before: datetime,
        kinds: frozenset[SubjectKind] | None = None,
    ) -> Iterator[HostSubject]:
        """Subjects (of ``kinds``) with no activity of ``activity_types`` since ``before``."""
        when = _validators.aware(before, "before")
        types = frozenset(activity_types)
        with self._lock:
            found = [
                s
                for s in self._subjects.values()
                if (kinds is None or s.kind in kinds)
                and ((last := s.last_active(types)) is None or last < when)
            ]
        return iter(found)

    def last_active_before(
        self,
        activity_types: frozenset[str],
        *,
        before: datetime,
        kinds: frozenset[SubjectKind] | None = None,
    ) -> Iterator[tuple[SubjectId, SubjectKind, datetime]]:
        """``(id, kind, last)`` of the subjects (of ``kinds``) last active before ``before``."""
        when = _validators.aware(before, "before")
        types = frozenset(activity_types)
        with self._lock:
            found = [
                (s.id, s.kind, last)
                for s in self._subjects.values()
                if (kinds is None or s.kind in kinds)
                and (last := s.last_active(types)) is not None
                and last < when
            ]
        return iter(found)
