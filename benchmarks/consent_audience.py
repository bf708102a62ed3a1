"""Consent ledger at scale: bulk import rates, and the audience in every database state.

Loads ``--subjects`` subjects (1,000,000 by default) with mixed histories (given, withdrawn,
re-given, expiring, objected, other purposes only) through ``ConsentLedger.import_events``,
building each event's values (its ``Evidence`` and ``ConsentEvent``) from plain rows as an
importer must, and counting that in the rate: once with the rows in subject order, once into
a second store in time order, as a chronological CRM export arrives. The newsletter needs a
double opt-in: half of its consents were confirmed (dated at the confirmation, with the
request's instant beside it), and one subject in twenty has a request still awaiting
confirmation, recorded through ``give()`` (pending: not in the audience). Two wording
versions are registered and the older one, under which a fifth of the consents were given,
is withdrawn.

It then times the ledger's double opt-in audience and its current-wording audience, each
streamed through the adapter, against several hand-written ways of reading the same answer
from the same tables (SQL statements, and one ordered scan folded in Python), checking that
every answer is equal. After an untimed warm-up the sides take turns round by round, the
order rotating; the best and the median round of each are printed. SQLite is measured once
loaded; PostgreSQL in three states: right after the bulk import (the benchmark runs neither
VACUUM nor ANALYZE: the table is as the import left it), after updates (new events for a
tenth of the subjects, imported in nightly batches of 10,000), and after VACUUM ANALYZE. The
local test server runs with autovacuum off, as some production servers do.

Goals: each audience at most 1.5 times the fastest hand-written way in every state; the
import at least 100,000 events/s on SQLite and 50,000 events/s on PostgreSQL, counting the
building of the values, in both orders. Each goal is printed with whether it holds.

    python benchmarks/consent_audience.py                      # SQLite, 1,000,000 subjects
    python benchmarks/consent_audience.py --subjects 2000      # a quick smoke run
    python benchmarks/consent_audience.py --backend postgres   # AVGKIT_TEST_POSTGRES_URL
"""

from __future__ import annotations

import argparse
import heapq
import os
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import attrs

from avgkit import Kit
from avgkit.consent import Channel, ConsentAction, ConsentEvent, Evidence, hash_wording
from avgkit.inventory import Inventory
from avgkit.presets import ticketing
from avgkit.storage.sqlite._consent import micros
from avgkit.testing import ManualClock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Disagreement, Figure, Goal, Row, compare, ratio_at_most, seconds

START = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 1, tzinfo=UTC)
PURPOSE = "newsletter"
BATCH = 100_000
"""Events per ``import_events`` call of the bulk load."""
UPDATE_BATCH = 10_000
"""Events per ``import_events`` call of the updates (one nightly CRM sync)."""
ROUNDS = 3
"""Timed rounds of each audience measure, after the warm-up."""
AUDIENCE_TARGET = 1.5
IMPORT_TARGET = {"sqlite": 100_000, "postgres": 50_000}

NOTICE = "2019-05-01"
WORDING_OLD = "Ja, stuur mij af en toe iets."
WORDING = "Ja, stuur mij de nieuwsbrief."
SHA_OLD = hash_wording(WORDING_OLD)
SHA = hash_wording(WORDING)
EXPIRED_AT = START + timedelta(days=400)
EXPIRING_AT = NOW + timedelta(days=400)
_ASKED = Evidence(
    channel=Channel.WEBSHOP,
    notice_version=NOTICE,
    wording_sha256=SHA,
    presentation="unticked_box",
)

# -- the data: plain rows, as an export from another system has them ----------------------

PlainRow = tuple[str, str, str, datetime, str, datetime | None, datetime | None]
"""subject, purpose, kind, at, wording hash, expires_at, the double opt-in's request time."""

# The ten kinds of history (subject i has pattern i % 10), as (days after the subject's
# first event, kind, purpose, expiry): about 1.5 events a subject.
_PATTERNS: tuple[tuple[tuple[int, str, str, str], ...], ...] = (
    ((0, "given", PURPOSE, ""),),  # 0-2: given and kept
    ((0, "given", PURPOSE, ""),),
    ((0, "given", PURPOSE, ""),),
    ((0, "given", PURPOSE, ""), (200, "withdrawn", PURPOSE, "")),  # 3: withdrawn
    (  # 4: given, withdrawn, given again
        (0, "given", PURPOSE, ""),
        (100, "withdrawn", PURPOSE, ""),
        (300, "given", PURPOSE, ""),
    ),
    ((0, "given", PURPOSE, "expiry"),),  # 5: expired long ago, or still valid
    ((0, "given", PURPOSE, ""), (150, "objected", PURPOSE, "")),  # 6: objected (Art. 21(3))
    ((0, "given", "loyalty_programme", ""),),  # 7: the loyalty programme only
    ((0, "given", PURPOSE, ""), (50, "objected", "evaluation_mail", "")),  # 8
    ((10, "withdrawn", PURPOSE, ""),),  # 9: a withdrawal though consent was never given
)
_OFFSETS = sorted({days for pattern in _PATTERNS for days, *_ in pattern})
_SPREAD = 500_000
"""Subjects' first events fall on this many consecutive minutes from START."""


