"""A stand-in for the payment provider: it accepts, or (test bank) declines, a payment."""

from __future__ import annotations

from typing import Final

__all__ = ["METHODS", "PaymentDeclinedError", "charge"]

METHODS: Final = {
    "ideal": "iDEAL (test bank: pays)",
    "ideal_declined": "iDEAL (test bank: declines)",
}
"""Payment method -> its label in the checkout form."""


class PaymentDeclinedError(Exception):
    """The provider declined the payment; the order must not be kept."""


def charge(order_code: str, amount_cents: int, method: str) -> None:
    """Charge ``amount_cents`` for the order, or raise :class:`PaymentDeclinedError`."""
    if method not in METHODS:
        msg = f"unknown payment method; choose one of {sorted(METHODS)}"
        raise ValueError(msg)
    if method == "ideal_declined" or amount_cents <= 0:
        msg = f"the bank declined the payment for order {order_code}"
        raise PaymentDeclinedError(msg)
