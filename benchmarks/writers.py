"""Concurrent writers: consent gives from 1, 2, 4 and 8 processes on one store.

An on-sale moment brings many checkouts at once, each recording a consent. This starts N
writer processes (``multiprocessing``, spawn), each with a kit of its own on the same store
(one PostgreSQL schema, one SQLite file), and has each give ``--gives`` consents for
distinct subjects as fast as it can, timing every call. Per backend it prints, for each
number of writers: the acknowledged gives a second (all writers together, from the moment
they are released to the last one done), the median and 99th-percentile latency of one
give, and the throughput against one writer's.

The goal: with 4 writers at least 1.5 times one writer's throughput on PostgreSQL, and
never below one writer's on SQLite. Every run starts on a fresh schema (dropped after) or
a fresh file, and after each run the store is checked: it holds exactly the gives that were
acknowledged (no lost write, none extra) and ``kit.audit.verify()`` passes.

The writers use the real clock (:class:`avgkit.clock.SystemClock`): a manual clock is one
process's. Each writer warms up with a few untimed gives (its pool connected, the
statements prepared) before the common start.

    python benchmarks/writers.py                            # 1,000 gives a writer, both
    python benchmarks/writers.py --gives 100 --writers 1 2  # a quick run
    python benchmarks/writers.py --backend postgres --postgres postgresql://u@host/db
    python benchmarks/writers.py --dir /srv/avg             # SQLite on the production disk
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from avgkit import Evidence, Kit
from avgkit.errors import IntegrityError
from avgkit.presets import ticketing
from avgkit.storage.sqlite import url_for

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Disagreement, Goal, Row, compare, rate, ratio_at_least, seconds

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
"""The server when neither ``--postgres`` nor ``AVGKIT_TEST_POSTGRES_URL`` names one."""
WRITERS = (1, 2, 4, 8)
"""The numbers of writer processes measured (the first is the single writer)."""
SMOKE_WRITERS = (1, 2)
"""What a smoke-sized run measures (``run.py --size 0``): enough to see two overlap."""
SMOKE = 10
"""At most this many gives a writer is a smoke run."""
GOALS = {"PostgreSQL": ratio_at_least(1.5), "SQLite": ratio_at_least(1.0)}
"""Four writers' throughput against one writer's, per backend."""
GOAL_AT = 4
"""The number of writers the goals are stated for."""
WARM_UP = 5
"""Untimed gives each writer makes before the common start."""
PURPOSE = "newsletter"
"""A consent purpose with two recipients: each give writes the event, its audit entry and
binding, and two feed notices, in one unit of work."""
EVIDENCE = Evidence.from_wording(
    "Ja, stuur mij de nieuwsbrief.", channel="webshop", notice_version="2025-01"
)
ROUNDS = 3
"""Rounds of every number of writers, taking turns; each one's best round counts."""
START_TIMEOUT = 300.0
"""Seconds the writers may take to open their kits and warm up."""


@dataclass(frozen=True)
class Done:
    """What one writer process reports: its timings, or why it stopped."""

    latencies: tuple[float, ...]
    started: float
    finished: float
    stored: int
    refused: int
    error: str | None = None


def writer(url: str, prefix: str, count: int, start: Barrier, results: Any) -> None:
    """One writer process: open a kit, warm up, wait for the others, give ``count`` consents.

    Reports a :class:`Done` on ``results``. A give that raises is counted as refused (not
    acknowledged) and the writer goes on; ``stored`` counts every give that returned,
    warm-up included.
    """
    stored = refused = 0
    latencies: list[float] = []
    started = finished = 0.0
    try:
        with Kit.open(url, inventory=ticketing.inventory()) as kit:
            give = kit.consent.give
            for n in range(WARM_UP):
                give(f"{prefix}-warm-{n}", PURPOSE, EVIDENCE)
                stored += 1
            start.wait(START_TIMEOUT)
            clock = time.perf_counter  # CLOCK_MONOTONIC: one timeline for every process
            started = clock()
            for n in range(count):
                before = clock()
                try:
                    give(f"{prefix}-{n}", PURPOSE, EVIDENCE)
                except Exception:  # noqa: BLE001 - not acknowledged; counted and reported
                    refused += 1
                    continue
                latencies.append(clock() - before)
                stored += 1
            finished = clock()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        start.abort()  # the others (and the parent) stop waiting for this one
        results.put(Done((), 0.0, 0.0, stored, refused, f"{type(exc).__name__}: {exc}"))
        return
    results.put(Done(tuple(latencies), started, finished, stored, refused))


