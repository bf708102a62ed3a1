"""What every feed store checks and says, written once (private)."""

from __future__ import annotations

from avgkit.errors import ValidationError

__all__ = ["beyond_newest", "check_acknowledged", "check_page"]


def _whole(value: object, minimum: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    return None


def check_page(after: object, limit: object) -> tuple[int | None, int]:
    """``read``'s ``after`` (``None`` or a whole number from 0) and ``limit`` (from 1)."""
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
    """``acknowledge``'s ``seq``: a whole number from 0."""
    checked = _whole(seq, 0)
    if checked is None:
        msg = "acknowledge() takes the seq of the last notice processed, a whole number from 0"
        raise ValidationError(msg)
    return checked


def beyond_newest(recipient: str, seq: int, newest: int) -> ValidationError:
    """The error for acknowledging a notice the recipient cannot have read."""
    msg = (
        f"recipient {recipient!r} cannot acknowledge notice {seq}: its newest notice is "
        f"{newest}; acknowledge the seq of the last notice it processed"
    )
    return ValidationError(msg)
