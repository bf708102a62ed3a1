"""The PostgreSQL breach store (private; use :func:`avgkit.storage.open_stores`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from avgkit.breach._values import Breach
from avgkit.errors import ConflictError, NotFound

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.storage.postgres._db import Database

COMPONENT = "breaches"

MIGRATIONS: tuple[str, ...] = (
    """
    -- The newest version of each breach, with the columns the register sorts and filters
    -- on copied out of the JSON so that those queries run on the server.
    CREATE TABLE breaches (
        breach_id text PRIMARY KEY,
        version integer NOT NULL CHECK (version >= 1),
        became_aware_at timestamptz NOT NULL,
        authority_due timestamptz NOT NULL,
        authority_pending boolean NOT NULL,
        data text NOT NULL
    );
    CREATE INDEX breaches_by_awareness ON breaches (became_aware_at, breach_id);
    CREATE INDEX breaches_pending ON breaches (authority_due, breach_id)
        WHERE authority_pending;
    -- Every version ever stored (Art. 33(5) documentation); append-only.
    CREATE TABLE breach_versions (
        breach_id text NOT NULL REFERENCES breaches (breach_id),
        version integer NOT NULL CHECK (version >= 1),
        data text NOT NULL,
        PRIMARY KEY (breach_id, version)
    );
    CREATE FUNCTION avgkit_breaches_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'breach versions are append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$;
    CREATE TRIGGER breach_versions_append_only BEFORE UPDATE OR DELETE ON breach_versions
        FOR EACH ROW EXECUTE FUNCTION avgkit_breaches_append_only();
    CREATE TRIGGER breach_versions_no_truncate BEFORE TRUNCATE ON breach_versions
        FOR EACH STATEMENT EXECUTE FUNCTION avgkit_breaches_append_only();
    """,
)

_PAGE = 200


class PostgresBreachStore:
    """A :class:`~avgkit.storage.BreachStore` in the ``breaches`` tables of a schema.

    .. versionadded:: 0.1.0
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)

    def __repr__(self) -> str:
        return f"PostgresBreachStore({self._db!r})"

    def put(self, breach: Breach) -> None:
        """Store the next version of a breach in one transaction."""
        data = breach.to_json()
        row = (breach.became_aware_at, breach.authority_due, breach.authority_pending, data)
        with self._db.write(f"storing breach {breach.id}") as conn:
            if breach.version == 1:
                # The primary key turns a second version 1 into a ConflictError.
                conn.execute(
                    "INSERT INTO breaches (breach_id, version, became_aware_at, authority_due, "
                    "authority_pending, data) VALUES (%s, 1, %s, %s, %s, %s)",
                    (breach.id, *row),
                )
            else:
                # A concurrent writer of the same version waits for the row lock, then finds
                # the version moved on (READ COMMITTED re-checks the WHERE) and updates nothing.
                cursor = conn.execute(
                    "UPDATE breaches SET version = %s, became_aware_at = %s, authority_due = %s, "
                    "authority_pending = %s, data = %s WHERE breach_id = %s AND version = %s",
                    (breach.version, *row, breach.id, breach.version - 1),
                )
                if cursor.rowcount != 1:
                    found = conn.execute(
                        "SELECT version FROM breaches WHERE breach_id = %s", (breach.id,)
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
                "INSERT INTO breach_versions (breach_id, version, data) VALUES (%s, %s, %s)",
                (breach.id, breach.version, data),
            )

    def get(self, breach_id: str) -> Breach:
        """Return the newest version of a breach, or raise NotFound."""
        with self._db.read("reading a breach") as conn:
            row = conn.execute(
                "SELECT data FROM breaches WHERE breach_id = %s", (breach_id,)
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
                    "SELECT version, data FROM breach_versions WHERE breach_id = %s "
                    "AND version > %s ORDER BY version LIMIT %s",
                    (breach_id, after, _PAGE),
                ).fetchall()
            for _, data in rows:
                yield Breach.from_json(data)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def _pages(self, sort: str, where: str, params: tuple[object, ...]) -> Iterator[Breach]:
        # Keyset pagination on (sort column, id): short transactions, flat memory, and the
        # caller may update breaches while it iterates.
        last: tuple[Any, str] | None = None
        while True:
            condition = where
            args: tuple[object, ...] = params
            if last is not None:
                condition += f" AND ({sort}, breach_id) > (%s, %s)"
                args = (*params, *last)
            with self._db.read("reading the breach register") as conn:
                rows = conn.execute(
                    f"SELECT {sort}, breach_id, data FROM breaches WHERE {condition} "  # noqa: S608
                    f"ORDER BY {sort}, breach_id LIMIT %s",
                    (*args, _PAGE),
                ).fetchall()
            for _, _, data in rows:
                yield Breach.from_json(data)
            if len(rows) < _PAGE:
                return
            last = (rows[-1][0], rows[-1][1])

    def breaches(self) -> Iterator[Breach]:
        """Stream the newest versions by ``became_aware_at``, then id."""
        return self._pages("became_aware_at", "TRUE", ())

    def overdue(self, now: datetime) -> Iterator[Breach]:
        """Stream pending breaches past their 72 hours, selected on the server."""
        return self._pages("authority_due", "authority_pending AND authority_due < %s", (now,))

    def count(self) -> int:
        """Return the number of breaches."""
        with self._db.read("counting breaches") as conn:
            row = conn.execute("SELECT count(*) FROM breaches").fetchone()
        return 0 if row is None else int(row[0])
