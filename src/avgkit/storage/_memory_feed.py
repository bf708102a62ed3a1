"""The memory adapter's feed store (private).

Import it from :mod:`avgkit.storage.memory`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import attrs

from avgkit import _validators
from avgkit.consent._values import check_forget
from avgkit.feed._values import FeedNotice, check_notices
from avgkit.storage._feed_rules import beyond_newest, check_acknowledged, check_page
from avgkit.storage._memory_unit import MemoryUnitOfWork
from avgkit.subjects import SubjectId

__all__ = ["MemoryFeedStore"]


class MemoryFeedStore:
    """A :class:`~avgkit.storage.FeedStore` in Python lists, one per recipient.

    Args:
        unit: the unit of work shared with the other stores of the set (a new one if
            omitted).

    .. versionadded:: 0.2.0
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        self._unit = MemoryUnitOfWork() if unit is None else unit
        self._lock = self._unit.lock()
        self._by_recipient: dict[str, list[FeedNotice]] = {}  # seq order
        self._numbers: dict[str, list[int]] = {}  # the same notices' seqs, for bisect
        self._cursors: dict[str, int] = {}
        self._last = 0
        self._count = 0

    def __repr__(self) -> str:
        return f"MemoryFeedStore(notices={self._count})"

    def append(self, notices: Sequence[FeedNotice]) -> tuple[FeedNotice, ...]:
        """Store the batch, numbered in order; all of it or (on a bad item) none."""
        batch = check_notices(notices)
        stored: list[FeedNotice] = []
        with self._unit.atomic():
            for notice in batch:
                self._last += 1
                numbered = attrs.evolve(notice, seq=self._last)
                self._add(numbered)
                stored.append(numbered)
        return tuple(stored)

    def _add(self, notice: FeedNotice) -> None:
        mine = self._by_recipient.setdefault(notice.recipient, [])
        seqs = self._numbers.setdefault(notice.recipient, [])
        mine.append(notice)
        seqs.append(notice.seq)
        self._count += 1
        self._unit.changed(lambda: self._remove_last(notice.recipient))

    def _remove_last(self, recipient: str) -> None:
        # Undone newest first: the notice to remove is its recipient's last, and the
        # store's numbering steps back with it (SQL sequences may leave a gap instead).
        self._by_recipient[recipient].pop()
        self._numbers[recipient].pop()
        self._count -= 1
        self._last -= 1

    def read(
        self, recipient: str, *, after: int | None = None, limit: int = 500
    ) -> tuple[FeedNotice, ...]:
        """The recipient's notices after ``after`` (default: its cursor), in seq order."""
        recipient = _validators.key(recipient, "recipient")
        start, limit = check_page(after, limit)
        with self._lock:
            if start is None:
                start = self._cursors.get(recipient, 0)
            mine = self._by_recipient.get(recipient, [])
            first = bisect.bisect_right(self._numbers.get(recipient, []), start)
            return tuple(mine[first : first + limit])

    def acknowledge(self, recipient: str, seq: int) -> int:
        """Move the recipient's cursor forward to ``seq``; return the cursor."""
        recipient = _validators.key(recipient, "recipient")
        seq = check_acknowledged(seq)
        with self._lock:
            seqs = self._numbers.get(recipient, [])
            newest = seqs[-1] if seqs else 0
            if seq > newest:
                raise beyond_newest(recipient, seq, newest)
            cursor = self._cursors.get(recipient, 0)
            if seq <= cursor:
                return cursor
            self._cursors[recipient] = seq
            if cursor:
                self._unit.changed(lambda: self._cursors.__setitem__(recipient, cursor))
            else:
                self._unit.changed(lambda: self._cursors.pop(recipient))
            return seq

    def cursor(self, recipient: str) -> int:
        """The recipient's acknowledged cursor (0: never)."""
        recipient = _validators.key(recipient, "recipient")
        with self._lock:
            return self._cursors.get(recipient, 0)

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Drop the host's id from the subject's notices; return how many changed."""
        raw, _ref = check_forget(subject, reference)
        changed = 0
        with self._unit.atomic():
            for mine in self._by_recipient.values():
                for index, notice in enumerate(mine):
                    if notice.subject == raw:
                        self._replace(mine, index, attrs.evolve(notice, subject=None))
                        changed += 1
        return changed

    def _replace(self, mine: list[FeedNotice], index: int, notice: FeedNotice) -> None:
        before = mine[index]
        mine[index] = notice
        self._unit.changed(lambda: mine.__setitem__(index, before))

    def count(self) -> int:
        """The number of notices."""
        with self._lock:
            return self._count
