"""avgkit for the shop: one kit per process, over Django's own database.

The shop keeps avgkit's stores (the consent ledger, the audit log, requests, keys) in the
same SQLite file as Django's tables, so that a checkout can write the order and the consent
given with it in one transaction (:mod:`shop.checkout`). The shop's data is reached through
a :class:`~avgkit.host.sql.SqlHostData` built from :data:`shop.table_map.TABLE_MAP` on a
SQLAlchemy engine over the same file.

:func:`shop_avg` opens both on first use (a request, a management command) and keeps them
for the process; :func:`open_shop_avg` opens them with a clock of your choosing (tests, a
command replaying a date) and :func:`close_shop_avg` closes them.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import attrs
import sqlalchemy as sa
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from avgkit import Kit
from avgkit.clock import Clock
from avgkit.host.sql import SqlHostData
from avgkit.presets import ticketing
from avgkit.retention import RetentionPolicy
from shop.table_map import TABLE_MAP

__all__ = [
    "ShopAvg",
    "close_shop_avg",
    "host_engine",
    "open_shop_avg",
    "retention_policy",
    "shop_avg",
]

ACTIVITY_TYPES = frozenset({"purchase", "login"})
"""What the shop records of a visitor's activity (see the table map)."""


def retention_policy() -> RetentionPolicy:
    """The ticketing preset's rules, an account's inactivity counted from what the shop records.

    The preset also counts newsletter reads; this shop does not track them, and avgkit
    refuses a rule counting activity the host cannot see (everyone would look idle).
    """
    rules = [
        attrs.evolve(rule, activity_types=ACTIVITY_TYPES)
        if rule.key == "inactive_accounts"
        else rule
        for rule in ticketing.retention_policy().rules
    ]
    return RetentionPolicy(rules)


def host_engine(database: str) -> sa.Engine:
    """A SQLAlchemy engine on the shop's SQLite file, checking foreign keys as Django does."""
    engine = sa.create_engine(f"sqlite:///{database}", connect_args={"timeout": 20})

    @sa.event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    return engine


class ShopAvg:
    """avgkit over one database: the kit, and the host data from the table map.

    Args:
        database: the path of the SQLite file holding Django's tables (migrated).
        clock: the kit's clock (:class:`avgkit.clock.SystemClock` by default).

    Raises:
        avgkit.PolicyError: the table map does not fit the tables (run ``migrate``).
        avgkit.errors.StorageError: the file cannot be opened.
    """

    def __init__(self, database: str, *, clock: Clock | None = None) -> None:
        self.database = database
        inventory = ticketing.inventory()
        self.engine = host_engine(database)
        try:
            self.host = SqlHostData(self.engine, TABLE_MAP, inventory)
            self.kit = Kit.open(
                f"sqlite:///{database}",
                inventory=inventory,
                host=self.host,
                retention_policy=retention_policy(),
                clock=clock,
            )
        except BaseException:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"ShopAvg(kit={self.kit!r})"

    def close(self) -> None:
        """Close the kit's stores and the engine's connections."""
        try:
            self.kit.close()
        finally:
            self.engine.dispose()


class _Current:
    """The process's :class:`ShopAvg`, opened once and shared by every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value: ShopAvg | None = None


_CURRENT = _Current()


def _database() -> str:
    settings = connections["default"].settings_dict
    if settings["ENGINE"] != "django.db.backends.sqlite3":
        msg = (
            "this example keeps avgkit's stores in Django's SQLite file; on PostgreSQL, open "
            "the kit on the same database as the README shows"
        )
        raise ImproperlyConfigured(msg)
    return str(settings["NAME"])


def shop_avg() -> ShopAvg:
    """The process's avgkit, opened on first use over Django's default database."""
    with _CURRENT.lock:
        if _CURRENT.value is None:
            _CURRENT.value = ShopAvg(_database())
        return _CURRENT.value


def open_shop_avg(*, clock: Clock | None = None) -> ShopAvg:
    """(Re)open the process's avgkit over Django's default database, with ``clock``."""
    with _CURRENT.lock:
        if _CURRENT.value is not None:
            _CURRENT.value.close()
            _CURRENT.value = None
        _CURRENT.value = ShopAvg(_database(), clock=clock)
        return _CURRENT.value


def close_shop_avg() -> None:
    """Close the process's avgkit (the next :func:`shop_avg` opens it again)."""
    with _CURRENT.lock:
        if _CURRENT.value is not None:
            _CURRENT.value.close()
            _CURRENT.value = None
