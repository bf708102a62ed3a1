"""The audit store, written once for every SQL dialect (private)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from itertools import islice
from typing import Any, Final

from avgkit._validators import utc_text
from avgkit.audit._chain import AuditAnchor, AuditEntry, ChainRow
from avgkit.errors import ConflictError, IntegrityError, StorageError
from avgkit.storage._paging import keyset_pages
from avgkit.storage._sql import _bindings
from avgkit.storage._sql._codecs import AUDIT_COLUMNS, audit_entry, audit_values, select_list
from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._dialect import Dialect, decode_text
from avgkit.storage._sql._errors import raise_clean

__all__ = ["COMPONENT", "SqlAuditStore", "migrations"]

COMPONENT = "audit"
# The instant as the canonical text the chain hashes, selected by the database itself.
_AT_TEXT: Final = {
    "sqlite": "at",  # stored in that form
    "postgresql": """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
}


def migrations(d: Dialect) -> tuple[str, ...]:
    """The audit component's scripts in dialect ``d`` (never edited once released)."""
    return (
        f"""
        CREATE TABLE audit_entries (
            seq {d.big_integer} PRIMARY KEY CHECK (seq >= 1),
            at {d.instant} NOT NULL,
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
            value {d.blob} NOT NULL
        );
        -- Append-only: changing or removing entries through SQL is refused outright. Someone
        -- who drops or disables the triggers is still caught by the hash chain.
        {d.append_only(COMPONENT, "audit_entries", "audit entries are append-only")}
        """,
    )


def _anchor_of(row: Sequence[Any]) -> AuditAnchor:
    # The head a new entry links to. A hash edited into something that is not one is
    # tampering, reported as such (verify() names the entry; nothing is appended to it).
    seq, digest = row
    try:
        return AuditAnchor(seq=seq, hash=decode_text(digest))
    except (ValueError, TypeError):
        where = seq if isinstance(seq, int) else "?"
        msg = f"audit chain broken at entry {where}: its stored hash is malformed"
        raise_clean(IntegrityError(msg))


def _row(entry: AuditEntry) -> ChainRow:
    details = json.dumps(dict(entry.details), sort_keys=True, ensure_ascii=False)
    return (
        entry.seq,
        utc_text(entry.at),
        entry.action,
        entry.actor,
        entry.subject_ref,
        details,
        entry.prev_hash,
        entry.hash,
    )


