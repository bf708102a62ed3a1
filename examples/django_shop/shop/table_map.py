"""Where the shop's personal data lives in Django's tables, for avgkit (``avgkit.host.sql``).

avgkit builds the shop's :class:`avgkit.host.HostData` from this map: it finds inactive
visitors, exports a visitor's records, and erases them with set-based SQL on the tables
Django made from :mod:`shop.models`. The map is checked against the live schema when the
host is built, so a renamed column fails loudly instead of leaving data behind.

* ``visitors``: the subjects (``shop_visitor``, keyed by the random ``id``); a sign-in is
  ``login`` activity.
* ``orders``: fiscal records, linked to their buyer; an erasure empties the billing name
  and e-mail and keeps the amount and date. A purchase is ``purchase`` activity.
* ``tickets``: linked through their order; a ticket may name an attendee (another
  subject, by ``attendee_ref``) whose name and e-mail it carries; its event's start defers
  the erasure of everyone holding a ticket for it until after the visit.
"""

from __future__ import annotations

from typing import Final

from avgkit.host.sql import EventLink, Person, Source, Subjects, TableMap, Timestamps

__all__ = ["TABLE_MAP"]

TABLE_MAP: Final = TableMap(
    timestamps=Timestamps.NATIVE,  # Django's DateTimeField, stored in UTC
    subjects=Subjects(
        table="shop_visitor",
        key="id",
        kind_column="kind",  # "account" or "guest": avgkit's kinds, as stored
        restricted_column="restricted",
    ),
    sources=(
        Source(
            name="visitors",
            table="shop_visitor",
            at="created_at",
            columns={"name": "name", "email": "email", "phone": "phone", "postcode": "postcode"},
            activity={"last_login_at": "login"},
        ),
        Source(
            name="orders",  # the name the preset's fiscal_records rule knows
            table="shop_order",
            key="code",
            link="buyer_id -> shop_visitor.id",
            at="created_at",
            columns={"billing_name": "name", "billing_email": "email"},
            activity={"created_at": "purchase"},
            fiscal=True,
        ),
        Source(
            name="tickets",
            table="shop_ticket",
            key="barcode",
            link="order_id -> shop_order.id",
            at="shop_order.created_at",
            columns={"attendee_name": "name", "attendee_email": "email"},
            people=(Person(column="attendee_ref", columns=("attendee_name", "attendee_email")),),
            events=EventLink(link="event_id -> shop_event.id", starts_at="starts_at"),
        ),
    ),
    not_personal={
        "shop_event.title": "the title of a performance",
        "shop_order.code": "a random order code",
        "shop_ticket.barcode": "a random barcode",
    },
)
"""The shop's tables, as avgkit reads and erases them."""
