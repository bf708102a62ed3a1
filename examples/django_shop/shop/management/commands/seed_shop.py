"""``manage.py seed_shop``: put a few performances on the programme, to try the shop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.timezone import localtime

from shop.avg import shop_avg
from shop.models import Event

PROGRAMME = (
    ("Hamlet", 14, 2450),
    ("The Cherry Orchard", 30, 2750),
    ("Waiting for Godot", 60, 1950),
)
"""Title, days from now, price in cents."""


class Command(BaseCommand):
    """Add the sample performances (once)."""

    help = "Add three sample performances to the programme."

    def handle(self, *args: Any, **options: Any) -> None:  # noqa: ARG002 - Django's signature
        """Create the performances that are not there yet."""
        # Curtain up at eight in the evening, the venue's time.
        now = localtime(shop_avg().kit.clock.now()).replace(
            hour=20, minute=0, second=0, microsecond=0
        )
        added = 0
        for title, days, price in PROGRAMME:
            _, created = Event.objects.get_or_create(
                title=title,
                defaults={"starts_at": now + timedelta(days=days), "price_cents": price},
            )
            added += created
        self.stdout.write(f"{added} performance(s) added")
