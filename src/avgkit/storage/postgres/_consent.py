"""The PostgreSQL consent store (private; use :func:`avgkit.storage.open_stores`).

One append-only table of events. The index ``consent_events_latest`` is ordered as the
ledger asks: per purpose and track (consent or objection), per subject, newest first, and it
carries the kind and expiry. The audience of a purpose at an instant is one statement: the
newest consent-track row per subject (``DISTINCT ON``) must be a live "given", and the newest
objection-track row must not be an objection. It is planned without nested loops, so it
does not depend on the table's statistics, and streamed (see ``_subjects``). Bulk imports
use binary ``COPY`` and analyse the table after a batch large beside it, so the planner
knows its size whether or not autovacuum runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import psycopg

from avgkit.consent._values import ConsentEvent, check_batch
from avgkit.storage._sql import POSTGRESQL, SqlConsentStore
from avgkit.storage._sql._consent import TRACK, with_seq
from avgkit.storage._sql._consent_extras import WrittenBatch
from avgkit.storage.postgres._db import Database, copy_rows
from avgkit.subjects import SubjectId

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
    """
    + POSTGRESQL.append_only("consent", "consent_events", "consent events are append-only"),
    # 2: erasure re-keys a subject's events to its reference (ConsentStore.forget). The row
    # trigger lets exactly that through: subject from a raw id to 'sr1:' and 32 hex digits,
    # order_ref to NULL, every other column (compared as jsonb, so a column added later is
    # covered too) as it was. TRUNCATE keeps the old function, which refuses everything.
    """
    DROP TRIGGER consent_events_append_only ON consent_events;
    CREATE FUNCTION avgkit_consent_rekey_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF NEW.subject ~ '^sr1:[0-9a-f]{32}$'
                AND OLD.subject NOT LIKE 'sr1:%'
                AND NEW.order_ref IS NULL
                AND to_jsonb(NEW) - 'subject' - 'order_ref'
                    = to_jsonb(OLD) - 'subject' - 'order_ref'
            THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'consent events are append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$;
    CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
        FOR EACH ROW EXECUTE FUNCTION avgkit_consent_rekey_only();
    """,
    # 3: how the box was presented and the double opt-in's own evidence on each event (the
    # re-key trigger compares whole rows, so it covers them); the wording registry with its
    # withdrawals and generation; pending double opt-ins (only the verifier's hash);
    # compelling grounds (Art. 21(1)).
    """
    ALTER TABLE consent_events
        ADD COLUMN presentation text,
        ADD COLUMN requested_at timestamptz,
        ADD COLUMN confirmed_via text;
    -- purpose is '' for the privacy notice.
    CREATE TABLE consent_wordings (
        purpose text NOT NULL,
        version text NOT NULL,
        lang text NOT NULL,
        sha256 text NOT NULL,
        text text NOT NULL,
        valid_from timestamptz NOT NULL,
        valid_until timestamptz,
        renewal boolean NOT NULL,
        PRIMARY KEY (purpose, version, lang)
    );
    CREATE TABLE consent_wording_withdrawals (
        purpose text NOT NULL,
        version text NOT NULL,
        at timestamptz NOT NULL,
        reason text,
        PRIMARY KEY (purpose, version)
    );
    CREATE TABLE consent_registry_generation (
        id smallint PRIMARY KEY CHECK (id = 1),
        generation bigint NOT NULL
    );
    INSERT INTO consent_registry_generation (id, generation) VALUES (1, 0);
    CREATE TABLE consent_pending (
        selector text PRIMARY KEY,
        verifier_sha256 text NOT NULL,
        subject text NOT NULL,
        purpose text NOT NULL,
        requested_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        channel text NOT NULL,
        notice_version text NOT NULL,
        wording_sha256 text NOT NULL,
        actor text NOT NULL,
        staff_key text,
        order_ref text,
        consent_expires_at timestamptz,
        presentation text,
        settled_at timestamptz
    );
    CREATE INDEX consent_pending_by_subject ON consent_pending (subject, purpose, requested_at);
    CREATE TABLE consent_grounds (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subject text NOT NULL,
        purpose text NOT NULL,
        at timestamptz NOT NULL,
        reason text NOT NULL,
        decided_by text NOT NULL,
        until timestamptz
    );
    CREATE INDEX consent_grounds_by_subject ON consent_grounds (subject, purpose, at);
    """  # noqa: S608 - fixed DDL
    + POSTGRESQL.append_only(
        "consent_wordings", "consent_wordings", "registered wordings never change"
    )
    + POSTGRESQL.append_only(
        "consent_wording_withdrawals",
        "consent_wording_withdrawals",
        "wording withdrawals never change",
    ),
)

