"""The PostgreSQL audit store (private; use :func:`avgkit.storage.open_stores`)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from avgkit.audit._chain import AuditEntry
from avgkit.errors import ConflictError
from avgkit.storage._paging import keyset_pages

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from avgkit.storage.postgres._db import Database

COMPONENT = "audit"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE audit_entries (
        seq bigint PRIMARY KEY CHECK (seq >= 1),
        at timestamptz NOT NULL,
        action text NOT NULL,
        actor text NOT NULL,
        subject_ref text,
        details text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL
    );
    CREATE INDEX audit_entries_by_subject ON audit_entries (subject_ref, seq)
        WHERE subject_ref IS NOT NULL;
    CREATE TABLE audit_meta (
        name text PRIMARY KEY,
        value bytea NOT NULL
    );
    -- Append-only: UPDATE, DELETE and TRUNCATE through SQL are refused outright. Someone who
    -- disables the triggers is still caught by the hash chain.
    CREATE FUNCTION avgkit_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$;
    CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
        FOR EACH ROW EXECUTE FUNCTION avgkit_audit_append_only();
    CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
        FOR EACH STATEMENT EXECUTE FUNCTION avgkit_audit_append_only();
    """,
)

_COLUMNS = "seq, at, action, actor, subject_ref, details, prev_hash, hash"
_PAGE = 1000

# Appenders are serialised by an advisory lock taken before the head is read (see append);
# this statement is the second line of defence: the row goes in only if the table's highest
# seq is the entry's predecessor, and the primary key refuses a duplicate seq outright.
_APPEND = f"""
    INSERT INTO audit_entries ({_COLUMNS})
    SELECT %s::bigint, %s::timestamptz, %s::text, %s::text, %s::text, %s::text, %s::text,
           %s::text
    WHERE (SELECT coalesce(max(seq), 0) FROM audit_entries) = %s::bigint
"""  # noqa: S608 - only the fixed column list is interpolated


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, at, action, actor, subject_ref, details, prev_hash, digest = row
    when: datetime = at
    return AuditEntry(
        seq=seq,
        # The pool pins TimeZone to UTC; converting again keeps the hash right even if a
        # server-side setting overrides it, because the hash encodes the UTC wall time.
        at=when.astimezone(UTC),
        action=action,
        actor=actor,
        subject_ref=subject_ref,
        details=json.loads(details),
        prev_hash=prev_hash,
        hash=digest,
    )


class PostgresAuditStore:
    r"""An :class:`~avgkit.storage.AuditStore` in the ``audit_entries`` table of a schema.

    Instants are ``timestamptz`` (microsecond precision, like :class:`~datetime.datetime`).
    Details are stored as the canonical JSON text the hash is computed over, not ``jsonb``:
    ``jsonb`` refuses ``\u0000`` and normalises numbers, and an audit row must come back
    exactly as it was sealed.

    .. versionadded:: 0.1.0
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)

    def __repr__(self) -> str:
        return f"PostgresAuditStore({self._db!r})"

    def head(self) -> AuditEntry | None:
        """Return the newest entry."""
        with self._db.read("reading the audit head") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq DESC LIMIT 1"  # noqa: S608
            ).fetchone()
        return None if row is None else _entry(row)

    def append(self, seal: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        """Seal the head's successor and insert it, serialised by an advisory lock.

        The transaction-level lock is taken before the head is read, so appenders in other
        processes queue behind it instead of racing for the same seq; the guarded INSERT
        and the primary key still refuse an entry that does not extend the head.
        """
        with self._db.write("appending to the audit log") as conn:
            self._db.lock(conn, "audit.append")
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq DESC LIMIT 1"  # noqa: S608
            ).fetchone()
            entry = seal(None if row is None else _entry(row))
            details = json.dumps(dict(entry.details), sort_keys=True, ensure_ascii=False)
            cursor = conn.execute(
                _APPEND,
                (
                    entry.seq,
                    entry.at,
                    entry.action,
                    entry.actor,
                    entry.subject_ref,
                    details,
                    entry.prev_hash,
                    entry.hash,
                    entry.seq - 1,
                ),
            )
            if cursor.rowcount != 1:
                msg = f"audit entry {entry.seq} does not follow the current head"
                raise ConflictError(msg)
        return entry

    def _pages(self, where: str, params: tuple[object, ...], start: int) -> Iterator[AuditEntry]:
        def fetch(after: object) -> list[Any]:
            with self._db.read("reading the audit log") as conn:
                return list(
                    conn.execute(
                        f"SELECT {_COLUMNS} FROM audit_entries WHERE seq > %s {where} "  # noqa: S608
                        "ORDER BY seq LIMIT %s",
                        (after, *params, _PAGE),
                    ).fetchall()
                )

        return keyset_pages(fetch, start - 1, _PAGE, _entry)

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries from ``start`` in sequence order."""
        return self._pages("", (), start)

    def entries_for(self, subject_ref: str) -> Iterator[AuditEntry]:
        """Stream the entries about one subject reference."""
        return self._pages("AND subject_ref = %s", (subject_ref,), 1)

    def count(self) -> int:
        """Return the number of entries."""
        with self._db.read("counting audit entries") as conn:
            row = conn.execute("SELECT count(*) FROM audit_entries").fetchone()
        return 0 if row is None else int(row[0])

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction for every write of this store set on this thread in the block."""
        with self._db.write("recording a change with its audit entry"):
            yield

    def reference_secret(self, create: Callable[[], bytes]) -> bytes:
        """Return the subject-reference secret, creating it once (first writer wins)."""
        candidate = create()
        with self._db.write("storing the subject-reference secret") as conn:
            # A concurrent first caller's INSERT makes this one wait on the key, then do
            # nothing; the SELECT (a fresh READ COMMITTED snapshot) sees the winner's value.
            conn.execute(
                "INSERT INTO audit_meta (name, value) VALUES ('subject_ref_secret', %s) "
                "ON CONFLICT (name) DO NOTHING",
                (candidate,),
            )
            row = conn.execute(
                "SELECT value FROM audit_meta WHERE name = 'subject_ref_secret'"
            ).fetchone()
        assert row is not None  # noqa: S101 - inserted or found in this very transaction
        return bytes(row[0])
