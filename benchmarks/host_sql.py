"""The table map against the hand-written host, on the reference ticket shop.

Uses (and caches under ``build/bench/``, as ``retention_plan.py`` does) a ticket shop of
``--visitors`` visitors (1,000,000 by default; examples/ticketshop) and times, in the same
run and taking turns, best of ``--runs``:

(a) the idle accounts through the map: ``SqlHostData.last_active_before`` over purchases,
    log-ins and newsletter reads, consumed fully, against the hand-written query
    ``retention_plan.py`` uses as its baseline (the same accounts; target <= 1.2x);
(b) erasing ``--erase`` subjects (10,000 by default) one transaction each: through the map
    (``SqlHostData.delete``) against ``TicketShopHost.delete``, on a copy of the shop, each
    on its own half of the chosen subjects, in alternating batches.

With ``--postgres URL`` the shop is loaded into a fresh schema there (dropped afterwards)
and both are timed again: the hand-written side is the same SQL run by hand (PostgreSQL
has ``greatest`` where SQLite has a many-argument ``max``; the erasure runs the hand-written
host's own DELETE and UPDATE statements).

    python benchmarks/host_sql.py                          # 1,000,000 visitors
    python benchmarks/host_sql.py --visitors 20000         # a quick run
    python benchmarks/host_sql.py --visitors 20000 --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from avgkit.host import SubjectKind
from avgkit.host.sql import SqlHostData
from avgkit.presets import ticketing

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))  # the reference ticket shop
sys.path.insert(0, str(ROOT / "benchmarks"))  # the retention benchmark's shop cache

from _table import Disagreement, Row, compare, ratio_at_most, seconds  # noqa: E402
from retention_plan import HAND_WRITTEN, NOW, RULE, WARN, shop_file  # noqa: E402
from ticketshop import DEFAULT_SEED, TicketShopHost, to_micros  # noqa: E402
from ticketshop import host as shop_host  # noqa: E402
from ticketshop.table_map import TABLE_MAP, copy_shop, metadata  # noqa: E402

RATIO_TARGET = 1.2
TYPES = frozenset({"purchase", "login", "newsletter_read"})
ACCOUNTS = frozenset({SubjectKind.ACCOUNT})
INVENTORY = ticketing.inventory()
BATCH = 500

# retention_plan.py's query, for PostgreSQL: greatest() in place of the many-argument max().
HAND_WRITTEN_PG = HAND_WRITTEN.replace("max(\n        coalesce", "greatest(\n        coalesce")
HAND_WRITTEN_PG = HAND_WRITTEN_PG.replace("WHERE last > :never", "AS idle WHERE last > :never")


def best(runs: int, *works: Callable[[], Any]) -> list[tuple[float, Any]]:
    """Best time and last result of each of ``works``, taking turns ``runs`` times."""
    found: list[tuple[float, Any]] = [(float("inf"), None) for _ in works]
    for _ in range(runs):
        for index, work in enumerate(works):
            started = time.perf_counter()
            result = work()
            spent = time.perf_counter() - started
            found[index] = (min(found[index][0], spent), result)
    return found


Timings = tuple[float, float]
"""The best time through the map and the hand-written side's (erasure: per subject)."""


def inactivity(
    host: SqlHostData, hand: Callable[[], set[str]], runs: int, where: str, out: Any
) -> Timings:
    before = NOW + WARN - RULE.period + timedelta(microseconds=1)  # the query's <= cutoff

    def mapped() -> set[str]:
        rows = host.last_active_before(TYPES, before=before, kinds=ACCOUNTS)
        return {str(sid) for sid, _, _ in rows}

    (ours, found), (theirs, expected) = best(runs, mapped, hand)
    if found != expected:
        msg = (
            f"{where}: the map and the hand-written query disagree: {len(found - expected)} "
            f"only in the map, {len(expected - found)} only in the query"
        )
        raise Disagreement(msg)
    ratio = ours / theirs
    print(
        f"{where} inactivity: hand-written {theirs:.2f} s, map {ours:.2f} s for "
        f"{len(found):,} accounts: {ratio:.2f}x (target <= {RATIO_TARGET}x)",
        file=out,
    )
    return ours, theirs


