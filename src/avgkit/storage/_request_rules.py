"""What every request store checks and says, written once (private).

The memory and SQL request stores refuse the same things with the same words.
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
    "unknown",
]


def check_limit(limit: object) -> int | None:
    """``due_by``'s ``limit``: ``None`` or a whole number from 0."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        msg = f"due_by() takes limit=None or a whole number from 0, got {_validators.shown(limit)}"
        raise ValidationError(msg)
    return limit


def check_update(stored: SubjectRequest, new: SubjectRequest) -> None:
    """Refuse an update that would change what a request never changes."""
    if (stored.kind, stored.subject, stored.received_at) != (
        new.kind,
        new.subject,
        new.received_at,
    ):
        msg = (
            f"update() cannot change request {new.id!r}'s kind, subject or received_at; "
            "store a new request instead"
        )
        raise ValidationError(msg)


def unknown(request_id: str) -> str:
    """NotFound's message for a request id never stored."""
    return f"no request with id {request_id!r} is stored"


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
        f"request {request_id!r}'s next transition is number {following}, not {seq}: "
        "someone else changed it; re-read it and decide again"
    )
