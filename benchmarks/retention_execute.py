"""Retention execution rates: subjects/s on SQLite, and 1 against 4 executors on PostgreSQL.

Generates the reference ticket shop (``--visitors``, 100,000 by default, which gives about
as many due actions: inactive accounts, past quick registrations, ended relations, old
footage, mail and fiscal records), stages the plan, and times ``kit.retention.execute()``:

* ``sqlite``: avgkit's stores in one SQLite file, one executor;
* ``postgres``: avgkit's stores in a PostgreSQL schema (``AVGKIT_TEST_POSTGRES_URL``), one
  executor, then four executor processes sharing the plan (each on a fresh copy of the
  shop and a fresh schema, so the runs compare).

The host stays the shop's one SQLite file, which every executor writes to: four executors
share avgkit's work but queue for the host's write lock, so their ratio measures how far the
claims scale over a single-writer host, not PostgreSQL's ceiling.

    python benchmarks/retention_execute.py --visitors 5000     # a quick run
    python benchmarks/retention_execute.py                     # 100,000 visitors
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from avgkit import Kit
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

sys.path.insert(0, str(EXAMPLES.parent / "benchmarks"))  # the shared table of run.py

from _table import Row, compare, rate  # noqa: E402
from ticketshop import TicketShopHost, generate  # noqa: E402

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
WORKER = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    sys.path.insert(0, sys.argv[1])
    from ticketshop import TicketShopHost
    from avgkit import Kit
    from avgkit.presets import ticketing
    from avgkit.testing import ManualClock

    shop, url, plan_id = sys.argv[2:5]
    host = TicketShopHost(shop, ticketing.inventory())
    with Kit.open(url, inventory=ticketing.inventory(), host=host,
                  clock=ManualClock(datetime.fromisoformat(sys.argv[5])),
                  retention_policy=ticketing.retention_policy()) as kit:
        done = kit.retention.execute(plan_id, warn=lambda s, a: None, batch=20).done_here
    print(done)
    """
)


def no_mail(_subject: object, _action: object) -> None:
    """Warnings are recorded, nobody is mailed."""


def open_kit(url: str, host: TicketShopHost) -> Kit:
    return Kit.open(
        url,
        inventory=ticketing.inventory(),
        host=host,
        clock=ManualClock(NOW),
        retention_policy=ticketing.retention_policy(),
    )


def copy_shop(pristine: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{pristine}{suffix}")
        if source.exists():
            shutil.copy(source, f"{target}{suffix}")


def stage(shop: Path, url: str) -> tuple[str, int, int]:
    """Stage the plan; return its id, its actions and its subject actions."""
    with TicketShopHost(shop, ticketing.inventory()) as host, open_kit(url, host) as kit:
        plan = kit.retention.plan(at=NOW)
        plan_id = kit.retention.stage(plan)
        actions = kit.stores.retention.unfinished(plan_id)
        subjects = sum(1 for a in plan.due() if a.subject is not None)
    return plan_id, actions, subjects


def run_one(shop: Path, url: str, plan_id: str) -> float:
    with TicketShopHost(shop, ticketing.inventory()) as host, open_kit(url, host) as kit:
        started = time.perf_counter()
        kit.retention.execute(plan_id, warn=no_mail, batch=20)
        return time.perf_counter() - started


def run_many(shop: Path, url: str, plan_id: str, workers: int) -> float:
    started = time.perf_counter()
    children = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WORKER, str(EXAMPLES), str(shop), url, plan_id, NOW.isoformat()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for child in children:
        _, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(err[-2000:])
    return time.perf_counter() - started


def fresh_schema(base: str) -> tuple[str, str]:
    name = f"avgkit_bench_{secrets.token_hex(4)}"
    separator = "&" if "?" in base else "?"
    return name, f"{base}{separator}schema={name}"


def drop(base: str, name: str) -> None:
    with psycopg.connect(base.split("?", maxsplit=1)[0], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def rates(
    visitors: int, *, sqlite: bool, postgres: str | None, out: Any = None
) -> dict[str, float]:
    """Execute the plan of a shop of ``visitors``; actions/s of each setup measured.

    Keys: ``sqlite`` (one executor), ``postgres_1`` and ``postgres_4`` (executors).
    """
    out = out or sys.stdout
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pristine = work / "pristine.db"
        made = generate(pristine, visitors, now=NOW, seed=5)
        print(f"shop: {visitors:,} visitors generated in {made.seconds:.1f} s", file=out)
        if sqlite:
            shop = work / "sqlite-shop.db"
            copy_shop(pristine, shop)
            url = f"sqlite:///{work / 'avgkit.db'}"
            plan_id, actions, subjects = stage(shop, url)
            seconds = run_one(shop, url, plan_id)
            found["sqlite"] = actions / seconds
            print(
                f"sqlite, 1 executor: {actions:,} actions ({subjects:,} subject actions) in "
                f"{seconds:.1f} s: {actions / seconds:,.0f} actions/s, "
                f"{subjects / seconds:,.0f} subjects/s",
                file=out,
            )
        if postgres:
            for workers in (1, 4):
                shop = work / f"pg-shop-{workers}.db"
                copy_shop(pristine, shop)
                name, url = fresh_schema(postgres)
                try:
                    plan_id, actions, subjects = stage(shop, url)
                    seconds = (
                        run_one(shop, url, plan_id)
                        if workers == 1
                        else run_many(shop, url, plan_id, workers)
                    )
                finally:
                    drop(postgres, name)
                found[f"postgres_{workers}"] = actions / seconds
                print(
                    f"postgresql, {workers} executor(s): {actions:,} actions "
                    f"({subjects:,} subject actions) in {seconds:.1f} s: "
                    f"{actions / seconds:,.0f} actions/s, {subjects / seconds:,.0f} subjects/s",
                    file=out,
                )
            scaling = found["postgres_4"] / found["postgres_1"]
            print(f"postgresql, 4 executors against 1: {scaling:.2f}x", file=out)
    return found


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's rows: executing the plan of a shop of ``size`` visitors (one run each).

    No hand-written baseline: one executor's rate is reported as it is; on PostgreSQL four
    executors are compared with one.
    """
    del rounds  # one execution each: a plan, once executed, is done
    found = rates(size, sqlite=True, postgres=postgres, out=out)

    def alone(backend: str, key: str) -> Row:
        return Row(
            benchmark="retention_execute",
            operation="retention execute, 1 executor",
            backend=backend,
            size=size,
            of="visitors",
            avgkit=rate(found[key], "actions"),
        )

    rows = [alone("SQLite", "sqlite")]
    if postgres:
        rows.append(alone("PostgreSQL", "postgres_1"))
        rows.append(
            compare(
                "retention_execute",
                "retention execute, 4 executors vs 1",
                "PostgreSQL",
                size,
                "visitors",
                rate(found["postgres_4"], "actions"),
                rate(found["postgres_1"], "actions"),
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--visitors", type=int, default=100_000, help="visitors in the shop (default 100000)"
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        default="both",
        help="where avgkit's stores live (default both)",
    )
    args = parser.parse_args()
    pg = os.environ.get("AVGKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    rates(
        args.visitors,
        sqlite=args.backend in {"sqlite", "both"},
        postgres=pg if args.backend in {"postgres", "both"} else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
