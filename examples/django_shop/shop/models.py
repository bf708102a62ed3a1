"""The shop's tables: visitors, events, orders and the tickets of an order.

Personal values sit in nullable columns: an erasure (through avgkit) sets them to NULL, so
"no value" is what remains rather than an empty string that looks like one. Instants are
set from avgkit's clock by the code that creates the rows, never by ``auto_now``.

An order is a fiscal record: it outlives its buyer's erasure without personal values, its
amount kept for the tax term. Its reference to the buyer is therefore not a database
constraint (``db_constraint=False``): after the erasure it names a visitor row that is gone,
by a random id that identifies nobody.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from django.db import models


def new_visitor_id() -> str:
    """A new visitor's id: random, so that it says nothing and cannot be guessed."""
    return "v" + secrets.token_hex(8)


def new_attendee_id() -> str:
    """A new attendee's id (a person named on a ticket), apart from the visitors' ids."""
    return "a" + secrets.token_hex(8)


def new_order_code() -> str:
    """A new order's code, printed on the confirmation and asked at sign-in."""
    return "ORD-" + secrets.token_hex(4).upper()


def new_barcode() -> str:
    """A new ticket's barcode."""
    return secrets.token_hex(8).upper()


class InstantField(models.DateTimeField):  # type: ignore[type-arg]
    """A ``DateTimeField`` written with all six decimals of its seconds on SQLite.

    Django writes ``2025-06-01 10:00:00`` for a whole second, SQLAlchemy (avgkit's host
    queries) binds ``2025-06-01 10:00:00.000000``; SQLite compares them as text, so the two
    would disagree about an instant exactly on a boundary. One spelling makes them agree.
    """

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:  # noqa: FBT001, FBT002 - Django's signature
        """The stored text, with microseconds even when there are none."""
        stored = super().get_db_prep_value(value, connection, prepared)
        if connection.vendor == "sqlite" and isinstance(stored, str) and "." not in stored:
            return f"{stored}.000000"
        return stored


def euros(cents: int) -> str:
    """An amount in cents as shown: ``"24.50"``."""
    return f"{cents // 100}.{cents % 100:02d}"


def personal_text(max_length: int = 200) -> Any:
    """A column holding a person's value: nullable, since an erasure empties it to NULL."""
    return models.CharField(max_length=max_length, null=True, blank=True)


class Visitor(models.Model):
    """Someone who bought tickets: with an account, or as a guest (no account kept)."""

    class Kind(models.TextChoices):
        """The kinds of visitor, spelled as avgkit's subject kinds."""

        ACCOUNT = "account", "account"
        GUEST = "guest", "guest"

    id = models.CharField(primary_key=True, max_length=32, default=new_visitor_id)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = personal_text()
    email = personal_text()
    phone = personal_text(40)
    postcode = personal_text(16)
    created_at = InstantField()
    last_login_at = InstantField(null=True, blank=True)
    restricted = models.BooleanField(default=False)  # processing restricted (Art. 18)

    class Meta:
        """Table options."""

        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["account", "guest"]), name="visitor_kind"
            )
        ]

    def __str__(self) -> str:
        return f"visitor {self.id}"  # the random id only: a str() ends up in logs


class Event(models.Model):
    """A performance one can buy tickets for."""

    title = models.CharField(max_length=200)
    starts_at = InstantField()
    price_cents = models.PositiveIntegerField()

    class Meta:
        """Table options."""

        ordering: ClassVar = ["starts_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def price(self) -> str:
        """The price of a seat, in euros."""
        return euros(self.price_cents)


class Order(models.Model):
    """A purchase: a fiscal record, kept without personal values after an erasure."""

    code = models.CharField(max_length=16, unique=True, default=new_order_code)
    buyer = models.ForeignKey(
        Visitor,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # the order outlives its buyer (see the module's docstring)
        related_name="orders",
    )
    created_at = InstantField()
    total_cents = models.PositiveIntegerField()
    billing_name = personal_text()
    billing_email = personal_text()

    class Meta:
        """Table options."""

        indexes: ClassVar = [models.Index(fields=["buyer", "created_at"], name="shop_order_buyer")]

    def __str__(self) -> str:
        return self.code

    @property
    def total(self) -> str:
        """The amount paid, in euros."""
        return euros(self.total_cents)


class Ticket(models.Model):
    """One seat of an order; it may name another person, who attends on the buyer's order."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tickets")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="tickets")
    barcode = models.CharField(max_length=32, unique=True, default=new_barcode)
    price_cents = models.PositiveIntegerField()
    # An attendee is a data subject of their own (avgkit's kind "attendee"); with no
    # attendee_ref, the name and e-mail on the ticket are the buyer's.
    attendee_ref = models.CharField(max_length=32, null=True, blank=True, db_index=True)  # noqa: DJ001
    attendee_name = personal_text()
    attendee_email = personal_text()

    def __str__(self) -> str:
        return self.barcode
