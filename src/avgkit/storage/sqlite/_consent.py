"""The SQLite consent store (private; use :func:`avgkit.storage.open_stores`).

One append-only table of events. The index ``consent_events_by_purpose`` starts with the
purpose and the subject and holds every column the audience needs, so the audience of a
purpose at any instant is one statement that walks that purpose's part of the index once:
for each subject, the latest consent-track event at or before the instant must be a live
"given" with no newer one beside it, and the latest objection-track event must not be an
objection. Pages are cut by subject (keyset), so no page repeats earlier work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from avgkit.consent import Actor, Channel, ConsentAction, ConsentEvent, Evidence, LatestEvents
from avgkit.storage.sqlite._db import text_to_time, time_to_text
from avgkit.subjects import SubjectId

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.storage.sqlite._db import Database

COMPONENT: Final = "consent"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE consent_events (
        seq INTEGER PRIMARY KEY,
        subject TEXT NOT NULL,
        purpose TEXT NOT NULL,
        kind TEXT NOT NULL
            CHECK (kind IN ('given', 'withdrawn', 'objected', 'objection_lifted')),
        -- 0: the consent track (given, withdrawn); 1: the objection track (Art. 21).
        track INTEGER NOT NULL
            CHECK (track = CASE WHEN kind IN ('given', 'withdrawn') THEN 0 ELSE 1 END),
        at TEXT NOT NULL,
        channel TEXT NOT NULL,
        notice_version TEXT NOT NULL,
        wording_sha256 TEXT NOT NULL,
        actor TEXT NOT NULL,
        staff_key TEXT,
        order_ref TEXT,
        confirmed_at TEXT,
        expires_at TEXT
    );
    -- Covers the audience, objectors and latest() queries without touching the table.
    CREATE INDEX consent_events_by_purpose
        ON consent_events (purpose, subject, track, at, seq, kind, expires_at);
    -- A subject's history reads consent_events_by_purpose once per purpose listed here, so
    -- no third index (and no third b-tree to update on every import) is needed for it.
    CREATE TABLE consent_purposes (purpose TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE INDEX consent_events_by_time ON consent_events (at, seq);
    CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
    BEGIN
        SELECT RAISE(ABORT, 'consent events are append-only');
    END;
    CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
    BEGIN
        SELECT RAISE(ABORT, 'consent events are append-only');
    END;
    """,
)

_COLUMNS: Final = (
    "seq, subject, purpose, kind, at, channel, notice_version, wording_sha256, actor, "
    "staff_key, order_ref, confirmed_at, expires_at"
)
_INSERT: Final = (
    "INSERT INTO consent_events (subject, purpose, kind, track, at, channel, notice_version, "
    "wording_sha256, actor, staff_key, order_ref, confirmed_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_TRACK: Final = {kind: 0 if kind.is_consent else 1 for kind in ConsentAction}
_PAGE: Final = 1000
_SUBJECT_PAGE: Final = 5000

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
SELECT {_COLUMNS} FROM consent_events
WHERE purpose = ? AND subject = ? AND track = ? AND at <= ?
ORDER BY at DESC, seq DESC LIMIT 1
"""  # noqa: S608 - only the fixed column list is interpolated


def _text(value: datetime) -> str:
    # time_to_text's format, built faster: ConsentEvent already holds UTC instants, and
    # isoformat() is several times quicker than strftime() on the bulk-import path.
    if value.utcoffset():
        return time_to_text(value)
    return value.isoformat(timespec="microseconds")[:26] + "Z"


def _opt_text(value: datetime | None) -> str | None:
    return None if value is None else _text(value)


def _opt_time(value: str | None) -> datetime | None:
    return None if value is None else text_to_time(value)


def _evidence_row(ev: Evidence) -> tuple[Any, ...]:
    return (
        ev.channel.value,
        ev.notice_version,
        ev.wording_sha256,
        ev.actor.value,
        ev.staff_key,
        ev.order_ref,
        _opt_text(ev.confirmed_at),
        _opt_text(ev.expires_at),
    )


def row_of(event: ConsentEvent) -> tuple[Any, ...]:
    """The insert parameters for ``event`` (in the order of the insert statement)."""
    return (
        event.subject,
        event.purpose,
        event.kind.value,
        _TRACK[event.kind],
        _text(event.at),
        *_evidence_row(event.evidence),
    )


def _rows(events: Sequence[ConsentEvent]) -> Iterator[tuple[Any, ...]]:
    # Imports share Evidence objects between many events; each is turned into columns once.
    # Keyed by id(): the batch keeps every object alive while this runs.
    done: dict[int, tuple[Any, ...]] = {}
    kinds = {kind: (kind.value, _TRACK[kind]) for kind in ConsentAction}
    for event in events:
        ev = event.evidence
        columns = done.get(id(ev))
        if columns is None:
            columns = done[id(ev)] = _evidence_row(ev)
        yield (event.subject, event.purpose, *kinds[event.kind], _text(event.at), *columns)


_ADD_PURPOSE: Final = "INSERT INTO consent_purposes (purpose) VALUES (?) ON CONFLICT DO NOTHING"


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
        at=text_to_time(at),
        evidence=Evidence(
            channel=Channel(channel),
            notice_version=notice_version,
            wording_sha256=wording_sha256,
            actor=Actor(actor),
            staff_key=staff_key,
            order_ref=order_ref,
            confirmed_at=_opt_time(confirmed_at),
            expires_at=_opt_time(expires_at),
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
        with self._db.write("recording a consent event") as conn:
            conn.execute(_ADD_PURPOSE, (event.purpose,))
            cursor = conn.execute(_INSERT, row_of(event))
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
            conn.executemany(_INSERT, _rows(events))
        return len(events)

    def latest(self, subject: SubjectId, purpose: str, at: datetime) -> LatestEvents:
        """The latest event of each track at or before ``at``, and whether consent was given."""
        when = _text(at)
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
            "purpose IN (SELECT purpose FROM consent_purposes) AND subject = ?", (subject,)
        )

    def events(
        self, *, since: datetime, until: datetime, purpose: str | None = None
    ) -> Iterator[ConsentEvent]:
        """Stream the events in ``[since, until)`` by at, then seq (keyset pages)."""
        where = "at >= ? AND at < ?"
        params: tuple[object, ...] = (_text(since), _text(until))
        if purpose is not None:
            where += " AND purpose = ?"
            params = (*params, purpose)
        return self._pages(where, params)

    def _pages(self, where: str, params: tuple[object, ...]) -> Iterator[ConsentEvent]:
        after: tuple[str, int] = ("", 0)
        while True:
            with self._db.read("reading consent events") as conn:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM consent_events WHERE {where} "  # noqa: S608
                    "AND (at, seq) > (?, ?) ORDER BY at, seq LIMIT ?",
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
            "at": _text(at),
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
