"""A checkout that stores the order and the newsletter consent given with it together.

The ticket shop keeps its orders in its own SQLite file; avgkit's stores live in the same
file. The shop opens its transaction, writes the order, and lets avgkit write the consent
(and its audit entry) inside that transaction: a payment that fails rolls back both, so no
consent is ever kept for an order that never happened.

Run: python examples/checkout.py
"""

import sqlite3
import tempfile
from pathlib import Path

from avgkit import Evidence, Kit
from avgkit.presets import ticketing

WORDING = "Ja, stuur mij de nieuwsbrief van het theater."


def checkout(kit: Kit, shop: sqlite3.Connection, order: str, buyer: str, *, paid: bool) -> None:
    """One order with an opt-in box ticked: stored with its consent, or not at all."""
    shop.execute("BEGIN")
    try:
        shop.execute("INSERT INTO orders (code, buyer) VALUES (?, ?)", (order, buyer))
        with kit.stores.joined(shop):
            evidence = Evidence.from_wording(
                WORDING, channel="webshop", notice_version="2024-05", order_ref=order
            )
            kit.consent.give(buyer, "newsletter", evidence)
        if not paid:
            msg = "the payment provider declined the card"
            raise RuntimeError(msg)  # noqa: TRY301 - the point of the example
        shop.execute("COMMIT")
    except RuntimeError as exc:
        shop.execute("ROLLBACK")
        print(f"order {order}: rolled back ({exc})")
    else:
        print(f"order {order}: stored with its consent")


def main() -> None:
    """Two checkouts: one paid, one declined."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.db"
        with Kit.open(f"sqlite:///{path}", inventory=ticketing.inventory()) as kit:
            shop = sqlite3.connect(path, isolation_level=None)  # the shop's own connection
            shop.execute("CREATE TABLE orders (code TEXT PRIMARY KEY, buyer TEXT NOT NULL)")
            checkout(kit, shop, "ord-1001", "cust-1", paid=True)
            checkout(kit, shop, "ord-1002", "cust-2", paid=False)
            for buyer in ("cust-1", "cust-2"):
                decision = kit.may_process(buyer, "newsletter")
                print(f"{buyer}: newsletter {'allowed' if decision else 'not allowed'}")
            print(f"audit log: {kit.audit.verify().entries} entries, chain intact")
            shop.close()


if __name__ == "__main__":
    main()
