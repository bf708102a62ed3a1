"""The feed store, written once for every SQL dialect (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NoReturn

from avgkit import _validators
from avgkit._validators import replaced
from avgkit.consent._values import check_forget
from avgkit.errors import IntegrityError
from avgkit.feed._values import FeedKind, FeedNotice, check_notices
from avgkit.storage._feed_rules import beyond_newest, check_acknowledged, check_page
from avgkit.storage._sql._codecs import opt_text
from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._dialect import Dialect, decode_text
from avgkit.storage._sql._errors import raise_clean
from avgkit.subjects import SubjectId

__all__ = ["FEED", "SqlFeedStore", "feed_migrations"]

FEED: Final = "feed"
_UNDECODABLE: Final = (ValueError, TypeError, KeyError)
_BATCH: Final = 200


def feed_migrations(d: Dialect) -> tuple[str, ...]:
    """The feed component's scripts in dialect ``d`` (never edited once released)."""
    return (
        f"""
        -- One row per notice per recipient; seq is the feed's order (see SqlFeedStore.append).
        CREATE TABLE feed_notices (
            seq {d.identity},
            recipient TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject_ref TEXT NOT NULL,
            subject TEXT,
            purpose TEXT,
            at {d.instant} NOT NULL,
            fields TEXT
        );
        CREATE INDEX feed_notices_by_recipient ON feed_notices (recipient, seq);
        CREATE INDEX feed_notices_by_subject ON feed_notices (subject)
            WHERE subject IS NOT NULL;
        -- How far each recipient has read.
        CREATE TABLE feed_cursors (
            recipient TEXT PRIMARY KEY,
            seq {d.big_integer} NOT NULL
        );
        """,
    )


def _malformed(what: str) -> NoReturn:
    raise_clean(IntegrityError(f"{what} is malformed: it was changed outside avgkit"))


