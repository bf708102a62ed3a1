"""Crash test: SIGKILL the retention executor at random points, rerun, check the end state.

Each trial copies a pristine reference ticket shop (``--visitors`` visitors) and a fresh
avgkit database, stages the retention plan, starts ``kit.retention.execute()`` in a child
process and kills it with SIGKILL after a random delay. A second run (``lease=0``: nothing
else runs) then completes the plan. Checked after every trial:

* every subject of the plan is either untouched (still in the host, nothing in the erasure
  log, its consent history as before) or fully erased (gone from the host, no record of
  theirs reported, its erasure log entry complete, no consent event under its id), and
  after the rerun every due one is erased;
* subjects outside the plan are still there with their consent history (record rules and
  erased buyers' orders may change their records: a ticket on an erased buyer's order);
* the summary counts every staged action exactly once;
* the audit chain verifies.

    python benchmarks/retention_crash.py                  # 20 trials, 1,500 visitors
    python benchmarks/retention_crash.py --trials 50 --visitors 5000
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from avgkit import Kit
from avgkit.consent import Channel, Evidence, hash_wording
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

sys.path.insert(0, str(EXAMPLES.parent / "benchmarks"))  # the shared table of run.py

from _table import Disagreement, Figure, Goal, Row  # noqa: E402
from ticketshop import TicketShopHost, generate  # noqa: E402

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
EVIDENCE = Evidence(
    channel=Channel.WEBSHOP,
    notice_version="2024-01",
    wording_sha256=hash_wording("Ja, stuur mij de nieuwsbrief."),
)

CHILD = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    sys.path.insert(0, sys.argv[1])
    from ticketshop import TicketShopHost
    from avgkit import Kit
    from avgkit.presets import ticketing
    from avgkit.testing import ManualClock

    shop, url, plan_id, now = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    host = TicketShopHost(shop, ticketing.inventory())
    with Kit.open(url, inventory=ticketing.inventory(), host=host,
                  clock=ManualClock(datetime.fromisoformat(now)),
                  retention_policy=ticketing.retention_policy()) as kit:
        print("started", flush=True)
        kit.retention.execute(plan_id, warn=lambda s, a: None, batch=3)
    """
)


def open_kit(url: str, host: TicketShopHost) -> Kit:
    return Kit.open(
        url,
        inventory=ticketing.inventory(),
        host=host,
        clock=ManualClock(NOW),
        retention_policy=ticketing.retention_policy(),
    )


class TrialError(AssertionError):
    """An end state the crash test forbids."""


def check(condition: bool, message: str) -> None:  # noqa: FBT001 - reads as an assertion
    """Fail the trial with ``message`` unless ``condition`` holds."""
    if not condition:
        raise TrialError(message)


def no_mail(_subject: object, _action: object) -> None:
    """The warning callback: nobody is mailed in a crash test."""


def untouched(kit: Kit, host: TicketShopHost, sid: str, history: int) -> bool:
    """Still in the host, never logged as erased, its consent history as long as before."""
    return (
        host.subject(sid) is not None  # type: ignore[arg-type]
        and kit.erasure.entry(sid) is None
        and len(kit.consent.history(sid)) == history
    )


def erased(kit: Kit, host: TicketShopHost, sid: str) -> bool:
    """Gone from the host with nothing reported, logged complete, no consent under the id."""
    entry = kit.erasure.entry(sid)
    return (
        host.subject(sid) is None  # type: ignore[arg-type]
        and not any(r.texts() for r in host.records(sid))  # type: ignore[arg-type]
        and entry is not None
        and entry.complete
        and kit.consent.history(sid) == ()
    )


def prepare(work: Path, visitors: int) -> tuple[Path, Path]:
    pristine = work / "pristine-shop.db"
    generate(pristine, visitors, now=NOW, seed=11)
    avgkit_db = work / "pristine-avgkit.db"
    with (
        TicketShopHost(pristine, ticketing.inventory()) as host,
        open_kit(f"sqlite:///{avgkit_db}", host) as kit,
    ):
        # Some consent to withdraw and re-key, so a half-done erasure would show.
        for index, subject in enumerate(host.subjects()):
            if index % 3 == 0:
                kit.consent.give(subject.id, "newsletter", EVIDENCE, at=NOW.replace(year=2019))
    return pristine, avgkit_db


