"""Small validators shared by the value classes and services (private)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from avgkit.errors import ValidationError

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
"""Keys of purposes, fields and recipients: lower snake case, at most 64 characters."""

MAX_TEXT = 2000
"""Default upper bound on free-text values."""

_ANY_KEY = re.compile(r"[a-zA-Z0-9_.-]{1,64}\Z")


def aware(value: object, name: str) -> datetime:
    """Return ``value`` converted to UTC, refusing anything but an aware datetime."""
    if not isinstance(value, datetime):
        msg = f"{name} must be a timezone-aware datetime, got {type(value).__name__}"
        raise ValidationError(msg)
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        msg = (
            f"{name} is a naive datetime; avgkit refuses those because their instant is "
            "ambiguous. Pass an aware one, e.g. datetime(..., tzinfo=datetime.UTC)"
        )
        raise ValidationError(msg)
    return value.astimezone(UTC)


def utc_text(value: datetime) -> str:
    """Encode an aware instant as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, fixed width.

    Written out by hand because ``strftime("%Y")`` does not zero-pad years before 1000 on
    every platform; the fixed width keeps text order equal to time order and keeps the
    audit chain's canonical encoding the same everywhere.
    """
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T"
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}Z"
    )


def aware_validator(_instance: Any, attribute: Any, value: object) -> None:
    """An attrs validator form of :func:`aware` (use with ``converter`` for normalising)."""
    aware(value, attribute.name)


def encodable(value: str, what: str) -> str:
    """Return ``value`` if it encodes as UTF-8 (no lone surrogates), else refuse it.

    Lone surrogates (left behind by mis-decoded bytes) cannot be stored or hashed; they are
    refused here rather than failing later inside a driver or a digest.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        msg = f"{what} holds characters that are not valid Unicode text (lone surrogates)"
        raise ValidationError(msg) from None
    return value


def shown(value: object) -> str:
    """How a rejected value may appear in an error message: never as personal data.

    Key-like text (letters, digits, ``_ . -``; at most 64 characters) is quoted, so a typo
    such as ``'newsleter'`` is easy to spot; anything else (an e-mail address, a name, text
    with spaces or newlines) is described only by its type and length.
    """
    if isinstance(value, str):
        if _ANY_KEY.match(value):
            return repr(value)
        return f"a {len(value)}-character string"
    return f"a {type(value).__name__}"


def key(value: object, what: str) -> str:
    """Return ``value`` if it is a valid snake-case key, else raise :class:`ValidationError`."""
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        msg = (
            f"{what} key {shown(value)} is invalid: use lower snake case starting with a "
            "letter, at most 64 characters (e.g. 'ticket_sale')"
        )
        raise ValidationError(msg)
    return value


def text(value: object, what: str, *, max_length: int = MAX_TEXT) -> str:
    """Return ``value`` if it is a non-empty, non-blank string of bounded length."""
    if not isinstance(value, str) or not value.strip():
        msg = f"{what} must be a non-empty string"
        raise ValidationError(msg)
    if len(value) > max_length:
        msg = f"{what} is {len(value)} characters long; at most {max_length} are allowed"
        raise ValidationError(msg)
    return value
