"""The PostgreSQL consent store (private; use :func:`avgkit.storage.open_stores`).

One append-only table of events. The index ``consent_events_latest`` is ordered as the
ledger asks: per purpose and track (consent or objection), per subject, newest first, and it
carries the kind and expiry. The audience of a purpose at an instant is one statement: the
newest consent-track row per subject (``DISTINCT ON``) must be a live "given", and the newest
objection-track row must not be an objection; it is streamed through a server-side cursor.
Bulk imports use binary ``COPY``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from avgkit.consent._values import ConsentEvent, Evidence, LatestEvents
from avgkit.consent._vocab import Actor, Channel, ConsentAction
from avgkit.storage.postgres._db import copy_rows
from avgkit.subjects import SubjectId

if TYPE_CHECKING:
    from avgkit.storage.postgres._db import Database

COMPONENT: Final = "consent"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE consent_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subject text NOT NULL,
        purpose text NOT NULL,
        kind text NOT NULL
            CHECK (kind IN ('given', 'withdrawn', 'objected', 'objection_lifted')),
        -- 0: the consent track (given, withdrawn); 1: the objection track (Art. 21).
        track smallint NOT NULL
            CHECK (track = CASE WHEN kind IN ('given', 'withdrawn') THEN 0 ELSE 1 END),
        at timestamptz NOT NULL,
        channel text NOT NULL,
        notice_version text NOT NULL,
        wording_sha256 text NOT NULL,
        actor text NOT NULL,
        staff_key text,
        order_ref text,
        confirmed_at timestamptz,
        expires_at timestamptz
    );
    CREATE INDEX consent_events_latest ON consent_events
        (purpose, track, subject, at DESC, seq DESC) INCLUDE (kind, expires_at);
    CREATE INDEX consent_events_by_subject ON consent_events (subject, at, seq);
    CREATE INDEX consent_events_by_time ON consent_events (at, seq);
    CREATE FUNCTION avgkit_consent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'consent events are append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$;
    CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
        FOR EACH ROW EXECUTE FUNCTION avgkit_consent_append_only();
    CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
        FOR EACH STATEMENT EXECUTE FUNCTION avgkit_consent_append_only();
    """,
)

_INSERT_COLUMNS: Final = (
    "subject",
    "purpose",
    "kind",
    "track",
    "at",
    "channel",
    "notice_version",
    "wording_sha256",
    "actor",
    "staff_key",
    "order_ref",
    "confirmed_at",
    "expires_at",
)
_COPY_TYPES: Final = (
    "text",
    "text",
    "text",
    "int2",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
)
_COLUMNS: Final = "seq, " + ", ".join(_INSERT_COLUMNS)
_INSERT: Final = (
    f"INSERT INTO consent_events ({', '.join(_INSERT_COLUMNS)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join(['%s'] * len(_INSERT_COLUMNS))}) RETURNING seq"
)
_TRACK: Final = {kind: 0 if kind.is_consent else 1 for kind in ConsentAction}
_PAGE: Final = 1000

AUDIENCE_SQL: Final = """
WITH consent AS (
    SELECT DISTINCT ON (subject) subject, kind, expires_at
    FROM consent_events
    WHERE purpose = %(purpose)s AND track = 0 AND at <= %(at)s
    ORDER BY subject, at DESC, seq DESC
), objection AS (
    SELECT DISTINCT ON (subject) subject, kind
    FROM consent_events
    WHERE purpose = %(purpose)s AND track = 1 AND at <= %(at)s
    ORDER BY subject, at DESC, seq DESC
)
SELECT c.subject FROM consent AS c
WHERE c.kind = 'given' AND (c.expires_at IS NULL OR c.expires_at > %(at)s)
  AND NOT EXISTS (
      SELECT 1 FROM objection AS o WHERE o.subject = c.subject AND o.kind = 'objected')
"""

_OBJECTORS_SQL: Final = """
SELECT o.subject FROM (
    SELECT DISTINCT ON (subject) subject, kind
    FROM consent_events
    WHERE purpose = %(purpose)s AND track = 1 AND at <= %(at)s
    ORDER BY subject, at DESC, seq DESC
) AS o
WHERE o.kind = 'objected'
"""

_LATEST_SQL: Final = f"""
SELECT {_COLUMNS} FROM consent_events
WHERE purpose = %s AND track = %s AND subject = %s AND at <= %s
ORDER BY at DESC, seq DESC LIMIT 1
"""  # noqa: S608 - only the fixed column list is interpolated


def row_of(event: ConsentEvent) -> tuple[Any, ...]:
    """The insert values for ``event``, in the order of the insert column list."""
    ev = event.evidence
    return (
        event.subject,
        event.purpose,
        event.kind.value,
        _TRACK[event.kind],
        event.at,
        ev.channel.value,
        ev.notice_version,
        ev.wording_sha256,
        ev.actor.value,
        ev.staff_key,
        ev.order_ref,
        ev.confirmed_at,
        ev.expires_at,
    )