def trial(number: int, work: Path, pristine: Path, pristine_db: Path, rng: random.Random) -> str:
    shop = work / f"shop-{number}.db"
    avgkit_db = work / f"avgkit-{number}.db"
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{pristine}{suffix}")
        if source.exists():
            shutil.copy(source, f"{shop}{suffix}")
        source = Path(f"{pristine_db}{suffix}")
        if source.exists():
            shutil.copy(source, f"{avgkit_db}{suffix}")
    url = f"sqlite:///{avgkit_db}"
    with TicketShopHost(shop, ticketing.inventory()) as host, open_kit(url, host) as kit:
        plan = kit.retention.plan(at=NOW)
        plan_id = kit.retention.stage(plan)
        staged = kit.stores.retention.unfinished(plan_id)
        due = sorted({a.subject for a in plan.due() if a.subject is not None and not a.warning})
        everyone = [s.id for s in host.subjects()]
        before = {sid: len(kit.consent.history(sid)) for sid in everyone}

    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", CHILD, str(EXAMPLES), str(shop), url, plan_id, NOW.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if child.stdout is None:
        raise RuntimeError("the child has no stdout")
    child.stdout.readline()  # opened: the kill lands inside the execution
    delay = rng.uniform(0.0, 1.8)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.communicate()  # reaps it and closes its pipes

    with TicketShopHost(shop, ticketing.inventory()) as host, open_kit(url, host) as kit:
        # Straight after the kill: each due subject untouched, fully erased, or begun.
        finished = staged - kit.stores.retention.unfinished(plan_id)
        half = 0
        for sid in due:
            entry = kit.erasure.entry(sid)
            if entry is not None and not entry.complete:
                half += 1  # begun: the rerun must finish it
                continue
            ok = untouched(kit, host, sid, before[sid]) or erased(kit, host, sid)
            check(ok, f"trial {number}: a subject is neither untouched nor erased")
        summary = kit.retention.execute(plan_id, warn=no_mail, lease=_ZERO)
        check(summary.total() == staged, f"trial {number}: {summary.total()} != {staged}")
        check(summary.remaining == 0, f"trial {number}: actions left unfinished")
        for sid in due:
            ok = erased(kit, host, sid) or untouched(kit, host, sid, before[sid])
            check(ok, f"trial {number}: after the rerun a subject is half erased")
        outside = [sid for sid in everyone if sid not in set(due)]
        changed = [sid for sid in outside if not untouched(kit, host, sid, before[sid])]
        check(not changed, f"trial {number}: {len(changed)} subjects outside the plan changed")
        entries = kit.audit.verify().entries
    for path in work.glob(f"*-{number}.db*"):
        path.unlink()
    return (
        f"trial {number:2d}: killed after {delay:.2f} s with {finished} of {staged} actions "
        f"finished and {half} erasure(s) half done; after the rerun all {staged} counted once, "
        f"{entries} audit entries verified"
    )


_ZERO = timedelta(0)


def survive(trials: int, visitors: int, seed: int, out: Any = None) -> int:
    """Run ``trials`` kills on a shop of ``visitors``; return how many trials passed.

    Stops at the first failed trial with :class:`TrialError`.
    """
    out = out or sys.stdout
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pristine, pristine_db = prepare(work, visitors)
        for number in range(1, trials + 1):
            print(trial(number, work, pristine, pristine_db, rng), file=out, flush=True)
    return trials


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's row: ``size`` kills survived, on a shop of 150 visitors a trial (at most
    1,500, the default of the command line).

    Not a timing: the row counts the trials passed. A failed trial raises
    :class:`Disagreement` (the end state is wrong, whatever the timings say).
    """
    del postgres, rounds
    visitors = min(1500, 150 * size)
    try:
        passed = survive(size, visitors, 2024, out)
    except TrialError as exc:
        raise Disagreement(str(exc)) from None
    return [
        Row(
            benchmark="retention_crash",
            operation="retention crash test: SIGKILL, rerun, check",
            backend="SQLite",
            size=size,
            of="trials",
            avgkit=Figure(passed, "count", "passed"),
            goal=Goal(size, at_most=False, on="avgkit", unit="passed"),
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="kills to survive (default 20)")
    parser.add_argument(
        "--visitors", type=int, default=1500, help="visitors in the shop (default 1500)"
    )
    parser.add_argument("--seed", type=int, default=2024, help="seed of the kill delays")
    args = parser.parse_args()
    survive(args.trials, args.visitors, args.seed)
    print(f"{args.trials} of {args.trials} trials ended untouched-or-erased; audit verified")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
