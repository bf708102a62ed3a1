"""The SQLite consent store (private; use :func:`avgkit.storage.open_stores`).

Events are kept narrow so that bulk imports stay fast: instants are integers (microseconds
since 1970-01-01 UTC, which sort like the instants), and the evidence that many events share
(channel, notice version, wording hash, actor, staff key) lives once in ``consent_evidence``.

The index ``consent_events_by_purpose`` starts with the purpose and the subject and holds
every column the audience needs, so the audience of a purpose at any instant is one ordered
pass over that purpose's part of the index: for each subject, the latest consent-track event
at or before the instant must be a live "given", and the latest objection-track event must
not be an objection. SQLite reads each row's verdict off the index; the adapter keeps the
last one of each track while the rows stream by (faster than any single statement that
finds the latest rows itself: see ``benchmarks/consent_audience.py``). Pages are cut by
subject (keyset), so no page repeats earlier work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final

from avgkit.consent._values import ConsentEvent, Evidence, check_batch
from avgkit.storage._sql import SQLITE, SqlConsentStore
from avgkit.storage._sql._consent import TRACK, with_seq
from avgkit.storage._sql._consent_extras import WrittenBatch
from avgkit.storage.sqlite._db import Database
from avgkit.subjects import SubjectId

if TYPE_CHECKING:
    import sqlite3

_TRIGGERS: Final = "\n".join(
    SQLITE.append_only("consent", table, message)
    for table, message in (
        ("consent_events", "consent events are append-only"),
        ("consent_evidence", "consent evidence is append-only"),
    )
)

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
    """
    + _TRIGGERS,
    # 2: erasure re-keys a subject's events to its reference (ConsentStore.forget). The
    # trigger lets exactly that through: subject from a raw id to 'sr1:' and 32 hex digits,
    # order_ref to NULL, every other column as it was. IS compares NULLs too, and a NULL
    # verdict (which WHEN would read as "do not fire") refuses.
    """
    DROP TRIGGER consent_events_no_update;
    CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
    WHEN NOT coalesce(
        NEW.subject GLOB 'sr1:*' AND length(NEW.subject) = 36
        AND NOT (substr(NEW.subject, 5) GLOB '*[^0-9a-f]*')
        AND NOT (OLD.subject GLOB 'sr1:*')
        AND NEW.order_ref IS NULL
        AND NEW.seq IS OLD.seq AND NEW.purpose IS OLD.purpose AND NEW.kind IS OLD.kind
        AND NEW.track IS OLD.track AND NEW.at IS OLD.at AND NEW.evidence IS OLD.evidence
        AND NEW.confirmed_at IS OLD.confirmed_at AND NEW.expires_at IS OLD.expires_at,
        0)
    BEGIN
        SELECT RAISE(ABORT, 'consent events are append-only');
    END;
    """,
    # 3: how the box was presented and the double opt-in's own evidence on each event; the
    # wording registry (texts per purpose, version and language, their withdrawals and a
    # generation that caches key on); pending double opt-ins (only the token verifier's
    # hash); compelling grounds (Art. 21(1)). The update trigger covers the new columns.
    """
    ALTER TABLE consent_events ADD COLUMN presentation TEXT;
    ALTER TABLE consent_events ADD COLUMN requested_at INTEGER;
    ALTER TABLE consent_events ADD COLUMN confirmed_via TEXT;
    DROP TRIGGER consent_events_no_update;
    CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
    WHEN NOT coalesce(
        NEW.subject GLOB 'sr1:*' AND length(NEW.subject) = 36
        AND NOT (substr(NEW.subject, 5) GLOB '*[^0-9a-f]*')
        AND NOT (OLD.subject GLOB 'sr1:*')
        AND NEW.order_ref IS NULL
        AND NEW.seq IS OLD.seq AND NEW.purpose IS OLD.purpose AND NEW.kind IS OLD.kind
        AND NEW.track IS OLD.track AND NEW.at IS OLD.at AND NEW.evidence IS OLD.evidence
        AND NEW.confirmed_at IS OLD.confirmed_at AND NEW.expires_at IS OLD.expires_at
        AND NEW.presentation IS OLD.presentation AND NEW.requested_at IS OLD.requested_at
        AND NEW.confirmed_via IS OLD.confirmed_via,
        0)
    BEGIN
        SELECT RAISE(ABORT, 'consent events are append-only');
    END;
    -- purpose is '' for the privacy notice.
    CREATE TABLE consent_wordings (
        purpose TEXT NOT NULL,
        version TEXT NOT NULL,
        lang TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        text TEXT NOT NULL,
        valid_from INTEGER NOT NULL,
        valid_until INTEGER,
        renewal INTEGER NOT NULL,
        PRIMARY KEY (purpose, version, lang)
    ) WITHOUT ROWID;
    CREATE TABLE consent_wording_withdrawals (
        purpose TEXT NOT NULL,
        version TEXT NOT NULL,
        at INTEGER NOT NULL,
        reason TEXT,
        PRIMARY KEY (purpose, version)
    ) WITHOUT ROWID;
    CREATE TABLE consent_registry_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        generation INTEGER NOT NULL
    );
    INSERT INTO consent_registry_generation (id, generation) VALUES (1, 0);
    CREATE TABLE consent_pending (
        selector TEXT PRIMARY KEY,
        verifier_sha256 TEXT NOT NULL,
        subject TEXT NOT NULL,
        purpose TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        channel TEXT NOT NULL,
        notice_version TEXT NOT NULL,
        wording_sha256 TEXT NOT NULL,
        actor TEXT NOT NULL,
        staff_key TEXT,
        order_ref TEXT,
        consent_expires_at INTEGER,
        presentation TEXT,
        settled_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX consent_pending_by_subject ON consent_pending (subject, purpose, requested_at);
    CREATE TABLE consent_grounds (
        seq INTEGER PRIMARY KEY,
        subject TEXT NOT NULL,
        purpose TEXT NOT NULL,
        at INTEGER NOT NULL,
        reason TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        until INTEGER
    );
    CREATE INDEX consent_grounds_by_subject ON consent_grounds (subject, purpose, at);
    """  # noqa: S608 - fixed DDL
    + "\n".join(
        SQLITE.append_only("consent", table, message)
        for table, message in (
            ("consent_wordings", "registered wordings never change"),
            ("consent_wording_withdrawals", "wording withdrawals never change"),
        )
    ),
)

