"""Raising avgkit's errors without the driver's text (private).

Driver messages can quote stored values: SQLite's decode error shows the undecodable text,
PostgreSQL's ``DETAIL: Key (subject)=(...)`` the conflicting key, a visitor's e-mail address.
So a translated error names only the operation and the driver's code, and neither its
``__cause__`` nor its ``__context__`` leads back to the driver's exception.
"""

from __future__ import annotations

from typing import NoReturn

from avgkit.errors import AvgkitError, ConflictError, StorageError

__all__ = ["driver_error", "raise_clean"]


def raise_clean(error: AvgkitError) -> NoReturn:
    """Raise ``error`` with no ``__cause__`` and no ``__context__``.

    ``raise ... from None`` only hides the context: the driver's exception would still be
    reachable as ``__context__`` (and so by anything walking it). A bare re-raise keeps the
    cleared context, because only a ``raise`` with an exception sets it.
    """
    try:
        raise error from None
    except AvgkitError as raised:
        raised.__context__ = None
        raise


def driver_error(dialect: str, what: str, code: str, *, conflict: bool) -> StorageError:
    """The error for a driver exception during ``what``; ``code`` names the failure.

    ``code`` is the SQLSTATE (PostgreSQL) or the exception's class and SQLite error name:
    text that never carries row values. A conflict (a unique key taken, a serialisation
    failure) is a :class:`~avgkit.errors.ConflictError`: re-read and retry.
    """
    if conflict:
        msg = f"{dialect}: {what} conflicts with stored data ({code}); re-read and retry"
        return ConflictError(msg)
    return StorageError(f"{dialect}: {what} failed ({code})")
