"""Consent ledger at scale: bulk import rate, and the audience against hand-written SQL.

Loads ``--subjects`` subjects (1,000,000 by default) with mixed histories (given, withdrawn,
re-given, expiring, objected, other purposes only) through ``ConsentLedger.import_events``,
then times the ledger's newsletter audience (streamed through the adapter) against
hand-written queries that read the same answer from the same tables in the same run, and
checks that the answers are equal. Targets: audience at most 1.5x the fastest hand-written
query; import at least 100,000 events/s on SQLite and 50,000 events/s on PostgreSQL.

    python benchmarks/consent_audience.py                      # SQLite, 1,000,000 subjects
    python benchmarks/consent_audience.py --subjects 2000      # a quick smoke run
    python benchmarks/consent_audience.py --backend postgres   # AVGKIT_TEST_POSTGRES_URL
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from avgkit import Kit
from avgkit.consent import Channel, ConsentAction, ConsentEvent, Evidence, hash_wording
from avgkit.presets import ticketing
from avgkit.storage.sqlite._consent import micros
from avgkit.testing import ManualClock

START = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 1, tzinfo=UTC)
PURPOSE = "newsletter"
BATCH = 100_000
AUDIENCE_TARGET = 1.5
IMPORT_TARGET = {"sqlite": 100_000, "postgres": 50_000}

_EVIDENCE = Evidence(
    channel=Channel.IMPORT,
    notice_version="2019-05-01",
    wording_sha256=hash_wording("Ja, stuur mij de nieuwsbrief."),
)
_EXPIRED = Evidence(
    channel=Channel.IMPORT,
    notice_version="2019-05-01",
    wording_sha256=_EVIDENCE.wording_sha256,
    expires_at=START + timedelta(days=400),
)
_EXPIRING = Evidence(
    channel=Channel.IMPORT,
    notice_version="2019-05-01",
    wording_sha256=_EVIDENCE.wording_sha256,
    expires_at=NOW + timedelta(days=400),
)

GIVEN = ConsentAction.GIVEN
WITHDRAWN = ConsentAction.WITHDRAWN
OBJECTED = ConsentAction.OBJECTED


def history(i: int) -> Iterator[ConsentEvent]:
    """The events of subject ``i``: ten kinds of history, about two events on average."""
    subject = f"cust-{i:07d}"
    base = START + timedelta(minutes=i % 500_000)

    def ev(
        kind: ConsentAction, days: int, purpose: str = PURPOSE, evidence: Evidence = _EVIDENCE
    ) -> ConsentEvent:
        return ConsentEvent(
            subject=subject,
            purpose=purpose,
            kind=kind,
            at=base + timedelta(days=days),
            evidence=evidence,
        )

    pattern = i % 10
    if pattern in {0, 1, 2}:  # given and kept
        yield ev(GIVEN, 0)
    elif pattern == 3:  # given, withdrawn
        yield ev(GIVEN, 0)
        yield ev(WITHDRAWN, 200)
    elif pattern == 4:  # given, withdrawn, given again
        yield ev(GIVEN, 0)
        yield ev(WITHDRAWN, 100)
        yield ev(GIVEN, 300)
    elif pattern == 5:  # expired long ago / still valid
        yield ev(GIVEN, 0, evidence=_EXPIRED if i % 20 == 5 else _EXPIRING)
    elif pattern == 6:  # given, then objected to the marketing (Art. 21(3))
        yield ev(GIVEN, 0)
        yield ev(OBJECTED, 150)
    elif pattern == 7:  # the loyalty programme only
        yield ev(GIVEN, 0, purpose="loyalty_programme")
    elif pattern == 8:  # newsletter plus an objection to the evaluation mail
        yield ev(GIVEN, 0)
        yield ev(OBJECTED, 50, purpose="evaluation_mail")
    else:  # a withdrawal although consent was never given
        yield ev(WITHDRAWN, 10)


def batches(subjects: int) -> Iterator[list[ConsentEvent]]:
    """The events of all subjects, in batches of about :data:`BATCH`."""
    batch: list[ConsentEvent] = []
    for i in range(subjects):
        batch.extend(history(i))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# The hand-written queries: what a developer would write against the same table.
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


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest wall time of ``runs`` runs of ``work``, and its last result."""
    best = float("inf")
    result: Any = None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def hand_written_sqlite(path: str) -> dict[str, Callable[[], set[str]]]:
    """Hand-written queries over a separate plain sqlite3 connection."""
    import sqlite3  # noqa: PLC0415

    conn = sqlite3.connect(path)
    at = micros(NOW)  # the SQLite store keeps instants as microseconds since 1970
    params = {"purpose": PURPOSE, "at": at}
    return {
        name: (lambda sql=sql: {row[0] for row in conn.execute(sql, params)})
        for name, sql in (("window", SQLITE_WINDOW), ("correlated", SQLITE_CORRELATED))
    }


