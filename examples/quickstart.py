"""Quickstart: open avgkit on a SQLite file with the ticketing preset.

Run it with ``python examples/quickstart.py``; it works in a temporary directory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from avgkit import Kit
from avgkit.presets import ticketing


def main() -> None:
    """Open a kit, ask the inventory a question, render the register, use the audit log."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'avg.db'}"
        with Kit.open(url, inventory=ticketing.inventory()) as kit:
            # May the birth date be used for the newsletter? The preset says no.
            print("birth_date for newsletter:", kit.inventory.may_use("birth_date", "newsletter"))

            # The Art. 30 register, ready to print for the regulator.
            register = kit.inventory.register()
            print(register.to_markdown("en").splitlines()[0])

            # Everything your code does with personal data can be logged, pseudonymously.
            kit.audit.record("shop.visitor_exported", subject="cust-1042", actor="staff")
            print("audit entries verified:", kit.audit.verify().entries)


if __name__ == "__main__":
    main()
