"""The docstore's :class:`~avgkit.storage.FeedStore`: notices per recipient, and cursors."""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs

from avgkit.errors import IntegrityError
from avgkit.feed import FeedKind, FeedNotice
from avgkit.storage.checks import (
    beyond_newest,
    check_acknowledged,
    check_forget,
    check_notices,
    check_page,
    check_recipient,
)
from avgkit.subjects import SubjectId
from avgkit_docstore.codec import (
    from_micros,
    stored_int,
    stored_text,
    stored_text_or_none,
    to_micros,
)
from avgkit_docstore.database import DocStoreDatabase, Row

__all__ = ["DocStoreFeedStore"]


def _notice(row: Row) -> FeedNotice:
    seq, recipient, kind, subject_ref, subject, purpose, at, fields = row
    try:
        return FeedNotice(
            seq=stored_int(seq),
            recipient=stored_text(recipient),
            kind=FeedKind(stored_text(kind)),
            subject_ref=subject_ref,
            subject=subject,
            purpose=stored_text_or_none(purpose),
            at=from_micros(stored_int(at)),
            fields=tuple(json.loads(str(fields))),
        )
    except (ValueError, TypeError) as exc:  # ValidationError is a ValueError
        msg = (
            f"docstore: feed notice {seq} was changed outside avgkit and no longer decodes "
            f"({type(exc).__name__}); restore it from a backup"
        )
        raise IntegrityError(msg) from None


class DocStoreFeedStore:
    """A :class:`~avgkit.storage.FeedStore` in a docstore file.

    Numbers are handed out under SQLite's write lock (every write begins with
    ``BEGIN IMMEDIATE``), so they increase in commit order even across processes: a reader
    that acknowledged ``n`` never finds a lower number committed afterwards.

    Args:
        database: the set's database, shared with its other stores.
    """

    def __init__(self, database: DocStoreDatabase) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"DocStoreFeedStore({self.database!r})"

    def append(self, notices: Sequence[FeedNotice]) -> tuple[FeedNotice, ...]:
        """Store the batch, numbered in order, in one transaction (all or nothing)."""
        batch = check_notices(notices)
        if not batch:
            return ()
        db = self.database
        with db.atomic():
            # The highest number ever handed out, read under the write lock: a number is
            # never reused, even after its notice was rolled back by another writer.
            row = db.one("SELECT seq FROM sqlite_sequence WHERE name = 'notices'")
            last = 0 if row is None else stored_int(row[0])
            stored = tuple(attrs.evolve(n, seq=last + i) for i, n in enumerate(batch, start=1))
            db.executemany(
                "INSERT INTO notices (seq, recipient, kind, subject_ref, subject, purpose, at, "
                "fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        n.seq,
                        n.recipient,
                        n.kind.value,
                        n.subject_ref,
                        n.subject,
                        n.purpose,
                        to_micros(n.at),
                        json.dumps(list(n.fields)),
                    )
                    for n in stored
                ],
            )
        return stored

    def read(
        self, recipient: str, *, after: int | None = None, limit: int = 500
    ) -> tuple[FeedNotice, ...]:
        """Up to ``limit`` of the recipient's notices after ``after`` (default: its cursor)."""
        recipient = check_recipient(recipient)
        start, size = check_page(after, limit)
        rows = self.database.query(
            "SELECT seq, recipient, kind, subject_ref, subject, purpose, at, fields "
            "FROM notices WHERE recipient = ? AND seq > "
            "coalesce(?, (SELECT seq FROM cursors WHERE recipient = ?), 0) "
            "ORDER BY seq LIMIT ?",
            (recipient, start, recipient, size),
        )
        return tuple(_notice(row) for row in rows)

    def acknowledge(self, recipient: str, seq: int) -> int:
        """Move the recipient's cursor forward to ``seq``; return the cursor."""
        recipient = check_recipient(recipient)
        seq = check_acknowledged(seq)
        db = self.database
        with db.atomic():
            row = db.one(
                "SELECT coalesce((SELECT max(seq) FROM notices WHERE recipient = ?), 0), "
                "coalesce((SELECT seq FROM cursors WHERE recipient = ?), 0)",
                (recipient, recipient),
            )
            newest, cursor = (0, 0) if row is None else (stored_int(row[0]), stored_int(row[1]))
            if seq > newest:
                raise beyond_newest(recipient, seq, newest)
            if seq <= cursor:
                return cursor
            db.execute(
                "INSERT INTO cursors (recipient, seq) VALUES (?, ?) "
                "ON CONFLICT (recipient) DO UPDATE SET seq = excluded.seq",
                (recipient, seq),
            )
            return seq

    def cursor(self, recipient: str) -> int:
        """The highest seq the recipient acknowledged (0: never)."""
        recipient = check_recipient(recipient)
        row = self.database.one("SELECT seq FROM cursors WHERE recipient = ?", (recipient,))
        return 0 if row is None else stored_int(row[0])

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Drop the host's id from the subject's notices (one statement); return how many."""
        raw, _reference = check_forget(subject, reference)
        with self.database.atomic():
            return self.database.execute(
                "UPDATE notices SET subject = NULL WHERE subject = ?", (raw,)
            )

    def count(self) -> int:
        """The number of stored notices."""
        row = self.database.one("SELECT count(*) FROM notices")
        return 0 if row is None else stored_int(row[0])
