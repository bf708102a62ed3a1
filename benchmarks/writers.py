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

The same writers also run *apart*, each on a store of its own (a schema or a file each):
they then share nothing avgkit orders (no audit chain, no feed) but the machine itself, its
cores, its disk and the server. That is the most the machine allows, whatever avgkit does;
the table shows how much of it the writers on one store reach. First of all, plain CPU
work (chained SHA-256) runs in as many processes: what the cores give several processes
at that moment, with avgkit and the server out of the picture. On a small machine that
others use at the same time both can stay near (or below) one process's own rate, and no
design of avgkit's can then meet the goal there.

The writers use the real clock (:class:`avgkit.clock.SystemClock`): a manual clock is one
process's. Each writer warms up with a few untimed gives (its pool connected, the
statements prepared) before the common start. The rounds take turns (1, 2, 4, 8 writers,
then again); each number of writers' best round counts.

    python benchmarks/writers.py                            # 1,000 gives a writer, both
    python benchmarks/writers.py --gives 100 --writers 1 2  # a quick run
    python benchmarks/writers.py --backend postgres --postgres postgresql://u@host/db
    python benchmarks/writers.py --dir /srv/avg             # SQLite on the production disk
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import queue
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
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
SPIN = 300_000
"""SHA-256 rounds each process of plain CPU work does (about a third of a second)."""
START_TIMEOUT = 300.0
"""Seconds the writers may take to open their kits and warm up."""


@dataclass(frozen=True)
class Done:
    """What one writer process reports: its timings, or why it stopped."""

    writer: int
    latencies: tuple[float, ...]
    started: float
    finished: float
    stored: int
    refused: int
    error: str | None = None


def writer(  # noqa: PLR0917 - a process target: positional arguments only
    url: str, index: int, prefix: str, count: int, start: Barrier, results: Any
) -> None:
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
        error = f"{type(exc).__name__}: {exc}"
        results.put(Done(index, (), 0.0, 0.0, stored, refused, error))
        return
    results.put(Done(index, tuple(latencies), started, finished, stored, refused))


@dataclass(frozen=True)
class Run:
    """One run: ``writers`` processes of ``count`` gives each, on one store (or apart)."""

    backend: str
    writers: int
    count: int
    latencies: tuple[float, ...]
    elapsed: float
    refused: int
    apart: bool = False
    """Each writer on a store of its own (nothing shared but the machine)."""

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


