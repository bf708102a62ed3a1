"""Where avgkit gets the time from.

Nothing in avgkit reads the wall clock except :class:`SystemClock`. Services take a
:class:`Clock` so that tests (see :class:`avgkit.testing.ManualClock`) control time.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of the current instant.

    .. versionadded:: 0.1.0
    """

    def now(self) -> datetime:
        """Return the current instant as a timezone-aware UTC datetime."""
        ...


class SystemClock:
    """The real clock: :func:`datetime.now` in UTC.

    .. versionadded:: 0.1.0
    """

    def now(self) -> datetime:
        """Return the current instant, timezone-aware, in UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"