class SqlAuditStore:
    """An :class:`~avgkit.storage.AuditStore` in the ``audit_entries`` table.

    Instants use the dialect's instant type (microseconds, UTC). Details are stored as the
    canonical JSON text the hash is computed over, so a row comes back exactly as sealed.
    Also :class:`~avgkit.storage.Transactional`: :meth:`atomic` is the database's unit of
    work.

    .. versionadded:: 0.1.0
    """

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        d = self._dialect = db.dialect
        db.migrate(COMPONENT, migrations(d))
        _bindings.ensure(db)  # the bound stores of the set record their bindings there
        columns = ", ".join(AUDIT_COLUMNS)
        self._select = f"SELECT {select_list(d, AUDIT_COLUMNS)} FROM audit_entries"  # noqa: S608
        self._head_sql = (  # the head as its anchor: all a seal reads
            f"SELECT seq, {d.column('hash')} FROM audit_entries ORDER BY seq DESC LIMIT 1"  # noqa: S608
        )
        # Appenders are serialised (the dialect's lock, or the write transaction itself);
        # this statement is the second line of defence: the row goes in only if the
        # table's highest seq is the entry's predecessor, and the primary key refuses a
        # duplicate seq outright.
        typed = (d.big_integer, d.instant, *["TEXT"] * 6)
        self._append = (
            f"INSERT INTO audit_entries ({columns}) "  # noqa: S608 - fixed names only
            f"SELECT {', '.join(d.typed(t) for t in typed)} "
            f"WHERE (SELECT coalesce(max(seq), 0) FROM audit_entries) = {d.typed(d.big_integer)}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def head(self) -> AuditEntry | None:
        """Return the newest entry."""
        with self._db.read("reading the audit head") as conn:
            row = conn.execute(f"{self._select} ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else audit_entry(row, self._dialect)

    def append(self, seal: Callable[[AuditEntry | AuditAnchor | None], AuditEntry]) -> AuditEntry:
        """Seal the head's successor and insert it, serialised against other appenders.

        The write lock is taken before the head is read, so appenders in other processes
        queue behind it instead of racing for the same seq; the guarded INSERT and the
        primary key still refuse an entry that does not extend the head. The head is read
        as its anchor (seq and hash: all a seal builds on), not decoded whole.

        .. versionchanged:: 0.2.0
           ``seal`` is given the head's :class:`~avgkit.audit.AuditAnchor`.
        """
        with self._db.write_one("appending to the audit log") as conn:
            self._db.lock(conn, "audit.append")
            row = conn.execute(self._head_sql).fetchone()
            entry = seal(None if row is None else _anchor_of(row))
            values = (*audit_values(entry, self._dialect), entry.seq - 1)
            if conn.execute(self._append, values).rowcount != 1:
                msg = f"audit entry {entry.seq} does not follow the current head"
                raise ConflictError(msg)
        return entry

    def _pages(self, where: str, params: tuple[object, ...], start: int) -> Iterator[AuditEntry]:
        p = self._dialect.placeholder
        page = self._dialect.page_size
        query = f"{self._select} WHERE seq > {p} {where} ORDER BY seq LIMIT {p}"

        def fetch(after: object) -> list[Any]:
            with self._db.read("reading the audit log") as conn:
                return list(conn.execute(query, (after, *params, page)).fetchall())

        return keyset_pages(fetch, start - 1, page, lambda row: audit_entry(row, self._dialect))

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries from ``start`` in sequence order (keyset pages, short reads)."""
        return self._pages("", (), start)

    def chain_rows(self) -> Iterator[ChainRow]:
        """Every entry as stored (plain text columns), for the verifier, in keyset pages.

        A page holding text that no longer decodes is read again entry by entry, so the
        entry that is malformed is the one reported.

        .. versionadded:: 0.2.0
        """
        d = self._dialect
        at = _AT_TEXT.get(d.name)
        if at is None:  # a dialect without the text form: rows from decoded entries
            yield from map(_row, self.entries())
            return
        p = d.placeholder
        query = (
            f"SELECT seq, {at}, action, actor, subject_ref, details, prev_hash, hash "  # noqa: S608 - fixed names only
            f"FROM audit_entries WHERE seq > {p} ORDER BY seq LIMIT {p}"
        )
        page_size = d.page_size
        after = 0
        while True:
            try:
                with self._db.read("verifying the audit log") as conn:
                    page = list(conn.execute(query, (after, page_size)).fetchall())
            except StorageError:
                # One entry at a time: the rows before the broken one are still checked
                # (a chain broken earlier is reported there), then decoding names it.
                page = []
                for entry in islice(self.entries(start=after + 1), page_size):
                    page.append(_row(entry))
                    yield page[-1]
            else:
                yield from page
            if len(page) < page_size:
                return
            after = page[-1][0]

    def chain_entry(self, seq: int) -> AuditEntry:
        """The entry ``seq`` read and fully decoded (the verifier's check of a row).

        Raises:
            IntegrityError: the row is malformed or gone.

        .. versionadded:: 0.2.0
        """
        with self._db.read("reading an audit entry") as conn:
            row = conn.execute(
                f"{self._select} WHERE seq = {self._dialect.placeholder}", (seq,)
            ).fetchone()
        if row is None:
            msg = f"audit chain broken at entry {seq}: it was removed while being verified"
            raise IntegrityError(msg)
        return audit_entry(row, self._dialect)

    def entries_for(self, subject_ref: str) -> Iterator[AuditEntry]:
        """Stream the entries about one subject reference."""
        return self._pages(f"AND subject_ref = {self._dialect.placeholder}", (subject_ref,), 1)

    def count(self) -> int:
        """Return the number of entries."""
        with self._db.read("counting audit entries") as conn:
            (n,) = conn.execute("SELECT count(*) FROM audit_entries").fetchone()
        return int(n)

    def atomic(self) -> AbstractContextManager[None]:
        """One transaction for every write of this store set on this thread in the block."""
        return self._db.atomic()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current transaction commits (at once outside one).

        A rolled-back transaction drops it: the audit log writes anchors this way, so an
        anchor never names an entry that was undone.

        .. versionadded:: 0.2.0
        """
        self._db.after_commit(callback)

    def reference_secret(self, create: Callable[[], bytes]) -> bytes:
        """Return the subject-reference secret, creating it once (first writer wins)."""
        candidate = create()
        d = self._dialect
        with self._db.write("storing the subject-reference secret") as conn:
            # A concurrent first caller's INSERT makes this one wait on the key, then do
            # nothing; the SELECT (a fresh snapshot) sees the winner's value.
            conn.execute(
                d.insert_ignore("audit_meta", ("name", "value"), "name"),
                ("subject_ref_secret", candidate),
            )
            (value,) = conn.execute(
                "SELECT value FROM audit_meta WHERE name = 'subject_ref_secret'"
            ).fetchone()
        return bytes(value)

    def stored_reference_secret(self) -> bytes | None:
        """Return the subject-reference secret kept here, without making one.

        Before 0.2.0 the secret lived here, beside the data; the kit now keeps it with the
        keys and reads this only to move it there.

        .. versionadded:: 0.2.0
        """
        with self._db.read("reading the subject-reference secret") as conn:
            row = conn.execute(
                "SELECT value FROM audit_meta WHERE name = 'subject_ref_secret'"
            ).fetchone()
        return None if row is None else bytes(row[0])

    def discard_reference_secret(self) -> None:
        """Delete the secret kept here, once it is safely stored with the keys.

        .. versionadded:: 0.2.0
        """
        with self._db.write("discarding the subject-reference secret") as conn:
            conn.execute("DELETE FROM audit_meta WHERE name = 'subject_ref_secret'")
