"""The one benchmark table: its rows, the goals they are held to, and how it is printed.

Every benchmark module has ``measure(size, *, postgres=None, out=None, rounds=None)``
returning a list of :class:`Row`; ``benchmarks/run.py`` collects them into one table. A row
compares avgkit's figure (a time, a rate, a peak) with a baseline measured in the same run;
its ratio is avgkit's figure divided by the baseline's, so for times lower is better and
for rates higher is better. The goal says which way it must go.

The text table is a reStructuredText simple table: readable in a terminal, and pasted as it
is into the documentation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["time", "rate", "memory", "count"]
Verdict = Literal["met", "MISSED", "no goal", "not run"]


class Disagreement(RuntimeError):  # noqa: N818 - what it is, not how it failed
    """avgkit and the baseline answered differently: the timing means nothing."""


@dataclass(frozen=True)
class Figure:
    """One measured figure: seconds (``time``), things per second (``rate``), MiB, a count.

    ``per`` names what a rate or count counts ("events" in "136,567 events/s").
    """

    value: float
    kind: Kind
    per: str = ""

    def __str__(self) -> str:
        if self.kind == "time":
            if self.value < 1:
                return f"{self.value * 1000:.1f} ms"
            return f"{self.value:.2f} s"
        if self.kind == "rate":
            return f"{self.value:,.0f} {self.per}/s".replace(" /s", "/s")
        if self.kind == "memory":
            return f"{self.value:.1f} MiB"
        return f"{self.value:,.0f} {self.per}".rstrip()


def seconds(value: float) -> Figure:
    """A time in seconds."""
    return Figure(value, "time")


def rate(value: float, per: str) -> Figure:
    """A rate: ``value`` of ``per`` a second."""
    return Figure(value, "rate", per)


@dataclass(frozen=True)
class Goal:
    """A bound on a row's ratio (``on="ratio"``) or on avgkit's own figure (``"avgkit"``).

    ``at_most`` says which side of ``bound`` the figure must stay on (the bound included);
    ``strict`` excludes the bound itself.
    """

    bound: float
    at_most: bool
    on: Literal["ratio", "avgkit"] = "ratio"
    strict: bool = False
    unit: str = ""

    def holds(self, value: float) -> bool:
        """Whether ``value`` (the ratio or avgkit's figure) keeps this goal."""
        if self.at_most:
            return value < self.bound if self.strict else value <= self.bound
        return value > self.bound if self.strict else value >= self.bound

    def __str__(self) -> str:
        sign = ("<" if self.strict else "<=") if self.at_most else (">" if self.strict else ">=")
        if self.on == "ratio":
            return f"ratio {sign} {self.bound:g}"
        return f"{sign} {self.bound:,.0f} {self.unit}".rstrip()


def ratio_at_most(bound: float) -> Goal:
    """avgkit at most ``bound`` times the baseline (for times: at most that much slower)."""
    return Goal(bound, at_most=True)


def ratio_at_least(bound: float) -> Goal:
    """avgkit at least ``bound`` times the baseline (for rates: at least that fast)."""
    return Goal(bound, at_most=False)


@dataclass(frozen=True, kw_only=True)
class Row:
    """One line of the table: an operation at a size, avgkit against its baseline.

    ``ratio`` is avgkit's figure divided by the baseline's (see :func:`compare`); a
    benchmark that reports only its ratio may give it without the figures. ``skipped``
    says why a row with a goal was not measured (a missing optional package).
    """

    benchmark: str
    operation: str
    backend: str
    size: int
    of: str
    avgkit: Figure | None
    baseline: Figure | None = None
    ratio: float | None = None
    goal: Goal | None = None
    skipped: str | None = None

    @property
    def verdict(self) -> Verdict:
        """``met``, ``MISSED``, ``no goal``, or ``not run`` (skipped, or nothing to judge)."""
        if self.goal is None:
            return "no goal"
        value = self.ratio if self.goal.on == "ratio" else self.avgkit_value
        if self.skipped is not None or value is None:
            return "not run"
        return "met" if self.goal.holds(value) else "MISSED"

    @property
    def avgkit_value(self) -> float | None:
        """avgkit's figure as a number, or None when only the ratio was reported."""
        return None if self.avgkit is None else self.avgkit.value

    def as_json(self) -> dict[str, object]:
        """The row as plain JSON values (figures as numbers with their kind)."""

        def figure(f: Figure | None) -> dict[str, object] | None:
            return None if f is None else {"value": f.value, "kind": f.kind, "per": f.per}

        return {
            "benchmark": self.benchmark,
            "operation": self.operation,
            "backend": self.backend,
            "size": self.size,
            "of": self.of,
            "avgkit": figure(self.avgkit),
            "baseline": figure(self.baseline),
            "ratio": self.ratio,
            "goal": None if self.goal is None else str(self.goal),
            "verdict": self.verdict,
            "skipped": self.skipped,
        }


def compare(  # noqa: PLR0917 - reads as "operation on backend at size: avgkit vs baseline"
    benchmark: str,
    operation: str,
    backend: str,
    size: int,
    of: str,
    avgkit: Figure,
    baseline: Figure,
    goal: Goal | None = None,
) -> Row:
    """A row whose ratio is ``avgkit / baseline`` (the two figures of the same kind)."""
    if avgkit.kind != baseline.kind:
        msg = f"{operation}: cannot compare a {avgkit.kind} with a {baseline.kind}"
        raise ValueError(msg)
    ratio = avgkit.value / baseline.value if baseline.value else math.inf
    return Row(
        benchmark=benchmark,
        operation=operation,
        backend=backend,
        size=size,
        of=of,
        avgkit=avgkit,
        baseline=baseline,
        ratio=ratio,
        goal=goal,
    )


HEADERS = ("operation", "backend", "size", "avgkit", "baseline", "ratio", "goal", "holds")


def cells(row: Row) -> tuple[str, ...]:
    """The row's text cells, in the order of :data:`HEADERS`; empty where there is nothing.

    (Not ``-``: reStructuredText reads a lone dash in a cell as an empty bullet list.)
    """
    return (
        row.operation,
        row.backend,
        f"{row.size:,} {row.of}",
        "" if row.avgkit is None else str(row.avgkit),
        "" if row.baseline is None else str(row.baseline),
        "" if row.ratio is None else f"{row.ratio:.2f}",
        "" if row.goal is None else str(row.goal),
        row.verdict,
    )


def render(rows: Sequence[Row], notes: Iterable[str] = ()) -> str:
    """The table as a reStructuredText simple table, then the notes, one a line."""
    lines = [HEADERS, *(cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    rule = "  ".join("=" * width for width in widths)

    def text(line: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))

    table = [rule, text(HEADERS).rstrip(), rule]
    table += [text(line).rstrip() for line in lines[1:]]
    table.append(rule)
    notes = list(notes)
    if notes:
        table.append("")
        table += notes
    return "\n".join(table) + "\n"
