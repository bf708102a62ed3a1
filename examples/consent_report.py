"""Consent report: who consented to what on which day, as a printable page and as CSV.

Run it with ``python examples/consent_report.py``; it works in a temporary directory and
prints where the report went and the counts per purpose and day.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from avgkit import Kit
from avgkit.consent import Actor, Evidence, hash_wording
from avgkit.consent_records import ConsentReport, kantara_receipts
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

# The exact sentence next to the newsletter box in the web shop, and the notice in force.
WORDING = "Ja, stuur mij de nieuwsbrief van het Voorbeeldpodium."
NOTICE = "2023-11-10"


def main() -> None:
    """Record a few opt-ins and opt-outs in May, then print and save the May report."""
    may = datetime(2024, 5, 1, tzinfo=UTC)
    clock = ManualClock(datetime(2024, 6, 3, 9, 0, tzinfo=UTC))
    shop = Evidence(channel="webshop", notice_version=NOTICE, wording_sha256=hash_wording(WORDING))
    counter = Evidence(
        channel="box_office",
        notice_version=NOTICE,
        wording_sha256=hash_wording(WORDING),
        actor=Actor.STAFF,
        staff_key="box_office_1",
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        Kit.open("memory://", inventory=ticketing.inventory(), clock=clock) as kit,
    ):
        # Ticket buyers tick separate boxes per purpose; each tick is one event with evidence.
        kit.consent.give("cust-1042", "newsletter", shop, at=may + timedelta(hours=10))
        kit.consent.give("cust-1043", "newsletter", counter, at=may + timedelta(hours=14))
        kit.consent.give("cust-1043", "loyalty_programme", counter, at=may + timedelta(hours=14))
        kit.consent.withdraw("cust-1042", "newsletter", shop, at=may + timedelta(days=9))
        kit.consent.object("cust-1043", "evaluation_mail", shop, at=may + timedelta(days=9))

        report = ConsentReport.build(
            kit.consent, kit.inventory, since=may, until=datetime(2024, 6, 1, tzinfo=UTC)
        )
        page = Path(tmp) / "consent-report-2024-05.html"
        page.write_text(report.to_html("nl"), encoding="utf-8")
        print(f"report written to {page.name} ({page.stat().st_size} bytes)")
        print(report.counts_csv("en"), end="")

        # What the visitor gets back: a Kantara consent receipt per consent given.
        receipts = kantara_receipts(
            kit.consent,
            kit.inventory,
            "cust-1043",
            policy_url="https://voorbeeldpodium.example/privacy",
        )
        print("receipts for cust-1043:", [r["services"][0]["service"] for r in receipts])


if __name__ == "__main__":
    main()
