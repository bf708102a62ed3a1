"""The breach store, written once for every SQL dialect (private)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from avgkit.audit._bound import BoundRecord
from avgkit.breach._values import Breach
from avgkit.errors import ConflictError, IntegrityError, NotFound
from avgkit.storage._bound import BREACH_VERSION, breach_version_digest
from avgkit.storage._sql import _bindings
from avgkit.storage._sql._codecs import breach, breach_keyset
from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._dialect import Dialect, decode_text

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
        _current_only(d),
    )


_CHANGED_OUTSIDE = "a breach changes only by storing its next version"


def _current_only(d: Dialect) -> str:
    # The newest version's row may only move on to the next stored version: never deleted,
    # never rewritten in place, never ahead of breach_versions (put() stores the version
    # first). verify() still catches whoever drops the triggers.
    stale = (
        "NEW.breach_id <> OLD.breach_id OR NEW.version <> OLD.version + 1 OR NOT EXISTS "
        "(SELECT 1 FROM breach_versions AS v WHERE v.breach_id = NEW.breach_id "
        "AND v.version = NEW.version AND v.data = NEW.data)"
    )
    if d.name == "sqlite":
        return f"""
        CREATE TRIGGER breaches_no_delete BEFORE DELETE ON breaches
        BEGIN
            SELECT RAISE(ABORT, 'breaches are append-only');
        END;
        CREATE TRIGGER breaches_first_version BEFORE INSERT ON breaches
        WHEN NEW.version <> 1
        BEGIN
            SELECT RAISE(ABORT, '{_CHANGED_OUTSIDE}');
        END;
        CREATE TRIGGER breaches_next_version BEFORE UPDATE ON breaches
        WHEN {stale}
        BEGIN
            SELECT RAISE(ABORT, '{_CHANGED_OUTSIDE}');
        END;
        """
    return f"""
        CREATE FUNCTION avgkit_breaches_current() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'breaches are append-only (DELETE refused)'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF (TG_OP = 'INSERT' AND NEW.version <> 1) OR (TG_OP = 'UPDATE' AND ({stale})) THEN
                RAISE EXCEPTION '{_CHANGED_OUTSIDE} (% refused)', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER breaches_current BEFORE INSERT OR UPDATE OR DELETE ON breaches
            FOR EACH ROW EXECUTE FUNCTION avgkit_breaches_current();
        CREATE TRIGGER breaches_no_truncate BEFORE TRUNCATE ON breaches
            FOR EACH STATEMENT EXECUTE FUNCTION avgkit_breaches_append_only();
        """


class SqlBreachStore:
    """A :class:`~avgkit.storage.BreachStore` in the ``breaches`` and ``breach_versions`` tables.

    Also a :class:`~avgkit.storage.BoundStore`: each version is bound to the audit entry
    that recorded it, and the ``breaches`` table (the newest versions) is checked against
    ``breach_versions`` when the chain is verified.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       A bound store; the ``breaches`` table refuses changes but the next version.
    """

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._dialect = db.dialect
        db.migrate(COMPONENT, migrations(db.dialect))
        _bindings.ensure(db)

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
        add_version = (
            f"INSERT INTO breach_versions (breach_id, version, data) VALUES ({d.params(3)})"  # noqa: S608 - fixed names and placeholders only
        )
        with self._db.write(f"storing breach {record.id}") as conn:
            if record.version == 1:
                # The primary key turns a second version 1 into a ConflictError.
                conn.execute(
                    "INSERT INTO breaches (breach_id, version, became_aware_at, authority_due, "  # noqa: S608 - fixed names and placeholders only
                    f"authority_pending, data) VALUES ({p}, 1, {d.params(4)})",
                    (record.id, *row),
                )
                conn.execute(add_version, (record.id, 1, data))
                return
            found = conn.execute(
                f"SELECT version FROM breaches WHERE breach_id = {p}",  # noqa: S608
                (record.id,),
            ).fetchone()
            if found is None:
                msg = f"no breach {record.id!r} in the register"
                raise NotFound(msg)
            if found[0] != record.version - 1:
                msg = (
                    f"breach {record.id} is at version {found[0]}; version "
                    f"{record.version} cannot follow it (re-read and retry)"
                )
                raise ConflictError(msg)
            # The version goes in first: the breaches table's trigger lets its row move on
            # only to a stored version. A concurrent writer of the same version fails on
            # the versions' primary key (a ConflictError) or, having waited for the row
            # lock, finds the version moved on (the UPDATE's WHERE is checked again).
            conn.execute(add_version, (record.id, record.version, data))
            cursor = conn.execute(
                f"UPDATE breaches SET version = {p}, became_aware_at = {p}, "  # noqa: S608 - fixed names and placeholders only
                f"authority_due = {p}, authority_pending = {p}, data = {p} "
                f"WHERE breach_id = {p} AND version = {p}",
                (record.version, *row, record.id, record.version - 1),
            )
            if cursor.rowcount != 1:
                msg = (
                    f"breach {record.id} moved on from version {record.version - 1} "
                    "meanwhile (re-read and retry)"
                )
                raise ConflictError(msg)

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

    # -- bound to the audit chain -----------------------------------------------------

    def bind(self, keys: Sequence[tuple[str, int]], audit_seq: int) -> None:
        """Remember that audit entry ``audit_seq`` binds these versions ``(id, version)``."""
        _bindings.bind(self._db, BREACH_VERSION, keys, audit_seq)

    def bound_records(self) -> Iterator[BoundRecord]:
        """Stream every version with its digest, in audit order; then check ``breaches``.

        Three statements find what has no counterpart (a version no entry binds, a binding
        whose version is gone, then a newest-version row that disagrees with the versions),
        and keyset pages stream the bound versions by the binding entry.

        Raises:
            IntegrityError: the ``breaches`` row of a breach is not its newest stored
                version (edited, deleted or planted outside avgkit); the message names it.
        """
        d = self._dialect
        p = d.placeholder
        binding = (
            "b.kind = 'breach_version' AND b.record_id = v.breach_id AND b.record_no = v.version"
        )
        with self._db.read("reconciling breach versions") as conn:
            unbound = conn.execute(
                f"SELECT {d.column('v.breach_id')}, v.version FROM breach_versions AS v "  # noqa: S608 - fixed names only
                f"WHERE NOT EXISTS (SELECT 1 FROM audit_bindings AS b WHERE {binding}) "
                "ORDER BY v.breach_id, v.version LIMIT 1"
            ).fetchone()
            gone = conn.execute(
                f"SELECT b.audit_seq, {d.column('b.record_id')}, b.record_no "  # noqa: S608 - fixed names only
                "FROM audit_bindings AS b WHERE b.kind = 'breach_version' AND NOT EXISTS "
                f"(SELECT 1 FROM breach_versions AS v WHERE {binding}) "
                "ORDER BY b.audit_seq LIMIT 1"
            ).fetchone()
        if unbound is not None:
            yield _record(unbound[0], unbound[1], None, None)
        if gone is not None:
            yield BoundRecord(
                kind=BREACH_VERSION,
                record_id=_text(gone[1]),
                record_no=gone[2],
                digest=None,
                bound_seq=gone[0],
            )
        query = (
            f"SELECT b.audit_seq, {d.column('v.breach_id')}, v.version, {d.column('v.data')} "  # noqa: S608 - fixed names and placeholders only
            f"FROM audit_bindings AS b JOIN breach_versions AS v ON {binding} "
            f"WHERE b.kind = 'breach_version' AND (b.audit_seq, b.record_id, b.record_no) "
            f"> ({p}, {p}, {p}) ORDER BY b.audit_seq, b.record_id, b.record_no LIMIT {p}"
        )
        rows = _bindings.pages(
            self._db,
            "reconciling breach versions",
            query,
            (),
            (0, "", 0),
            lambda row: (row[0], _text(row[1]), row[2]),
        )
        for seq, breach_id, version, data in rows:
            yield _record(breach_id, version, data, seq)
        self._check_current()

    def _check_current(self) -> None:
        # Each breaches row must be its breach's newest version, as stored, with the
        # columns the register filters on (the overdue list) copied out of it unchanged.
        d = self._dialect
        p = d.placeholder
        with self._db.read("reconciling breaches") as conn:
            orphan = conn.execute(
                f"SELECT {d.column('v.breach_id')}, v.version FROM breach_versions AS v "  # noqa: S608 - fixed names only
                "WHERE NOT EXISTS (SELECT 1 FROM breaches AS c WHERE c.breach_id = v.breach_id) "
                "LIMIT 1"
            ).fetchone()
        if orphan is not None:
            name = _record(orphan[0], orphan[1], None, None).name
            msg = f"{name} has no row in the breaches table: it was deleted outside avgkit"
            raise IntegrityError(msg)
        query = (
            f"SELECT {d.column('c.breach_id')}, c.version, {d.column('c.became_aware_at')}, "  # noqa: S608 - fixed names and placeholders only
            f"{d.column('c.authority_due')}, c.authority_pending, {d.column('c.data')}, "
            f"{d.column('v.data')}, (SELECT max(x.version) FROM breach_versions AS x "
            "WHERE x.breach_id = c.breach_id) "
            "FROM breaches AS c LEFT JOIN breach_versions AS v "
            "ON v.breach_id = c.breach_id AND v.version = c.version "
            f"WHERE c.breach_id > {p} ORDER BY c.breach_id LIMIT {p}"
        )
        rows = _bindings.pages(
            self._db, "reconciling breaches", query, (), ("",), lambda row: (_text(row[0]),)
        )
        for row in rows:
            _check_current_row(d, row)


def _text(value: object) -> str:
    try:
        return decode_text(value)
    except (ValueError, TypeError):
        msg = "a breach id in the register is malformed: it was changed outside avgkit"
        raise IntegrityError(msg) from None


def _record(breach_id: object, version: object, data: object, seq: int | None) -> BoundRecord:
    record_id = _text(breach_id)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        msg = f"a version of breach {record_id} is malformed: it was changed outside avgkit"
        raise IntegrityError(msg)
    digest = None if data is None else breach_version_digest(record_id, version, _data(data))
    return BoundRecord(
        kind=BREACH_VERSION, record_id=record_id, record_no=version, digest=digest, bound_seq=seq
    )


def _data(value: object) -> str:
    try:
        return decode_text(value)
    except (ValueError, TypeError):
        # Bytes that are no longer text cannot be the version that was bound: any digest
        # that is not the bound one reports the change.
        return "\ufffd"


def _check_current_row(d: Dialect, row: Sequence[Any]) -> None:
    breach_id, version, aware_at, due, pending, data, stored, newest = row
    name = f"breach {_text(breach_id)}"
    if stored is None or newest != version or _data(data) != _data(stored):
        msg = (
            f"the breaches row of {name} is not its newest stored version: it was changed "
            "outside avgkit; restore it from a backup"
        )
        raise IntegrityError(msg)
    current = breach(breach_id, version, stored)
    try:
        copied = (d.instant_out(aware_at), d.instant_out(due), bool(pending))
    except (ValueError, TypeError):
        copied = None
    if copied != (current.became_aware_at, current.authority_due, current.authority_pending):
        msg = (
            f"the breaches row of {name} disagrees with its stored version (its deadline "
            "columns were changed outside avgkit); restore it from a backup"
        )
        raise IntegrityError(msg)
