"""Deadline queue at scale: ``RequestStore.due_by`` against the hand-written SQL.

Fills a SQLite store (and a PostgreSQL one with ``--postgres URL``) with ``--requests``
data subject requests (1,000,000 by default: years of requests of many venues in one
database), nearly all of them answered long ago and a realistic share open: those of the
last six weeks, mostly, and a few stragglers past their deadline. Then it times, taking
turns and keeping the best of ``--repeat`` runs each:

* ``store.due_by(now + 7 days)``, consumed to the end: the open requests due within a
  week, as :class:`~avgkit.dsar.DueRequest` values (validated, frozen), streamed in keyset
  pages of the partial index of open requests;
* the same rows read through the raw driver with one hand-written
  ``SELECT <every column> ... WHERE status IN (...) AND due_at <= ? ORDER BY due_at``,
  the tuples as the driver makes them.

Both must return the same ids in the same order; the ratio store / raw is printed (the
target is 1.5 or less). Each is run once untimed first (statement caches, the server's
plan and the pages read into memory are then warm for both alike).

    python benchmarks/dsar_deadlines.py                          # 1,000,000 requests
    python benchmarks/dsar_deadlines.py --requests 20000         # a quick smoke run
    python benchmarks/dsar_deadlines.py --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from avgkit.dsar import OPEN_STATUSES, RequestKind, RequestStatus
from avgkit.storage import RequestStore, StoreSet, open_stores
from avgkit.storage._sql import POSTGRESQL, SQLITE, Dialect, SqlDatabase
from avgkit.storage._sql._requests import SqlRequestStore

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Disagreement, Row, compare, ratio_at_most, seconds

TARGET = 1.5

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SPAN = timedelta(days=5 * 365)
WINDOW = timedelta(days=42)
"""Requests received this recently are mostly still open."""
_BATCH = 20_000
_OPEN = list(OPEN_STATUSES)
_KINDS = list(RequestKind)
_COLUMNS = (
    "id, kind, subject, received_at, due_at, status, updated_at, verified_at, extended, "
    "duplicate_of, details, reason"
)


def _rows(count: int, d: Dialect) -> Iterator[tuple[Any, ...]]:
    """``count`` requests as table rows, deterministic; distinct instants, so no ties."""
    rng = random.Random(20260302)
    step = SPAN / count
    for n in range(count):
        received = NOW - SPAN + step * n + timedelta(microseconds=n % 997)
        recent = NOW - received < WINDOW
        still_open = rng.random() < (0.85 if recent else 0.002)
        extended = still_open and rng.random() < 0.1
        due = received + timedelta(days=30 if not extended else 90)
        if still_open:
            status = RequestStatus.EXTENDED if extended else rng.choice(_OPEN[:3])
        else:
            status = RequestStatus.COMPLETED if rng.random() < 0.97 else RequestStatus.REFUSED
        verified = status not in {RequestStatus.RECEIVED, RequestStatus.REFUSED}
        kind = rng.choice(_KINDS)
        details = (
            json.dumps({"email": f"visitor{n}@example.org"})
            if kind is RequestKind.RECTIFICATION and still_open
            else None
        )
        reason = None
        if status is RequestStatus.REFUSED:
            reason = "manifestly_unfounded"
        elif extended:
            reason = "complexity"
        yield (
            f"req_{n:08d}",
            kind.value,
            f"cust-{rng.randrange(count // 3 + 1)}",
            d.instant_in(received),
            d.instant_in(due),
            status.value,
            d.instant_in(received + timedelta(days=1) if still_open else due),
            d.instant_in(received + timedelta(hours=3)) if verified else None,
            d.flag_in(extended),
            None,
            details,
            reason,
        )


def _requests(stores: StoreSet) -> SqlRequestStore:
    store = stores.requests
    if not isinstance(store, SqlRequestStore):
        msg = "the benchmark measures the SQL adapters' request store"
        raise SystemExit(msg)
    return store


def _database(stores: StoreSet) -> SqlDatabase:
    """The adapter's own database, through which the setup loads rows in bulk."""
    return _requests(stores)._db  # noqa: SLF001 - setup only, never timed


