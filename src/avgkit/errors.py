"""The one error hierarchy of avgkit.

Every error avgkit raises on purpose is an :class:`AvgkitError`. Messages say what was wrong
and how to fix it, and never contain personal data: they name purposes, fields, keys and
pseudonymous references, never an e-mail address or a name.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "AvgkitError",
    "ConfigurationError",
    "ConflictError",
    "IntegrityError",
    "NotFound",
    "NotPermitted",
    "PolicyError",
    "ShreddedKeyError",
    "StorageError",
    "ValidationError",
]


class AvgkitError(Exception):
    """Root of every error avgkit raises on purpose.

    .. versionadded:: 0.1.0
    """


class ValidationError(AvgkitError, ValueError):
    """A value handed to avgkit is malformed: wrong type, naive datetime, empty id, bad file.

    Also a :class:`ValueError`, so callers that already catch that keep working.

    .. versionadded:: 0.1.0
    """


class NotPermitted(AvgkitError):  # noqa: N818 - the name states the outcome (a public name)
    """Processing was asked for that has no valid lawful basis or consent.

    .. versionadded:: 0.1.0
    """


class PolicyError(AvgkitError):
    """An inventory or policy contradicts itself or the GDPR (e.g. an undeclared purpose).

    .. versionadded:: 0.1.0
    """


class IntegrityError(AvgkitError):
    """Stored evidence was tampered with: an audit chain broke or sealed data was altered.

    .. versionadded:: 0.1.0
    """


class StorageError(AvgkitError):
    """A storage adapter failed; the driver's own exception is chained as ``__cause__``.

    .. versionadded:: 0.1.0
    """


class NotFound(AvgkitError, LookupError):  # noqa: N818 - a public name, kept
    """Something asked for by key does not exist (a request, a key id, a breach).

    Also a :class:`LookupError`.

    .. versionadded:: 0.1.0
    """


class ConflictError(StorageError):
    """A concurrent writer changed the stored state first (e.g. appended the same audit seq).

    Services that see it re-read and retry; callers rarely do.

    .. versionadded:: 0.1.0
    """


class ShreddedKeyError(NotFound):
    """The subject's data key was shredded: what was sealed with it can never be opened.

    Also a :class:`~avgkit.errors.NotFound`. :attr:`shredded_at` says when.

    Attributes:
        shredded_at: when the key was shredded (aware, UTC).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Defined here; still importable from :mod:`avgkit.pseudonym`.
    """

    def __init__(self, message: str, *, shredded_at: datetime) -> None:
        super().__init__(message)
        self.shredded_at = shredded_at


class ConfigurationError(AvgkitError):
    """avgkit was set up in a way that cannot work: a missing key-encryption key, say.

    Unlike :class:`ValidationError` (one bad value handed to a call), this names a setting of
    the installation; the message says which one and how to supply it.

    .. versionadded:: 0.2.0
    """