@dataclass(frozen=True)
class Run:
    """One run: ``writers`` processes of ``count`` gives each on one store."""

    backend: str
    writers: int
    count: int
    latencies: tuple[float, ...]
    elapsed: float
    refused: int

    @property
    def acknowledged(self) -> int:
        """Gives that returned (the timed ones)."""
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Acknowledged gives a second, all writers together."""
        return self.acknowledged / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        """The latency (seconds) below which ``fraction`` of the gives stayed."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def collect(processes: Sequence[Any], results: Any, timeout: float) -> list[Done]:
    """Every writer's report; a writer that died without one fails the run."""
    done: list[Done] = []
    deadline = time.monotonic() + timeout
    while len(done) < len(processes):
        try:
            done.append(results.get(timeout=1.0))
        except queue.Empty:
            dead = [p for p in processes if p.exitcode not in {None, 0}]
            if dead or time.monotonic() > deadline:
                msg = f"{len(processes) - len(done)} writer(s) gave no report (died or hung)"
                raise RuntimeError(msg) from None
    return done


def race(url: str, writers: int, count: int, backend: str) -> tuple[Run, int]:
    """Run ``writers`` processes of ``count`` gives on ``url``; the run and the gives stored."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers + 1)
    results = context.Queue()
    run_id = secrets.token_hex(3)
    processes = [
        context.Process(
            target=writer,
            args=(url, f"r{run_id}-w{n}", count, start, results),
            name=f"avgkit-writer-{n}",
        )
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    try:
        with suppress(threading.BrokenBarrierError):  # a writer failed: its report says why
            start.wait(START_TIMEOUT)
        # A give takes well under a second even when eight queue for one lock.
        done = collect(processes, results, START_TIMEOUT + count * writers)
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
    errors = [d.error for d in done if d.error is not None]
    if errors:
        msg = f"{backend}, {writers} writer(s): a writer failed: {errors[0]}"
        raise RuntimeError(msg)
    latencies = tuple(value for d in done for value in d.latencies)
    elapsed = max(d.finished for d in done) - min(d.started for d in done)
    refused = sum(d.refused for d in done)
    return Run(backend, writers, count, latencies, elapsed, refused), sum(d.stored for d in done)


def check(url: str, counted: int, stored: int, backend: str, writers: int) -> None:
    """The store holds exactly the gives acknowledged, and its chain verifies.

    Raises:
        Disagreement: a lost (or an extra) write, or a chain that does not verify.
    """
    if counted != stored:
        msg = (
            f"{backend}, {writers} writer(s): {stored:,} gives acknowledged, "
            f"{counted:,} consent events stored"
        )
        raise Disagreement(msg)
    with Kit.open(url, inventory=ticketing.inventory()) as kit:
        try:
            kit.audit.verify()
        except IntegrityError as exc:
            msg = f"{backend}, {writers} writer(s): the audit chain does not verify: {exc}"
            raise Disagreement(msg) from None


def server_url(postgres: str) -> str:
    """``postgres`` without a query (the server and database only, for the checks)."""
    parts = urlsplit(postgres)
    return urlunsplit(parts._replace(query="", fragment=""))


@contextmanager
def fresh_schema(postgres: str) -> Iterator[str]:
    """A store URL in a new schema of its own, dropped when the block ends."""
    name = f"avgkit_bench_{secrets.token_hex(4)}"
    separator = "&" if urlsplit(postgres).query else "?"
    try:
        yield f"{postgres}{separator}schema={name}"
    finally:
        with psycopg.connect(server_url(postgres), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def events_in_schema(postgres: str, url: str) -> int:
    """The consent events stored in ``url``'s schema, counted by hand."""
    schema = urlsplit(url).query.rpartition("schema=")[2].partition("&")[0]
    with psycopg.connect(server_url(postgres)) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.consent_events").format(sql.Identifier(schema))
        ).fetchone()
    return 0 if row is None else int(row[0])


