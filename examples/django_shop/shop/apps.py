"""The shop app's configuration."""

from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The ticket shop."""

    name = "shop"
    verbose_name = "Ticket shop"