def _row(i: int, days: int, kind: str, purpose: str, expiry: str) -> PlainRow:
    at = START + timedelta(minutes=i % _SPREAD, days=days)
    wording = SHA_OLD if i % 5 == 0 else SHA
    expires = None
    if expiry:
        wording = SHA
        expires = EXPIRED_AT if i % 20 == 5 else EXPIRING_AT
    # Half the newsletter consents are confirmed double opt-ins, live from the
    # confirmation, an hour after the request.
    requested = None
    if kind == "given" and purpose == PURPOSE and i % 2 == 0 and expires is None:
        requested = at - timedelta(hours=1)
    return (f"cust-{i:07d}", purpose, kind, at, wording, expires, requested)


def rows_by_subject(subjects: int) -> Iterator[PlainRow]:
    """Every subject's events, subject after subject."""
    for i in range(subjects):
        for step in _PATTERNS[i % 10]:
            yield _row(i, *step)


def rows_by_time(subjects: int) -> Iterator[PlainRow]:
    """The same events in time order (a chronological export), streamed: memory stays flat."""

    def at_offset(days: int) -> Iterator[PlainRow]:
        # Subjects in the order of their first event: by minute, then by number.
        for minute in range(min(subjects, _SPREAD)):
            for i in range(minute, subjects, _SPREAD):
                for step in _PATTERNS[i % 10]:
                    if step[0] == days:
                        yield _row(i, *step)

    return heapq.merge(*(at_offset(days) for days in _OFFSETS), key=lambda row: row[3])


def rows_of_updates(subjects: int) -> Iterator[PlainRow]:
    """New events for a tenth of the subjects: withdrawals, and consents given again."""
    at = NOW - timedelta(days=2)
    for i in range(subjects):
        if i % 20 == 1:  # a kept consent withdrawn
            yield (f"cust-{i:07d}", PURPOSE, "withdrawn", at, SHA, None, None)
        elif i % 20 == 13:  # a withdrawn consent given again, confirmed
            yield (f"cust-{i:07d}", PURPOSE, "given", at, SHA, None, at - timedelta(hours=1))


def build(rows: Iterable[PlainRow], memo: dict[tuple[Any, ...], Evidence]) -> list[ConsentEvent]:
    """The events of ``rows``: what an importer builds, one Evidence per distinct evidence.

    Confirmed double opt-ins each carry their own instants, so their evidence is built per
    row; the rest share a few Evidence values (``memo``).
    """
    events = []
    for subject, purpose, kind, at, wording, expires, requested in rows:
        if requested is None:
            key = (wording, expires)
            evidence = memo.get(key)
            if evidence is None:
                evidence = memo[key] = Evidence(
                    channel=Channel.IMPORT,
                    notice_version=NOTICE,
                    wording_sha256=wording,
                    expires_at=expires,
                )
        else:
            evidence = Evidence(
                channel=Channel.IMPORT,
                notice_version=NOTICE,
                wording_sha256=wording,
                requested_at=requested,
                confirmed_at=at,
                confirmed_via=Channel.EMAIL_LINK,
            )
        events.append(
            ConsentEvent(
                subject=subject, purpose=purpose, kind=ConsentAction(kind), at=at, evidence=evidence
            )
        )
    return events


