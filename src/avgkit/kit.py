"""The front door: one object a host creates once and reaches every service through.

.. code-block:: python

    from avgkit import Kit
    from avgkit.presets import ticketing

    kit = Kit.open("sqlite:///avg.db", inventory=ticketing.inventory())
    kit.audit.record("ticket_shop.started")

Each service is an attribute (``kit.audit`` now; more as avgkit grows). The services are
ordinary classes that can also be built by hand from a store, the inventory and a clock.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from avgkit.audit import AuditLog
from avgkit.clock import Clock, SystemClock
from avgkit.errors import ValidationError
from avgkit.storage import StoreSet, open_stores

if TYPE_CHECKING:
    from avgkit.inventory import Inventory

__all__ = ["Kit"]


class Kit:
    """The composition root: stores, inventory and clock, wired into the services.

    Args:
        stores: an open :class:`~avgkit.storage.StoreSet` (see :meth:`open` for a URL).
        inventory: the controller's declared purposes, fields and recipients.
        clock: the source of time; :class:`~avgkit.clock.SystemClock` by default.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        stores: StoreSet,
        inventory: Inventory,
        clock: Clock | None = None,
    ) -> None:
        from avgkit.inventory import Inventory  # noqa: PLC0415 - avoid an import cycle

        if not isinstance(inventory, Inventory):
            msg = (
                f"inventory must be an avgkit Inventory, got {type(inventory).__name__}; "
                "load one with Inventory.from_file() or use avgkit.presets.ticketing.inventory()"
            )
            raise ValidationError(msg)
        self.stores = stores
        self.inventory = inventory
        self.clock: Clock = SystemClock() if clock is None else clock
        self.audit = AuditLog(stores.audit, self.clock)
        """The hash-chained audit log; :meth:`~avgkit.audit.AuditLog.verify` checks it."""

    @classmethod
    def open(
        cls,
        url: str,
        *,
        inventory: Inventory,
        clock: Clock | None = None,
    ) -> Kit:
        """Open the stores at ``url`` and build a kit over them.

        ``url`` is ``memory://``, ``sqlite:///relative.db`` or ``sqlite:////absolute.db``.
        """
        stores = open_stores(url)
        try:
            return cls(stores=stores, inventory=inventory, clock=clock)
        except BaseException:
            stores.close()
            raise

    def close(self) -> None:
        """Close the stores."""
        self.stores.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Kit(stores={self.stores!r}, clock={self.clock!r})"