def events_in_file(path: Path) -> int:
    """The consent events stored in the SQLite file ``path``, counted by hand."""
    conn = sqlite3.connect(path)
    try:
        (count,) = conn.execute("SELECT count(*) FROM consent_events").fetchone()
    finally:
        conn.close()
    return int(count)


def on_postgres(postgres: str, writers: Sequence[int], count: int) -> list[Run]:
    """One run per number of writers, each in a fresh schema (dropped after)."""
    runs = []
    for n in writers:
        with fresh_schema(postgres) as url:
            Kit.open(url, inventory=ticketing.inventory()).close()  # migrated before the race
            run, stored = race(url, n, count, "PostgreSQL")
            check(url, events_in_schema(postgres, url), stored, "PostgreSQL", n)
        runs.append(run)
    return runs


def on_sqlite(folder: str | None, writers: Sequence[int], count: int) -> list[Run]:
    """One run per number of writers, each on a fresh file."""
    runs = []
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        for n in writers:
            path = Path(tmp) / f"writers-{n}.db"
            url = url_for(path)
            Kit.open(url, inventory=ticketing.inventory()).close()
            run, stored = race(url, n, count, "SQLite")
            check(url, events_in_file(path), stored, "SQLite", n)
            runs.append(run)
    return runs


def best_of(rounds: Sequence[Sequence[Run]]) -> list[Run]:
    """Each number of writers' best run (highest throughput) over the rounds."""
    return [max(runs, key=lambda run: run.throughput) for runs in zip(*rounds, strict=True)]


def backend_rounds(
    writers: Sequence[int],
    count: int,
    repeat: int,
    *,
    postgres: str | None = None,
    folder: str | None = None,
) -> list[Run]:
    """``repeat`` rounds of every number of writers, in turn; the best of each.

    On PostgreSQL when ``postgres`` is given, else on SQLite files in ``folder``.

    The rounds take turns (1, 2, 4, 8 writers, then again) so that a spell of load on a
    shared machine hurts every number of writers alike rather than one of them.
    """
    rounds = []
    for _ in range(max(1, repeat)):
        if postgres is not None:
            rounds.append(on_postgres(postgres, writers, count))
        else:
            rounds.append(on_sqlite(folder, writers, count))
    return best_of(rounds)


def ms(value: float) -> str:
    """Seconds as milliseconds, one decimal."""
    return f"{value * 1000:.1f} ms"


def narrate(runs: Sequence[Run], repeat: int, out: Any) -> None:
    """The backend's table (a reStructuredText simple table) and the goal line."""
    single = runs[0]
    headers = ("writers", "gives/s", "p50", "p99", "vs 1 writer", "refused")
    lines = [
        (
            str(run.writers),
            f"{run.throughput:,.0f}",
            ms(run.percentile(0.5)),
            ms(run.percentile(0.99)),
            f"{run.throughput / single.throughput:.2f}x" if single.throughput else "",
            f"{run.refused:,}",
        )
        for run in runs
    ]
    widths = [max(len(row[i]) for row in (headers, *lines)) for i in range(len(headers))]
    rule = "  ".join("=" * width for width in widths)

    def text(row: Sequence[str]) -> str:
        return "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))

    print(
        f"{single.backend}: {single.count:,} gives a writer, best of {repeat} round(s); "
        "every run: no write lost, chain verified",
        file=out,
    )
    print("\n".join([rule, text(headers), rule, *map(text, lines), rule]), file=out)
    print(goal_line(runs), file=out)
    print(file=out)


