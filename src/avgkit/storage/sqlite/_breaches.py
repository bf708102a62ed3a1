"""The SQLite breach store (private; use :func:`avgkit.storage.open_stores`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from avgkit.breach._values import Breach
from avgkit.errors import ConflictError, NotFound
from avgkit.storage.sqlite._db import time_to_text

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.storage.sqlite._db import Database

COMPONENT = "breaches"

MIGRATIONS: tuple[str, ...] = (
    """
    -- The newest version of each breach, with the columns the register sorts and filters
    -- on copied out of the JSON so that those queries run in SQL.
    CREATE TABLE breaches (
        breach_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL CHECK (version >= 1),
        became_aware_at TEXT NOT NULL,
        authority_due TEXT NOT NULL,
        authority_pending INTEGER NOT NULL CHECK (authority_pending IN (0, 1)),
        data TEXT NOT NULL
    );
    CREATE INDEX breaches_by_awareness ON breaches (became_aware_at, breach_id);
    CREATE INDEX breaches_pending ON breaches (authority_due, breach_id)
        WHERE authority_pending = 1;
    -- Every version ever stored (Art. 33(5) documentation); append-only.
    CREATE TABLE breach_versions (
        breach_id TEXT NOT NULL REFERENCES breaches (breach_id),
        version INTEGER NOT NULL CHECK (version >= 1),
        data TEXT NOT NULL,
        PRIMARY KEY (breach_id, version)
    );
    CREATE TRIGGER breach_versions_no_update BEFORE UPDATE ON breach_versions
    BEGIN
        SELECT RAISE(ABORT, 'breach versions are append-only');
    END;
    CREATE TRIGGER breach_versions_no_delete BEFORE DELETE ON breach_versions
    BEGIN
        SELECT RAISE(ABORT, 'breach versions are append-only');
    END;
    """,
)

_PAGE = 200


class SqliteBreachStore:
    """A :class:`~avgkit.storage.BreachStore` in the ``breaches`` and ``breach_versions`` tables.

    .. versionadded:: 0.1.0
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)

    def __repr__(self) -> str:
        return f"SqliteBreachStore({self._db!r})"

    def put(self, breach: Breach) -> None:
        """Store the next version of a breach in one transaction."""
        data = breach.to_json()
        row = (
            time_to_text(breach.became_aware_at),
            time_to_text(breach.authority_due),
            int(breach.authority_pending),
            data,
        )
        with self._db.write(f"storing breach {breach.id}") as conn:
            if breach.version == 1:
                # The primary key turns a second version 1 into a ConflictError.
                conn.execute(
                    "INSERT INTO breaches (breach_id, version, became_aware_at, authority_due, "
                    "authority_pending, data) VALUES (?, 1, ?, ?, ?, ?)",
                    (breach.id, *row),
                )
            else:
                cursor = conn.execute(
                    "UPDATE breaches SET version = ?, became_aware_at = ?, authority_due = ?, "
                    "authority_pending = ?, data = ? WHERE breach_id = ? AND version = ?",
                    (breach.version, *row, breach.id, breach.version - 1),
                )
                if cursor.rowcount != 1:
                    found = conn.execute(
                        "SELECT version FROM breaches WHERE breach_id = ?", (breach.id,)
                    ).fetchone()
                    if found is None:
                        msg = f"no breach {breach.id!r} in the register"
                        raise NotFound(msg)
                    msg = (
                        f"breach {breach.id} is at version {found[0]}; version "
                        f"{breach.version} cannot follow it (re-read and retry)"
                    )
                    raise ConflictError(msg)
            conn.execute(
                "INSERT INTO breach_versions (breach_id, version, data) VALUES (?, ?, ?)",
                (breach.id, breach.version, data),
            )

    def get(self, breach_id: str) -> Breach:
        """Return the newest version of a breach, or raise NotFound."""
        with self._db.read("reading a breach") as conn:
            row = conn.execute(
                "SELECT data FROM breaches WHERE breach_id = ?", (breach_id,)
            ).fetchone()
        if row is None:
            msg = f"no breach {breach_id!r} in the register"
            raise NotFound(msg)
        return Breach.from_json(row[0])

    def history(self, breach_id: str) -> Iterator[Breach]:
        """Stream every version of a breach, oldest first, a page at a time."""
        after = 0
        while True:
            with self._db.read("reading a breach's history") as conn:
                rows = conn.execute(
                    "SELECT version, data FROM breach_versions WHERE breach_id = ? "
                    "AND version > ? ORDER BY version LIMIT ?",
                    (breach_id, after, _PAGE),
                ).fetchall()
            for _, data in rows:
                yield Breach.from_json(data)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def _pages(self, sort: str, where: str, params: tuple[object, ...]) -> Iterator[Breach]:
        # Keyset pagination on (sort column, id): short reads, flat memory, and a writer can
        # update breaches while the caller iterates.
        last: tuple[str, str] | None = None
        while True:
            condition = where
            args: tuple[object, ...] = params
            if last is not None:
                condition += f" AND ({sort}, breach_id) > (?, ?)"
                args = (*params, *last)
            with self._db.read("reading the breach register") as conn:
                rows = conn.execute(
                    f"SELECT {sort}, breach_id, data FROM breaches WHERE {condition} "  # noqa: S608
                    f"ORDER BY {sort}, breach_id LIMIT ?",
                    (*args, _PAGE),
                ).fetchall()
            for _, _, data in rows:
                yield Breach.from_json(data)
            if len(rows) < _PAGE:
                return
            last = (rows[-1][0], rows[-1][1])

    def breaches(self) -> Iterator[Breach]:
        """Stream the newest versions by ``became_aware_at``, then id."""
        return self._pages("became_aware_at", "1 = 1", ())

    def overdue(self, now: datetime) -> Iterator[Breach]:
        """Stream pending breaches past their 72 hours, selected in SQL."""
        return self._pages(
            "authority_due", "authority_pending = 1 AND authority_due < ?", (time_to_text(now),)
        )

    def count(self) -> int:
        """Return the number of breaches."""
        with self._db.read("counting breaches") as conn:
            (n,) = conn.execute("SELECT count(*) FROM breaches").fetchone()
        return int(n)
