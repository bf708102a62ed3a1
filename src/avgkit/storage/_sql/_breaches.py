"""The breach store, written once for every SQL dialect (private)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from avgkit.breach._values import Breach
from avgkit.errors import ConflictError, NotFound
from avgkit.storage._sql._codecs import breach, breach_keyset
from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._dialect import Dialect

__all__ = ["COMPONENT", "SqlBreachStore", "migrations"]

COMPONENT = "breaches"


def migrations(d: Dialect) -> tuple[str, ...]:
    """The breach component's scripts in dialect ``d`` (never edited once released)."""
    return (
        f"""
        -- The newest version of each breach, with the columns the register sorts and filters
        -- on copied out of the JSON so that those queries run in the database.
        CREATE TABLE breaches (
            breach_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL CHECK (version >= 1),
            became_aware_at {d.instant} NOT NULL,
            authority_due {d.instant} NOT NULL,
            authority_pending {d.boolean} NOT NULL
                CHECK (authority_pending IN ({d.false}, {d.true})),
            data TEXT NOT NULL
        );
        CREATE INDEX breaches_by_awareness ON breaches (became_aware_at, breach_id);
        CREATE INDEX breaches_pending ON breaches (authority_due, breach_id)
            WHERE authority_pending = {d.true};
        -- Every version ever stored (Art. 33(5) documentation); append-only.
        CREATE TABLE breach_versions (
            breach_id TEXT NOT NULL REFERENCES breaches (breach_id),
            version INTEGER NOT NULL CHECK (version >= 1),
            data TEXT NOT NULL,
            PRIMARY KEY (breach_id, version)
        );
        {d.append_only(COMPONENT, "breach_versions", "breach versions are append-only")}
        """,
    )


class SqlBreachStore:
    """A :class:`~avgkit.storage.BreachStore` in the ``breaches`` and ``breach_versions`` tables.

    .. versionadded:: 0.1.0
    """

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._dialect = db.dialect
        db.migrate(COMPONENT, migrations(db.dialect))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def put(self, record: Breach) -> None:
        """Store the next version of a breach in one transaction."""
        d = self._dialect
        p = d.placeholder
        data = record.to_json()
        row = (
            d.instant_in(record.became_aware_at),
            d.instant_in(record.authority_due),
            d.flag_in(record.authority_pending),
            data,
        )
        with self._db.write(f"storing breach {record.id}") as conn:
            if record.version == 1:
                # The primary key turns a second version 1 into a ConflictError.
                conn.execute(
                    "INSERT INTO breaches (breach_id, version, became_aware_at, authority_due, "  # noqa: S608 - fixed names and placeholders only
                    f"authority_pending, data) VALUES ({p}, 1, {d.params(4)})",
                    (record.id, *row),
                )
            else:
                # A concurrent writer of the same version waits for the row lock, then finds
                # the version moved on (the WHERE is checked again) and updates nothing.
                cursor = conn.execute(
                    f"UPDATE breaches SET version = {p}, became_aware_at = {p}, "  # noqa: S608 - fixed names and placeholders only
                    f"authority_due = {p}, authority_pending = {p}, data = {p} "
                    f"WHERE breach_id = {p} AND version = {p}",
                    (record.version, *row, record.id, record.version - 1),
                )
                if cursor.rowcount != 1:
                    found = conn.execute(
                        f"SELECT version FROM breaches WHERE breach_id = {p}",  # noqa: S608
                        (record.id,),
                    ).fetchone()
                    if found is None:
                        msg = f"no breach {record.id!r} in the register"
                        raise NotFound(msg)
                    msg = (
                        f"breach {record.id} is at version {found[0]}; version "
                        f"{record.version} cannot follow it (re-read and retry)"
                    )
                    raise ConflictError(msg)
            conn.execute(
                f"INSERT INTO breach_versions (breach_id, version, data) VALUES ({d.params(3)})",  # noqa: S608 - fixed names and placeholders only
                (record.id, record.version, data),
            )

    def get(self, breach_id: str) -> Breach:
        """Return the newest version of a breach, or raise NotFound."""
        d = self._dialect
        with self._db.read("reading a breach") as conn:
            row = conn.execute(
                f"SELECT version, {d.column('data')} FROM breaches "  # noqa: S608
                f"WHERE breach_id = {d.placeholder}",
                (breach_id,),
            ).fetchone()
        if row is None:
            msg = f"no breach {breach_id!r} in the register"
            raise NotFound(msg)
        return breach(breach_id, *row)

    def history(self, breach_id: str) -> Iterator[Breach]:
        """Stream every version of a breach, oldest first, a page at a time."""
        d = self._dialect
        p = d.placeholder
        query = (
            f"SELECT version, {d.column('data')} FROM breach_versions "  # noqa: S608
            f"WHERE breach_id = {p} AND version > {p} ORDER BY version LIMIT {p}"
        )
        after = 0
        while True:
            with self._db.read("reading a breach's history") as conn:
                rows = conn.execute(query, (breach_id, after, d.page_size)).fetchall()
            for version, data in rows:
                yield breach(breach_id, version, data)
            if len(rows) < d.page_size:
                return
            after = rows[-1][0]

    def _pages(self, sort: str, where: str, params: tuple[object, ...]) -> Iterator[Breach]:
        # Keyset pagination on (sort column, id): short reads, flat memory, and the caller
        # may update breaches while it iterates. The keys are decoded like the data, so a
        # mangled row is reported as tampering rather than failing inside the driver.
        d = self._dialect
        p = d.placeholder
        selected = f"SELECT {d.column(sort)}, {d.column('breach_id')}, version, {d.column('data')}"
        last: tuple[object, object] | None = None
        while True:
            condition = where
            args: tuple[object, ...] = params
            if last is not None:
                condition += f" AND ({sort}, breach_id) > ({p}, {p})"
                args = (*params, *last)
            with self._db.read("reading the breach register") as conn:
                rows = conn.execute(
                    f"{selected} FROM breaches WHERE {condition} "
                    f"ORDER BY {sort}, breach_id LIMIT {p}",
                    (*args, d.page_size),
                ).fetchall()
            for _, breach_id, version, data in rows:
                yield breach(breach_id, version, data)
            if len(rows) < d.page_size:
                return
            last = breach_keyset(d, *rows[-1][:3])

    def breaches(self) -> Iterator[Breach]:
        """Stream the newest versions by ``became_aware_at``, then id."""
        return self._pages("became_aware_at", "1 = 1", ())

    def overdue(self, now: datetime) -> Iterator[Breach]:
        """Stream pending breaches past their 72 hours, selected in the database."""
        d = self._dialect
        return self._pages(
            "authority_due",
            f"authority_pending = {d.true} AND authority_due < {d.placeholder}",
            (d.instant_in(now),),
        )

    def count(self) -> int:
        """Return the number of breaches."""
        with self._db.read("counting breaches") as conn:
            (n,) = conn.execute("SELECT count(*) FROM breaches").fetchone()
        return int(n)
