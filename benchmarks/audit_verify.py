"""Audit chain verification on SQLite: ``AuditLog.verify()`` against a hand-written verifier.

Loads ``--entries`` sealed entries (100,000 by default) into a SQLite file, then times
``AuditLog.verify()`` against the fastest hand-written verifier: one ordered SELECT of the
plain columns, and per row the sequence and link checks, the canonical bytes rebuilt from
the row (the stored details parsed and re-encoded canonically) and their SHA-256. After a
warm-up the two take turns, round by round; the best round counts, the median is printed
too. The goal: avgkit at most 1.5 times the hand-written verifier's time. Memory is checked
flat: avgkit's peak allocation (tracemalloc) while verifying all entries against verifying
2,000 of them (two keyset pages).

    python benchmarks/audit_verify.py                    # 100,000 entries
    python benchmarks/audit_verify.py --entries 2000     # a quick smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from avgkit.audit import GENESIS_HASH, AuditEntry, AuditLog
from avgkit.storage._sql._codecs import AUDIT_COLUMNS, audit_values
from avgkit.storage._sql._dialect import SQLITE
from avgkit.storage.sqlite import Database, SqliteAuditStore
from avgkit.testing import ManualClock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Disagreement, Figure, Row, compare, rate, ratio_at_least, ratio_at_most

GOAL = 1.5
"""avgkit at most 1.5 times the hand-written verifier's time (rates: at least 1/1.5)."""
MEMORY_GOAL = 1.5
"""The peak over all entries at most 1.5 times the peak over :data:`FEW` of them."""
FEW = 2_000
T0 = datetime(2025, 1, 1, tzinfo=UTC)
_DOMAIN = b"avgkit.audit.v1\n"


def load(path: Path, count: int) -> None:
    """Seal ``count`` realistic entries and insert them as the SQLite store writes them."""
    db = Database(str(path))
    SqliteAuditStore(db)  # creates the tables
    db.close()
    rows = []
    prev = GENESIS_HASH
    for n in range(1, count + 1):
        details: dict[str, str | int | bool | None] = {"purpose": "newsletter", "channel": "web"}
        if n % 3 == 0:
            details = {"count": n, "reason": "retention", "dry_run": False}
        entry = AuditEntry.seal(
            seq=n,
            at=T0 + timedelta(seconds=n, microseconds=n % 1000),
            action="consent.given" if n % 3 else "retention.executed",
            actor="system",
            subject_ref=f"sr1:{n:032x}" if n % 3 else None,
            details=details,
            prev_hash=prev,
        )
        rows.append(audit_values(entry, SQLITE))
        prev = entry.hash
    conn = sqlite3.connect(path)
    # The append-only trigger refuses nothing here: these are inserts.
    marks = ", ".join("?" * len(AUDIT_COLUMNS))
    with conn:
        conn.executemany(
            f"INSERT INTO audit_entries ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})",
            rows,
        )
    conn.close()


def hand_written(path: Path) -> int:
    """The fastest plain verifier: rebuild each row's canonical bytes and hash them."""
    conn = sqlite3.connect(path)
    try:
        dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
        loads = json.loads
        sha256 = hashlib.sha256
        prev = GENESIS_HASH
        expected = 1
        for seq, at, action, actor, subject_ref, details, prev_hash, digest in conn.execute(
            "SELECT seq, at, action, actor, subject_ref, details, prev_hash, hash "
            "FROM audit_entries ORDER BY seq"
        ):
            body = {
                "seq": seq,
                "at": at,
                "action": action,
                "actor": actor,
                "subject_ref": subject_ref,
                "details": loads(details),
                "prev_hash": prev_hash,
            }
            if (
                seq != expected
                or prev_hash != prev
                or sha256(_DOMAIN + dumps(body).encode()).hexdigest() != digest
            ):
                msg = f"the hand-written verifier finds entry {expected} broken"
                raise Disagreement(msg)
            prev = digest
            expected += 1
        return expected - 1
    finally:
        conn.close()


def avgkit_verify(path: Path) -> int:
    """``AuditLog.verify()`` over the file's audit store."""
    db = Database(str(path))
    try:
        log = AuditLog(SqliteAuditStore(db), ManualClock(T0))
        return log.verify().entries
    finally:
        db.close()


def take_turns(repeat: int, sides: dict[str, Callable[[], int]]) -> dict[str, list[float]]:
    """One warm-up run of each side, then ``repeat`` rounds taking turns."""
    answers = {name: work() for name, work in sides.items()}
    if len(set(answers.values())) != 1:
        msg = f"the verifiers counted different entries: {answers}"
        raise Disagreement(msg)
    spent: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(max(1, repeat)):
        for name, work in sides.items():
            start = time.perf_counter()
            work()
            spent[name].append(time.perf_counter() - start)
    return spent


def peak_mib(work: Callable[[], object]) -> float:
    """The peak memory ``work`` allocates, in MiB (tracemalloc)."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def timings(count: int, repeat: int) -> tuple[dict[str, list[float]], float, float]:
    """Every round's seconds of both sides, and avgkit's peak MiB at ``count`` and FEW."""
    with tempfile.TemporaryDirectory() as tmp:
        full, few = Path(tmp) / "audit.db", Path(tmp) / "few.db"
        load(full, count)
        load(few, min(count, FEW))
        spent = take_turns(
            repeat, {"avgkit": lambda: avgkit_verify(full), "hand": lambda: hand_written(full)}
        )
        return spent, peak_mib(lambda: avgkit_verify(full)), peak_mib(lambda: avgkit_verify(few))


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's rows: verifying ``size`` entries against the hand-written verifier."""
    del postgres
    spent, peak, small = timings(size, rounds or 5)
    ours = rate(size / min(spent["avgkit"]), "entries")
    hand = rate(size / min(spent["hand"]), "entries")
    print(
        f"{size:,} audit entries verified; peak {peak:.1f} MiB ({small:.1f} MiB for {FEW:,})",
        file=out or sys.stdout,
    )
    return [
        compare(
            "audit_verify",
            "audit.verify() vs hand-written verifier",
            "SQLite",
            size,
            "entries",
            ours,
            hand,
            ratio_at_least(round(1 / GOAL, 2)),
        ),
        compare(
            "audit_verify",
            f"audit.verify() peak memory vs {FEW:,} entries",
            "SQLite",
            size,
            "entries",
            Figure(peak, "memory"),
            Figure(small, "memory"),
            ratio_at_most(MEMORY_GOAL),
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="how many entries")
    parser.add_argument("--repeat", type=int, default=5, help="rounds taking turns")
    args = parser.parse_args(argv)
    n = args.entries
    spent, peak, small = timings(n, args.repeat)
    print(f"{n:,} audit entries on SQLite, {args.repeat} rounds taking turns; best (median)")
    for name, label in (("avgkit", "AuditLog.verify()"), ("hand", "hand-written verifier")):
        best, median = min(spent[name]), statistics.median(spent[name])
        print(f"  {label:<24}{n / best:>12,.0f} entries/s  ({n / median:,.0f}/s)")
    ratio = min(spent["avgkit"]) / min(spent["hand"])
    verdict = "meets" if ratio <= GOAL else "MISSES"
    print(f"time avgkit / hand-written: {ratio:.2f}  ({verdict} the at most {GOAL} goal)")
    flat = peak / small if small else float("inf")
    verdict = "meets" if flat <= MEMORY_GOAL else "MISSES"
    print(
        f"peak memory {peak:.1f} MiB for all, {small:.1f} MiB for {FEW:,}: {flat:.2f}  "
        f"({verdict} the at most {MEMORY_GOAL} goal: flat)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