# Column name and binary COPY type of every inserted column, in order.
_INSERTED: Final = (
    ("subject", "text"),
    ("purpose", "text"),
    ("kind", "text"),
    ("track", "int2"),
    ("at", "timestamptz"),
    ("channel", "text"),
    ("notice_version", "text"),
    ("wording_sha256", "text"),
    ("actor", "text"),
    ("staff_key", "text"),
    ("order_ref", "text"),
    ("confirmed_at", "timestamptz"),
    ("expires_at", "timestamptz"),
    ("presentation", "text"),
    ("requested_at", "timestamptz"),
    ("confirmed_via", "text"),
)
_INSERT_COLUMNS: Final = tuple(name for name, _ in _INSERTED)
_INSERT: Final = (
    f"INSERT INTO consent_events ({', '.join(_INSERT_COLUMNS)}) "  # noqa: S608 - fixed names
    f"VALUES ({POSTGRESQL.params(len(_INSERTED))}) RETURNING seq"
)

# The newest consent-track row per subject must be a live "given", and the newest
# objection-track row must not be an objection. {columns} adds what a variant's condition
# reads (the plain audience reads only what consent_events_latest carries).
_LIVE: Final = """
WITH consent AS (
    SELECT DISTINCT ON (subject) subject, kind, expires_at{columns}
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
      SELECT 1 FROM objection AS o WHERE o.subject = c.subject AND o.kind = 'objected')"""

_LIVE_WORDING: Final = _LIVE.format(columns=", wording_sha256")

AUDIENCE_SQL: Final = _LIVE.format(columns="") + "\n"

# The texts of the purpose whose every registration was withdrawn by the instant.
_WITHDRAWN: Final = """
    SELECT w.sha256 FROM consent_wordings AS w
    LEFT JOIN consent_wording_withdrawals AS x
        ON x.purpose = w.purpose AND x.version = w.version AND x.at <= %(at)s
    WHERE w.purpose = %(purpose)s
    GROUP BY w.sha256 HAVING count(x.version) = count(*)"""

# The texts needing no renewal: of the latest renewing version in force and the later ones.
_CURRENT: Final = """
    SELECT w.sha256 FROM consent_wordings AS w
    WHERE w.purpose = %(purpose)s AND w.valid_from >= (
        SELECT max(r.valid_from) FROM consent_wordings AS r
        WHERE r.purpose = %(purpose)s AND r.renewal AND r.valid_from <= %(at)s)"""

# Joined from fixed fragments (no value ever reaches them): an f-string would read as SQL
# built from input.
CURRENT_AUDIENCE_SQL: Final = "".join(  # noqa: FLY002
    (_LIVE_WORDING, "\n  AND c.wording_sha256 NOT IN (", _WITHDRAWN, ")\n")
)

TO_RENEW_SQL: Final = "".join(  # noqa: FLY002
    (
        _LIVE_WORDING,
        "\n  AND (c.wording_sha256 IN (",
        _WITHDRAWN,
        (
            ")\n       OR (EXISTS (SELECT 1 FROM consent_wordings AS r"
            "\n                   WHERE r.purpose = %(purpose)s AND r.renewal"
            " AND r.valid_from <= %(at)s)"
            "\n           AND c.wording_sha256 NOT IN ("
        ),
        _CURRENT,
        ")))\n",
    )
)

