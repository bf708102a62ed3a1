"""What every adapter checks: the argument checks and errors of avgkit's own adapters.

avgkit's values (:class:`~avgkit.dsar.SubjectRequest`, :class:`~avgkit.feed.FeedNotice`,
:class:`~avgkit.retention.Hold`, :class:`~avgkit.erasure.ErasureEntry`, ...) check
themselves when they are built. What reaches a store as a plain argument (an id, a limit, a
recipient, an instant, the reference an erasure re-keys to) the store checks itself, and a
conforming adapter refuses what avgkit's adapters refuse, with the same error and the same
words: a host then sees one behaviour whichever adapter it runs on. The checks here are the
ones the memory, SQLite and PostgreSQL adapters call. Their messages say what was wrong and
how to fix it and never repeat a value that could be personal data (a subject id passed in
the wrong place, an e-mail address).

Call the checks first, before reading or writing anything, in the order below; the error
builders (``*_not_found``, :func:`status_changed`, ...) return the error to raise where the
store finds the problem::

    from avgkit.storage import checks

    def restrict(self, subject, request_id, at):
        sid = subject_id(subject)                  # avgkit.subjects
        checks.check_request_id(request_id)
        at = checks.check_instant(at, "at")
        with self.database.atomic():
            row = ...                              # the request's subject
            if row is None:
                raise checks.request_not_found(request_id)
            if row.subject != sid:
                raise checks.request_of_another_subject(request_id)
            ...

Per protocol method (a subject argument always goes through
:func:`avgkit.subjects.subject_id` first):

* :meth:`ConsentStore.append_many <avgkit.storage.ConsentStore.append_many>`:
  :func:`check_batch`.
* :meth:`ConsentStore.forget <avgkit.storage.ConsentStore.forget>`, and the
  ``forget_subject`` of :class:`~avgkit.storage.RequestStore` and
  :class:`~avgkit.storage.FeedStore`: :func:`check_forget` (built on
  :func:`check_reference`).
* :meth:`RequestStore.add <avgkit.storage.RequestStore.add>`: :func:`check_change` with
  ``first=True``; :func:`request_stored_already`.
* :meth:`RequestStore.get <avgkit.storage.RequestStore.get>` and
  :meth:`~avgkit.storage.RequestStore.transitions`: :func:`check_request_id`;
  :func:`request_not_found` (``get`` only).
* :meth:`RequestStore.update <avgkit.storage.RequestStore.update>`: :func:`check_change`,
  :func:`check_request_status`; then, in the transaction,
  :func:`request_not_found`, :func:`status_changed`, :func:`check_update`,
  :func:`transition_out_of_turn`.
* :meth:`RequestStore.open_of <avgkit.storage.RequestStore.open_of>` and
  :meth:`~avgkit.storage.RequestStore.open_subjects`: :func:`check_request_kind` (each
  kind).
* :meth:`RequestStore.due_by <avgkit.storage.RequestStore.due_by>`: :func:`check_instant`
  (``before``), :func:`check_limit`.
* :meth:`RequestStore.restrict <avgkit.storage.RequestStore.restrict>`:
  :func:`check_request_id`, :func:`check_instant`; :func:`request_not_found`,
  :func:`request_of_another_subject`.
* :meth:`RequestStore.lift <avgkit.storage.RequestStore.lift>` and
  :meth:`~avgkit.storage.RequestStore.restricted`: :func:`check_instant`;
  :func:`restriction_lifted_early` (``lift`` only).
* :meth:`FeedStore.append <avgkit.storage.FeedStore.append>`: :func:`check_notices`.
* :meth:`FeedStore.read <avgkit.storage.FeedStore.read>`: :func:`check_recipient`,
  :func:`check_page`.
* :meth:`FeedStore.acknowledge <avgkit.storage.FeedStore.acknowledge>`:
  :func:`check_recipient`, :func:`check_acknowledged`; :func:`beyond_newest`.
* :meth:`FeedStore.cursor <avgkit.storage.FeedStore.cursor>`: :func:`check_recipient`.
* :meth:`RetentionStore.release_hold <avgkit.storage.RetentionStore.release_hold>`:
  :func:`hold_not_found`. The rest of :class:`~avgkit.storage.RetentionStore` and all of
  :class:`~avgkit.storage.ErasureStore` take values that checked themselves.

The examples run as written after ``from avgkit.storage.checks import *``.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from avgkit import _validators
from avgkit.consent import _values as _consent
from avgkit.dsar import _values as _dsar
from avgkit.dsar._values import RequestKind, RequestStatus, RequestTransition, SubjectRequest
from avgkit.errors import ConflictError, NotFound, ValidationError
from avgkit.feed import _values as _feed
from avgkit.feed._values import FeedNotice
from avgkit.storage import _request_rules as _rules
from avgkit.storage._feed_rules import beyond_newest, check_acknowledged, check_page
from avgkit.storage._request_rules import check_limit, check_update
from avgkit.subjects import SubjectId

__all__ = [
    "REFERENCE_PREFIX",
    "beyond_newest",
    "check_acknowledged",
    "check_batch",
    "check_change",
    "check_forget",
    "check_instant",
    "check_limit",
    "check_notices",
    "check_page",
    "check_recipient",
    "check_reference",
    "check_request_id",
    "check_request_kind",
    "check_request_status",
    "check_update",
    "hold_not_found",
    "request_not_found",
    "request_of_another_subject",
    "request_stored_already",
    "restriction_lifted_early",
    "status_changed",
    "transition_out_of_turn",
]

REFERENCE_PREFIX: Final = _consent.REFERENCE_PREFIX
"""How a pseudonymous subject reference starts (``"sr1:"``).

