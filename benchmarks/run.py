"""Every benchmark in one table: avgkit against its baseline, the goal, and whether it holds.

    python benchmarks/run.py                       # the full sizes (about an hour)
    python benchmarks/run.py --size 0 --rounds 1   # every benchmark at its smoke size
    python benchmarks/run.py --postgres postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/run.py --only dsar_deadlines host_sql --json
    python benchmarks/run.py --at host_sql=100000   # one benchmark at a size of its own

``--size N`` scales every benchmark together: each runs at its full size (the size its
goal is stated for: 1,000,000 subjects, 20,000 breaches, 200,000 addresses...) times
N / 1,000,000, never below its smoke size, so ``--size 1000000`` (the default) is the full
run and ``--size 0`` the smoke run. The retention execution is capped (see
:data:`BENCHMARKS`): one executor does some 250 actions a second, and the full 100,000
visitors would take hours. ``--at NAME=SIZE`` runs one benchmark at a size of its own.

Each benchmark's own narrative goes to stderr while it runs; stdout gets the table (a
reStructuredText simple table) or, with ``--json``, the rows as JSON. The exit code is 0
when every benchmark ran, whether or not its goals were met (the table is a report), 1 when
one crashed or its two sides disagreed on the answer (the table then lists why), and 2
for a bad command line.

Adding a benchmark: give its module ``measure(size, *, postgres=None, out=None,
rounds=None) -> list[Row]`` (rows from ``_table.py``) and add one :class:`Benchmark` line
to :data:`BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the benchmark modules

from _table import Disagreement, Row, render

FULL = 1_000_000
"""``--size`` at which every benchmark runs at its full size."""


class Measure(Protocol):
    """A benchmark's entry point: its rows of the table at ``size``."""

    def __call__(
        self,
        size: int,
        *,
        postgres: str | None = None,
        out: TextIO | None = None,
        rounds: int | None = None,
    ) -> list[Row]:
        """Measure at ``size``, narrating to ``out``; also on ``postgres`` when given.

        ``rounds`` overrides the benchmark's own number of timed rounds (the best counts).
        """
        ...


@dataclass(frozen=True)
class Benchmark:
    """One benchmark module of this folder and how ``--size`` scales it.

    ``full`` is the size its goals are stated for, ``smoke`` the smallest size that still
    exercises every part of it, ``cap`` an upper bound for one too slow to run at ``full``
    here. ``measure``, when given, stands in for the module's own ``measure()`` (the tests use it).
    """

    name: str
    of: str
    full: int
    smoke: int
    cap: int | None = None
    measure: Measure | None = None

    def size(self, scale: int) -> int:
        """The size this benchmark runs at for ``--size scale``."""
        wanted = round(self.full * scale / FULL)
        if self.cap is not None:
            wanted = min(wanted, self.cap)
        return max(self.smoke, wanted)

    def entry(self) -> Measure:
        """The function that measures it (importing its module)."""
        if self.measure is not None:
            return self.measure
        module = importlib.import_module(self.name)
        return cast("Measure", module.measure)


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("audit_verify", "entries", full=100_000, smoke=200),
    Benchmark("breach_overdue", "breaches", full=20_000, smoke=60),
    Benchmark("consent_audience", "subjects", full=FULL, smoke=1_000),
    Benchmark("dsar_deadlines", "requests", full=FULL, smoke=2_000),
    Benchmark("durability", "gives", full=2_000, smoke=20),
    Benchmark("dsar_export", "orders", full=10_000, smoke=100),
    Benchmark("host_sql", "visitors", full=FULL, smoke=500),
    Benchmark("hot_paths", "operations", full=5_000, smoke=20),
    Benchmark("pseudonyms", "addresses", full=200_000, smoke=300),
    Benchmark("retention_crash", "trials", full=20, smoke=1),
    Benchmark("retention_execute", "visitors", full=100_000, smoke=50, cap=5_000),
    Benchmark("retention_plan", "visitors", full=FULL, smoke=500),
    Benchmark("writers", "gives a writer", full=1_000, smoke=5),
)
"""Every benchmark the table runs, in its order."""


READING = (
    "ratio: avgkit's figure divided by the baseline's, both measured in the same run "
    "(best of the rounds); for times lower is better, for rates higher."
)
CRASH_TEST = (
    "The crash test's row counts trials survived (SIGKILL during execution, rerun, end state "
    "checked); it is not a timing."
)