_OBJECTORS_SQL: Final = """
SELECT o.subject FROM (
    SELECT DISTINCT ON (subject) subject, kind
    FROM consent_events
    WHERE purpose = %(purpose)s AND track = 1 AND at <= %(at)s
    ORDER BY subject, at DESC, seq DESC
) AS o
WHERE o.kind = 'objected'
"""


ANALYZE_BATCH: Final = 1000
"""A batch this large may be worth analysing the table for (see ``append_many``)."""
ANALYZE_SHARE: Final = 0.1
"""The share of the rows last counted by the statistics a batch must reach to analyse."""
# The rows the statistics last counted (-1: never analysed, nor vacuumed), and whether this
# role may analyse the table (it owns it, or is a member of the owner's role).
_COUNTED: Final = (
    "SELECT reltuples, pg_has_role(relowner, 'USAGE') FROM pg_class "
    "WHERE oid = 'consent_events'::regclass"
)

_CURSORS: Final = itertools.count(1)  # unique server-side cursor names in this process
_STREAM_BATCH: Final = 5000
_CHUNKS: Final = psycopg.pq.version() >= 170000  # noqa: PLR2004 - libpq 17 streams in chunks
_NO_NESTED_LOOPS: Final = (
    "SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)"
)
_PUT_BACK: Final = "SELECT set_config('enable_nestloop', %s, true)"


def row_of_head(event: ConsentEvent) -> tuple[Any, ...]:
    """The event's own insert values (before the evidence's)."""
    return (event.subject, event.purpose, event.kind.value, TRACK[event.kind], event.at)


def row_of(event: ConsentEvent) -> tuple[Any, ...]:
    """The insert values for ``event``, in the order of the insert column list."""
    ev = event.evidence
    return (
        *row_of_head(event),
        ev.channel.value,
        ev.notice_version,
        ev.wording_sha256,
        ev.actor.value,
        ev.staff_key,
        ev.order_ref,
        ev.confirmed_at,
        ev.expires_at,
        None if ev.presentation is None else ev.presentation.value,
        ev.requested_at,
        None if ev.confirmed_via is None else ev.confirmed_via.value,
    )


def _rows(events: Sequence[ConsentEvent]) -> Iterator[tuple[Any, ...]]:
    # Imports share Evidence objects between many events; each becomes columns once.
    # Keyed by id(): the batch keeps every object alive while this runs.
    done: dict[int, tuple[Any, ...]] = {}
    for event in events:
        columns = done.get(id(event.evidence))
        if columns is None:
            columns = done[id(event.evidence)] = row_of(event)[5:]
        yield (*row_of_head(event), *columns)


