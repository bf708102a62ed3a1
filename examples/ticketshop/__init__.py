"""The reference ticket shop: a small but real SQLite ticket system, and avgkit over it.

* :mod:`ticketshop.schema`: the tables (events, performances, visitors, orders, tickets,
  payments, logins, newsletter reads, the waiting list, support mail, camera footage);
* :func:`generate`: a deterministic generator of shops of any size;
* :class:`TicketShopHost`: :class:`avgkit.host.HostData` over a shop's file.

.. code-block:: python

    from avgkit import Kit
    from avgkit.presets import ticketing
    from ticketshop import TicketShopHost, generate

    generate("shop.db", 2_000, now=now)
    with TicketShopHost("shop.db", ticketing.inventory()) as host, Kit.open(
        "sqlite:///avgkit.db", inventory=ticketing.inventory(), host=host,
        retention_policy=ticketing.retention_policy(),
    ) as kit:
        for action in kit.retention.plan(at=now):
            ...
"""

from __future__ import annotations

from .generate import DEFAULT_NOW, DEFAULT_SEED, Generated, generate
from .host import ACTIVITY_TYPES, SOURCES, TicketShopHost
from .schema import SCHEMA_VERSION, create_indexes, create_tables, from_micros, to_micros

__all__ = [
    "ACTIVITY_TYPES",
    "DEFAULT_NOW",
    "DEFAULT_SEED",
    "SCHEMA_VERSION",
    "SOURCES",
    "Generated",
    "TicketShopHost",
    "create_indexes",
    "create_tables",
    "from_micros",
    "generate",
    "to_micros",
]