@dataclass(frozen=True)
class Report:
    """What one run of the table found: its rows, and the benchmarks that failed (why)."""

    rows: tuple[Row, ...]
    failures: tuple[str, ...]
    sizes: tuple[tuple[str, int], ...]

    def notes(self) -> list[str]:
        """The lines under the table: how to read it, skipped rows, failures."""
        lines = [READING]
        if any(row.benchmark == "retention_crash" for row in self.rows):
            lines.append(CRASH_TEST)
        lines += [f"Not run: {row.operation}: {row.skipped}." for row in self.rows if row.skipped]
        lines += [f"FAILED: {failure}" for failure in self.failures]
        return lines

    def as_json(self) -> dict[str, object]:
        """The report as plain JSON values."""
        return {
            "rows": [row.as_json() for row in self.rows],
            "failures": list(self.failures),
            "sizes": dict(self.sizes),
        }


def collect(
    benchmarks: Sequence[Benchmark],
    scale: int,
    *,
    postgres: str | None = None,
    rounds: int | None = None,
    out: TextIO | None = None,
    at: Mapping[str, int] | None = None,
) -> Report:
    """Run ``benchmarks`` at ``--size scale`` (those named in ``at`` at the size given
    there); a crash or a disagreement is a failure, the other benchmarks still run."""
    out = out or sys.stderr
    at = at or {}
    rows: list[Row] = []
    failures: list[str] = []
    sizes: list[tuple[str, int]] = []
    for benchmark in benchmarks:
        size = at.get(benchmark.name, benchmark.size(scale))
        sizes.append((benchmark.name, size))
        print(f"== {benchmark.name}: {size:,} {benchmark.of}", file=out, flush=True)
        started = time.perf_counter()
        try:
            rows += benchmark.entry()(size, postgres=postgres, out=out, rounds=rounds)
        except Disagreement as exc:
            failures.append(f"{benchmark.name}: avgkit and the baseline disagree: {exc}")
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported, the others still run
            traceback.print_exc(file=out)
            failures.append(f"{benchmark.name} crashed: {type(exc).__name__}: {exc}")
        print(f"== {benchmark.name}: {time.perf_counter() - started:.1f} s", file=out, flush=True)
    return Report(tuple(rows), tuple(failures), tuple(sizes))


def parser() -> argparse.ArgumentParser:
    """The command line."""
    names = [benchmark.name for benchmark in BENCHMARKS]
    cli = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="exit codes: 0 every benchmark ran (goals met or not), 1 one crashed or "
        "disagreed with its baseline, 2 bad command line",
    )
    cli.add_argument(
        "--size",
        type=_size,
        default=FULL,
        help=f"scale: each benchmark's full size times N/{FULL:,}, at least its smoke "
        f"size (default {FULL}: the full run; 0: the smoke run)",
    )
    cli.add_argument(
        "--postgres",
        metavar="URL",
        help="also measure on this PostgreSQL server (a schema of its own per benchmark, "
        "dropped afterwards; default: SQLite only)",
    )
    cli.add_argument(
        "--only",
        nargs="+",
        choices=names,
        metavar="NAME",
        help=f"run only these benchmarks (default: all of {', '.join(names)})",
    )
    cli.add_argument(
        "--at",
        action="append",
        type=_at(names),
        default=[],
        metavar="NAME=SIZE",
        help="run benchmark NAME at SIZE itself, whatever --size says (repeatable; e.g. "
        "host_sql=100000 when the full size would take too long; default: none)",
    )
    cli.add_argument(
        "--rounds",
        type=_rounds,
        help="timed rounds of each measure, the best counts (default: each benchmark's own)",
    )
    cli.add_argument("--json", action="store_true", help="print the rows as JSON (default: text)")
    return cli


def _size(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        msg = f"expected a whole number such as 1000000, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 0:
        msg = f"expected zero or more, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _at(names: Sequence[str]) -> Callable[[str], tuple[str, int]]:
    def parse(text: str) -> tuple[str, int]:
        name, equals, size = text.partition("=")
        if not equals or name not in names:
            msg = f"expected NAME=SIZE with NAME one of {', '.join(names)}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return name, _size(size)

    return parse


def _rounds(text: str) -> int:
    value = _size(text)
    if value < 1:
        msg = f"expected one round or more, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the benchmarks the arguments select; print the table; return the exit code."""
    args = parser().parse_args(argv)
    stdout = stdout or sys.stdout
    chosen = [b for b in BENCHMARKS if args.only is None or b.name in args.only]
    report = collect(
        chosen, args.size, postgres=args.postgres, rounds=args.rounds, at=dict(args.at)
    )
    if args.json:
        json.dump(report.as_json(), stdout, indent=2)
        stdout.write("\n")
    else:
        stdout.write(render(report.rows, report.notes()))
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
