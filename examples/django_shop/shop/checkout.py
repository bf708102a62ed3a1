"""The checkout: an order, its tickets and the consents ticked with it, stored together.

Django's ``transaction.atomic()`` opens the transaction; the order and tickets are written
through the ORM; avgkit then writes the consents (and their audit entries) through the same
connection with ``kit.stores.joined(...)``, as savepoints of Django's transaction. The
payment is asked last: if it is declined, Django rolls back everything, so no consent is
kept for an order that never happened, and no order without the consent given with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from shop.avg import ShopAvg
from shop.consents import OFFERED, evidence
from shop.models import Event, Order, Ticket, Visitor, new_attendee_id
from shop.payments import charge

__all__ = ["Purchase", "place_order"]


@dataclass(frozen=True, kw_only=True)
class Purchase:
    """What the checkout form asked for, cleaned."""

    event: Event
    seats: int
    name: str
    email: str
    keep_account: bool
    consents: frozenset[str]
    """The purposes whose box was ticked (of :data:`shop.consents.OFFERED`)."""
    payment: str
    companion_name: str = ""
    companion_email: str = ""

    def __repr__(self) -> str:
        return f"Purchase(event={self.event.pk}, seats={self.seats})"  # no names in logs


def place_order(shop: ShopAvg, purchase: Purchase, *, visitor: Visitor | None = None) -> Order:
    """Store the order with the consents given with it, then charge it: all or nothing.

    ``visitor`` is the signed-in buyer; without one, a new visitor is made (an account, or a
    guest whose data goes the day after the visit).

    Raises:
        shop.payments.PaymentDeclinedError: the payment failed; nothing was stored.
        ValueError: a purpose that is not offered.
    """
    unknown = purchase.consents - set(OFFERED)
    if unknown:
        msg = f"consent asked for purposes the shop does not offer: {sorted(unknown)}"
        raise ValueError(msg)
    kit = shop.kit
    now = kit.clock.now()
    with transaction.atomic():
        if visitor is None:
            kind = Visitor.Kind.ACCOUNT if purchase.keep_account else Visitor.Kind.GUEST
            visitor = Visitor.objects.create(
                kind=kind, name=purchase.name, email=purchase.email, created_at=now
            )
        elif purchase.keep_account and visitor.kind == Visitor.Kind.GUEST:
            visitor.kind = Visitor.Kind.ACCOUNT
            visitor.save(update_fields=["kind"])
        price = purchase.event.price_cents
        order = Order.objects.create(
            buyer=visitor,
            created_at=now,
            total_cents=price * purchase.seats,
            billing_name=purchase.name,
            billing_email=purchase.email,
        )
        tickets = [Ticket(order=order, event=purchase.event, price_cents=price)]
        tickets[0].attendee_name = purchase.name  # the buyer's own seat, with their name
        if purchase.companion_name:
            tickets.append(
                Ticket(
                    order=order,
                    event=purchase.event,
                    price_cents=price,
                    attendee_ref=new_attendee_id(),  # a subject of their own
                    attendee_name=purchase.companion_name,
                    attendee_email=purchase.companion_email or None,
                )
            )
        tickets += [
            Ticket(order=order, event=purchase.event, price_cents=price)
            for _ in range(purchase.seats - len(tickets))
        ]
        Ticket.objects.bulk_create(tickets)
        # avgkit joins Django's transaction through its connection. (Keep ORM writes outside
        # this block: on PostgreSQL it points the search path at avgkit's schema.)
        connection.ensure_connection()
        with kit.stores.joined(connection.connection):
            for purpose in sorted(purchase.consents):
                kit.consent.give(visitor.id, purpose, evidence(purpose, order_code=order.code))
        # Last: a declined payment raises, and Django rolls back the order and the consents.
        charge(order.code, order.total_cents, purchase.payment)
    return order
