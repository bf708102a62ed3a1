"""Consent ledger at scale: bulk import rate, and the audience against hand-written SQL.

Loads ``--subjects`` subjects (1,000,000 by default) with mixed histories (given, withdrawn,
re-given, expiring, objected, other purposes only) through ``ConsentLedger.import_events``.
The newsletter needs a double opt-in: half of its consents were confirmed (their events are
dated at the confirmation, with the request's instant beside it), and one subject in twenty
has a request still awaiting confirmation, recorded through ``give()`` (pending: not in the
audience). Two wording versions are registered and the older one, under which a fifth of the
consents were given, is withdrawn.

It then times the ledger's double opt-in audience and its current-wording audience
(``current_wordings=True``), each streamed through the adapter, against hand-written queries
that read the same answer from the same tables in the same run, and checks that the answers
are equal. Targets: each audience at most 1.5x the fastest hand-written query for its
answer; import at least 100,000 events/s on SQLite and 50,000 events/s on PostgreSQL.

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

import attrs

from avgkit import Kit
from avgkit.consent import Channel, ConsentAction, ConsentEvent, Evidence, hash_wording
from avgkit.inventory import Inventory
from avgkit.presets import ticketing
from avgkit.storage.sqlite._consent import micros
from avgkit.testing import ManualClock

START = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 1, tzinfo=UTC)
PURPOSE = "newsletter"
BATCH = 100_000
AUDIENCE_TARGET = 1.5
IMPORT_TARGET = {"sqlite": 100_000, "postgres": 50_000}

WORDING_OLD = "Ja, stuur mij af en toe iets."
WORDING = "Ja, stuur mij de nieuwsbrief."
_EVIDENCE = Evidence(
    channel=Channel.IMPORT,
    notice_version="2019-05-01",
    wording_sha256=hash_wording(WORDING),
)
_OLD = attrs.evolve(_EVIDENCE, wording_sha256=hash_wording(WORDING_OLD))
_ASKED = Evidence(
    channel=Channel.WEBSHOP,
    notice_version="2019-05-01",
    wording_sha256=hash_wording(WORDING),
    presentation="unticked_box",
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

    wording = _OLD if i % 5 == 0 else _EVIDENCE

    def ev(
        kind: ConsentAction, days: int, purpose: str = PURPOSE, evidence: Evidence = wording
    ) -> ConsentEvent:
        at = base + timedelta(days=days)
        if kind is GIVEN and purpose == PURPOSE and i % 2 == 0 and evidence.expires_at is None:
            # A confirmed double opt-in: live from the confirmation, an hour after the request.
            evidence = attrs.evolve(
                evidence,
                requested_at=at - timedelta(hours=1),
                confirmed_at=at,
                confirmed_via=Channel.EMAIL_LINK,
            )
        return ConsentEvent(subject=subject, purpose=purpose, kind=kind, at=at, evidence=evidence)

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


# The same answer without consents under the withdrawn wording (its hash is :withdrawn).
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


def double_opt_in() -> Inventory:
    """The ticketing inventory with a double opt-in for the newsletter."""
    inventory = ticketing.inventory()
    purposes = tuple(
        attrs.evolve(p, confirmation=True) if p.key == PURPOSE else p for p in inventory.purposes
    )
    return attrs.evolve(inventory, purposes=purposes)


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest wall time of ``runs`` runs of ``work``, and its last result."""
    best = float("inf")
    result: Any = None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


Queries = dict[str, dict[str, Callable[[], set[str]]]]


def hand_written_sqlite(path: str) -> Queries:
    """Hand-written queries over a separate plain sqlite3 connection, per answer."""
    import sqlite3  # noqa: PLC0415

    conn = sqlite3.connect(path)
    at = micros(NOW)  # the SQLite store keeps instants as microseconds since 1970
    params = {"purpose": PURPOSE, "at": at, "withdrawn": hash_wording(WORDING_OLD)}

    def run(sql: str) -> Callable[[], set[str]]:
        return lambda: {row[0] for row in conn.execute(sql, params)}

    return {
        "audience": {"window": run(SQLITE_WINDOW), "correlated": run(SQLITE_CORRELATED)},
        "current": {
            "window": run(SQLITE_WINDOW_CURRENT),
            "correlated": run(SQLITE_CORRELATED_CURRENT),
        },
    }