def chunks(rows: Iterable[PlainRow], size: int) -> Iterator[list[PlainRow]]:
    """``rows`` in lists of ``size``."""
    batch: list[PlainRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@attrs.define
class Load:
    """How long building the values and importing them took."""

    events: int = 0
    building: float = 0.0
    importing: float = 0.0

    @property
    def rate(self) -> float:
        """Events a second, counting the building of the values."""
        return self.events / (self.building + self.importing)

    @property
    def import_rate(self) -> float:
        """Events a second of ``import_events`` alone."""
        return self.events / self.importing


def load(kit: Kit, rows: Iterable[PlainRow], batch: int = BATCH) -> Load:
    """Build and import ``rows`` in batches of ``batch``, timing the two apart."""
    done = Load()
    memo: dict[tuple[Any, ...], Evidence] = {}
    for chunk in chunks(rows, batch):
        started = time.perf_counter()
        events = build(chunk, memo)
        built = time.perf_counter()
        done.events += kit.consent.import_events(events)
        done.building += built - started
        done.importing += time.perf_counter() - built
    return done


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRACK = {"given": 0, "withdrawn": 0, "objected": 1, "objection_lifted": 1}


def raw_sqlite(path: str, rows: Iterable[PlainRow]) -> Load:
    """The baseline: raw ``executemany`` of the same rows into an empty store's tables.

    The same table, indexes and durability as the store (``synchronous=FULL``), one
    transaction a batch; no checks, no audit entry, no binding. The conversion of each row
    to its columns is timed with the insert (``building`` stays 0).
    """
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA cache_size = -65536")
    ids: dict[str, int] = {}

    def evidence(wording: str) -> int:
        found = ids.get(wording)
        if found is None:
            cursor = conn.execute(
                "INSERT INTO consent_evidence (channel, notice_version, wording_sha256, actor, "
                "staff_key) VALUES ('import', ?, ?, 'subject', '')",
                (NOTICE, wording),
            )
            found = ids[wording] = int(cursor.lastrowid or 0)
        return found

    def micros_of(value: datetime | None) -> int | None:
        return None if value is None else (value - _EPOCH) // timedelta(microseconds=1)

    insert = (
        "INSERT INTO consent_events (subject, purpose, kind, track, at, evidence, "
        "confirmed_at, expires_at, requested_at, confirmed_via) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    done = Load()
    try:
        for chunk in chunks(rows, BATCH):
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                insert,
                (
                    (
                        subject,
                        purpose,
                        kind,
                        _TRACK[kind],
                        micros_of(at),
                        evidence(wording),
                        None if requested is None else micros_of(at),
                        micros_of(expires),
                        micros_of(requested),
                        None if requested is None else "email_link",
                    )
                    for subject, purpose, kind, at, wording, expires, requested in chunk
                ),
            )
            conn.execute("COMMIT")
            done.importing += time.perf_counter() - started
            done.events += len(chunk)
    finally:
        conn.close()
    return done


_COPIED = (
    ("subject", "text"),
    ("purpose", "text"),
    ("kind", "text"),
    ("track", "int2"),
    ("at", "timestamptz"),
    ("channel", "text"),
    ("notice_version", "text"),
    ("wording_sha256", "text"),
    ("actor", "text"),
    ("confirmed_at", "timestamptz"),
    ("expires_at", "timestamptz"),
    ("requested_at", "timestamptz"),
    ("confirmed_via", "text"),
)


def raw_postgres(url: str, rows: Iterable[PlainRow]) -> Load:
    """The baseline: raw binary ``COPY`` of the same rows into an empty store's table.

    One transaction a batch; no checks, no audit entry, no binding; the conversion of each
    row to its columns is timed with the copy.
    """
    with ExitStack() as stack:
        conn = _plain_connection(url, stack)
        columns = ", ".join(name for name, _ in _COPIED)
        done = Load()
        for chunk in chunks(rows, BATCH):
            started = time.perf_counter()
            with (
                conn.transaction(),
                conn.cursor() as cursor,
                cursor.copy(f"COPY consent_events ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types([kind for _, kind in _COPIED])
                for subject, purpose, kind, at, wording, expires, requested in chunk:
                    copy.write_row(
                        (
                            subject,
                            purpose,
                            kind,
                            _TRACK[kind],
                            at,
                            "import",
                            NOTICE,
                            wording,
                            "subject",
                            None if requested is None else at,
                            expires,
                            requested,
                            None if requested is None else "email_link",
                        )
                    )
            done.importing += time.perf_counter() - started
            done.events += len(chunk)
        return done


def double_opt_in() -> Inventory:
    """The ticketing inventory with a double opt-in for the newsletter."""
    inventory = ticketing.inventory()
    purposes = tuple(
        attrs.evolve(p, confirmation=True) if p.key == PURPOSE else p for p in inventory.purposes
    )
    return attrs.evolve(inventory, purposes=purposes)


# -- the hand-written ways: what a developer would write against the same tables ----------

SQLITE_WINDOW = """
WITH ranked AS (
    SELECT subject, track, kind, expires_at,
           row_number() OVER (PARTITION BY subject, track ORDER BY at DESC, seq DESC) AS rn
    FROM consent_events WHERE purpose = :purpose AND at <= :at)
SELECT subject FROM ranked
WHERE rn = 1 AND track = 0 AND kind = 'given' AND (expires_at IS NULL OR expires_at > :at)
  AND subject NOT IN (
      SELECT subject FROM ranked WHERE rn = 1 AND track = 1 AND kind = 'objected')
"""
SQLITE_CORRELATED = """
SELECT c.subject FROM consent_events AS c
WHERE c.purpose = :purpose AND c.track = 0 AND c.kind = 'given' AND c.at <= :at
  AND (c.expires_at IS NULL OR c.expires_at > :at)
  AND NOT EXISTS (SELECT 1 FROM consent_events AS n
      WHERE n.purpose = :purpose AND n.subject = c.subject AND n.track = 0 AND n.at <= :at
        AND (n.at, n.seq) > (c.at, c.seq))
  AND NOT EXISTS (SELECT 1 FROM consent_events AS o
      WHERE o.purpose = :purpose AND o.subject = c.subject AND o.track = 1 AND o.at <= :at
        AND o.kind = 'objected'
        AND NOT EXISTS (SELECT 1 FROM consent_events AS l
            WHERE l.purpose = :purpose AND l.subject = c.subject AND l.track = 1
              AND l.at <= :at AND (l.at, l.seq) > (o.at, o.seq)))
"""
# One ordered pass over the purpose index; the latest row of each track decides (in Python).
SQLITE_SCAN = """
SELECT subject, track, kind, expires_at FROM consent_events
WHERE purpose = :purpose AND at <= :at ORDER BY subject, track, at, seq
"""
SQLITE_SCAN_CURRENT = """
SELECT e.subject, e.track, e.kind, e.expires_at, v.wording_sha256
FROM consent_events AS e JOIN consent_evidence AS v ON v.id = e.evidence
WHERE e.purpose = :purpose AND e.at <= :at ORDER BY e.subject, e.track, e.at, e.seq
"""
POSTGRES_DISTINCT_ON = """
WITH latest AS (
    SELECT DISTINCT ON (subject, track) subject, track, kind, expires_at
    FROM consent_events WHERE purpose = %(purpose)s AND at <= %(at)s
    ORDER BY subject, track, at DESC, seq DESC)
SELECT subject FROM latest
WHERE track = 0 AND kind = 'given' AND (expires_at IS NULL OR expires_at > %(at)s)
  AND subject NOT IN (SELECT subject FROM latest WHERE track = 1 AND kind = 'objected')
"""
POSTGRES_WINDOW = """
WITH ranked AS (
    SELECT subject, track, kind, expires_at,
           row_number() OVER (PARTITION BY subject, track ORDER BY at DESC, seq DESC) AS rn
    FROM consent_events WHERE purpose = %(purpose)s AND at <= %(at)s)
SELECT subject FROM ranked
WHERE rn = 1 AND track = 0 AND kind = 'given' AND (expires_at IS NULL OR expires_at > %(at)s)
  AND subject NOT IN (
      SELECT subject FROM ranked WHERE rn = 1 AND track = 1 AND kind = 'objected')
"""
# The newest row of each track read along the (purpose, track, subject, at, seq) index.
POSTGRES_PER_TRACK = """
WITH consent AS (
    SELECT DISTINCT ON (subject) subject, kind, expires_at
    FROM consent_events WHERE purpose = %(purpose)s AND track = 0 AND at <= %(at)s
    ORDER BY subject, at DESC, seq DESC
), objected AS (
    SELECT DISTINCT ON (subject) subject, kind
    FROM consent_events WHERE purpose = %(purpose)s AND track = 1 AND at <= %(at)s
    ORDER BY subject, at DESC, seq DESC)
SELECT c.subject FROM consent AS c
LEFT JOIN objected AS o ON o.subject = c.subject AND o.kind = 'objected'
WHERE c.kind = 'given' AND (c.expires_at IS NULL OR c.expires_at > %(at)s)
  AND o.subject IS NULL
"""

# The same answers without consents under the withdrawn wording (its hash is :withdrawn).
SQLITE_WINDOW_CURRENT = """
WITH ranked AS (
    SELECT e.subject, e.track, e.kind, e.expires_at, v.wording_sha256,
           row_number() OVER (PARTITION BY e.subject, e.track ORDER BY e.at DESC, e.seq DESC)
               AS rn
    FROM consent_events AS e JOIN consent_evidence AS v ON v.id = e.evidence
    WHERE e.purpose = :purpose AND e.at <= :at)
SELECT subject FROM ranked
WHERE rn = 1 AND track = 0 AND kind = 'given' AND (expires_at IS NULL OR expires_at > :at)
  AND wording_sha256 <> :withdrawn
  AND subject NOT IN (
      SELECT subject FROM ranked WHERE rn = 1 AND track = 1 AND kind = 'objected')
"""
SQLITE_CORRELATED_CURRENT = (
    SQLITE_CORRELATED
    + """
  AND c.evidence NOT IN (SELECT id FROM consent_evidence WHERE wording_sha256 = :withdrawn)
"""
)
POSTGRES_DISTINCT_ON_CURRENT = """
WITH latest AS (
    SELECT DISTINCT ON (subject, track) subject, track, kind, expires_at, wording_sha256
    FROM consent_events WHERE purpose = %(purpose)s AND at <= %(at)s
    ORDER BY subject, track, at DESC, seq DESC)
SELECT subject FROM latest
WHERE track = 0 AND kind = 'given' AND (expires_at IS NULL OR expires_at > %(at)s)
  AND wording_sha256 <> %(withdrawn)s
  AND subject NOT IN (SELECT subject FROM latest WHERE track = 1 AND kind = 'objected')
"""
POSTGRES_WINDOW_CURRENT = """
WITH ranked AS (
    SELECT subject, track, kind, expires_at, wording_sha256,
           row_number() OVER (PARTITION BY subject, track ORDER BY at DESC, seq DESC) AS rn
    FROM consent_events WHERE purpose = %(purpose)s AND at <= %(at)s)
SELECT subject FROM ranked
WHERE rn = 1 AND track = 0 AND kind = 'given' AND (expires_at IS NULL OR expires_at > %(at)s)
  AND wording_sha256 <> %(withdrawn)s
  AND subject NOT IN (
      SELECT subject FROM ranked WHERE rn = 1 AND track = 1 AND kind = 'objected')
"""
POSTGRES_PER_TRACK_CURRENT = POSTGRES_PER_TRACK.replace(
    "subject, kind, expires_at\n", "subject, kind, expires_at, wording_sha256\n", 1
).replace(
    "  AND o.subject IS NULL\n", "  AND o.subject IS NULL AND c.wording_sha256 <> %(withdrawn)s\n"
)

Way = Callable[[], set[str]]
Ways = dict[str, dict[str, Way]]
"""Per answer ("audience", "current"), the hand-written ways by name."""


def _folded(rows: Iterable[Sequence[Any]], at: int, withdrawn: str | None = None) -> set[str]:
    """The subjects of an ordered scan whose latest event of each track leaves them in."""
    out: set[str] = set()
    subject = None
    live = objected = False
    for row in rows:
        if row[0] != subject:
            if live and not objected:
                out.add(subject)  # type: ignore[arg-type]
            subject, live, objected = row[0], False, False
        if row[1]:
            objected = row[2] == "objected"
        else:
            live = (
                row[2] == "given"
                and (row[3] is None or row[3] > at)
                and (withdrawn is None or row[4] != withdrawn)
            )
    if live and not objected:
        out.add(subject)  # type: ignore[arg-type]
    return out


def hand_written_sqlite(path: str, stack: ExitStack) -> Ways:
    """The hand-written ways over a separate plain sqlite3 connection, per answer."""
    conn = sqlite3.connect(path)
    stack.callback(conn.close)
    at = micros(NOW)  # the SQLite store keeps instants as microseconds since 1970
    params = {"purpose": PURPOSE, "at": at, "withdrawn": SHA_OLD}

    def run(sql: str) -> Way:
        return lambda: {row[0] for row in conn.execute(sql, params)}

    return {
        "audience": {
            "window": run(SQLITE_WINDOW),
            "correlated": run(SQLITE_CORRELATED),
            "scan folded": lambda: _folded(conn.execute(SQLITE_SCAN, params), at),
        },
        "current": {
            "window": run(SQLITE_WINDOW_CURRENT),
            "correlated": run(SQLITE_CORRELATED_CURRENT),
            "scan folded": lambda: _folded(conn.execute(SQLITE_SCAN_CURRENT, params), at, SHA_OLD),
        },
    }


def _plain_connection(url: str, stack: ExitStack) -> Any:
    """A plain psycopg connection to the store's schema (autocommit)."""
    import psycopg  # noqa: PLC0415

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", "avgkit")
    conn = psycopg.connect(urlunsplit(parts._replace(query="")), autocommit=True)
    stack.callback(conn.close)
    conn.execute(f'SET search_path TO "{schema}"')
    return conn


def hand_written_postgres(conn: Any) -> Ways:
    """The hand-written ways over a plain psycopg connection in the same schema.

    Each fetches the whole answer at once: no cursor, so the planner may use parallel
    workers (the fastest way to read it, if not the one with flat memory).
    """
    params = {"purpose": PURPOSE, "at": NOW, "withdrawn": SHA_OLD}

    def run(sql: str) -> Way:
        return lambda: {row[0] for row in conn.execute(sql, params).fetchall()}

    return {
        "audience": {
            "distinct_on": run(POSTGRES_DISTINCT_ON),
            "window": run(POSTGRES_WINDOW),
            "per_track": run(POSTGRES_PER_TRACK),
        },
        "current": {
            "distinct_on": run(POSTGRES_DISTINCT_ON_CURRENT),
            "window": run(POSTGRES_WINDOW_CURRENT),
            "per_track": run(POSTGRES_PER_TRACK_CURRENT),
        },
    }


# -- taking turns ------------------------------------------------------------------------------

LABELS = {"audience": "double opt-in audience", "current": "current-wording audience"}


@attrs.define
class Sides:
    """The rounds of avgkit and of each hand-written way for one answer in one state."""

    state: str
    answer: str
    subjects: int = 0
    warm_up: dict[str, float] = attrs.field(factory=dict)
    times: dict[str, list[float]] = attrs.field(factory=dict)

    def best(self, side: str) -> float:
        return min(self.times[side])

    def median(self, side: str) -> float:
        return statistics.median(self.times[side])

    @property
    def fastest(self) -> str:
        """The hand-written way with the best round."""
        return min((s for s in self.times if s != "avgkit"), key=self.best)

    @property
    def ratio(self) -> float:
        return self.best("avgkit") / self.best(self.fastest)


def take_turns(state: str, answer: str, ours: Way, ways: dict[str, Way], rounds: int) -> Sides:
    """An untimed warm-up of every side, then ``rounds`` rounds, the order rotating.

    Raises:
        Disagreement: a hand-written way's answer differs from avgkit's.
    """
    sides = {"avgkit": ours, **ways}
    names = list(sides)
    result = Sides(state, answer, times={name: [] for name in names})
    expected: set[str] | None = None
    for round_no in range(rounds + 1):
        turn = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in turn:
            started = time.perf_counter()
            got = sides[name]()
            spent = time.perf_counter() - started
            if expected is None:
                expected = got
            elif got != expected:
                msg = f"{state}: the hand-written {name!r} way disagrees with the ledger's {answer}"
                raise Disagreement(msg)
            if round_no == 0:
                result.warm_up[name] = spent
            else:
                result.times[name].append(spent)
    result.subjects = len(expected or ())
    return result


def report(sides: Sides, out: TextIO) -> None:
    """One line per side, then the state's verdict line."""
    label = LABELS[sides.answer]
    for name in sides.times:
        shown = "avgkit (ledger)" if name == "avgkit" else f"hand-written {name}"
        print(
            f"  {label}, {sides.state}: {shown}: best {sides.best(name):.3f} s, median "
            f"{sides.median(name):.3f} s (warm-up {sides.warm_up[name]:.3f} s)",
            file=out,
        )
    verdict = "met" if sides.ratio <= AUDIENCE_TARGET else "MISSED"
    print(
        f"{label}, {sides.state}: {sides.ratio:.2f}x the fastest hand-written way "
        f"({sides.fastest}) for {sides.subjects:,} subjects; goal <= {AUDIENCE_TARGET}x: "
        f"{verdict}",
        file=out,
    )


def summary(worst: dict[str, Sides], out: TextIO) -> None:
    """The worst state of each answer in the lines ``benchmarks/run.py`` reads."""
    for answer, sides in worst.items():
        label = LABELS[answer]
        where = "" if answer == "audience" else ", current wording"
        print(f"worst state for the {label}: {sides.state}", file=out)
        for name in sides.times:
            if name != "avgkit":
                print(f"hand-written query{where} ({name}): {sides.best(name):.3f} s", file=out)
        shown = "ledger audience" if answer == "audience" else f"ledger {label}"
        print(
            f"{shown}: {sides.best('avgkit'):.3f} s for {sides.subjects:,} subjects ({label})",
            file=out,
        )
        print(
            f"{label} ratio: {sides.ratio:.2f}x the fastest hand-written query "
            f"(target <= {AUDIENCE_TARGET}x)",
            file=out,
        )


# -- the states ------------------------------------------------------------------------------


def table_state(conn: Any) -> str:
    """What the planner knows of consent_events: its statistics and visible pages."""
    row = conn.execute(
        "SELECT c.reltuples, c.relpages, c.relallvisible, s.last_analyze, s.last_vacuum, "
        "s.last_autoanalyze, s.last_autovacuum "
        "FROM pg_class AS c JOIN pg_stat_user_tables AS s ON s.relid = c.oid "
        "WHERE c.oid = 'consent_events'::regclass"
    ).fetchone()
    tuples, pages, visible, *runs = row
    counted = "never analysed" if tuples < 0 else f"statistics of {tuples:,.0f} rows"
    ran = [
        name
        for name, when in zip(("ANALYZE", "VACUUM", "autoanalyze", "autovacuum"), runs, strict=True)
        if when is not None
    ]
    return (
        f"{counted}, {visible:,} of {pages:,} pages all-visible "
        f"(run on the table so far: {', '.join(ran) or 'nothing'})"
    )


def _ledger(kit: Kit) -> dict[str, Way]:
    return {
        "audience": lambda: set(kit.consent.audience(PURPOSE, at=NOW)),
        "current": lambda: set(kit.consent.audience(PURPOSE, at=NOW, current_wordings=True)),
    }


def measure_state(state: str, kit: Kit, ways: Ways, rounds: int, out: TextIO) -> dict[str, Sides]:
    """Both answers in one state, avgkit and the hand-written ways taking turns."""
    ours = _ledger(kit)
    measured = {}
    for answer in ("audience", "current"):
        sides = take_turns(state, answer, ours[answer], ways[answer], rounds)
        report(sides, out)
        measured[answer] = sides
    return measured


def _register_wordings(kit: Kit) -> None:
    registry = kit.consent.wordings
    registry.register_checkbox(PURPOSE, "0", {"nl": WORDING_OLD}, valid_from=START)
    registry.register_checkbox(PURPOSE, "1", {"nl": WORDING}, valid_from=START + timedelta(days=1))
    registry.withdraw(PURPOSE, "0", reason="too vague", at=NOW - timedelta(days=1))


def _pending_requests(kit: Kit, subjects: int, out: TextIO) -> None:
    started = time.perf_counter()
    pending = 0
    for i in range(9, subjects, 20):  # requests awaiting their confirmation
        kit.consent.give(f"cust-{i:07d}", PURPOSE, _ASKED, at=NOW - timedelta(hours=1))
        pending += 1
    spent = time.perf_counter() - started
    print(
        f"double opt-in requests: {pending:,} through give() ({pending / spent:,.0f}/s)",
        file=out,
    )


def _import_lines(backend: str, loads: dict[str, Load], raw: dict[str, Load], out: TextIO) -> None:
    target = IMPORT_TARGET[backend]
    how = "executemany" if backend == "sqlite" else "binary COPY"
    for order, done in loads.items():
        verdict = "met" if done.rate >= target else "MISSED"
        print(
            f"bulk import, {order}: {done.rate:,.0f} events/s counting the building of the "
            f"values ({done.building:.2f} s building, {done.importing:.2f} s import_events: "
            f"{done.import_rate:,.0f} events/s alone); raw {how} of the same rows "
            f"(no checks, no audit): {raw[order].rate:,.0f} events/s, "
            f"{done.rate / raw[order].rate:.2f}x its rate; goal >= {target:,}/s: {verdict}",
            file=out,
        )


@attrs.define
class Result:
    """What one backend's run measured."""

    backend: str
    subjects: int
    loads: dict[str, Load]
    raw: dict[str, Load]
    states: list[dict[str, Sides]]

    def worst(self, answer: str) -> Sides:
        """The state in which ``answer`` came out worst against its baseline."""
        return max((state[answer] for state in self.states), key=lambda s: s.ratio)


def _sqlite(subjects: int, rounds: int, out: TextIO) -> Result:
    orders = {"subject order": rows_by_subject, "time order": rows_by_time}
    with tempfile.TemporaryDirectory(prefix="avgkit-bench-") as tmp, ExitStack() as stack:
        clock = ManualClock(NOW)
        raw = {}
        for n, (order, rows) in enumerate(orders.items()):
            empty = f"{tmp}/raw-{n}.db"
            Kit.open(f"sqlite:///{empty}", inventory=double_opt_in(), clock=clock).close()
            raw[order] = raw_sqlite(empty, rows(subjects))
        with Kit.open(
            f"sqlite:///{tmp}/by-time.db", inventory=double_opt_in(), clock=clock
        ) as other:
            by_time = load(other, rows_by_time(subjects))
        path = str(Path(tmp) / "consent.db")
        kit = stack.enter_context(
            Kit.open(f"sqlite:///{path}", inventory=double_opt_in(), clock=clock)
        )
        by_subject = load(kit, rows_by_subject(subjects))
        loads = {"subject order": by_subject, "time order": by_time}
        print(f"backend sqlite: {subjects:,} subjects, {by_subject.events:,} events", file=out)
        _import_lines("sqlite", loads, raw, out)
        _register_wordings(kit)
        _pending_requests(kit, subjects, out)
        ways = hand_written_sqlite(path, stack)
        state = measure_state("loaded", kit, ways, rounds, out)
        return Result("sqlite", subjects, loads, raw, [state])


def _postgres(subjects: int, base: str, rounds: int, out: TextIO) -> Result:
    import psycopg  # noqa: PLC0415

    schemas = [f"avgkit_bench_{secrets.token_hex(4)}" for _ in range(4)]
    urls = [f"{base}{'&' if '?' in base else '?'}schema={schema}" for schema in schemas]
    clock = ManualClock(NOW)
    orders = {"subject order": rows_by_subject, "time order": rows_by_time}
    try:
        with ExitStack() as stack:
            raw = {}
            for url, (order, rows) in zip(urls[2:], orders.items(), strict=True):
                Kit.open(url, inventory=double_opt_in(), clock=clock).close()
                raw[order] = raw_postgres(url, rows(subjects))
            with Kit.open(urls[1], inventory=double_opt_in(), clock=clock) as other:
                by_time = load(other, rows_by_time(subjects))
            kit = stack.enter_context(Kit.open(urls[0], inventory=double_opt_in(), clock=clock))
            by_subject = load(kit, rows_by_subject(subjects))
            loads = {"subject order": by_subject, "time order": by_time}
            print(
                f"backend postgres: {subjects:,} subjects, {by_subject.events:,} events", file=out
            )
            _import_lines("postgres", loads, raw, out)
            conn = _plain_connection(urls[0], stack)
            ways = hand_written_postgres(conn)
            states = []
            # 1. As the import left the table: whatever statistics and visibility it has.
            _register_wordings(kit)
            print(f"right after the import: {table_state(conn)}", file=out)
            states.append(measure_state("right after the import", kit, ways, rounds, out))
            # 2. New events for a tenth of the subjects, and pending double opt-ins.
            updates = load(kit, rows_of_updates(subjects), UPDATE_BATCH)
            _pending_requests(kit, subjects, out)
            print(
                f"updates: {updates.events:,} events in batches of {UPDATE_BATCH:,}; "
                f"{table_state(conn)}",
                file=out,
            )
            states.append(measure_state("after updates", kit, ways, rounds, out))
            # 3. After VACUUM ANALYZE: statistics and the visibility map current.
            conn.execute("VACUUM ANALYZE consent_events")
            print(f"after VACUUM ANALYZE: {table_state(conn)}", file=out)
            states.append(measure_state("after VACUUM ANALYZE", kit, ways, rounds, out))
            return Result("postgres", subjects, loads, raw, states)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- entry points ----------------------------------------------------------------------------


def _postgres_base(url: str | None) -> str:
    return (
        url
        or os.environ.get("AVGKIT_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )


def _measured(subjects: int, backend: str, url: str | None, rounds: int, out: TextIO) -> Result:
    if backend == "sqlite":
        return _sqlite(subjects, rounds, out)
    return _postgres(subjects, _postgres_base(url), rounds, out)


def _verdict(result: Result, out: TextIO) -> None:
    worst = {answer: result.worst(answer) for answer in LABELS}
    summary(worst, out)
    target = IMPORT_TARGET[result.backend]
    met = all(s.ratio <= AUDIENCE_TARGET for state in result.states for s in state.values())
    met = met and all(done.rate >= target for done in result.loads.values())
    verdict = "met" if met else "MISSED"
    print(
        f"targets {verdict}: audiences <= {AUDIENCE_TARGET}x in every state, import >= "
        f"{target:,} events/s counting the values, in both orders",
        file=out,
    )


def run(
    subjects: int,
    backend: str,
    url: str | None = None,
    out: TextIO | None = None,
    rounds: int = ROUNDS,
) -> dict[str, float]:
    """Load, measure and print; return the headline numbers.

    ``ratio`` and ``current_ratio`` are each answer's ratio in its worst state, ``rate`` the
    slower order's import rate counting the building of the values, ``audience`` the
    audience's size.

    Raises:
        Disagreement: a hand-written way answered differently from the ledger.
    """
    out = out or sys.stdout
    result = _measured(subjects, backend, url, rounds, out)
    _verdict(result, out)
    worst = {answer: result.worst(answer) for answer in LABELS}
    return {
        "ratio": worst["audience"].ratio,
        "audience_ratio": worst["audience"].ratio,
        "current_ratio": worst["current"].ratio,
        "audience": float(result.states[0]["audience"].subjects),
        "current": float(result.states[0]["current"].subjects),
        "rate": min(done.rate for done in result.loads.values()),
    }


def _rows(result: Result) -> list[Row]:
    backend = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[result.backend]
    rows = []
    for state in result.states:
        for answer, sides in state.items():
            where = "" if result.backend == "sqlite" else f", {sides.state}"
            wording = ", current wordings" if answer == "current" else ""
            rows.append(
                compare(
                    "consent_audience",
                    f"consent audience{wording}{where}, vs fastest hand-written way",
                    backend,
                    result.subjects,
                    "subjects",
                    seconds(sides.best("avgkit")),
                    seconds(sides.best(sides.fastest)),
                    ratio_at_most(AUDIENCE_TARGET),
                )
            )
    target = float(IMPORT_TARGET[result.backend])
    how = "executemany" if result.backend == "sqlite" else "COPY"
    for order, done in result.loads.items():
        rows.append(
            compare(
                "consent_audience",
                f"consent import_events(), values built from rows, {order}, vs raw {how}",
                backend,
                result.subjects,
                "subjects",
                Figure(done.rate, "rate", "events"),
                Figure(result.raw[order].rate, "rate", "events"),
                Goal(target, at_most=False, on="avgkit", unit="events/s"),
            )
        )
    return rows


def measure(
    size: int, *, postgres: str | None = None, out: TextIO | None = None, rounds: int | None = None
) -> list[Row]:
    """The table's rows: every state's audiences and both import orders, per backend."""
    out = out or sys.stdout
    results = [_measured(size, "sqlite", None, rounds or ROUNDS, out)]
    if postgres:
        results.append(_measured(size, "postgres", postgres, rounds or ROUNDS, out))
    rows = []
    for result in results:
        _verdict(result, out)
        rows += _rows(result)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", help="PostgreSQL server URL (without schema)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed rounds a side")
    args = parser.parse_args(argv)
    try:
        run(args.subjects, args.backend, args.url, rounds=args.rounds)
    except Disagreement as exc:
        print(f"the answers differ: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
