"""When a request must be answered (Art. 12(3)): calendar months, ending with the day.

A period of months runs from the day of receipt to the end of the day with the same date in
the month it ends in, or, when that month is shorter, to the end of its last day (the rule of
Regulation 1182/71 that the EDPB applies to Art. 12(3)): received on 31 January 2024, due at
the end of 29 February 2024. Days are counted in the controller's time zone, so a request
made at 23:30 in Amsterdam counts on that Amsterdam day, whatever UTC says. Pure functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from avgkit import _validators
from avgkit.errors import ValidationError

__all__ = ["MAX_EXTENSION", "RESPONSE_PERIOD", "due_at", "end_of_day", "zone"]

RESPONSE_PERIOD: Final = relativedelta(months=1)
"""Art. 12(3): one month from receipt."""

MAX_EXTENSION: Final = relativedelta(months=2)
"""Art. 12(3): the period may be extended by two further months, once."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``"Europe/Amsterdam"``).

    Raises:
        ValidationError: no such zone is known.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        msg = f"time zone {name!r} is not known; use an IANA name such as 'Europe/Amsterdam'"
        raise ValidationError(msg) from None


def end_of_day(day_of: datetime, tz: ZoneInfo) -> datetime:
    """The last instant (in UTC) of the day ``day_of`` falls on in ``tz``."""
    local = _validators.aware(day_of, "instant").astimezone(tz).date()
    last = datetime.combine(local + timedelta(days=1), time(0), tzinfo=tz) - timedelta(
        microseconds=1
    )
    return last.astimezone(UTC)


def due_at(
    received_at: datetime,
    *,
    tz: ZoneInfo,
    period: relativedelta = RESPONSE_PERIOD,
    service_level: relativedelta | timedelta | None = None,
) -> datetime:
    """The end of the last day to answer a request received at ``received_at``.

    ``period`` is counted in calendar months on the local date of receipt; a shorter
    ``service_level`` (four weeks, 21 days) brings the date forward, never back.

    Raises:
        ValidationError: ``received_at`` is naive.
    """
    received = _validators.aware(received_at, "received_at")
    local = received.astimezone(tz)
    legal = end_of_day(_at_local(local, period, tz), tz)
    if service_level is None:
        return legal
    promised = end_of_day(_at_local(local, service_level, tz), tz)
    return min(legal, promised)


def _at_local(local: datetime, period: relativedelta | timedelta, tz: ZoneInfo) -> datetime:
    # The period is added to the local date (relativedelta clips 31 Jan + 1 month to the
    # last day of February), then taken at noon so that no DST shift moves the day.
    day = local.date() + period
    return datetime.combine(day, time(12), tzinfo=tz)