def race(urls: Sequence[str], count: int, backend: str) -> tuple[Run, list[int]]:
    """One writer process on each of ``urls``, ``count`` gives each, released together.

    Returns the run and, per writer, the gives it stored (acknowledged, warm-up included).
    """
    writers = len(urls)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers + 1)
    results = context.Queue()
    run_id = secrets.token_hex(3)
    processes = [
        context.Process(
            target=writer,
            args=(url, n, f"r{run_id}-w{n}", count, start, results),
            name=f"avgkit-writer-{n}",
        )
        for n, url in enumerate(urls)
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
    apart = len(set(urls)) > 1
    stored = [0] * writers
    for d in done:
        stored[d.writer] = d.stored
    return Run(backend, writers, count, latencies, elapsed, refused, apart=apart), stored


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


Counted = Callable[[], int]
"""Counts a store's consent events by hand."""
Opener = Callable[[int], AbstractContextManager[list[tuple[str, Counted]]]]
"""Opens ``n`` fresh, migrated stores of one backend: their URLs and counters."""


def schemas(postgres: str) -> Opener:
    """Fresh schemas on ``postgres``, migrated, dropped when the block ends."""

    @contextmanager
    def open_schemas(n: int) -> Iterator[list[tuple[str, Counted]]]:
        with ExitStack() as stack:
            found: list[tuple[str, Counted]] = []
            for _ in range(n):
                url = stack.enter_context(fresh_schema(postgres))
                Kit.open(url, inventory=ticketing.inventory()).close()  # migrated before
                found.append((url, partial(events_in_schema, postgres, url)))
            yield found

    return open_schemas


def files(folder: str | None) -> Opener:
    """Fresh SQLite files in a temporary folder (in ``folder``), migrated, removed after."""

    @contextmanager
    def open_files(n: int) -> Iterator[list[tuple[str, Counted]]]:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            found: list[tuple[str, Counted]] = []
            for index in range(n):
                path = Path(tmp) / f"writers-{index}.db"
                Kit.open(url_for(path), inventory=ticketing.inventory()).close()
                found.append((url_for(path), partial(events_in_file, path)))
            yield found

    return open_files


def one_run(opener: Opener, backend: str, writers: int, count: int, *, apart: bool) -> Run:
    """``writers`` processes on one fresh store (or, ``apart``, on a store each), checked.

    Raises:
        Disagreement: a store lost (or gained) a write, or its chain does not verify.
    """
    with opener(writers if apart else 1) as stores:
        urls = [stores[n % len(stores)][0] for n in range(writers)]
        run, stored = race(urls, count, backend)
        for url, counted in stores:
            mine = sum(done for where, done in zip(urls, stored, strict=True) if where == url)
            check(url, counted(), mine, backend, writers)
    return run


def one_round(opener: Opener, backend: str, writers: Sequence[int], count: int) -> list[Run]:
    """Every number of writers on one store, then (more than one) on a store each."""
    runs = [one_run(opener, backend, n, count, apart=False) for n in writers]
    runs += [one_run(opener, backend, n, count, apart=True) for n in writers if n > 1]
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

    On PostgreSQL when ``postgres`` is given, else on SQLite files in ``folder``. The rounds
    take turns (1, 2, 4, 8 writers, then again) so that a spell of load on a shared machine
    hurts every number of writers alike rather than one of them.
    """
    if postgres is not None:
        opener, backend = schemas(postgres), "PostgreSQL"
    else:
        opener, backend = files(folder), "SQLite"
    rounds = [one_round(opener, backend, writers, count) for _ in range(max(1, repeat))]
    return best_of(rounds)


def ms(value: float) -> str:
    """Seconds as milliseconds, one decimal."""
    return f"{value * 1000:.1f} ms"


def shared_and_apart(runs: Sequence[Run]) -> tuple[list[Run], dict[int, Run]]:
    """The runs on one store (the first the single writer), and those apart by writers."""
    return [run for run in runs if not run.apart], {run.writers: run for run in runs if run.apart}


def narrate(runs: Sequence[Run], repeat: int, out: Any) -> None:
    """The backend's table (a reStructuredText simple table) and the goal line.

    ``apart``: the same writers each on a store of its own, sharing nothing but the machine
    (its cores, its disk, the server): what the machine allows; ``of apart``: how much of
    that the writers on one store reach.
    """
    shared, apart = shared_and_apart(runs)
    single = shared[0]
    headers = ("writers", "gives/s", "p50", "p99", "vs 1 writer", "apart", "of apart", "refused")

    def line(run: Run) -> tuple[str, ...]:
        alone = apart.get(run.writers)
        return (
            str(run.writers),
            f"{run.throughput:,.0f}",
            ms(run.percentile(0.5)),
            ms(run.percentile(0.99)),
            f"{run.throughput / single.throughput:.2f}x" if single.throughput else "",
            "" if alone is None else f"{alone.throughput:,.0f}",
            ""
            if alone is None or not alone.throughput
            else f"{run.throughput / alone.throughput:.0%}",
            f"{run.refused:,}",
        )

    lines = [line(run) for run in shared]
    widths = [max(len(row[i]) for row in (headers, *lines)) for i in range(len(headers))]
    rule = "  ".join("=" * width for width in widths)

    def text(row: Sequence[str]) -> str:
        return "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))

    print(
        f"{single.backend}: {single.count:,} gives a writer, best of {repeat} round(s); "
        "every run: no write lost, chain verified; apart: gives/s with each writer on a "
        "store of its own",
        file=out,
    )
    print("\n".join([rule, text(headers), rule, *map(text, lines), rule]), file=out)
    print(goal_line(shared), file=out)
    print(file=out)


def goal_line(runs: Sequence[Run]) -> str:
    """Whether the backend's goal holds, in words (``runs``: on one store, 1 writer first)."""
    backend = runs[0].backend
    goal = GOALS[backend]
    wanted = f"goal: {GOAL_AT} writers at least {goal.bound:g}x one writer's throughput"
    four = next((run for run in runs if run.writers == GOAL_AT and not run.apart), None)
    if four is None or not runs[0].throughput:
        return f"{wanted}: not measured ({GOAL_AT} writers not run)"
    ratio = four.throughput / runs[0].throughput
    return f"{wanted}: {ratio:.2f}x, {'holds' if goal.holds(ratio) else 'MISSED'}"


def rows(runs: Sequence[Run]) -> list[Row]:
    """The shared table's rows: each number of writers against one writer (rate, p99),
    and against the same writers on a store each."""
    shared, apart = shared_and_apart(runs)
    single = shared[0]
    table: list[Row] = []
    for run in shared[1:]:
        goal: Goal | None = GOALS[run.backend] if run.writers == GOAL_AT else None
        n, backend = run.writers, run.backend
        table.append(
            compare(
                "writers",
                f"consent.give(), {n} writer processes vs 1",
                backend,
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
                f"consent.give() p99 latency, {n} writer processes vs 1",
                backend,
                run.count,
                "gives a writer",
                seconds(run.percentile(0.99)),
                seconds(single.percentile(0.99)),
            )
        )
        alone = apart.get(n)
        if alone is not None:
            table.append(
                compare(
                    "writers",
                    f"consent.give(), {n} writer processes on one store vs on a store each",
                    backend,
                    run.count,
                    "gives a writer",
                    rate(run.throughput, "gives"),
                    rate(alone.throughput, "gives"),
                )
            )
    return table


def spin(rounds: int, start: Barrier, results: Any) -> None:
    """Plain CPU work (chained SHA-256) once every process is ready; reports when it ran."""
    digest = b""
    start.wait(START_TIMEOUT)
    started = time.perf_counter()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    results.put((started, time.perf_counter()))


def machine(processes: Sequence[int], work: int = SPIN) -> dict[int, float]:
    """Plain CPU work's rate (rounds a second, all together) in each number of processes.

    What the machine's cores give several processes at this moment, with avgkit and the
    server out of the picture: the ceiling of any number of writers against one.
    """
    context = multiprocessing.get_context("spawn")
    found: dict[int, float] = {}
    for n in processes:
        start = context.Barrier(n)
        results = context.Queue()
        children = [context.Process(target=spin, args=(work, start, results)) for _ in range(n)]
        for child in children:
            child.start()
        spans = [results.get(timeout=START_TIMEOUT) for _ in children]
        for child in children:
            child.join()
        elapsed = max(end for _, end in spans) - min(begun for begun, _ in spans)
        found[n] = n * work / elapsed
    return found


def machine_line(found: dict[int, float]) -> str:
    """The machine's scaling in words."""
    single = found[min(found)]
    ratios = ", ".join(f"{n}: {rate / single:.2f}x" for n, rate in found.items() if n > 1)
    return (
        "this machine now: plain CPU work in N processes against one (the most any number "
        f"of writers can gain here): {ratios}"
    )


def machine_rows(found: dict[int, float]) -> list[Row]:
    """The shared table's rows for the machine's own scaling."""
    single = found[min(found)]
    return [
        compare(
            "writers",
            f"plain CPU work, {n} processes vs 1 (what the machine allows)",
            "none",
            SPIN,
            "hashes a process",
            rate(value, "hashes"),
            rate(single, "hashes"),
        )
        for n, value in found.items()
        if n > 1
    ]


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
    cores = machine(writers)
    print(machine_line(cores), file=out)
    results = [backend_rounds(writers, size, repeat)]
    if postgres:
        results.append(backend_rounds(writers, size, repeat, postgres=postgres))
    table = machine_rows(cores)
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
    print(machine_line(machine(args.writers)), file=sys.stdout)
    print(file=sys.stdout)
    if args.backend in {"sqlite", "both"}:
        runs = backend_rounds(args.writers, args.gives, args.rounds, folder=args.dir)
        narrate(runs, args.rounds, sys.stdout)
    if args.backend in {"postgres", "both"}:
        runs = backend_rounds(args.writers, args.gives, args.rounds, postgres=args.postgres)
        narrate(runs, args.rounds, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