def _fill(stores: StoreSet, count: int) -> None:
    """Bulk-load ``count`` requests through the adapter's own connection (setup only)."""
    db = _database(stores)
    d = db.dialect
    insert = f"INSERT INTO dsar_requests ({_COLUMNS}) VALUES ({d.params(12)})"
    rows = _rows(count, d)
    while True:
        batch = [row for _, row in zip(range(_BATCH), rows, strict=False)]
        if not batch:
            break
        with db.write("loading the benchmark's requests") as conn:
            if d.name == "postgresql":
                with conn.cursor().copy(f"COPY dsar_requests ({_COLUMNS}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                conn.executemany(insert, batch)
    with db.write("analysing") as conn:
        conn.execute("ANALYZE")


def _raw_query(d: Dialect) -> str:
    marks = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
    return (
        f"SELECT {_COLUMNS} FROM dsar_requests "
        f"WHERE status IN ({marks}) AND due_at <= {d.placeholder} ORDER BY due_at"
    )


def _best(
    runs: dict[str, Callable[[], list[str]]], repeat: int
) -> dict[str, tuple[float, list[str]]]:
    """Time each run ``repeat`` times, taking turns, after one untimed run of each.

    Returns the best time and the last answer of each.
    """
    best = {name: (float("inf"), []) for name in runs}
    for run in runs.values():  # warm up, untimed
        run()
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            answer = run()
            elapsed = time.perf_counter() - start
            best[name] = (min(best[name][0], elapsed), answer)
    return best


Timings = tuple[float, float, int]
"""The store's best time, the raw query's, and how many requests both returned."""


def _measure(
    label: str,
    store: RequestStore,
    raw: Callable[[str, object], list[tuple[Any, ...]]],
    d: Dialect,
    repeat: int,
) -> Timings:
    before = NOW + timedelta(days=7)
    query = _raw_query(d)

    def through_store() -> list[str]:
        return [request.id for request in store.due_by(before)]

    def hand_written() -> list[str]:
        return [row[0] for row in raw(query, d.instant_in(before))]

    timed = _best({"store": through_store, "raw": hand_written}, repeat)
    (store_time, store_ids), (raw_time, raw_ids) = timed["store"], timed["raw"]
    if store_ids != raw_ids:
        msg = f"{label}: due_by() and the hand-written SELECT differ"
        raise Disagreement(msg)
    return store_time, raw_time, len(store_ids)


def _sqlite(count: int, repeat: int, out: Any) -> Timings:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.db"
        with open_stores(f"sqlite:///{path}") as stores:
            start = time.perf_counter()
            _fill(stores, count)
            print(
                f"sqlite: loaded {count} requests in {time.perf_counter() - start:.1f} s", file=out
            )
            raw_conn = sqlite3.connect(path)
            try:

                def raw(query: str, before: object) -> list[tuple[Any, ...]]:
                    return raw_conn.execute(query, (before,)).fetchall()

                return _measure("sqlite", _requests(stores), raw, SQLITE, repeat)
            finally:
                raw_conn.close()


def _postgres(url: str, count: int, repeat: int, out: Any) -> Timings:
    import psycopg  # noqa: PLC0415 - only with --postgres

    from avgkit.storage.postgres import parse_url  # noqa: PLC0415

    schema = f"avgkit_bench_{secrets.token_hex(4)}"
    separator = "&" if "?" in url else "?"
    store_url = f"{url}{separator}schema={schema}"
    settings = parse_url(store_url)
    try:
        with open_stores(store_url) as stores:
            start = time.perf_counter()
            _fill(stores, count)
            print(
                f"postgresql: loaded {count} requests in {time.perf_counter() - start:.1f} s",
                file=out,
            )
            with psycopg.connect(settings.conninfo) as raw_conn:
                raw_conn.execute(
                    "SELECT set_config('search_path', %s, false), "
                    "set_config('TimeZone', 'UTC', false)",
                    (schema,),
                )

                def raw(query: str, before: object) -> list[tuple[Any, ...]]:
                    return raw_conn.execute(query, (before,)).fetchall()

                return _measure("postgresql", _requests(stores), raw, POSTGRESQL, repeat)
    finally:
        with psycopg.connect(settings.conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _print(label: str, timings: Timings) -> None:
    store_time, raw_time, due = timings
    print(f"{label}: {due} open requests due within 7 days")
    print(f"  due_by() consumed:     {store_time * 1000:9.1f} ms")
    print(f"  hand-written SELECT:   {raw_time * 1000:9.1f} ms")
    print(f"  ratio store / raw:     {store_time / raw_time:9.2f}  (target <= {TARGET})")


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's rows: ``due_by()`` over ``size`` requests against the raw SELECT."""
    out = out or sys.stdout
    repeat = rounds or 5
    sides = [("SQLite", _sqlite(size, repeat, out))]
    if postgres:
        sides.append(("PostgreSQL", _postgres(postgres, size, repeat, out)))
    return [
        compare(
            "dsar_deadlines",
            "request queue due_by() vs raw SELECT",
            backend,
            size,
            "requests",
            seconds(store_time),
            seconds(raw_time),
            ratio_at_most(TARGET),
        )
        for backend, (store_time, raw_time, _) in sides
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print timings and ratios; return the exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="also measure on this server")
    args = parser.parse_args(argv)
    ok = True
    runs: list[tuple[str, Callable[[], Timings]]] = [
        ("sqlite", lambda: _sqlite(args.requests, args.repeat, sys.stdout))
    ]
    if args.postgres:
        runs.append(
            ("postgresql", lambda: _postgres(args.postgres, args.requests, args.repeat, sys.stdout))
        )
    for label, run in runs:
        try:
            _print(label, run())
        except Disagreement:
            print(f"{label}: the two answers differ", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