def hand_written_postgres(url: str) -> dict[str, Callable[[], set[str]]]:
    """Hand-written queries over a separate plain psycopg connection in the same schema."""
    from urllib.parse import parse_qsl, urlsplit, urlunsplit  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", "avgkit")
    conn = psycopg.connect(urlunsplit(parts._replace(query="")), autocommit=True)
    conn.execute(f'SET search_path TO "{schema}"')
    # Fresh statistics after the bulk load, for the ledger's query and these alike.
    conn.execute("ANALYZE consent_events")
    params = {"purpose": PURPOSE, "at": NOW}
    return {
        name: (lambda sql=sql: {row[0] for row in conn.execute(sql, params)})
        for name, sql in (("distinct_on", POSTGRES_DISTINCT_ON), ("window", POSTGRES_WINDOW))
    }


def run(subjects: int, backend: str, url: str | None = None, out: Any = None) -> dict[str, float]:
    """Load, measure and print; return the measured numbers."""
    out = out or sys.stdout
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    tmp = None
    if backend == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="avgkit-bench-")
        path = str(Path(tmp.name) / "consent.db")
        url = f"sqlite:///{path}"
    else:
        base = (
            url
            or os.environ.get("AVGKIT_TEST_POSTGRES_URL")
            or "postgresql://postgres@127.0.0.1:5432/test"
        )
        schema = f"avgkit_bench_{secrets.token_hex(4)}"
        url = f"{base}{'&' if '?' in base else '?'}schema={schema}"

        def cleanup() -> None:
            import psycopg  # noqa: PLC0415

            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    try:
        clock = ManualClock(NOW)
        with Kit.open(url, inventory=ticketing.inventory(), clock=clock) as kit:
            events = 0
            spent = 0.0
            for batch in batches(subjects):
                started = time.perf_counter()
                events += kit.consent.import_events(batch)
                spent += time.perf_counter() - started
            rate = events / spent
            print(f"backend {backend}: {subjects:,} subjects, {events:,} events", file=out)
            print(f"bulk import: {rate:,.0f} events/s ({spent:.2f} s)", file=out)
            queries = (
                hand_written_sqlite(path) if backend == "sqlite" else hand_written_postgres(url)
            )

            def ledger() -> set[str]:
                return set(kit.consent.audience(PURPOSE, at=NOW))

            runs = 3
            ours, answer = best_of(runs, ledger)
            baseline = float("inf")
            for name, query in queries.items():
                spent_q, rows = best_of(runs, query)
                if rows != answer:
                    msg = f"the hand-written {name} query disagrees with the ledger"
                    raise SystemExit(msg)
                print(f"hand-written query ({name}): {spent_q:.3f} s", file=out)
                baseline = min(baseline, spent_q)
            ratio = ours / baseline
            print(f"ledger audience: {ours:.3f} s for {len(answer):,} subjects", file=out)
            print(
                f"audience ratio: {ratio:.2f}x the fastest hand-written query "
                f"(target <= {AUDIENCE_TARGET}x)",
                file=out,
            )
            target = IMPORT_TARGET[backend]
            verdict = "met" if ratio <= AUDIENCE_TARGET and rate >= target else "MISSED"
            print(
                f"targets {verdict}: ratio <= {AUDIENCE_TARGET}, import >= {target:,}/s", file=out
            )
            return {"ratio": ratio, "rate": rate, "audience": float(len(answer))}
    finally:
        cleanup()
        if tmp is not None:
            tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", help="PostgreSQL server URL (without schema)")
    args = parser.parse_args(argv)
    run(args.subjects, args.backend, args.url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