class PostgresConsentStore(SqlConsentStore[Database]):
    """A :class:`~avgkit.storage.ConsentStore` in the ``consent_events`` table of a schema.

    One append-only table of events. The index ``consent_events_latest`` is ordered as the
    ledger asks: per purpose and track, per subject, newest first, carrying the kind and
    expiry, so the audience of a purpose at an instant is one statement (``DISTINCT ON``),
    streamed. Bulk imports use binary ``COPY``; a large one leaves the table analysed.

    .. versionadded:: 0.1.0
    """

    select: ClassVar[str] = (
        f"SELECT e.seq, {', '.join(f'e.{name}' for name in _INSERT_COLUMNS if name != 'track')} "  # noqa: S608 - fixed names and placeholders only
        "FROM consent_events AS e"
    )
    history_where: ClassVar[str] = "e.subject = %s"
    audience_sql: ClassVar[str] = AUDIENCE_SQL
    current_audience_sql: ClassVar[str] = CURRENT_AUDIENCE_SQL
    to_renew_sql: ClassVar[str] = TO_RENEW_SQL
    migrations: ClassVar[tuple[str, ...]] = MIGRATIONS
    objectors_sql: ClassVar[str] = _OBJECTORS_SQL

    @staticmethod
    def at_in(value: datetime) -> datetime:
        """``timestamptz`` takes aware datetimes as they are."""
        return value

    @staticmethod
    def at_out(value: Any) -> datetime:
        """In UTC, whatever the session's time zone says."""
        when: datetime = value
        return when.astimezone(UTC)

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._written = WrittenBatch()

    def append(self, event: ConsentEvent) -> ConsentEvent:
        """Insert one event and return it with its seq."""
        self._written.drop()
        with self._db.write("recording a consent event") as conn:
            (seq,) = conn.execute(_INSERT, row_of(event)).fetchone() or (None,)
        return with_seq(event, int(seq))

    def append_many(self, events: Sequence[ConsentEvent]) -> int:
        """Insert a batch with binary COPY in one transaction.

        A batch large beside the table (a tenth of the rows the statistics last counted,
        or any batch of :data:`ANALYZE_BATCH` rows or more into a table never analysed) is
        analysed in the same transaction, so the next audience is planned on its real
        size, with or without autovacuum.
        """
        events = check_batch(events)
        with self._db.write("importing consent events") as conn:
            # No other writer's event may land between the batch's rows and their read-back
            # (the ledger binds exactly the batch to its audit entry): gives wait for it.
            conn.execute("LOCK TABLE consent_events IN SHARE ROW EXCLUSIVE MODE")
            stored = copy_rows(
                conn,
                "consent_events",
                _INSERT_COLUMNS,
                _rows(events),
                types=[kind for _, kind in _INSERTED],
            )
            if stored >= ANALYZE_BATCH:
                counted, owned = conn.execute(_COUNTED).fetchone() or (0.0, False)
                if owned and (counted < 0 or stored >= ANALYZE_SHARE * counted):
                    # Sees the batch's own rows; the statistics commit with it. Only the
                    # table's owner may analyse it: another role leaves it to the owner's
                    # maintenance (its audiences are planned without statistics alike).
                    conn.execute("ANALYZE consent_events")
        self._written.keep(self._db, events)
        return stored

    def appended(self, count: int) -> list[ConsentEvent]:
        """The ``count`` events stored last, oldest first (see ``AppendedEvents``).

        Right after :meth:`append_many` in the same unit of work (the ledger's import),
        the batch comes back as it was written with the seqs its rows got: only the seqs
        are read (see ``WrittenBatch``).
        """
        return self._written.appended(self._db, count) or super().appended(count)

    def _subjects(self, query: str, purpose: str, at: datetime) -> Iterator[SubjectId]:
        # Planned without nested loops: every join here pairs large sets subject by subject,
        # and without statistics (right after an import, before any ANALYZE) the planner
        # guesses a handful of rows and picks a nested loop that rescans one side per row
        # of the other: minutes instead of a second.
        params = {"purpose": purpose, "at": at}
        with self._db.read("computing a consent audience") as conn:
            own = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            row = conn.execute(_NO_NESTED_LOOPS).fetchone()
            if own and _CHUNKS:
                # A read of its own: the rows stream in chunks of the protocol, memory stays
                # flat, and without a cursor the planner may use parallel workers.
                with conn.cursor() as cursor:
                    for (subject,) in cursor.stream(query, params, size=_STREAM_BATCH):
                        yield SubjectId(subject)
                return
            # Inside a transaction (a unit of work, a host's): a server-side cursor, so that
            # the caller may write on the same connection between rows. The plan is fixed
            # once the cursor is declared; the setting is then put back.
            name = f"avgkit_audience_{next(_CURSORS)}"
            with conn.cursor(name=name) as named:
                named.itersize = _STREAM_BATCH
                named.execute(query, params)
                conn.execute(_PUT_BACK, ("on" if row is None else row[0],))
                for (subject,) in named:
                    yield SubjectId(subject)