def halves(ids: Sequence[str], count: int) -> tuple[list[str], list[str]]:
    """Two disjoint, interleaved sets of ``count // 2`` subjects each."""
    step = max(1, len(ids) // count)
    chosen = list(ids[::step])[:count]
    return chosen[0::2], chosen[1::2]


def erasure(  # noqa: PLR0917 - the two sides and their subjects
    mapped: Callable[[str], object],
    hand: Callable[[str], object],
    ours: list[str],
    theirs: list[str],
    where: str,
    out: Any,
) -> Timings:
    spent = [0.0, 0.0]
    for start in range(0, max(len(ours), len(theirs)), BATCH):
        for index, (erase, ids) in enumerate(((mapped, ours), (hand, theirs))):
            began = time.perf_counter()
            for sid in ids[start : start + BATCH]:
                erase(sid)
            spent[index] += time.perf_counter() - began
    per_ours = spent[0] / max(1, len(ours)) * 1000
    per_theirs = spent[1] / max(1, len(theirs)) * 1000
    ratio = per_ours / per_theirs
    print(f"{where} erasure: hand-written {per_theirs:.2f} ms, map {per_ours:.2f} ms per subject "
          f"({len(ours):,} + {len(theirs):,} subjects): {ratio:.2f}x", file=out)  # fmt: skip
    return per_ours / 1000, per_theirs / 1000


def subjects_to_erase(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        visitors = [row[0] for row in conn.execute("SELECT id FROM visitors ORDER BY id")]
        attendees = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT attendee_id FROM tickets WHERE attendee_id IS NOT NULL "
                "AND attendee_id NOT IN (SELECT id FROM visitors) ORDER BY 1"
            )
        ]
    return visitors + attendees[::10]


def on_sqlite(path: Path, ids: list[str], count: int, runs: int, out: Any) -> dict[str, Timings]:
    params = {"never": -(2**63), "cutoff": to_micros(NOW + WARN - RULE.period)}
    conn = sqlite3.connect(path)
    engine = sa.create_engine(f"sqlite:///{path}")
    host = SqlHostData(engine, TABLE_MAP, INVENTORY)
    found = {
        "sqlite_inactivity": inactivity(
            host,
            lambda: {row[0] for row in conn.execute(HAND_WRITTEN, params)},
            runs,
            "SQLite",
            out,
        )
    }
    conn.close()
    engine.dispose()
    with tempfile.TemporaryDirectory(prefix="avgkit-bench-", dir=path.parent) as tmp:
        copy = Path(tmp) / "erase.db"
        shutil.copyfile(path, copy)
        engine = sa.create_engine(f"sqlite:///{copy}")
        mapped = SqlHostData(engine, TABLE_MAP, INVENTORY)
        with TicketShopHost(copy, INVENTORY) as shop:
            ours, theirs = halves(ids, count)
            found["sqlite_erasure"] = erasure(
                mapped.delete, shop.delete, ours, theirs, "SQLite", out
            )
        engine.dispose()
    return found


def hand_deleter(conn: sa.Connection) -> Callable[[str], object]:
    """The hand-written host's own erasure statements, run by hand in one transaction."""
    # SQLite reads a bare 1 as true; PostgreSQL wants a boolean.
    statements = [
        sa.text(sql.replace("AND (1)", "AND (1 = 1)"))
        for sql, _ in shop_host._DELETE  # noqa: SLF001
    ]

    def delete(sid: str) -> None:
        with conn.begin():
            for statement in statements:
                conn.execute(statement, {"s": sid})

    return delete


