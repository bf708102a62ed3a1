"""The manual clock (private; import it from :mod:`avgkit.testing`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta

from avgkit import _validators
from avgkit.errors import ValidationError

DEFAULT_START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """A :class:`~avgkit.clock.Clock` that only moves when a test moves it.

    Args:
        start: the initial instant (aware); 2024-01-01 12:00 UTC by default.

    .. versionadded:: 0.1.0
    """

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = _validators.aware(start, "start")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"

    def now(self) -> datetime:
        """Return the clock's current instant (UTC)."""
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware; earlier instants are allowed, to replay history)."""
        with self._lock:
            self._now = _validators.aware(when, "when")

    def advance(self, delta: timedelta | relativedelta | None = None, **units: float) -> datetime:
        """Move forward by ``delta`` or by keyword units, and return the new instant.

        Calendar units go through :class:`~dateutil.relativedelta.relativedelta`, so
        ``advance(months=1)`` from 31 January lands on the last day of February.
        ``clock.advance(days=3)``, ``clock.advance(years=2)``, ``clock.advance(timedelta(1))``.
        """
        if (delta is None) == (not units):
            msg = "advance() takes either a timedelta/relativedelta or keyword units, not both"
            raise ValidationError(msg)
        step = delta if delta is not None else relativedelta(**units)  # type: ignore[arg-type]
        with self._lock:
            moved = self._now + step
            if moved < self._now:
                msg = "advance() only moves forward; use set() to go back in time"
                raise ValidationError(msg)
            self._now = moved
            return moved