def goal_line(runs: Sequence[Run]) -> str:
    """Whether the backend's goal holds, in words."""
    backend = runs[0].backend
    goal = GOALS[backend]
    wanted = f"goal: {GOAL_AT} writers at least {goal.bound:g}x one writer's throughput"
    four = next((run for run in runs if run.writers == GOAL_AT), None)
    if four is None or not runs[0].throughput:
        return f"{wanted}: not measured ({GOAL_AT} writers not run)"
    ratio = four.throughput / runs[0].throughput
    return f"{wanted}: {ratio:.2f}x, {'holds' if goal.holds(ratio) else 'MISSED'}"


def rows(runs: Sequence[Run]) -> list[Row]:
    """The shared table's rows: each number of writers' rate and p99 against one writer's."""
    single = runs[0]
    table: list[Row] = []
    for run in runs[1:]:
        goal: Goal | None = GOALS[run.backend] if run.writers == GOAL_AT else None
        table.append(
            compare(
                "writers",
                f"consent.give(), {run.writers} writer processes vs 1",
                run.backend,
                run.count,
                "gives a writer",
                rate(run.throughput, "gives"),
                rate(single.throughput, "gives"),
                goal,
            )
        )
        table.append(
            compare(
                "writers",
                f"consent.give() p99 latency, {run.writers} writer processes vs 1",
                run.backend,
                run.count,
                "gives a writer",
                seconds(run.percentile(0.99)),
                seconds(single.percentile(0.99)),
            )
        )
    return table


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's rows: ``size`` gives a writer, on SQLite and (when given) PostgreSQL.

    A smoke-sized run (at most :data:`SMOKE` gives a writer) runs 1 and 2 writers only;
    ``rounds`` (default :data:`ROUNDS`) rounds of them take turns, the best counts.
    """
    out = out or sys.stdout
    writers = SMOKE_WRITERS if size <= SMOKE else WRITERS
    repeat = rounds or ROUNDS
    results = [backend_rounds(writers, size, repeat)]
    if postgres:
        results.append(backend_rounds(writers, size, repeat, postgres=postgres))
    table: list[Row] = []
    for runs in results:
        narrate(runs, repeat, out)
        table += rows(runs)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the backends the arguments name and print their tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--gives", type=int, default=1_000, help="gives a writer (default 1000)")
    parser.add_argument(
        "--writers",
        type=int,
        nargs="+",
        default=list(WRITERS),
        help="numbers of writer processes, the first the baseline (default 1 2 4 8)",
    )
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help=f"rounds taking turns, best counts ({ROUNDS})"
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        default="both",
        help="where the store lives (default both)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("AVGKIT_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="the PostgreSQL server (default $AVGKIT_TEST_POSTGRES_URL, else "
        f"{DEFAULT_POSTGRES}); a fresh schema per run, dropped after",
    )
    parser.add_argument("--dir", default=None, help="folder for the SQLite files (default: temp)")
    args = parser.parse_args(argv)
    if args.gives < 1 or args.rounds < 1 or any(n < 1 for n in args.writers):
        parser.error("--gives, --rounds and --writers take whole numbers from 1")
    if args.backend in {"sqlite", "both"}:
        runs = backend_rounds(args.writers, args.gives, args.rounds, folder=args.dir)
        narrate(runs, args.rounds, sys.stdout)
    if args.backend in {"postgres", "both"}:
        runs = backend_rounds(args.writers, args.gives, args.rounds, postgres=args.postgres)
        narrate(runs, args.rounds, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