class SqlFeedStore:
    """A :class:`~avgkit.storage.FeedStore` in the ``feed_*`` tables.

    .. versionadded:: 0.2.0
    """

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._d = db.dialect
        db.migrate(FEED, feed_migrations(db.dialect))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def _values(self, notice: FeedNotice) -> tuple[Any, ...]:
        return (
            notice.recipient,
            notice.kind.value,
            notice.subject_ref,
            notice.subject,
            notice.purpose,
            self._d.instant_in(notice.at),
            ",".join(notice.fields) if notice.fields else None,
        )

    def append(self, notices: Sequence[FeedNotice]) -> tuple[FeedNotice, ...]:
        """Store the batch in one transaction, numbered in commit order."""
        batch = check_notices(notices)
        if not batch:
            return ()
        d = self._d
        columns = ("recipient", "kind", "subject_ref", "subject", "purpose", "at", "fields")
        row_marks = f"({d.params(len(columns))})"
        stored: list[FeedNotice] = []
        write = self._db.write_one if len(batch) <= _BATCH else self._db.write
        with write("appending to the feed") as conn:
            # Numbers are handed out under this lock, held to the commit: a reader never
            # sees a higher number commit before a lower one (and then skip the lower).
            self._db.lock(conn, "feed")
            for start in range(0, len(batch), _BATCH):
                part = batch[start : start + _BATCH]
                rows = conn.execute(
                    f"INSERT INTO feed_notices ({', '.join(columns)}) VALUES "  # noqa: S608 - fixed names and placeholders only
                    + ", ".join([row_marks] * len(part))
                    + " RETURNING seq",
                    [value for notice in part for value in self._values(notice)],
                ).fetchall()
                numbers = sorted(int(row[0]) for row in rows)
                stored += [  # valid notices given their numbers: nothing to check again
                    replaced(notice, seq=seq) for notice, seq in zip(part, numbers, strict=True)
                ]
        return tuple(stored)

    def _notice(self, row: Sequence[Any]) -> FeedNotice:
        try:
            seq, recipient, kind, ref, subject, purpose, at, fields = row
            return FeedNotice(
                seq=int(seq),
                recipient=decode_text(recipient),
                kind=FeedKind(decode_text(kind)),
                subject_ref=decode_text(ref),
                subject=None if subject is None else SubjectId(decode_text(subject)),
                purpose=opt_text(purpose),
                at=self._d.instant_out(at),
                fields=() if fields is None else tuple(decode_text(fields).split(",")),
            )
        except _UNDECODABLE:
            _malformed(f"feed notice {row[0] if isinstance(row[0], int) else '?'}")

    def read(
        self, recipient: str, *, after: int | None = None, limit: int = 500
    ) -> tuple[FeedNotice, ...]:
        """The recipient's notices after ``after`` (default: its cursor), in one query."""
        recipient = _validators.key(recipient, "recipient")
        start, size = check_page(after, limit)
        d = self._d
        p = d.placeholder
        listed = ", ".join(
            ["seq"]
            + [
                d.column(c)
                for c in ("recipient", "kind", "subject_ref", "subject", "purpose", "at", "fields")
            ]
        )
        since = (
            f"{p}"
            if start is not None
            else f"coalesce((SELECT seq FROM feed_cursors WHERE recipient = {p}), 0)"  # noqa: S608
        )
        with self._db.read("reading the feed") as conn:
            rows = conn.execute(
                f"SELECT {listed} FROM feed_notices WHERE recipient = {p} "  # noqa: S608 - fixed names and placeholders only
                f"AND seq > {since} ORDER BY seq LIMIT {p}",
                (recipient, recipient if start is None else start, size),
            ).fetchall()
        return tuple(self._notice(row) for row in rows)

    def acknowledge(self, recipient: str, seq: int) -> int:
        """Move the recipient's cursor forward to ``seq``, in one transaction."""
        recipient = _validators.key(recipient, "recipient")
        seq = check_acknowledged(seq)
        d = self._d
        p = d.placeholder
        with self._db.write("acknowledging feed notices") as conn:
            (newest,) = conn.execute(
                f"SELECT coalesce(max(seq), 0) FROM feed_notices WHERE recipient = {p}",  # noqa: S608 - fixed names and placeholders only
                (recipient,),
            ).fetchone()
            if seq > int(newest):
                raise beyond_newest(recipient, seq, int(newest))
            (cursor,) = conn.execute(
                "INSERT INTO feed_cursors (recipient, seq) "  # noqa: S608 - fixed names and placeholders only
                f"VALUES ({p}, {p}) ON CONFLICT (recipient) DO UPDATE SET "
                f"seq = CASE WHEN feed_cursors.seq < {d.excluded.format('seq')} "
                f"THEN {d.excluded.format('seq')} ELSE feed_cursors.seq END RETURNING seq",
                (recipient, seq),
            ).fetchone()
        return int(cursor)

    def cursor(self, recipient: str) -> int:
        """The recipient's acknowledged cursor (0: never)."""
        recipient = _validators.key(recipient, "recipient")
        with self._db.read("reading a feed cursor") as conn:
            row = conn.execute(
                f"SELECT seq FROM feed_cursors WHERE recipient = {self._d.placeholder}",  # noqa: S608 - fixed names and placeholders only
                (recipient,),
            ).fetchone()
        return 0 if row is None else int(row[0])

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Drop the host's id from the subject's notices, in one ``UPDATE``."""
        raw, _ref = check_forget(subject, reference)
        with self._db.write("dropping an erased subject's id from the feed") as conn:
            changed = conn.execute(
                f"UPDATE feed_notices SET subject = NULL WHERE subject = {self._d.placeholder}",  # noqa: S608 - fixed names and placeholders only
                (raw,),
            ).rowcount
            if changed:
                self._db.scrub()
        return max(changed, 0)

    def count(self) -> int:
        """The number of notices."""
        with self._db.read("counting feed notices") as conn:
            (n,) = conn.execute("SELECT count(*) FROM feed_notices").fetchone()
        return int(n)
