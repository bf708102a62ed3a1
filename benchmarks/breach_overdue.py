"""Breach register at scale: the overdue list selected in SQL against a Python filter.

Loads ``--breaches`` breaches (20,000 by default; a venue has a handful a year, a vendor
hosting many venues in one database far more) into SQLite, a tenth of them still pending
past their 72 hours, then times ``BreachStore.overdue(now)`` (one statement on a partial
index, streamed in keyset pages) against the baseline a store without it would need:
stream the whole register and filter in Python. Both answers are checked to be equal.

    python benchmarks/breach_overdue.py                   # 20,000 breaches
    python benchmarks/breach_overdue.py --breaches 500    # a quick smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from avgkit.breach import Breach
from avgkit.storage.sqlite import Database, SqliteBreachStore
from avgkit.testing.conformance._breaches import make_breach

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Disagreement, Row, compare, seconds

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _load(store: SqliteBreachStore, count: int) -> datetime:
    """Store ``count`` breaches; every tenth stays pending past its deadline at ``now``."""
    now = T0 + timedelta(days=count // 10 + 30)
    for n in range(count):
        aware = T0 + timedelta(hours=n)
        breach = make_breach(f"br_{n:08d}", aware)
        if n % 10:
            breach = Breach.from_mapping(
                {**breach.to_mapping(), "authority_notified_at": aware.isoformat()}
            )
        store.put(breach)
    return now


def _best(run: Callable[[], list[str]], repeat: int) -> tuple[float, list[str]]:
    best = float("inf")
    answer: list[str] = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = run()
        best = min(best, time.perf_counter() - start)
    return best, answer


def overdue_timings(count: int, repeat: int, out: Any = None) -> tuple[float, float, int]:
    """Load ``count`` breaches; the best times in SQL and in Python, and how many are overdue.

    Raises :class:`Disagreement` when the two lists differ.
    """
    out = out or sys.stdout
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(str(Path(tmp) / "breaches.db"))
        store = SqliteBreachStore(db)
        start = time.perf_counter()
        now = _load(store, count)
        loaded = time.perf_counter() - start
        print(f"loaded {count} breaches in {loaded:.2f} s", file=out)

        def in_sql() -> list[str]:
            return [b.id for b in store.overdue(now)]

        def in_python() -> list[str]:
            found = [b for b in store.breaches() if b.authority_pending and b.authority_due < now]
            return [b.id for b in sorted(found, key=lambda b: (b.authority_due, b.id))]

        sql_time, sql_answer = _best(in_sql, repeat)
        py_time, py_answer = _best(in_python, repeat)
        db.close()
    if sql_answer != py_answer:
        msg = "the overdue list in SQL and the Python filter differ"
        raise Disagreement(msg)
    return sql_time, py_time, len(sql_answer)


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's row: ``overdue()`` over ``size`` breaches against the Python filter.

    SQLite only (``postgres`` is ignored): the store's query is the same SQL on both.
    """
    del postgres
    sql_time, py_time, _ = overdue_timings(size, rounds or 3, out)
    return [
        compare(
            "breach_overdue",
            "breach overdue() vs whole register filtered in Python",
            "SQLite",
            size,
            "breaches",
            seconds(sql_time),
            seconds(py_time),
        )
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print timings and the ratio; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breaches", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        sql_time, py_time, overdue = overdue_timings(args.breaches, args.repeat)
    except Disagreement:
        print("the two answers differ", file=sys.stderr)
        return 1
    print(f"overdue breaches: {overdue}")
    print(f"overdue() in SQL:              {sql_time * 1000:9.1f} ms")
    print(f"whole register + Python filter: {py_time * 1000:9.1f} ms")
    print(f"ratio SQL / Python filter: {sql_time / py_time:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
