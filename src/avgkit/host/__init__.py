"""The host's data: the visitors, orders and tickets that live in the ticket system's database.

avgkit never copies them into its own stores. It reaches them through :class:`HostData`, a
protocol the host implements (or, later, declares as a table map): which subjects there are,
of which kind, and when each was last active per activity type; the upcoming event dates of a
subject's tickets (an upcoming visit defers an erasure until after it); a subject's records
for the access export; anonymising and deleting a subject's records; and the subjects whose
data of given categories was held in a period (for a breach).

``avgkit.host.memory.MemoryHostData`` is the reference implementation, and
:class:`avgkit.testing.conformance.HostDataContract` the tests an implementation must pass.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from avgkit.host._values import (
    HostCapabilities,
    HostErasure,
    HostRecord,
    HostSubject,
    SubjectKind,
)
from avgkit.subjects import SubjectId

__all__ = [
    "HostCapabilities",
    "HostData",
    "HostErasure",
    "HostLastActivity",
    "HostRecord",
    "HostSubject",
    "SubjectKind",
]


@runtime_checkable
class HostData(Protocol):
    """What avgkit asks of the host's database. Implementations must stream long answers.

    Errors: an unknown subject is not an error for the reading methods (they answer empty);
    :meth:`anonymise` and :meth:`delete` of a subject the host no longer has do nothing and
    report zero records, so an erasure can be repeated after a crash.

    .. versionadded:: 0.2.0
    """

    @property
    def capabilities(self) -> HostCapabilities:
        """The optional fast paths this implementation offers."""
        ...

    def subjects(self) -> Iterator[HostSubject]:
        """Stream every subject the host holds, with its kind and last activity."""
        ...

    def subject(self, subject: SubjectId) -> HostSubject | None:
        """Return one subject, or ``None`` when the host has no such subject (any more)."""
        ...

    def event_dates(
        self, subject: SubjectId, *, after: datetime | None = None
    ) -> tuple[datetime, ...]:
        """The start times of events the subject holds tickets for, sorted (past ones too).

        With ``after``, only those starting after it: the upcoming visits that defer an
        erasure. The past ones start the period of an event-date rule.
        """
        ...

    def records(self, subject: SubjectId) -> Iterator[HostRecord]:
        """Stream the subject's records: their own, and their part of others' (an attendee)."""
        ...

    def anonymise(self, subject: SubjectId) -> HostErasure:
        """Remove the subject's personal values from all of their records, keeping the records.

        Done in one transaction. Another subject's values in a shared record (the buyer of
        an order the subject attends) stay.
        """
        ...

    def delete(self, subject: SubjectId) -> HostErasure:
        """Delete the subject's records, anonymising those that must be kept (fiscal ones).

        Done in one transaction; the subject is gone from :meth:`subjects` afterwards. A
        record shared with another subject loses only this subject's values.
        """
        ...

    def rectify(self, subject: SubjectId, changes: Mapping[str, Any]) -> int:
        """Correct the subject's own values (inventory field key -> new value), Art. 16.

        In one transaction, in every record holding the subject's value of a field; another
        subject's value in a shared record (the buyer's on an attendee's ticket) stays.
        Returns the records changed. A field the host does not keep is a
        :class:`~avgkit.errors.ValidationError` naming the field, never the value.

        .. versionadded:: 0.2.0
        """
        ...

    def restrict(self, subject: SubjectId, *, restricted: bool) -> None:
        """Mark the subject's processing as restricted (Art. 18), or lift the mark.

        The host's own processing (mailings, exports to partners) must leave a restricted
        subject out; avgkit's ``may_process`` refuses them too. Idempotent.

        .. versionadded:: 0.2.0
        """
        ...

    def subjects_with(
        self, categories: frozenset[str], *, since: datetime, until: datetime
    ) -> Iterator[SubjectId]:
        """Stream, each once, the subjects holding data of ``categories`` (DPV terms) in a period.

        A subject counts when one of its records holding a value of one of the categories
        was made at or before ``until`` (or is undated): the data was held during the period.
        A host that remembers when data was deleted may also leave out what was gone before
        ``since``.
        """
        ...

    def collected_before(
        self, sources: frozenset[str], *, before: datetime
    ) -> Iterator[HostRecord]:
        """Stream the records of ``sources`` (camera footage, support mail) made before ``before``.

        For retention rules on records rather than on subjects (``Trigger.COLLECTION``). Only
        dated records (``HostRecord.at``) count; the records may belong to no subject at all.
        A fiscal record already stripped by :meth:`erase_record` is left out: it holds
        nothing personal any more, so a sweep does not list it again and again.
        """
        ...

    def erase_record(self, source: str, key: str, *, keep: bool = False) -> HostErasure:
        """Delete one record (by its ``source`` and ``key``), or with ``keep`` strip it.

        ``keep`` (or a fiscal record) keeps the record without its personal values. A record
        that is gone already reports zero, so a sweep can be repeated after a crash.
        """
        ...

    def upcoming(
        self, subjects: Sequence[SubjectId], *, after: datetime
    ) -> dict[SubjectId, datetime]:
        """For a batch of subjects, the start of each one's last event after ``after``.

        Subjects without an upcoming event are left out. One query per call: the plan asks
        it for a page of candidates at a time instead of :meth:`event_dates` per subject.
        """
        ...

    def inactive_since(
        self,
        activity_types: frozenset[str],
        *,
        before: datetime,
        kinds: frozenset[SubjectKind] | None = None,
    ) -> Iterator[HostSubject]:
        """Fast path (``capabilities.inactive_since``): subjects with no such activity since.

        Every subject (of ``kinds``, all kinds by default) whose last activity of any of
        ``activity_types`` is before ``before``, or who has none of them at all, with its
        kind and last activity as :meth:`subjects` reports them, in one query.
        Implementations without the capability may raise :class:`NotImplementedError`;
        avgkit then walks :meth:`subjects`.
        """
        ...


@runtime_checkable
class HostLastActivity(Protocol):
    """An optional fast path of a :class:`HostData`: the idle subjects as plain rows.

    A host implementing it says so with ``HostCapabilities(last_active_before=True)``. A
    retention plan over hundreds of thousands of idle accounts needs, of each, only its id,
    its kind and when it was last active; this answers just that, so the host builds no
    :class:`HostSubject` per row (its kind, its instants per activity type, their checks).
    avgkit checks each row as it reads it: an id that :func:`avgkit.subjects.subject_id`
    refuses, a kind that is not a :class:`SubjectKind` or an instant that is not aware stops
    the plan with a :class:`~avgkit.errors.ValidationError`.

    :class:`avgkit.testing.conformance.HostDataContract` holds it to agree with
    :meth:`HostData.subjects`.

    .. versionadded:: 0.2.0
    """

    def last_active_before(
        self,
        activity_types: frozenset[str],
        *,
        before: datetime,
        kinds: frozenset[SubjectKind] | None = None,
    ) -> Iterator[tuple[SubjectId, SubjectKind, datetime]]:
        """Stream ``(id, kind, last)`` for each subject last active before ``before``.

        Every subject (of ``kinds``, all kinds by default) that did one of
        ``activity_types`` and none since ``before``, each once, with ``last`` the latest
        instant of those types: what :meth:`HostData.inactive_since` lists, less the subjects
        who never did any of them (they have nothing to count a period from), as ``(id,
        kind, subject.last_active(activity_types))``. Types the host does not record count
        as never done.
        """
        ...