def hand_written_postgres(url: str) -> Queries:
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
    params = {"purpose": PURPOSE, "at": NOW, "withdrawn": hash_wording(WORDING_OLD)}

    def run(sql: str) -> Callable[[], set[str]]:
        return lambda: {row[0] for row in conn.execute(sql, params)}

    return {
        "audience": {"distinct_on": run(POSTGRES_DISTINCT_ON), "window": run(POSTGRES_WINDOW)},
        "current": {
            "distinct_on": run(POSTGRES_DISTINCT_ON_CURRENT),
            "window": run(POSTGRES_WINDOW_CURRENT),
        },
    }


def compare(kit: Kit, queries: Queries, out: Any) -> dict[str, float]:
    """Time the ledger's two audiences against the hand-written queries for each answer."""
    ours = {
        "audience": lambda: set(kit.consent.audience(PURPOSE, at=NOW)),
        "current": lambda: set(kit.consent.audience(PURPOSE, at=NOW, current_wordings=True)),
    }
    labels = {"audience": "double opt-in audience", "current": "current-wording audience"}
    runs = 3
    result: dict[str, float] = {}
    for answer_name, ledger in ours.items():
        spent_ours, answer = best_of(runs, ledger)
        baseline = float("inf")
        for name, query in queries[answer_name].items():
            spent_q, rows = best_of(runs, query)
            if rows != answer:
                msg = f"the hand-written {name} query disagrees with the ledger"
                raise SystemExit(msg)
            where = "" if answer_name == "audience" else ", current wording"
            print(f"hand-written query{where} ({name}): {spent_q:.3f} s", file=out)
            baseline = min(baseline, spent_q)
        ratio = spent_ours / baseline
        label = labels[answer_name]
        # run.py reads "ledger audience:" and "hand-written query (...)" for its table.
        shown = "ledger audience" if answer_name == "audience" else f"ledger {label}"
        print(f"{shown}: {spent_ours:.3f} s for {len(answer):,} subjects ({label})", file=out)
        print(
            f"{label} ratio: {ratio:.2f}x the fastest hand-written query "
            f"(target <= {AUDIENCE_TARGET}x)",
            file=out,
        )
        result[f"{answer_name}_ratio"] = ratio
        result[answer_name] = float(len(answer))
    result["ratio"] = result["audience_ratio"]
    return result


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
        with Kit.open(url, inventory=double_opt_in(), clock=clock) as kit:
            events = 0
            spent = 0.0
            for batch in batches(subjects):
                started = time.perf_counter()
                events += kit.consent.import_events(batch)
                spent += time.perf_counter() - started
            rate = events / spent
            print(f"backend {backend}: {subjects:,} subjects, {events:,} events", file=out)
            print(f"bulk import: {rate:,.0f} events/s ({spent:.2f} s)", file=out)
            registry = kit.consent.wordings
            registry.register_checkbox(PURPOSE, "0", {"nl": WORDING_OLD}, valid_from=START)
            registry.register_checkbox(
                PURPOSE, "1", {"nl": WORDING}, valid_from=START + timedelta(days=1)
            )
            registry.withdraw(PURPOSE, "0", reason="too vague", at=NOW - timedelta(days=1))
            started = time.perf_counter()
            pending = 0
            for i in range(9, subjects, 20):  # requests awaiting their confirmation
                kit.consent.give(f"cust-{i:07d}", PURPOSE, _ASKED, at=NOW - timedelta(hours=1))
                pending += 1
            spent_give = time.perf_counter() - started
            print(
                f"double opt-in requests: {pending:,} through give() "
                f"({pending / spent_give:,.0f}/s)",
                file=out,
            )
            queries = (
                hand_written_sqlite(path) if backend == "sqlite" else hand_written_postgres(url)
            )
            result = compare(kit, queries, out)
            result["rate"] = rate
            target = IMPORT_TARGET[backend]
            met = rate >= target and all(
                result[f"{name}_ratio"] <= AUDIENCE_TARGET for name in ("audience", "current")
            )
            verdict = "met" if met else "MISSED"
            print(
                f"targets {verdict}: ratios <= {AUDIENCE_TARGET}, import >= {target:,}/s", file=out
            )
            return result
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
