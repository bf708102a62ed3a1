"""The docstore's :class:`~avgkit.storage.ErasureStore`: the log, suppressions, notices."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Final

from avgkit.erasure import ErasureEntry, ErasureNotice
from avgkit.errors import IntegrityError
from avgkit.storage.checks import check_instant
from avgkit_docstore.codec import from_micros, opt_micros, stored_int, stored_text, to_micros
from avgkit_docstore.database import DocStoreDatabase, Row

__all__ = ["DocStoreErasureStore"]

PAGE: Final = 500
"""How many rows :meth:`DocStoreErasureStore.entries` and ``notices`` read per statement."""

_ENTRY: Final = "SELECT subject_ref, started_at, cause, completed_at FROM erasures"


def _entry(row: Row) -> ErasureEntry:
    ref, started, cause, completed = row
    try:
        return ErasureEntry(
            subject_ref=stored_text(ref),
            started_at=from_micros(stored_int(started)),
            cause=stored_text(cause),
            completed_at=None if completed is None else from_micros(stored_int(completed)),
        )
    except (ValueError, TypeError) as exc:  # ValidationError is a ValueError
        # Everything here is pseudonymous, but the rule stays: name the row, not its values.
        msg = (
            "docstore: an erasure log entry was changed outside avgkit and no longer decodes "
            f"({type(exc).__name__}); restore it from a backup"
        )
        raise IntegrityError(msg) from None


def _notice(row: Row) -> ErasureNotice:
    seq, recipient, ref, at = row
    try:
        return ErasureNotice(
            seq=stored_int(seq),
            recipient=stored_text(recipient),
            subject_ref=stored_text(ref),
            at=from_micros(stored_int(at)),
        )
    except (ValueError, TypeError) as exc:
        msg = (
            f"docstore: erasure notice {seq} was changed outside avgkit and no longer "
            f"decodes ({type(exc).__name__}); restore it from a backup"
        )
        raise IntegrityError(msg) from None


class DocStoreErasureStore:
    """An :class:`~avgkit.storage.ErasureStore` in a docstore file.

    Everything it keeps names subjects by their pseudonymous reference only. Notices are
    numbered by the file (``AUTOINCREMENT``: a number is never handed out twice, even after
    a rollback), under SQLite's write lock, so they increase in commit order.

    Args:
        database: the set's database, shared with its other stores.
    """

    def __init__(self, database: DocStoreDatabase) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"DocStoreErasureStore({self.database!r})"

    def begin(
        self, entry: ErasureEntry, *, suppressions: Sequence[str], recipients: Sequence[str]
    ) -> bool:
        """Log the erasure with its suppressions and one notice per recipient; False if begun."""
        db = self.database
        with db.atomic():
            new = db.execute(
                "INSERT INTO erasures (subject_ref, started_at, cause, completed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    entry.subject_ref,
                    to_micros(entry.started_at),
                    entry.cause,
                    opt_micros(entry.completed_at),
                ),
            )
            if new == 0:
                return False
            db.executemany(
                "INSERT INTO suppressions (pseudonym, subject_ref) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                [(pseudonym, entry.subject_ref) for pseudonym in dict.fromkeys(suppressions)],
            )
            db.executemany(
                "INSERT INTO erasure_notices (recipient, subject_ref, at) VALUES (?, ?, ?)",
                [
                    (recipient, entry.subject_ref, to_micros(entry.started_at))
                    for recipient in dict.fromkeys(recipients)
                ],
            )
            return True

    def complete(self, subject_ref: str, at: datetime) -> bool:
        """Mark the subject's erasure complete; False if it was (or was never begun)."""
        done = to_micros(check_instant(at, "at"))
        with self.database.atomic():
            changed = self.database.execute(
                "UPDATE erasures SET completed_at = ? "
                "WHERE subject_ref = ? AND completed_at IS NULL",
                (done, subject_ref),
            )
        return changed == 1

    def get(self, subject_ref: str) -> ErasureEntry | None:
        """The subject's log entry, if it was ever erased."""
        row = self.database.one(f"{_ENTRY} WHERE subject_ref = ?", (subject_ref,))
        return None if row is None else _entry(row)

    def entries(self) -> Iterator[ErasureEntry]:
        """Stream the log by start time, then reference, a page at a time."""
        position: tuple[int, str] = (-(2**63), "")
        while True:
            rows = self.database.query(
                f"{_ENTRY} WHERE (started_at, subject_ref) > (?, ?) "
                "ORDER BY started_at, subject_ref LIMIT ?",
                (*position, PAGE),
            )
            for row in rows:
                yield _entry(row)
            if len(rows) < PAGE:
                return
            last = rows[-1]
            position = (stored_int(last[1]), stored_text(last[0]))

    def is_suppressed(self, pseudonym: str) -> bool:
        """Whether ``pseudonym`` (of an e-mail address) belongs to an erased subject."""
        row = self.database.one("SELECT 1 FROM suppressions WHERE pseudonym = ?", (pseudonym,))
        return row is not None

    def erased_among(self, subject_refs: Sequence[str]) -> frozenset[str]:
        """Those of ``subject_refs`` the log holds, in one query."""
        wanted = sorted(set(subject_refs))
        if not wanted:
            return frozenset()
        rows = self.database.query(
            "SELECT subject_ref FROM erasures WHERE subject_ref IN "
            "(SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        )
        return frozenset(str(ref) for (ref,) in rows)

    def notices(self, *, after: int = 0) -> Iterator[ErasureNotice]:
        """Stream the erasure notices with ``seq`` above ``after``, a page at a time."""
        cursor = after
        while True:
            rows = self.database.query(
                "SELECT seq, recipient, subject_ref, at FROM erasure_notices "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (cursor, PAGE),
            )
            for row in rows:
                yield _notice(row)
            if len(rows) < PAGE:
                return
            cursor = stored_int(rows[-1][0])

    def count(self) -> int:
        """How many subjects the log holds."""
        row = self.database.one("SELECT count(*) FROM erasures")
        return 0 if row is None else stored_int(row[0])