def _rows(events: Sequence[ConsentEvent]) -> Iterator[tuple[Any, ...]]:
    # Imports share Evidence objects between many events; each becomes columns once.
    # Keyed by id(): the batch keeps every object alive while this runs.
    done: dict[int, tuple[Any, ...]] = {}
    for event in events:
        ev = event.evidence
        columns = done.get(id(ev))
        if columns is None:
            columns = done[id(ev)] = row_of(event)[5:]
        yield (
            event.subject,
            event.purpose,
            event.kind.value,
            _TRACK[event.kind],
            event.at,
            *columns,
        )


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _event(row: Sequence[Any]) -> ConsentEvent:
    (
        seq,
        subject,
        purpose,
        kind,
        _track,
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
        at=at,
        evidence=Evidence(
            channel=Channel(channel),
            notice_version=notice_version,
            wording_sha256=wording_sha256,
            actor=Actor(actor),
            staff_key=staff_key,
            order_ref=order_ref,
            confirmed_at=_utc(confirmed_at),
            expires_at=_utc(expires_at),
        ),
        seq=seq,
    )


class PostgresConsentStore:
    """A :class:`~avgkit.storage.ConsentStore` in the ``consent_events`` table of a schema.

    .. versionadded:: 0.1.0
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)

    def __repr__(self) -> str:
        return f"PostgresConsentStore({self._db!r})"

    def append(self, event: ConsentEvent) -> ConsentEvent:
        """Insert one event and return it with its seq."""
        with self._db.write("recording a consent event") as conn:
            row = conn.execute(_INSERT, row_of(event)).fetchone()
        assert row is not None  # noqa: S101 - RETURNING always yields the row
        return ConsentEvent(
            subject=event.subject,
            purpose=event.purpose,
            kind=event.kind,
            at=event.at,
            evidence=event.evidence,
            seq=int(row[0]),
        )

    def append_many(self, events: Sequence[ConsentEvent]) -> int:
        """Insert a batch with binary COPY in one transaction."""
        with self._db.write("importing consent events") as conn:
            return copy_rows(
                conn,
                "consent_events",
                _INSERT_COLUMNS,
                _rows(events),
                types=_COPY_TYPES,
            )

    def latest(self, subject: SubjectId, purpose: str, at: datetime) -> LatestEvents:
        """The newest event of each track at or before ``at``, and whether consent was given."""
        with self._db.read("reading a consent state") as conn:
            consent = conn.execute(_LATEST_SQL, (purpose, 0, subject, at)).fetchone()
            objection = conn.execute(_LATEST_SQL, (purpose, 1, subject, at)).fetchone()
            ever = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM consent_events WHERE purpose = %s AND track = 0 "
                "AND subject = %s AND kind = 'given' AND at <= %s)",
                (purpose, subject, at),
            ).fetchone()
        return LatestEvents(
            consent=None if consent is None else _event(consent),
            objection=None if objection is None else _event(objection),
            ever_given=bool(ever and ever[0]),
        )

    def _pages(self, where: str, params: tuple[object, ...]) -> Iterator[ConsentEvent]:
        # Keyset pages on (at, seq): short transactions, flat memory, and the caller may
        # write while iterating.
        after: tuple[object, ...] | None = None
        while True:
            keyset = "" if after is None else "AND (at, seq) > (%s, %s) "
            with self._db.read("reading consent events") as conn:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM consent_events WHERE {where} {keyset}"  # noqa: S608
                    "ORDER BY at, seq LIMIT %s",
                    (*params, *(after or ()), _PAGE),
                ).fetchall()
            for row in rows:
                yield _event(row)
            if len(rows) < _PAGE:
                return
            after = (rows[-1][5], rows[-1][0])

    def history(self, subject: SubjectId) -> Iterator[ConsentEvent]:
        """Stream the subject's events by at, then seq."""
        return self._pages("subject = %s", (subject,))

    def events(
        self, *, since: datetime, until: datetime, purpose: str | None = None
    ) -> Iterator[ConsentEvent]:
        """Stream the events in ``[since, until)`` by at, then seq."""
        if purpose is None:
            return self._pages("at >= %s AND at < %s", (since, until))
        return self._pages("at >= %s AND at < %s AND purpose = %s", (since, until, purpose))

    def _subjects(self, query: str, purpose: str, at: datetime) -> Iterator[SubjectId]:
        rows = self._db.stream(
            "computing a consent audience",
            query,
            {"purpose": purpose, "at": at},  # type: ignore[arg-type]  # psycopg takes a mapping too
            batch=5000,
        )
        for (subject,) in rows:
            yield SubjectId(subject)

    def audience(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream the subjects with live consent for ``purpose`` at ``at`` (one statement)."""
        return self._subjects(AUDIENCE_SQL, purpose, at)

    def objectors(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream the subjects with an objection to ``purpose`` in force at ``at``."""
        return self._subjects(_OBJECTORS_SQL, purpose, at)

    def count(self) -> int:
        """Return the number of events."""
        with self._db.read("counting consent events") as conn:
            row = conn.execute("SELECT count(*) FROM consent_events").fetchone()
        return 0 if row is None else int(row[0])
