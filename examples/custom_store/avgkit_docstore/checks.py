"""What the docstore checks before it reads or writes, and how it encodes instants.

avgkit's values (:class:`~avgkit.dsar.SubjectRequest`, :class:`~avgkit.feed.FeedNotice`)
validate themselves when they are built. What a store must still check is what reaches it
as plain arguments: ids, limits, recipients, instants, and the reference an erasure
re-keys to. Messages say what was wrong and how to fix it, and never repeat a value that
could be personal data (a subject id passed in the wrong place, an e-mail address).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from avgkit.dsar import RequestTransition, SubjectRequest
from avgkit.errors import ValidationError
from avgkit.feed import FeedNotice
from avgkit.subjects import SubjectId, subject_id

__all__ = [
    "REFERENCE_PREFIX",
    "check_aware",
    "check_change",
    "check_forget",
    "check_limit",
    "check_member",
    "check_notices",
    "check_page",
    "check_recipient",
    "check_request_id",
    "check_whole",
    "from_micros",
    "stored_int",
    "stored_text",
    "stored_text_or_none",
    "to_micros",
]

REFERENCE_PREFIX: Final = "sr1:"
"""How a pseudonymous subject reference starts (what ``AuditLog.subject_ref`` returns)."""

_REFERENCE: Final = re.compile(r"\Asr1:[0-9a-f]{32}\Z")
_REQUEST_ID: Final = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
_RECIPIENT: Final = re.compile(r"\A[a-z][a-z0-9_]{0,63}\Z")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_E = TypeVar("_E", bound=enum.Enum)


def _described(value: object) -> str:
    """A rejected value as an error message may show it: by type and length only."""
    if isinstance(value, str):
        return f"a {len(value)}-character string"
    return f"a {type(value).__name__}"


def to_micros(when: datetime) -> int:
    """An aware instant as whole microseconds since 1970-01-01 UTC (exact, sortable)."""
    return (when - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """The aware UTC instant :func:`to_micros` encoded."""
    return _EPOCH + timedelta(microseconds=micros)


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


def check_aware(value: object, what: str) -> datetime:
    """Return ``value`` if it is a timezone-aware datetime, else refuse it."""
    if not isinstance(value, datetime):
        msg = f"{what} must be a timezone-aware datetime, got {_described(value)}"
        raise ValidationError(msg)
    if value.utcoffset() is None:
        msg = f"{what} is a naive datetime; pass an aware one, e.g. datetime(..., tzinfo=UTC)"
        raise ValidationError(msg)
    return value


def check_whole(value: object, what: str, *, minimum: int) -> int:
    """Return ``value`` if it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{what} must be a whole number from {minimum}, got {_described(value)}"
        raise ValidationError(msg)
    return value


def check_limit(limit: object) -> int | None:
    """``due_by``'s ``limit``: ``None`` (everything) or a whole number from 0."""
    return None if limit is None else check_whole(limit, "due_by()'s limit", minimum=0)


def check_page(after: object, limit: object) -> tuple[int | None, int]:
    """``read``'s ``after`` (``None``: the cursor, or from 0) and ``limit`` (from 1)."""
    start = None if after is None else check_whole(after, "read()'s after", minimum=0)
    return start, check_whole(limit, "read()'s limit", minimum=1)


def check_member(kind: type[_E], value: object, what: str) -> _E:
    """Return the member of ``kind`` that ``value`` is, or whose value it is."""
    if isinstance(value, kind):
        return value
    for member in kind:
        if member.value == value:
            return member
    allowed = ", ".join(repr(m.value) for m in kind)
    msg = f"{what} must be one of {allowed}; got {_described(value)}"
    raise ValidationError(msg)


def check_request_id(value: object, what: str = "a request id") -> str:
    """Return ``value`` if it is a request id: 1-64 letters, digits, ``_`` or ``-``."""
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        msg = f"{what} is 1-64 letters, digits, '_' or '-' (e.g. 'req_7f3a'); got "
        msg += _described(value)
        raise ValidationError(msg)
    return value


def check_recipient(value: object) -> str:
    """Return ``value`` if it is a recipient's key (lower snake case, e.g. ``'crm'``)."""
    if not isinstance(value, str) or not _RECIPIENT.match(value):
        msg = (
            "a recipient is the inventory's lower snake-case key (e.g. 'crm'); "
            f"got {_described(value)}"
        )
        raise ValidationError(msg)
    return value


def check_change(
    request: object, transition: object, *, first: bool
) -> tuple[SubjectRequest, RequestTransition]:
    """The arguments of ``add`` (``first``) or ``update``: of their types, and fitting."""
    if not isinstance(request, SubjectRequest):
        msg = f"a request store takes a SubjectRequest, got {type(request).__name__}"
        raise ValidationError(msg)
    if not isinstance(transition, RequestTransition):
        msg = f"a request is stored with a RequestTransition, got {type(transition).__name__}"
        raise ValidationError(msg)
    if transition.request_id != request.id:
        msg = "the transition is about another request; pass the one of the request stored"
        raise ValidationError(msg)
    if transition.status is not request.status:
        msg = (
            f"the transition moves the request to {transition.status.value!r} but its status "
            f"is {request.status.value!r}; they must agree"
        )
        raise ValidationError(msg)
    if first and transition.seq != 1:
        msg = f"a new request's first transition is number 1, got {transition.seq}"
        raise ValidationError(msg)
    return request, transition


def check_forget(subject: object, reference: object) -> tuple[SubjectId, SubjectId]:
    """The arguments of ``forget_subject``: a raw subject id and its reference."""
    raw = subject_id(subject)
    if raw.startswith(REFERENCE_PREFIX):
        msg = (
            "forget_subject() takes the host's raw subject id; the one given starts with "
            "'sr1:' like a reference (was the subject erased already?)"
        )
        raise ValidationError(msg)
    if not isinstance(reference, str) or not _REFERENCE.match(reference):
        msg = (
            "a subject reference is 'sr1:' and 32 lower-case hex characters, as "
            f"AuditLog.subject_ref() returns; got {_described(reference)}"
        )
        raise ValidationError(msg)
    return raw, SubjectId(reference)


def check_notices(notices: object) -> tuple[FeedNotice, ...]:
    """A batch for the feed's ``append``: notices not stored before (``seq`` 0)."""
    if not isinstance(notices, Sequence) or isinstance(notices, str | bytes):
        msg = f"append() takes a list or tuple of FeedNotice values, got {type(notices).__name__}"
        raise ValidationError(msg)
    batch = tuple(notices)
    for number, notice in enumerate(batch, start=1):
        if not isinstance(notice, FeedNotice):
            msg = f"feed item {number} is a {type(notice).__name__}, not a FeedNotice"
            raise ValidationError(msg)
        if notice.seq != 0:
            msg = f"feed item {number} was stored before (seq {notice.seq}); append new ones"
            raise ValidationError(msg)
    return batch
