"""What every feed store checks and says, written once (private).

The memory and SQL feed stores refuse the same things with the same words; the checks are
public in :mod:`avgkit.storage.checks`, for adapters written outside avgkit.
"""

from __future__ import annotations

from avgkit.errors import ValidationError

__all__ = ["beyond_newest", "check_acknowledged", "check_page"]


def _whole(value: object, minimum: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    return None


def check_page(after: object, limit: object) -> tuple[int | None, int]:
    """Return :meth:`FeedStore.read <avgkit.storage.FeedStore.read>`'s ``after`` and ``limit``.

    ``after`` is ``None`` (read from the recipient's cursor) or a whole number from 0;
    ``limit`` a whole number from 1. A bool is not a number here.

    Raises:
        ValidationError: either is anything else.

    Example:
        >>> check_page(None, 500), check_page(41, 10)
        ((None, 500), (41, 10))
        >>> check_page(-1, 10)
        Traceback (most recent call last):
        avgkit.errors.ValidationError: read() takes after=None (the cursor) or a whole number ...

    .. versionadded:: 0.2.0
    """
    start = None if after is None else _whole(after, 0)
    if after is not None and start is None:
        msg = "read() takes after=None (the cursor) or a whole number from 0"
        raise ValidationError(msg)
    size = _whole(limit, 1)
    if size is None:
        msg = "read() takes limit= a whole number from 1 (500 by default)"
        raise ValidationError(msg)
    return start, size


def check_acknowledged(seq: object) -> int:
    """Return :meth:`FeedStore.acknowledge <avgkit.storage.FeedStore.acknowledge>`'s ``seq``.

    A whole number from 0 (a bool is not one). Whether the recipient can have read it is
    the store's to check, against its newest notice: refuse one beyond it with
    :func:`beyond_newest`.

    Raises:
        ValidationError: ``seq`` is anything else.

    Example:
        >>> check_acknowledged(7)
        7
        >>> check_acknowledged("7")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: acknowledge() takes the seq of the last notice ...

    .. versionadded:: 0.2.0
    """
    checked = _whole(seq, 0)
    if checked is None:
        msg = "acknowledge() takes the seq of the last notice processed, a whole number from 0"
        raise ValidationError(msg)
    return checked


def beyond_newest(recipient: str, seq: int, newest: int) -> ValidationError:
    """The error for acknowledging a notice the recipient cannot have read.

    For :meth:`FeedStore.acknowledge <avgkit.storage.FeedStore.acknowledge>`: when ``seq``
    is above ``newest``, the highest ``seq`` among the recipient's notices (0: none), the
    store raises this error and moves no cursor.

    Example:
        >>> raise beyond_newest("crm", 12, 9)
        Traceback (most recent call last):
        avgkit.errors.ValidationError: recipient 'crm' cannot acknowledge notice 12: its ...

    .. versionadded:: 0.2.0
    """
    msg = (
        f"recipient {recipient!r} cannot acknowledge notice {seq}: its newest notice is "
        f"{newest}; acknowledge the seq of the last notice it processed"
    )
    return ValidationError(msg)
