"""What every request store checks and says, written once (private).

The memory and SQL request stores refuse the same things with the same words. The checks
are public in :mod:`avgkit.storage.checks`, for adapters written outside avgkit; the
message functions here are what that module's error builders raise.
"""

from __future__ import annotations

from avgkit import _validators
from avgkit.dsar._values import RequestStatus, SubjectRequest
from avgkit.errors import ValidationError

__all__ = [
    "check_limit",
    "check_update",
    "lifted_early",
    "moved",
    "not_theirs",
    "out_of_turn",
    "stored_already",
    "unknown",
]


def check_limit(limit: object) -> int | None:
    """Return :meth:`RequestStore.due_by <avgkit.storage.RequestStore.due_by>`'s ``limit``.

    ``None`` (no cap) or a whole number from 0; a bool is not a number here.

    Raises:
        ValidationError: anything else.

    Example:
        >>> check_limit(None), check_limit(20)
        (None, 20)
        >>> check_limit(-1)
        Traceback (most recent call last):
        avgkit.errors.ValidationError: due_by() takes limit=None or a whole number from 0, ...

    .. versionadded:: 0.2.0
    """
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        msg = f"due_by() takes limit=None or a whole number from 0, got {_validators.shown(limit)}"
        raise ValidationError(msg)
    return limit


def check_update(stored: SubjectRequest, new: SubjectRequest) -> None:
    """Refuse an update that would change a request's kind, subject or ``received_at``.

    For :meth:`RequestStore.update <avgkit.storage.RequestStore.update>`: call it with the
    request as stored and its new state, inside the update's transaction, once the stored
    status is the one expected.

    Raises:
        ValidationError: the kind, subject or ``received_at`` differ; store nothing.

    Example:
        >>> import attrs
        >>> from datetime import UTC, datetime, timedelta
        >>> from avgkit.dsar import RequestKind, RequestStatus, SubjectRequest
        >>> at = datetime(2025, 4, 7, tzinfo=UTC)
        >>> stored = SubjectRequest(
        ...     id="req_1", kind=RequestKind.ACCESS, subject="cust-1", received_at=at,
        ...     due_at=at + timedelta(days=30), status=RequestStatus.RECEIVED, updated_at=at,
        ... )
        >>> check_update(stored, attrs.evolve(stored, due_at=at + timedelta(days=90)))
        >>> check_update(stored, attrs.evolve(stored, subject="cust-2"))
        Traceback (most recent call last):
        avgkit.errors.ValidationError: update() cannot change the kind, subject or received_at ...

    .. versionadded:: 0.2.0
    """
    if (stored.kind, stored.subject, stored.received_at) != (
        new.kind,
        new.subject,
        new.received_at,
    ):
        msg = (
            f"update() cannot change the kind, subject or received_at of request {new.id!r}; "
            "store a new request instead"
        )
        raise ValidationError(msg)


def unknown(request_id: str) -> str:
    """NotFound's message for a request id never stored."""
    return f"no request with id {request_id!r} is stored"


def stored_already(request_id: str) -> str:
    """ConflictError's message for adding a request whose id is stored."""
    return f"a request with id {request_id!r} is stored already; choose another id"


def not_theirs(request_id: str) -> str:
    """The message for restricting a subject through another subject's request."""
    return f"request {request_id!r} is about another subject; restrict the one who asked"


def lifted_early() -> str:
    """The message for lifting a restriction before it began."""
    return "a restriction cannot be lifted before it began; pass the instant it ends"


def moved(request_id: str, stored: RequestStatus, expected: RequestStatus) -> str:
    """ConflictError's message when the stored status is not the one expected."""
    return (
        f"request {request_id!r} is {stored.value!r} now, not {expected.value!r}: someone "
        "else changed it; re-read it and decide again"
    )


def out_of_turn(request_id: str, seq: int, following: int) -> str:
    """ConflictError's message for a transition that is not the next number."""
    return (
        f"the next transition of request {request_id!r} is number {following}, not {seq}: "
        "someone else changed it; re-read it and decide again"
    )
