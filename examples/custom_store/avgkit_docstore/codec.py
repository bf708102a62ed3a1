"""How the docstore encodes values in its file, and reads them back.

Instants are stored as integer microseconds since 1970-01-01 UTC: exact, and sortable in
SQL. What is read back is checked for its type, because a row changed outside avgkit must
fail to decode (the stores turn that into an :class:`~avgkit.errors.IntegrityError` naming
the row, never its contents) rather than come back as a wrong value.

The argument checks are not here: the stores call avgkit's own, in
:mod:`avgkit.storage.checks`, so they refuse what avgkit's adapters refuse, in the same words.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = [
    "from_micros",
    "opt_micros",
    "stored_int",
    "stored_text",
    "stored_text_or_none",
    "to_micros",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(when: datetime) -> int:
    """An aware instant as whole microseconds since 1970-01-01 UTC (exact, sortable)."""
    return (when - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """The aware UTC instant :func:`to_micros` encoded."""
    return _EPOCH + timedelta(microseconds=micros)


def opt_micros(when: datetime | None) -> int | None:
    """:func:`to_micros`, or ``None`` (SQL's NULL) for ``None``."""
    return None if when is None else to_micros(when)


def stored_int(value: object) -> int:
    """A whole number read back from the file; anything else was written outside avgkit."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    msg = f"expected a whole number in the file, found a {type(value).__name__}"
    raise TypeError(msg)


def stored_text(value: object) -> str:
    """Text read back from the file; anything else was written outside avgkit."""
    if isinstance(value, str):
        return value
    msg = f"expected text in the file, found a {type(value).__name__}"
    raise TypeError(msg)


def stored_text_or_none(value: object) -> str | None:
    """Text or NULL read back from the file."""
    return None if value is None else stored_text(value)
