"""The SQLite consent store (private; use :func:`avgkit.storage.open_stores`).

Events are kept narrow so that bulk imports stay fast: instants are integers (microseconds
since 1970-01-01 UTC, which sort like the instants), and the evidence that many events share
(channel, notice version, wording hash, actor, staff key) lives once in ``consent_evidence``.

The index ``consent_events_by_purpose`` starts with the purpose and the subject and holds
every column the audience needs, so the audience of a purpose at any instant is one statement
that walks that purpose's part of the index once: for each subject, the latest consent-track
event at or before the instant must be a live "given" with no newer one beside it, and the
latest objection-track event must not be an objection. Pages are cut by subject (keyset), so
no page repeats earlier work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from avgkit.consent._values import ConsentEvent, Evidence, LatestEvents
from avgkit.consent._vocab import Actor, Channel, ConsentAction
from avgkit.subjects import SubjectId

if TYPE_CHECKING:
    import sqlite3

    from avgkit.storage.sqlite._db import Database

COMPONENT: Final = "consent"

MIGRATIONS: tuple[str, ...] = (
    """
    -- What many events share; an event points at one row. staff_key is '' when unset, so
    -- that the uniqueness constraint holds (NULLs would never be equal).
    CREATE TABLE consent_evidence (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        notice_version TEXT NOT NULL,
        wording_sha256 TEXT NOT NULL,
        actor TEXT NOT NULL,
        staff_key TEXT NOT NULL,
        UNIQUE (channel, notice_version, wording_sha256, actor, staff_key)
    );
    CREATE TABLE consent_events (
        seq INTEGER PRIMARY KEY,
        subject TEXT NOT NULL,
        purpose TEXT NOT NULL,
        kind TEXT NOT NULL
            -- Spelled with OR, not IN (...): SQLite builds a lookup table for an IN list on
            -- every execution, which cost bulk imports about a third of their rate.
            CHECK (kind = 'given' OR kind = 'withdrawn' OR kind = 'objected'
                   OR kind = 'objection_lifted'),
        -- 0: the consent track (given, withdrawn); 1: the objection track (Art. 21).
        track INTEGER NOT NULL,
        -- Instants: microseconds since 1970-01-01T00:00Z.
        at INTEGER NOT NULL,
        evidence INTEGER NOT NULL,
        order_ref TEXT,
        confirmed_at INTEGER,
        expires_at INTEGER
    );
    -- Covers the audience, objectors and latest() queries without touching the table.
    CREATE INDEX consent_events_by_purpose
        ON consent_events (purpose, subject, track, at, seq, kind, expires_at);
    -- Orders by (at, seq): seq is the rowid, which SQLite appends to every index entry, so
    -- naming it would store it twice and slow every import.
    CREATE INDEX consent_events_by_time ON consent_events (at);
    -- A subject's history reads consent_events_by_purpose once per purpose listed here, so
    -- no third index (and no third b-tree to update on every import) is needed for it.
    CREATE TABLE consent_purposes (purpose TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
    BEGIN
        SELECT RAISE(ABORT, 'consent events are append-only');
    END;
    CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
    BEGIN
        SELECT RAISE(ABORT, 'consent events are append-only');
    END;
    CREATE TRIGGER consent_evidence_no_update BEFORE UPDATE ON consent_evidence
    BEGIN
        SELECT RAISE(ABORT, 'consent evidence is append-only');
    END;
    CREATE TRIGGER consent_evidence_no_delete BEFORE DELETE ON consent_evidence
    BEGIN
        SELECT RAISE(ABORT, 'consent evidence is append-only');
    END;
    """,
)

_COLUMNS: Final = (
    "e.seq, e.subject, e.purpose, e.kind, e.at, v.channel, v.notice_version, "
    "v.wording_sha256, v.actor, v.staff_key, e.order_ref, e.confirmed_at, e.expires_at"
)
_FROM: Final = "consent_events AS e JOIN consent_evidence AS v ON v.id = e.evidence"
_INSERT: Final = (
    "INSERT INTO consent_events (subject, purpose, kind, track, at, evidence, order_ref, "
    "confirmed_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ADD_PURPOSE: Final = "INSERT INTO consent_purposes (purpose) VALUES (?) ON CONFLICT DO NOTHING"
_ADD_EVIDENCE: Final = (
    "INSERT INTO consent_evidence (channel, notice_version, wording_sha256, actor, staff_key) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_FIND_EVIDENCE: Final = (
    "SELECT id FROM consent_evidence WHERE channel = ? AND notice_version = ? "
    "AND wording_sha256 = ? AND actor = ? AND staff_key = ?"
)
_TRACK: Final = {kind: 0 if kind.is_consent else 1 for kind in ConsentAction}
_KIND_COLUMNS: Final = {kind: (kind.value, _TRACK[kind]) for kind in ConsentAction}
_PAGE: Final = 1000
_SUBJECT_PAGE: Final = 5000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

# The audience of a purpose at an instant, one page of subjects after :after.
AUDIENCE_SQL: Final = """
SELECT c.subject FROM consent_events AS c
WHERE c.purpose = :purpose AND c.subject > :after AND c.track = 0
  AND c.kind = 'given' AND c.at <= :at
  AND (c.expires_at IS NULL OR c.expires_at > :at)
  AND NOT EXISTS (
      SELECT 1 FROM consent_events AS n
      WHERE n.purpose = :purpose AND n.subject = c.subject AND n.track = 0
        AND n.at <= :at AND (n.at, n.seq) > (c.at, c.seq))
  AND coalesce((
      SELECT o.kind FROM consent_events AS o
      WHERE o.purpose = :purpose AND o.subject = c.subject AND o.track = 1 AND o.at <= :at
      ORDER BY o.at DESC, o.seq DESC LIMIT 1), '') <> 'objected'
ORDER BY c.subject
LIMIT :page
"""

_OBJECTORS_SQL: Final = """
SELECT o.subject FROM consent_events AS o
WHERE o.purpose = :purpose AND o.subject > :after AND o.track = 1
  AND o.kind = 'objected' AND o.at <= :at
  AND NOT EXISTS (
      SELECT 1 FROM consent_events AS n
      WHERE n.purpose = :purpose AND n.subject = o.subject AND n.track = 1
        AND n.at <= :at AND (n.at, n.seq) > (o.at, o.seq))
ORDER BY o.subject
LIMIT :page
"""

_LATEST_SQL: Final = f"""
SELECT {_COLUMNS} FROM {_FROM}
WHERE e.purpose = ? AND e.subject = ? AND e.track = ? AND e.at <= ?
ORDER BY e.at DESC, e.seq DESC LIMIT 1
"""  # noqa: S608 - only fixed names are interpolated


def micros(value: datetime) -> int:
    """An aware instant as whole microseconds since 1970-01-01 UTC (sorts like the instant)."""
    return (value - _EPOCH) // _MICROSECOND


def _opt_micros(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def _instant(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _opt_instant(value: int | None) -> datetime | None:
    return None if value is None else _instant(value)


def _notice(ev: Evidence) -> tuple[str, str, str, str, str]:
    return (
        ev.channel.value,
        ev.notice_version,
        ev.wording_sha256,
        ev.actor.value,
        ev.staff_key or "",
    )


def _evidence_id(conn: sqlite3.Connection, notice: tuple[str, str, str, str, str]) -> int:
    conn.execute(_ADD_EVIDENCE, notice)
    (found,) = conn.execute(_FIND_EVIDENCE, notice).fetchone()
    return int(found)


def _event(row: tuple[Any, ...]) -> ConsentEvent:
    (
        seq,
        subject,
        purpose,
        kind,
        at,
        channel,
        notice_version,
        wording_sha256,
        actor,
        staff_key,
        order_ref,
        confirmed_at,
        expires_at,
    ) = row
    return ConsentEvent(
        subject=subject,
        purpose=purpose,
        kind=ConsentAction(kind),
        at=_instant(at),
        evidence=Evidence(
            channel=Channel(channel),
            notice_version=notice_version,
            wording_sha256=wording_sha256,
            actor=Actor(actor),
            staff_key=staff_key or None,
            order_ref=order_ref,
            confirmed_at=_opt_instant(confirmed_at),
            expires_at=_opt_instant(expires_at),
        ),
        seq=seq,
    )


class SqliteConsentStore:
    """A :class:`~avgkit.storage.ConsentStore` in the ``consent_events`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)

    def __repr__(self) -> str:
        return f"SqliteConsentStore({self._db!r})"

    def append(self, event: ConsentEvent) -> ConsentEvent:
        """Insert one event and return it with its seq."""
        ev = event.evidence
        with self._db.write("recording a consent event") as conn:
            conn.execute(_ADD_PURPOSE, (event.purpose,))
            cursor = conn.execute(
                _INSERT,
                (
                    event.subject,
                    event.purpose,
                    *_KIND_COLUMNS[event.kind],
                    micros(event.at),
                    _evidence_id(conn, _notice(ev)),
                    ev.order_ref,
                    _opt_micros(ev.confirmed_at),
                    _opt_micros(ev.expires_at),
                ),
            )
            seq = cursor.lastrowid
        return ConsentEvent(
            subject=event.subject,
            purpose=event.purpose,
            kind=event.kind,
            at=event.at,
            evidence=event.evidence,
            seq=seq,
        )

    def append_many(self, events: Sequence[ConsentEvent]) -> int:
        """Insert a batch in one transaction."""
        purposes = [(purpose,) for purpose in {event.purpose for event in events}]
        with self._db.write("importing consent events") as conn:
            conn.executemany(_ADD_PURPOSE, purposes)
            columns = self._evidence_columns(conn, events)
            conn.executemany(
                _INSERT,
                (
                    (
                        event.subject,
                        event.purpose,
                        *_KIND_COLUMNS[event.kind],
                        (event.at - _EPOCH) // _MICROSECOND,
                        *columns[id(event.evidence)],
                    )
                    for event in events
                ),
            )
        return len(events)

    @staticmethod
    def _evidence_columns(
        conn: sqlite3.Connection, events: Sequence[ConsentEvent]
    ) -> dict[int, tuple[Any, ...]]:
        # Imports share Evidence objects between many events; each is turned into columns
        # (and its consent_evidence row found) once. Keyed by id(): the batch keeps every
        # object alive meanwhile.
        done: dict[int, tuple[Any, ...]] = {}
        ids: dict[tuple[str, str, str, str, str], int] = {}
        for event in events:
            ev = event.evidence
            if id(ev) in done:
                continue
            notice = _notice(ev)
            found = ids.get(notice)
            if found is None:
                found = ids[notice] = _evidence_id(conn, notice)
            done[id(ev)] = (
                found,
                ev.order_ref,
                _opt_micros(ev.confirmed_at),
                _opt_micros(ev.expires_at),
            )
        return done

    def latest(self, subject: SubjectId, purpose: str, at: datetime) -> LatestEvents:
        """The latest event of each track at or before ``at``, and whether consent was given."""
        when = micros(at)
        with self._db.read("reading a consent state") as conn:
            consent = conn.execute(_LATEST_SQL, (purpose, subject, 0, when)).fetchone()
            objection = conn.execute(_LATEST_SQL, (purpose, subject, 1, when)).fetchone()
            (ever,) = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM consent_events WHERE purpose = ? AND subject = ? "
                "AND track = 0 AND kind = 'given' AND at <= ?)",
                (purpose, subject, when),
            ).fetchone()
        return LatestEvents(
            consent=None if consent is None else _event(consent),
            objection=None if objection is None else _event(objection),
            ever_given=bool(ever),
        )

    def history(self, subject: SubjectId) -> Iterator[ConsentEvent]:
        """Stream the subject's events by at, then seq (keyset pages)."""
        return self._pages(
            "e.purpose IN (SELECT purpose FROM consent_purposes) AND e.subject = ?", (subject,)
        )

    def events(
        self, *, since: datetime, until: datetime, purpose: str | None = None
    ) -> Iterator[ConsentEvent]:
        """Stream the events in ``[since, until)`` by at, then seq (keyset pages)."""
        where = "e.at >= ? AND e.at < ?"
        params: tuple[object, ...] = (micros(since), micros(until))
        if purpose is not None:
            where += " AND e.purpose = ?"
            params = (*params, purpose)
        return self._pages(where, params)

    def _pages(self, where: str, params: tuple[object, ...]) -> Iterator[ConsentEvent]:
        after: tuple[int, int] = (-(2**62), 0)
        while True:
            with self._db.read("reading consent events") as conn:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM {_FROM} WHERE {where} "  # noqa: S608
                    "AND (e.at, e.seq) > (?, ?) ORDER BY e.at, e.seq LIMIT ?",
                    (*params, *after, _PAGE),
                ).fetchall()
            for row in rows:
                yield _event(row)
            if len(rows) < _PAGE:
                return
            after = (rows[-1][4], rows[-1][0])

    def _subjects(self, sql: str, purpose: str, at: datetime) -> Iterator[SubjectId]:
        # Keyset pages by subject: each page is a short read, so writers are never held up
        # while a caller walks a long audience, and memory stays flat.
        params: dict[str, object] = {
            "purpose": purpose,
            "at": micros(at),
            "after": "",
            "page": _SUBJECT_PAGE,
        }
        while True:
            with self._db.read("computing a consent audience") as conn:
                rows = conn.execute(sql, params).fetchall()
            for (subject,) in rows:
                yield SubjectId(subject)
            if len(rows) < _SUBJECT_PAGE:
                return
            params["after"] = rows[-1][0]

    def audience(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream the subjects with live consent for ``purpose`` at ``at`` (set-based)."""
        return self._subjects(AUDIENCE_SQL, purpose, at)

    def objectors(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream the subjects with an objection to ``purpose`` in force at ``at``."""
        return self._subjects(_OBJECTORS_SQL, purpose, at)

    def count(self) -> int:
        """Return the number of events."""
        with self._db.read("counting consent events") as conn:
            (n,) = conn.execute("SELECT count(*) FROM consent_events").fetchone()
        return int(n)
