"""The SQLite audit store (private; use :func:`avgkit.storage.open_stores`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from avgkit.audit._chain import AuditEntry
from avgkit.errors import ConflictError
from avgkit.storage._paging import keyset_pages
from avgkit.storage.sqlite._db import text_to_time, time_to_text

if TYPE_CHECKING:
    from avgkit.storage.sqlite._db import Database

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE audit_entries (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        subject_ref TEXT,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_entries_by_subject ON audit_entries (subject_ref, seq)
        WHERE subject_ref IS NOT NULL;
    CREATE TABLE audit_meta (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    -- Append-only: an UPDATE or DELETE through SQL is refused outright. Tampering by someone
    -- who drops these triggers is still caught by the hash chain.
    CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only');
    END;
    CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only');
    END;
    """,
)

_COLUMNS = "seq, at, action, actor, subject_ref, details, prev_hash, hash"
_PAGE = 500


def _entry(row: tuple[int, str, str, str, str | None, str, str, str]) -> AuditEntry:
    seq, at, action, actor, subject_ref, details, prev_hash, digest = row
    return AuditEntry(
        seq=seq,
        at=text_to_time(at),
        action=action,
        actor=actor,
        subject_ref=subject_ref,
        details=json.loads(details),
        prev_hash=prev_hash,
        hash=digest,
    )


class SqliteAuditStore:
    """An :class:`~avgkit.storage.AuditStore` in the ``audit_entries`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("audit", MIGRATIONS)

    def __repr__(self) -> str:
        return f"SqliteAuditStore({self._db!r})"

    def head(self) -> AuditEntry | None:
        """Return the newest entry."""
        with self._db.read("reading the audit head") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq DESC LIMIT 1"  # noqa: S608
            ).fetchone()
        return None if row is None else _entry(row)

    def append(self, seal: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        """Seal the head's successor and insert it in one immediate transaction.

        ``BEGIN IMMEDIATE`` takes the file's write lock before the head is read, so
        appenders in other processes wait (busy timeout) instead of racing for the same seq.
        """
        with self._db.write("appending to the audit log") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq DESC LIMIT 1"  # noqa: S608
            ).fetchone()
            top = 0 if row is None else row[0]
            entry = seal(None if row is None else _entry(row))
            if entry.seq != top + 1:
                msg = f"audit entry {entry.seq} does not follow the head {top}"
                raise ConflictError(msg)
            details = json.dumps(dict(entry.details), sort_keys=True, ensure_ascii=False)
            conn.execute(
                f"INSERT INTO audit_entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    entry.seq,
                    time_to_text(entry.at),
                    entry.action,
                    entry.actor,
                    entry.subject_ref,
                    details,
                    entry.prev_hash,
                    entry.hash,
                ),
            )
        return entry

    def _pages(self, where: str, params: tuple[object, ...], start: int) -> Iterator[AuditEntry]:
        def fetch(after: object) -> list[Any]:
            with self._db.read("reading the audit log") as conn:
                return list(
                    conn.execute(
                        f"SELECT {_COLUMNS} FROM audit_entries WHERE seq > ? {where} "  # noqa: S608
                        "ORDER BY seq LIMIT ?",
                        (after, *params, _PAGE),
                    ).fetchall()
                )

        return keyset_pages(fetch, start - 1, _PAGE, _entry)

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries from ``start`` in sequence order."""
        return self._pages("", (), start)

    def entries_for(self, subject_ref: str) -> Iterator[AuditEntry]:
        """Stream the entries about one subject reference."""
        return self._pages("AND subject_ref = ?", (subject_ref,), 1)

    def count(self) -> int:
        """Return the number of entries."""
        with self._db.read("counting audit entries") as conn:
            (n,) = conn.execute("SELECT count(*) FROM audit_entries").fetchone()
        return int(n)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction for every write of this store set on this thread in the block."""
        with self._db.write("recording a change with its audit entry"):
            yield

    def reference_secret(self, create: Callable[[], bytes]) -> bytes:
        """Return the subject-reference secret, creating it once (first writer wins)."""
        candidate = create()
        with self._db.write("storing the subject-reference secret") as conn:
            conn.execute(
                "INSERT INTO audit_meta (name, value) VALUES ('subject_ref_secret', ?) "
                "ON CONFLICT (name) DO NOTHING",
                (candidate,),
            )
            (value,) = conn.execute(
                "SELECT value FROM audit_meta WHERE name = 'subject_ref_secret'"
            ).fetchone()
        return bytes(value)
