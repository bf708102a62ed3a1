"""The reference ticket shop: generate a shop, put avgkit on it, and run its retention.

Generates a SQLite ticket shop of 2,000 visitors (examples/ticketshop), opens avgkit over it
with the ticketing preset's retention rules, and prints the dry-run plan (how many actions
each rule has, due or deferred, and when one visitor's data falls due), then executes it
(warnings, erasures, swept records) and erases one visitor on request. Nothing personal is
printed: subjects appear by their key in the shop or their pseudonymous reference.

Run: python examples/ticketshop_walkthrough.py
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the ticketshop package beside this file

from ticketshop import TicketShopHost, generate

from avgkit import Kit
from avgkit.presets import ticketing
from avgkit.retention import Hold, HoldReason, PlannedAction
from avgkit.testing import ManualClock

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
VISITORS = 2_000


def kind_of(action: PlannedAction) -> str:
    """How the plan lists an action: a warning first, deferred by a hold, or due."""
    if action.deferred:
        return f"deferred ({action.hold})"
    return "warning" if action.warning else "due"


def main() -> None:
    """Generate a shop, plan and execute its retention, and erase one visitor."""
    with tempfile.TemporaryDirectory() as tmp:
        shop = Path(tmp) / "shop.db"
        made = generate(shop, VISITORS, now=NOW)
        print(f"ticket shop: {made.rows['visitors']:,} visitors, {made.rows['orders']:,} orders")
        with (
            TicketShopHost(shop, ticketing.inventory()) as host,
            Kit.open(
                f"sqlite:///{Path(tmp) / 'avgkit.db'}",
                inventory=ticketing.inventory(),
                host=host,
                retention_policy=ticketing.retention_policy(),
                clock=ManualClock(NOW),
            ) as kit,
        ):
            plan = list(kit.retention.plan(at=NOW))
            print(f"\nretention plan at {NOW:%Y-%m-%d}: {len(plan):,} actions")
            counts = Counter((a.rule, a.action.value, kind_of(a)) for a in plan)
            for (rule, action, kind), count in sorted(counts.items()):
                print(f"  {rule:<26} {action:<9} {kind:<28} {count:>6,}")

            # A payment dispute keeps one idle account past its date: the plan defers it.
            idle = next(a.subject for a in plan if a.rule == "inactive_accounts")
            assert idle is not None  # noqa: S101 - a subject rule's action names its subject
            held = kit.retention.plan(
                at=NOW, holds=[Hold(subject=idle, reason=HoldReason.PAYMENT_DISPUTE)]
            )
            deferred = [a for a in held if a.subject == idle]
            print(f"\nwith a payment dispute on {idle}: {kind_of(deferred[0])}")

            # When does one visitor's data fall due? (An account active a few weeks ago.)
            for subject in host.subjects():
                dates = kit.retention.dates(subject.id, at=NOW)
                if subject.kind == "account" and dates and dates[0].due > NOW:
                    print(f"\ndeletion dates of {subject.id} ({subject.kind}):")
                    for date in dates:
                        print(f"  {date.rule}: {date.action.value} on {date.due:%Y-%m-%d}")
                        print(f"    because: {date.reason}")
                    break

            # Carry the plan out: warnings go through the shop's mailer (here: counted),
            # deletions through kit.erasure, records swept; the summary counts each once.
            warned: list[str] = []
            summary = kit.retention.execute(
                kit.retention.plan(at=NOW), warn=lambda subject, _action: warned.append(subject)
            )
            print(f"\nexecuted: {summary.total():,} actions, {len(warned):,} warning mails")
            for (rule, action, outcome), count in sorted(summary.counts.items()):
                print(f"  {rule:<26} {action:<9} {outcome:<16} {count:>6,}")

            # A visitor asks to be erased (Art. 17): one call, then nothing of them is left.
            target = next(
                s.id for s in host.subjects() if s.kind == "account" and s.id not in warned
            )
            erased = kit.erasure.erase(target)
            if erased.deferred is not None:
                until = erased.deferred.until
                when = "" if until is None else f" until {until:%Y-%m-%d}"
                print(f"\nerasure of {target}: deferred ({erased.deferred.reason}{when})")
            else:
                print(
                    f"\nerasure of {target}: {erased.host.deleted} records deleted, "
                    f"{erased.host.anonymised} kept anonymised (orders, payments), "
                    f"{erased.notices} recipients told; now known as {erased.subject_ref}"
                )
            print(f"audit chain verified: {kit.audit.verify().entries:,} entries")


if __name__ == "__main__":
    main()
