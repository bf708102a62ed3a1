"""SQLite durability: ``consent.give()`` with every commit synced (FULL) against NORMAL.

``synchronous=FULL`` (avgkit's default) syncs the write-ahead log at every commit, so a
recorded consent or withdrawal survives a power cut; ``NORMAL`` syncs only at checkpoints.
This measures what the guarantee costs: ``--gives`` consents given one by one on a file
opened each way, the two taking turns round by round after a warm-up (best round, median
printed too). The ratio is FULL's rate over NORMAL's. fsync costs what the disk makes it
cost: run it with ``--dir`` on the disk the store will live on (a tmpfs syncs for free).

    python benchmarks/durability.py                  # 2,000 gives a side a round
    python benchmarks/durability.py --gives 200      # a quick smoke run
    python benchmarks/durability.py --dir /srv/avg   # on the production disk
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from avgkit import Evidence, Kit
from avgkit.presets import ticketing
from avgkit.storage.sqlite import url_for
from avgkit.testing import ManualClock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Row, compare, rate

T0 = datetime(2025, 1, 1, tzinfo=UTC)
EVIDENCE = Evidence.from_wording(
    "Ja, stuur mij de nieuwsbrief.", channel="webshop", notice_version="2025-01"
)


def gives(folder: Path, setting: str, count: int) -> Callable[[], None]:
    """A run of ``count`` gives on its own file opened with ``synchronous=setting``."""
    url = f"{url_for(folder / f'{setting}.db')}?synchronous={setting}"
    runs = iter(range(10**9))

    def run() -> None:
        batch = next(runs)
        with Kit.open(url, inventory=ticketing.inventory(), clock=ManualClock(T0)) as kit:
            give = kit.consent.give
            for n in range(count):
                give(f"cust-{batch}-{n}", "newsletter", EVIDENCE)

    return run


def rounds_of(count: int, repeat: int, folder: str | None = None) -> dict[str, list[float]]:
    """Seconds of every round of ``count`` gives under FULL and under NORMAL, taking turns."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        sides = {setting: gives(Path(tmp), setting, count) for setting in ("full", "normal")}
        for run in sides.values():
            run()  # warm-up: files created and migrated, caches filled
        spent: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(max(1, repeat)):
            for name, run in sides.items():
                start = time.perf_counter()
                run()
                spent[name].append(time.perf_counter() - start)
        return spent


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's row: ``size`` gives synced (FULL, the default) against NORMAL."""
    del postgres
    spent = rounds_of(size, rounds or 5)
    full = rate(size / min(spent["full"]), "gives")
    normal = rate(size / min(spent["normal"]), "gives")
    print(f"{size:,} consents given a side a round", file=out or sys.stdout)
    return [
        compare(
            "durability",
            "consent.give() synchronous=FULL vs NORMAL",
            "SQLite",
            size,
            "gives",
            full,
            normal,
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gives", type=int, default=2_000, help="gives a side a round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds taking turns")
    parser.add_argument("--dir", default=None, help="folder for the files (default: temp)")
    args = parser.parse_args(argv)
    n = args.gives
    spent = rounds_of(n, args.repeat, args.dir)
    print(f"{n:,} consent.give() a side, {args.repeat} rounds taking turns; best (median)")
    for name in ("full", "normal"):
        best, median = min(spent[name]), statistics.median(spent[name])
        print(f"  synchronous={name:<8}{n / best:>10,.0f} gives/s  ({n / median:,.0f}/s)")
    ratio = min(spent["normal"]) / min(spent["full"])
    print(f"rate FULL / NORMAL: {ratio:.2f} (what syncing every commit costs on this disk)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