Stores tell an erased subject's reference from a host's raw id by it.

.. versionadded:: 0.2.0
"""


# --------------------------------------------------------------------------- any store


def check_instant(value: object, what: str) -> datetime:
    """Return an instant a store is handed, in UTC, refusing anything but an aware datetime.

    For :meth:`RequestStore.due_by <avgkit.storage.RequestStore.due_by>` (``before``),
    :meth:`~avgkit.storage.RequestStore.restrict`, :meth:`~avgkit.storage.RequestStore.lift`
    and :meth:`~avgkit.storage.RequestStore.restricted` (``at``). ``what`` names the
    argument in the message. Instants from the year 9000 on are refused too: the periods
    services add to them would overflow the calendar.

    Raises:
        ValidationError: ``value`` is not a datetime, is naive, or is too late.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> check_instant(datetime(2025, 4, 7, 10, 30, tzinfo=timezone(timedelta(hours=2))), "at")
        datetime.datetime(2025, 4, 7, 8, 30, tzinfo=datetime.timezone.utc)
        >>> check_instant(datetime(2025, 4, 7, 10, 30), "before")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: before is a naive datetime; ...

    .. versionadded:: 0.2.0
    """
    return _validators.aware(value, what)


def check_request_status(value: object, what: str = "expected") -> RequestStatus:
    """Return the :class:`~avgkit.dsar.RequestStatus` that ``value`` is, or whose value it is.

    For :meth:`RequestStore.update <avgkit.storage.RequestStore.update>`'s ``expected``;
    ``what`` names the argument in the message.

    Raises:
        ValidationError: ``value`` is neither a status nor a status's value; the message
            lists the statuses.

    Example:
        >>> check_request_status("verified")
        <RequestStatus.VERIFIED: 'verified'>
        >>> check_request_status("done")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: expected 'done' is not one of ['received', ...]

    .. versionadded:: 0.2.0
    """
    return _validators.member(RequestStatus, value, what)


def check_request_kind(value: object, what: str = "kind") -> RequestKind:
    """Return the :class:`~avgkit.dsar.RequestKind` that ``value`` is, or whose value it is.

    For :meth:`RequestStore.open_of <avgkit.storage.RequestStore.open_of>`'s ``kind`` and
    each of :meth:`~avgkit.storage.RequestStore.open_subjects`' ``kinds``; ``what`` names
    the argument in the message.

    Raises:
        ValidationError: ``value`` is neither a kind nor a kind's value; the message lists
            the kinds.

    Example:
        >>> from avgkit.dsar import RequestKind
        >>> check_request_kind(RequestKind.ERASURE), check_request_kind("access")
        (<RequestKind.ERASURE: 'erasure'>, <RequestKind.ACCESS: 'access'>)
        >>> check_request_kind("complaint")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: kind 'complaint' is not one of ['access', ...]

    .. versionadded:: 0.2.0
    """
    return _validators.member(RequestKind, value, what)


# --------------------------------------------------------------------------- erasure


def check_reference(value: object) -> SubjectId:
    """Return ``value`` if it is a pseudonymous subject reference, else refuse it.

    A reference is what :meth:`avgkit.audit.AuditLog.subject_ref` returns: ``"sr1:"`` and
    32 lower-case hex characters. An erasure re-keys a subject's rows to it: the
    ``reference`` of :meth:`ConsentStore.forget <avgkit.storage.ConsentStore.forget>` and of
    every ``forget_subject`` (:func:`check_forget` checks it), and wherever else a store is
    handed one as a plain argument.

    Raises:
        ValidationError: anything else; the message describes the value only by its type
            and length (it may be a raw subject id passed in the wrong place).

    Example:
        >>> check_reference("sr1:" + "0f" * 16)
        'sr1:0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f'
        >>> check_reference("cust-1042")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: a subject reference must be ... a 9-character string

    .. versionadded:: 0.2.0
    """
    return _consent.subject_reference(value)


def check_forget(subject: object, reference: object) -> tuple[SubjectId, SubjectId]:
    """Return the arguments of an erasure's re-keying: the host's raw id and its reference.

    For :meth:`ConsentStore.forget <avgkit.storage.ConsentStore.forget>`,
    :meth:`RequestStore.forget_subject <avgkit.storage.RequestStore.forget_subject>` and
    :meth:`FeedStore.forget_subject <avgkit.storage.FeedStore.forget_subject>`, before
    anything changes. ``subject`` must be a subject id that is not itself a reference (an id
    starting with :data:`REFERENCE_PREFIX` was re-keyed already), ``reference`` a
    :func:`check_reference`.

    Raises:
        ValidationError: either is malformed; neither value is repeated in the message.

    Example:
        >>> check_forget("cust-1042", "sr1:" + "0f" * 16)
        ('cust-1042', 'sr1:0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f')
        >>> check_forget("sr1:" + "0f" * 16, "sr1:" + "0f" * 16)
        Traceback (most recent call last):
        avgkit.errors.ValidationError: forget() takes the host's raw subject id and its ...

    .. versionadded:: 0.2.0
    """
    return _consent.check_forget(subject, reference)


# --------------------------------------------------------------------------- consent


def check_batch(events: object) -> Sequence[_consent.ConsentEvent]:
    """Return a batch of consent events to store, checked.

    For :meth:`ConsentStore.append_many <avgkit.storage.ConsentStore.append_many>`: a list
    or tuple of :class:`~avgkit.consent.ConsentEvent` values. Check it before writing, so
    that a bad item stores nothing and the caller gets this error rather than a driver's.

    Raises:
        ValidationError: the batch is not a list or tuple, or an item is not an event (named
            by its position).

    Example:
        >>> check_batch([])
        []
        >>> check_batch([{"purpose": "newsletter"}])
        Traceback (most recent call last):
        avgkit.errors.ValidationError: item 0 of the batch is a dict, not a ConsentEvent

    .. versionadded:: 0.2.0
    """
    return _consent.check_batch(events)


# --------------------------------------------------------------------------- requests


def check_request_id(value: object, what: str = "a request id") -> str:
    """Return ``value`` if it is a request id: 1-64 letters, digits, ``_`` or ``-``.

    For :meth:`RequestStore.get <avgkit.storage.RequestStore.get>`,
    :meth:`~avgkit.storage.RequestStore.transitions` and
    :meth:`~avgkit.storage.RequestStore.restrict`; ``what`` names the argument in the
    message.

    Raises:
        ValidationError: anything else; the value is quoted only when it looks like a key.

    Example:
        >>> check_request_id("req_7f3a")
        'req_7f3a'
        >>> check_request_id("anna@example.org")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: a request id must be 1-64 ... a 16-character string

    .. versionadded:: 0.2.0
    """
    return _dsar.check_request_id(value, what)


def check_change(
    request: object, transition: object, *, first: bool
) -> tuple[SubjectRequest, RequestTransition]:
    """Return a request and the transition it is stored with, checked.

    For :meth:`RequestStore.add <avgkit.storage.RequestStore.add>` (``first=True``) and
    :meth:`~avgkit.storage.RequestStore.update` (``first=False``).
    ``transition`` must be about ``request`` and record its status; a request's first
    transition is number 1. Check them before reading or writing anything.

    Raises:
        ValidationError: either is not of its type, or they do not fit together.

    Example:
        >>> from datetime import UTC, datetime, timedelta
        >>> from avgkit.dsar import RequestKind, RequestStatus, RequestTransition, SubjectRequest
        >>> at = datetime(2025, 4, 7, tzinfo=UTC)
        >>> request = SubjectRequest(
        ...     id="req_1", kind=RequestKind.ACCESS, subject="cust-1", received_at=at,
        ...     due_at=at + timedelta(days=30), status=RequestStatus.RECEIVED, updated_at=at,
        ... )
        >>> first = RequestTransition(
        ...     request_id="req_1", seq=1, status=RequestStatus.RECEIVED, at=at, actor="subject"
        ... )
        >>> check_change(request, first, first=True) == (request, first)
        True
        >>> check_change(request, first, first=False) == (request, first)
        True
        >>> check_change(request, "received", first=True)
        Traceback (most recent call last):
        avgkit.errors.ValidationError: a request is stored with a RequestTransition, got str

    .. versionadded:: 0.2.0
    """
    return _dsar.check_change(request, transition, first=first)


def request_not_found(request_id: str) -> NotFound:
    """The error for a request id the store does not hold.

    Raised by :meth:`RequestStore.get <avgkit.storage.RequestStore.get>`,
    :meth:`~avgkit.storage.RequestStore.update` and
    :meth:`~avgkit.storage.RequestStore.restrict`; pass it an id
    :func:`check_request_id` accepted.

    Example:
        >>> raise request_not_found("req_1")
        Traceback (most recent call last):
        avgkit.errors.NotFound: no request with id 'req_1' is stored

    .. versionadded:: 0.2.0
    """
    return NotFound(_rules.unknown(request_id))


def request_stored_already(request_id: str) -> ConflictError:
    """The error for adding a request whose id is stored; nothing is stored.

    Raised by :meth:`RequestStore.add <avgkit.storage.RequestStore.add>`.

    Example:
        >>> raise request_stored_already("req_1")
        Traceback (most recent call last):
        avgkit.errors.ConflictError: a request with id 'req_1' is stored already; choose another id

    .. versionadded:: 0.2.0
    """
    return ConflictError(_rules.stored_already(request_id))


def status_changed(
    request_id: str, stored: RequestStatus, expected: RequestStatus
) -> ConflictError:
    """The error for an update whose expected status is no longer the stored one.

    Raised by :meth:`RequestStore.update <avgkit.storage.RequestStore.update>` when its
    compare-and-set fails (another writer changed the request); nothing changes.

    Example:
        >>> from avgkit.dsar import RequestStatus
        >>> raise status_changed("req_1", RequestStatus.VERIFIED, RequestStatus.RECEIVED)
        Traceback (most recent call last):
        avgkit.errors.ConflictError: request 'req_1' is 'verified' now, not 'received': ...

    .. versionadded:: 0.2.0
    """
    return ConflictError(_rules.moved(request_id, stored, expected))


def transition_out_of_turn(request_id: str, seq: int, following: int) -> ConflictError:
    """The error for an update whose transition is not the request's next number.

    Raised by :meth:`RequestStore.update <avgkit.storage.RequestStore.update>` when
    ``transition.seq`` is not ``following`` (one more than the newest stored transition);
    nothing changes.

    Example:
        >>> raise transition_out_of_turn("req_1", 2, 3)
        Traceback (most recent call last):
        avgkit.errors.ConflictError: the next transition of request 'req_1' is number 3, ...

    .. versionadded:: 0.2.0
    """
    return ConflictError(_rules.out_of_turn(request_id, seq, following))


def request_of_another_subject(request_id: str) -> ValidationError:
    """The error for restricting a subject through another subject's request.

    Raised by :meth:`RequestStore.restrict <avgkit.storage.RequestStore.restrict>`;
    nothing is stored.

    Example:
        >>> raise request_of_another_subject("req_1")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: request 'req_1' is about another subject; ...

    .. versionadded:: 0.2.0
    """
    return ValidationError(_rules.not_theirs(request_id))


def restriction_lifted_early() -> ValidationError:
    """The error for lifting a restriction at an instant before it began.

    Raised by :meth:`RequestStore.lift <avgkit.storage.RequestStore.lift>`; the
    restriction stays in force.

    Example:
        >>> raise restriction_lifted_early()
        Traceback (most recent call last):
        avgkit.errors.ValidationError: a restriction cannot be lifted before it began; ...

    .. versionadded:: 0.2.0
    """
    return ValidationError(_rules.lifted_early())


# --------------------------------------------------------------------------- feed


def check_notices(notices: object) -> tuple[FeedNotice, ...]:
    """Return a batch for :meth:`FeedStore.append <avgkit.storage.FeedStore.append>`, checked.

    Every item must be a :class:`~avgkit.feed.FeedNotice` not stored yet (``seq`` 0).
    Check it before writing, so that a bad item stores nothing.

    Raises:
        ValidationError: the batch is not a list or tuple, or an item is refused (named by
            its position).

    Example:
        >>> check_notices([])
        ()
        >>> check_notices("crm")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: append() takes a list or tuple of FeedNotice values, got str

    .. versionadded:: 0.2.0
    """
    return _feed.check_notices(notices)


def check_recipient(value: object) -> str:
    """Return ``value`` if it is a recipient's key: lower snake case, as in the inventory.

    For :meth:`FeedStore.read <avgkit.storage.FeedStore.read>`,
    :meth:`~avgkit.storage.FeedStore.acknowledge` and
    :meth:`~avgkit.storage.FeedStore.cursor`.

    Raises:
        ValidationError: anything else; the value is quoted only when it looks like a key.

    Example:
        >>> check_recipient("mail_platform")
        'mail_platform'
        >>> check_recipient("Mail Platform")
        Traceback (most recent call last):
        avgkit.errors.ValidationError: recipient must be a lower ... a 13-character string

    .. versionadded:: 0.2.0
    """
    return _validators.key(value, "recipient")


# --------------------------------------------------------------------------- retention


def hold_not_found(hold_id: int) -> NotFound:
    """The error for a hold number the store never gave out.

    Raised by :meth:`RetentionStore.release_hold <avgkit.storage.RetentionStore.release_hold>`;
    nothing changes.

    Example:
        >>> raise hold_not_found(7)
        Traceback (most recent call last):
        avgkit.errors.NotFound: no hold number 7; list them with holds_for() or active_holds()

    .. versionadded:: 0.2.0
    """
    return NotFound(f"no hold number {hold_id}; list them with holds_for() or active_holds()")