def on_postgres(  # noqa: PLR0917
    url: str, path: Path, ids: list[str], count: int, runs: int, out: Any
) -> dict[str, Timings]:
    name = f"avgkit_bench_{secrets.token_hex(4)}"
    target = sa.make_url(url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(target)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    engine = sa.create_engine(target, connect_args={"options": f"-csearch_path={name}"})
    try:
        started = time.perf_counter()
        metadata().create_all(engine)
        source = sqlite3.connect(path)
        with engine.begin() as conn:
            rows = copy_shop(source, conn)
            conn.exec_driver_sql("ANALYZE")
        source.close()
        print(
            f"PostgreSQL: loaded {rows:,} rows in {time.perf_counter() - started:.0f} s", file=out
        )
        host = SqlHostData(engine, TABLE_MAP, INVENTORY)
        params = {"never": -(2**63), "cutoff": to_micros(NOW + WARN - RULE.period)}
        statement = sa.text(HAND_WRITTEN_PG)

        def hand() -> set[str]:
            with engine.connect() as conn:
                return {row[0] for row in conn.execute(statement, params)}

        found = {"postgres_inactivity": inactivity(host, hand, runs, "PostgreSQL", out)}
        ours, theirs = halves(ids, count)
        with engine.connect() as conn:
            found["postgres_erasure"] = erasure(
                host.delete, hand_deleter(conn), ours, theirs, "PostgreSQL", out
            )
        return found
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.dispose()


def timings(  # noqa: PLR0917 - the command line's options
    visitors: int,
    seed: int,
    runs: int,
    erase: int,
    postgres: str | None = None,
    out: Any = None,
) -> dict[str, Timings]:
    """Build or reuse the shop, measure and print; the two sides' times of each measure.

    Keys: ``sqlite_inactivity``, ``sqlite_erasure`` and, with ``postgres``, the same two
    with ``postgres_``.
    """
    out = out or sys.stdout
    path, facts = shop_file(visitors, seed)
    how = "cached" if facts["cached"] else "built now"
    print(f"shop: {visitors:,} visitors, {sum(facts['rows'].values()):,} rows ({how})", file=out)
    ids = subjects_to_erase(path)
    count = min(erase, len(ids))
    found = on_sqlite(path, ids, count, runs, out)
    if postgres:
        found.update(on_postgres(postgres, path, ids, count, runs, out))
    return found


def run(  # noqa: PLR0917 - the command line's options
    visitors: int,
    seed: int,
    runs: int,
    erase: int,
    postgres: str | None = None,
    out: Any = None,
) -> dict[str, float]:
    """Build or reuse the shop, measure and print; return the ratios."""
    out = out or sys.stdout
    found = timings(visitors, seed, runs, erase, postgres, out)
    ratios = {name: ours / theirs for name, (ours, theirs) in found.items()}
    inactivity_ok = all(v <= RATIO_TARGET for k, v in ratios.items() if k.endswith("inactivity"))
    print(f"target {'met' if inactivity_ok else 'MISSED'}: the mapped inactivity query "
          f"<= {RATIO_TARGET}x the hand-written one", file=out)  # fmt: skip
    return ratios


def erasures(visitors: int) -> int:
    """How many subjects the table's run erases: 10,000 of 1,000,000 visitors, at least 10."""
    return max(10, visitors // 100)


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's rows: the map against the hand-written host on a shop of ``size`` visitors.

    Erases :func:`erasures` subjects (one transaction each) on each side.
    """
    found = timings(size, DEFAULT_SEED, rounds or 3, erasures(size), postgres, out)
    rows = []
    for name, (ours, theirs) in found.items():
        backend = "SQLite" if name.startswith("sqlite") else "PostgreSQL"
        if name.endswith("inactivity"):
            operation = "host map idle accounts vs hand-written SQL"
            goal = ratio_at_most(RATIO_TARGET)
        else:
            operation = "host map erasure, per subject, vs hand-written host"
            goal = None
        rows.append(
            compare(
                "host_sql",
                operation,
                backend,
                size,
                "visitors",
                seconds(ours),
                seconds(theirs),
                goal,
            )
        )
    return rows


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--erase", type=int, default=10_000, help="subjects to erase")
    parser.add_argument("--postgres", metavar="URL", help="also load the shop there and time")
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        run(args.visitors, args.seed, args.runs, args.erase, args.postgres)
    except Disagreement as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
