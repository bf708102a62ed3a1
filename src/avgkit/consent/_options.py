"""The consent ledger's settings, as one value a :class:`~avgkit.Kit` takes."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import attrs

from avgkit.errors import ValidationError

DEFAULT_MINOR_AGE: Final = 16
"""The Art. 8(1) age below which a parent or guardian must consent (16 in the Netherlands).

.. versionadded:: 0.1.0
"""

DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far in the future an event may be dated before the ledger refuses it.

.. versionadded:: 0.1.0
"""

_MIN_ART8_AGE: Final = 13
_MAX_MINOR_AGE: Final = 18


def _check_minor_age(_instance: object, _attribute: object, value: object) -> None:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not _MIN_ART8_AGE <= value <= _MAX_MINOR_AGE
    ):
        msg = (
            f"minor_age must be a whole number of years from {_MIN_ART8_AGE} to "
            f"{_MAX_MINOR_AGE} (Art. 8(1) GDPR allows 13 to 16; 16 in the Netherlands, "
            "13 in Belgium)"
        )
        raise ValidationError(msg)


def _check_clock_skew(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        msg = "clock_skew must be a non-negative timedelta, e.g. timedelta(minutes=5)"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class ConsentOptions:
    """How the consent ledger judges events: pass it as ``Kit.open(..., consent=...)``.

    A Belgian venue, where the Art. 8 age is 13::

        kit = Kit.open(url, inventory=inventory, consent=ConsentOptions(minor_age=13))

    Raises:
        ValidationError: ``minor_age`` is outside 13 to 18, or ``clock_skew`` is negative.

    .. versionadded:: 0.2.0
    """

    minor_age: int = attrs.field(default=DEFAULT_MINOR_AGE, validator=_check_minor_age)
    """Below this age a parent or guardian must give consent (Art. 8(1) GDPR)."""
    clock_skew: timedelta = attrs.field(default=DEFAULT_CLOCK_SKEW, validator=_check_clock_skew)
    """How far in the future an event may be dated (clocks of tills and servers differ)."""