_INSERT: Final = (
    "INSERT INTO consent_events (subject, purpose, kind, track, at, evidence, order_ref, "
    "confirmed_at, expires_at, presentation, requested_at, confirmed_via) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
_KIND_COLUMNS: Final = {kind: (kind.value, track) for kind, track in TRACK.items()}
_SUBJECT_PAGE: Final = 5000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

# The texts of the purpose whose every registration was withdrawn by :at.
_WITHDRAWN_EVIDENCE: Final = """
    SELECT v.id FROM consent_evidence AS v WHERE v.wording_sha256 IN (
        SELECT w.sha256 FROM consent_wordings AS w
        LEFT JOIN consent_wording_withdrawals AS x
            ON x.purpose = w.purpose AND x.version = w.version AND x.at <= :at
        WHERE w.purpose = :purpose
        GROUP BY w.sha256 HAVING count(x.version) = count(*))"""

# The texts that need no renewal: of the latest renewing version in force by :at and later.
_CURRENT_EVIDENCE: Final = """
    SELECT v.id FROM consent_evidence AS v WHERE v.wording_sha256 IN (
        SELECT w.sha256 FROM consent_wordings AS w
        WHERE w.purpose = :purpose AND w.valid_from >= (
            SELECT max(r.valid_from) FROM consent_wordings AS r
            WHERE r.purpose = :purpose AND r.renewal = 1 AND r.valid_from <= :at))"""

# The audiences are one ordered pass over the purpose's part of consent_events_by_purpose,
# folded here: each row of the scan is its subject and a code (0: a consent-track event that
# leaves no live consent, 1: one that does, 2: an objection-track event that is no
# objection, 3: an objection), in the order (subject, track, at, seq), so the last code of
# each track decides. SQLite computes the code while it walks the index; Python keeps the
# last one per track. The wording variants add a condition on the event's evidence, which
# is read from the table only for a live "given" (SQLite defers that seek until a column
# outside the index is asked for).
_SCAN_PAGE: Final = 5000
_SCAN: Final = """
SELECT subject,
       CASE WHEN track = 1 THEN 2 + (kind = 'objected')
            WHEN kind <> 'given' OR expires_at <= :at THEN 0{wording}
            ELSE 1 END
FROM consent_events
WHERE purpose = :purpose AND {subjects} AND at <= :at
ORDER BY subject, track, at, seq{limit}
"""


def _scan(wording: str = "") -> tuple[str, str]:
    """The paged scan (subjects after :after, :page rows) and the one of subject :after."""
    # Joined from fixed fragments only: no value ever reaches them.
    paged = _SCAN.format(wording=wording, subjects="subject > :after", limit="\nLIMIT :page")
    whole = _SCAN.format(wording=wording, subjects="subject = :after", limit="")
    return paged, whole


AUDIENCE_SQL, _AUDIENCE_ONE = _scan()
CURRENT_AUDIENCE_SQL, _CURRENT_ONE = _scan(
    f"\n            WHEN evidence IN ({_WITHDRAWN_EVIDENCE}) THEN 0"
)

# The renewal list stays a correlated statement: it keeps few of the live consents (those
# under an old wording), and probing the newer events of just those beats a pass over all.
_LIVE_SQL: Final = """
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
      ORDER BY o.at DESC, o.seq DESC LIMIT 1), '') <> 'objected'"""

TO_RENEW_SQL: Final = "".join(  # noqa: FLY002 - fixed fragments
    (
        _LIVE_SQL,
        "\n  AND (c.evidence IN (",
        _WITHDRAWN_EVIDENCE,
        (
            ")\n       OR (EXISTS (SELECT 1 FROM consent_wordings AS r"
            "\n                   WHERE r.purpose = :purpose AND r.renewal = 1"
            " AND r.valid_from <= :at)"
            "\n           AND c.evidence NOT IN ("
        ),
        _CURRENT_EVIDENCE,
        ")))",
        "\nORDER BY c.subject\nLIMIT :page\n",
    )
)
_WHOLE_SUBJECT: Final = {
    AUDIENCE_SQL: _AUDIENCE_ONE,
    CURRENT_AUDIENCE_SQL: _CURRENT_ONE,
}
"""Each folded scan, and its statement for one subject whose rows fill a page alone."""

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


def micros(value: datetime) -> int:
    """An aware instant as whole microseconds since 1970-01-01 UTC (sorts like the instant)."""
    return (value - _EPOCH) // _MICROSECOND


def _opt_micros(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def _notice(ev: Evidence) -> tuple[str, str, str, str, str]:
    return (
        ev.channel.value,
        ev.notice_version,
        ev.wording_sha256,
        ev.actor.value,
        ev.staff_key or "",
    )


def _extra(ev: Evidence) -> tuple[str | None, int | None, str | None]:
    # presentation, requested_at, confirmed_via: NULL for most imported events.
    return (
        None if ev.presentation is None else ev.presentation.value,
        _opt_micros(ev.requested_at),
        None if ev.confirmed_via is None else ev.confirmed_via.value,
    )


def _evidence_id(conn: sqlite3.Connection, notice: tuple[str, str, str, str, str]) -> int:
    conn.execute(_ADD_EVIDENCE, notice)
    (found,) = conn.execute(_FIND_EVIDENCE, notice).fetchone()
    return int(found)


class SqliteConsentStore(SqlConsentStore[Database]):
    """A :class:`~avgkit.storage.ConsentStore` in the ``consent_events`` table.

    .. versionadded:: 0.1.0
    """

    select: ClassVar[str] = (
        "SELECT e.seq, e.subject, e.purpose, e.kind, e.at, v.channel, v.notice_version, "
        "v.wording_sha256, v.actor, v.staff_key, e.order_ref, e.confirmed_at, e.expires_at, "
        "e.presentation, e.requested_at, e.confirmed_via "
        "FROM consent_events AS e JOIN consent_evidence AS v ON v.id = e.evidence"
    )
    history_where: ClassVar[str] = (
        "e.purpose IN (SELECT purpose FROM consent_purposes) AND e.subject = ?"
    )
    audience_sql: ClassVar[str] = AUDIENCE_SQL
    current_audience_sql: ClassVar[str] = CURRENT_AUDIENCE_SQL
    to_renew_sql: ClassVar[str] = TO_RENEW_SQL
    migrations: ClassVar[tuple[str, ...]] = MIGRATIONS
    objectors_sql: ClassVar[str] = _OBJECTORS_SQL

    @staticmethod
    def at_in(value: datetime) -> int:
        """Microseconds since 1970-01-01 UTC."""
        return micros(value)

    @staticmethod
    def at_out(value: Any) -> datetime:
        """Back from microseconds since 1970-01-01 UTC."""
        return _EPOCH + timedelta(microseconds=value)

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._written = WrittenBatch()

    def append(self, event: ConsentEvent) -> ConsentEvent:
        """Insert one event and return it with its seq."""
        self._written.drop()
        ev = event.evidence
        notice = _notice(ev)
        evidence = self._known(event.purpose, notice)
        # A known purpose and evidence: the event's INSERT alone (no savepoint needed).
        write = self._db.write if evidence is None else self._db.write_one
        with write("recording a consent event") as conn:
            if evidence is None:
                conn.execute(_ADD_PURPOSE, (event.purpose,))
                evidence = _evidence_id(conn, notice)
                self._learn(event.purpose, notice, evidence)
            cursor = conn.execute(
                _INSERT,
                (
                    event.subject,
                    event.purpose,
                    *_KIND_COLUMNS[event.kind],
                    micros(event.at),
                    evidence,
                    ev.order_ref,
                    _opt_micros(ev.confirmed_at),
                    _opt_micros(ev.expires_at),
                    *_extra(ev),
                ),
            )
            seq = cursor.lastrowid
        assert seq is not None  # noqa: S101 - an INSERT always sets it
        return with_seq(event, seq)

    def append_many(self, events: Sequence[ConsentEvent]) -> int:
        """Insert a batch in one transaction."""
        events = check_batch(events)
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
        self._written.keep(self._db, events)
        return len(events)

    def appended(self, count: int) -> list[ConsentEvent]:
        """The ``count`` events stored last, oldest first (see ``AppendedEvents``).

        Right after :meth:`append_many` in the same unit of work (the ledger's import),
        the batch comes back as it was written with the seqs its rows got: only the seqs
        are read (see ``WrittenBatch``).
        """
        return self._written.appended(self._db, count) or super().appended(count)

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
                *_extra(ev),
            )
        return done

    def _subjects(self, query: str, purpose: str, at: datetime) -> Iterator[SubjectId]:
        # Keyset pages by subject: each page is a short read, so writers are never held up
        # while a caller walks a long audience, and memory stays flat.
        whole = _WHOLE_SUBJECT.get(query)
        if whole is not None:
            yield from self._folded(query, whole, purpose, at)
            return
        params: dict[str, object] = {
            "purpose": purpose,
            "at": micros(at),
            "after": "",
            "page": _SUBJECT_PAGE,
        }
        while True:
            with self._db.read("computing a consent audience") as conn:
                rows = conn.execute(query, params).fetchall()
            for (subject,) in rows:
                yield SubjectId(subject)
            if len(rows) < _SUBJECT_PAGE:
                return
            params["after"] = rows[-1][0]

    def _folded(self, paged: str, whole: str, purpose: str, at: datetime) -> Iterator[SubjectId]:
        # Pages of :page rows of the ordered scan. A full page may end inside a subject:
        # that subject's rows are left for the next page, which starts at it; if one subject
        # fills a page alone, its rows are read whole.
        params: dict[str, object] = {
            "purpose": purpose,
            "at": micros(at),
            "after": "",
            "page": _SCAN_PAGE,
        }
        while True:
            with self._db.read("computing a consent audience") as conn:
                rows = conn.execute(paged, params).fetchall()
                full = len(rows) == _SCAN_PAGE
                if full:
                    last = rows[-1][0]
                    cut = len(rows) - 1
                    while cut and rows[cut - 1][0] == last:
                        cut -= 1
                    if cut:
                        del rows[cut:]
                    else:
                        rows = conn.execute(whole, {**params, "after": last}).fetchall()
            yield from _decided(rows)
            if not full:
                return
            params["after"] = rows[-1][0]


def _decided(rows: list[tuple[str, int]]) -> list[SubjectId]:
    """The subjects of ``rows`` (whole subjects, in scan order) whose codes leave consent live.

    The last consent-track code must be 1 (a live "given") and the last objection-track
    code not 3 (an objection).
    """
    out: list[SubjectId] = []
    subject: str | None = None
    live = 0
    objected = False
    for found, code in rows:
        if found != subject:
            if live and not objected:
                out.append(SubjectId(subject))  # type: ignore[arg-type]  # set once live is
            subject, live, objected = found, 0, False
        if code < 2:  # noqa: PLR2004 - the codes of the scan
            live = code
        else:
            objected = code == 3  # noqa: PLR2004
    if live and not objected:
        out.append(SubjectId(subject))  # type: ignore[arg-type]
    return out
