"""``kit.feed``: the outbox a recipient (a CRM, a mailing tool) reads to follow the venue.

Notices are written in the same unit of work as the change they report (a consent given or
withdrawn, an objection, an erasure, a restriction, a rectification), so a rolled-back change
leaves no notice. A recipient reads from its cursor, processes, and acknowledges; what it
has not acknowledged it gets again (at least once). The notices can be handed over as a
JSON Lines file, sealed with a passphrase.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from avgkit.feed._values import FeedNotice
from avgkit.pseudonym import SealCost, seal_stream

if TYPE_CHECKING:
    from avgkit.audit import AuditLog
    from avgkit.inventory import Inventory
    from avgkit.storage import FeedStore

__all__ = ["FEED_FORMAT", "Feed", "notice_to_json"]

FEED_FORMAT: Final = "avgkit.feed/1"
"""The ``format`` of each JSON Lines record; a new major number is a breaking change."""

_PAGE: Final = 500


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def notice_to_json(notice: FeedNotice) -> dict[str, object]:
    """One notice as a JSON-ready mapping (what a line of the export holds).

    ``subject`` is the host's id while the subject exists (so the recipient can find its
    copy) and ``null`` after the erasure; ``subject_ref`` is always there.

    .. versionadded:: 0.2.0
    """
    return {
        "format": FEED_FORMAT,
        "seq": notice.seq,
        "recipient": notice.recipient,
        "kind": notice.kind.value,
        "subject_ref": notice.subject_ref,
        "subject": None if notice.subject is None else str(notice.subject),
        "purpose": notice.purpose,
        "fields": list(notice.fields),
        "at": _instant(notice.at),
    }


class Feed:
    """``kit.feed``: read, acknowledge and export each recipient's notices.

    Args:
        store: the feed store.
        inventory: the declared recipients (a notice goes to the recipients of the purpose
            it concerns; an erasure, a restriction and a rectification to all of them).
        audit: the audit log (acknowledgements and exports are audited).

    .. versionadded:: 0.2.0
    """

    def __init__(self, store: FeedStore, inventory: Inventory, audit: AuditLog) -> None:
        self._store = store
        self._inventory = inventory
        self._audit = audit

    def __repr__(self) -> str:
        return f"Feed(store={self._store!r})"

    def _recipient(self, recipient: str) -> str:
        return self._inventory.recipient(recipient).key

    def read(
        self, recipient: str, *, after: int | None = None, limit: int = _PAGE
    ) -> tuple[FeedNotice, ...]:
        """The recipient's next notices after ``after`` (default: its acknowledged cursor).

        Raises:
            PolicyError: ``recipient`` is not declared in the inventory.
        """
        return self._store.read(self._recipient(recipient), after=after, limit=limit)

    def pending(self, recipient: str) -> Iterator[FeedNotice]:
        """Stream every notice the recipient has not acknowledged, in order, a page at a time."""
        key = self._recipient(recipient)  # checked now, not at the first next()
        return self._pages(key, self._store.cursor(key))

    def _pages(self, key: str, after: int) -> Iterator[FeedNotice]:
        while page := self._store.read(key, after=after, limit=_PAGE):
            yield from page
            after = page[-1].seq

    def acknowledge(self, recipient: str, seq: int) -> int:
        """Record that the recipient processed its notices up to ``seq``; returns the cursor.

        Raises:
            PolicyError: ``recipient`` is not declared.
            ValidationError: ``seq`` lies beyond the recipient's newest notice.
        """
        key = self._recipient(recipient)
        with self._audit.atomic():
            before = self._store.cursor(key)
            cursor = self._store.acknowledge(key, seq)
            if cursor != before:
                self._audit.record(
                    "feed.acknowledged", details={"recipient": key, "cursor": cursor}
                )
        return cursor

    def cursor(self, recipient: str) -> int:
        """How far the recipient has acknowledged (0 when never)."""
        return self._store.cursor(self._recipient(recipient))

    def export_lines(self, recipient: str, *, after: int | None = None) -> Iterator[bytes]:
        """Stream the recipient's notices after ``after`` (its cursor) as JSON Lines.

        Memory stays flat: notices are read a page at a time. Reading does not move the
        cursor; the recipient acknowledges what it processed.
        """
        key = self._recipient(recipient)
        start = self._store.cursor(key) if after is None else after
        return (
            json.dumps(notice_to_json(notice), ensure_ascii=False, sort_keys=True).encode() + b"\n"
            for notice in self._pages(key, start)
        )

    def export_sealed(
        self,
        recipient: str,
        passphrase: str,
        *,
        after: int | None = None,
        cost: SealCost | None = None,
    ) -> Iterator[bytes]:
        """The JSON Lines export sealed with ``passphrase``, streamed (see ``seal_stream``).

        Open it with :func:`avgkit.pseudonym.open_bytes` (or ``open_stream``). The export is
        audited, with the recipient and nothing of the content.

        Raises:
            ValidationError: the passphrase is too short.
        """
        key = self._recipient(recipient)
        self._audit.record("feed.exported", details={"recipient": key, "sealed": True})
        return seal_stream(self.export_lines(key, after=after), passphrase, cost=cost)
