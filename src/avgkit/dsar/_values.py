"""Data subject requests and their history (values, no I/O).

A :class:`SubjectRequest` is one request a data subject made under Art. 15-21 GDPR (access,
portability, rectification, erasure, restriction, objection) in its current state; every
change of state is a :class:`RequestTransition`, kept in order. The deadlines themselves
(one month, extended by two, Art. 12(3)) are computed by the service; these values only
check that what they hold fits together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

from avgkit import _dpv, _validators
from avgkit._validators import InvalidAttributeError, opt, to_utc, v_aware, v_whole
from avgkit._vocab import Bilingual, Term, WithArticle
from avgkit.errors import ValidationError
from avgkit.subjects import SubjectId, subject_id

__all__ = [
    "DUE_FLAGS",
    "MAX_DETAILS",
    "MAX_DETAIL_LENGTH",
    "MAX_NOTE_LENGTH",
    "OPEN_STATUSES",
    "REQUEST_ID",
    "DueRequest",
    "DueRequestDraft",
    "ExtensionReason",
    "Reason",
    "RefusalReason",
    "RequestKind",
    "RequestStatus",
    "RequestTransition",
    "SubjectRequest",
    "check_actor",
    "check_change",
    "check_request_id",
    "reason_from_value",
    "stored_due",
    "stored_request",
]

MAX_DETAILS: Final = 100
"""Most entries a request's :attr:`~SubjectRequest.details` may hold."""
MAX_DETAIL_LENGTH: Final = 2000
"""Longest value of one detail (a corrected address, say)."""
MAX_NOTE_LENGTH: Final = 2000
"""Longest note on a transition."""

_REQUEST_ID: Final = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
# A role, optionally with a key: "subject", "system", "staff:box_office_3", "processor:crm".
_ACTOR: Final = re.compile(r"\A[a-z][a-z0-9_]{0,31}(?::[A-Za-z0-9_.-]{1,64})?\Z")


class RequestKind(WithArticle):
    """Which right a data subject exercises with a request.

    Each member has its :attr:`article`, the DPV term of the :attr:`right` and a
    :meth:`label` in Dutch and English.

    .. versionadded:: 0.2.0
    """

    ACCESS = Term("access", nl="Recht op inzage", en="Right of access", article="Art. 15")
    PORTABILITY = Term(
        "portability",
        nl="Recht op overdraagbaarheid van gegevens",
        en="Right to data portability",
        article="Art. 20",
    )
    RECTIFICATION = Term(
        "rectification", nl="Recht op rectificatie", en="Right to rectification", article="Art. 16"
    )
    ERASURE = Term(
        "erasure", nl="Recht op gegevenswissing", en="Right to erasure", article="Art. 17"
    )
    RESTRICTION = Term(
        "restriction",
        nl="Recht op beperking van de verwerking",
        en="Right to restriction of processing",
        article="Art. 18",
    )
    OBJECTION = Term("objection", nl="Recht van bezwaar", en="Right to object", article="Art. 21")

    @property
    def right(self) -> str:
        """The DPV term of the right, e.g. ``https://w3id.org/dpv/legal/eu/gdpr#A15``."""
        return _dpv.REQUEST_RIGHTS[self.value]


class RequestStatus(Bilingual):
    """Where a request stands.

    ``RECEIVED`` until the subject's identity is verified; ``VERIFIED``, ``IN_PROGRESS`` and
    ``EXTENDED`` (the deadline was extended, Art. 12(3)) while it is handled; ``COMPLETED``
    or ``REFUSED`` once answered. Each member has its DPV term (:attr:`dpv`) and a
    :meth:`label` in Dutch and English.

    .. versionadded:: 0.2.0
    """

    RECEIVED = Term("received", nl="ontvangen", en="received")
    VERIFIED = Term("verified", nl="identiteit vastgesteld", en="identity verified")
    IN_PROGRESS = Term("in_progress", nl="in behandeling", en="in progress")
    EXTENDED = Term("extended", nl="termijn verlengd", en="deadline extended")
    COMPLETED = Term("completed", nl="afgehandeld", en="completed")
    REFUSED = Term("refused", nl="geweigerd", en="refused")

    @property
    def dpv(self) -> str:
        """The DPV request status, e.g. ``https://w3id.org/dpv#RequestInitiated``."""
        return _dpv.REQUEST_STATUSES[self.value]

    @property
    def open(self) -> bool:
        """Whether the request still awaits its answer (neither completed nor refused)."""
        return self not in {RequestStatus.COMPLETED, RequestStatus.REFUSED}


OPEN_STATUSES: Final = tuple(s for s in RequestStatus if s.open)
"""The open statuses, in declaration order (what a store's open-request queries select).

.. versionadded:: 0.2.0
"""


class RefusalReason(WithArticle):
    """Why a request was refused: the GDPR ground, with its :attr:`article` and DPV term.

    .. versionadded:: 0.2.0
    """

    MANIFESTLY_UNFOUNDED = Term(
        "manifestly_unfounded",
        nl="Kennelijk ongegrond",
        en="Manifestly unfounded",
        article="Art. 12(5)",
    )
    MANIFESTLY_EXCESSIVE = Term(
        "manifestly_excessive",
        nl="Buitensporig",
        en="Manifestly excessive",
        article="Art. 12(5)",
    )
    IDENTITY_NOT_ESTABLISHED = Term(
        "identity_not_established",
        nl="Identiteit niet vastgesteld",
        en="Identity not established",
        article="Art. 12(6)",
    )
    LEGAL_OBLIGATION = Term(
        "legal_obligation",
        nl="Wettelijke bewaarplicht",
        en="Legal obligation to keep the data",
        article="Art. 17(3)(b)",
    )

    @property
    def dpv(self) -> str:
        """The DPV justification, e.g. ``...gdpr#JustificationA12ManifestlyUnfounded``."""
        return _dpv.REFUSAL_REASONS[self.value]


class ExtensionReason(WithArticle):
    """Why a request's deadline was extended by up to two months (Art. 12(3)).

    .. versionadded:: 0.2.0
    """

    COMPLEXITY = Term(
        "complexity",
        nl="Complexiteit van het verzoek",
        en="Complexity of the request",
        article="Art. 12(3)",
    )
    NUMBER_OF_REQUESTS = Term(
        "number_of_requests",
        nl="Aantal verzoeken",
        en="Number of requests",
        article="Art. 12(3)",
    )

    @property
    def dpv(self) -> str:
        """The DPV justification, e.g. ``...gdpr#JustificationA12Complexity``."""
        return _dpv.EXTENSION_REASONS[self.value]


Reason = RefusalReason | ExtensionReason
"""The reason a request or transition carries: a refusal's ground or an extension's."""

_REASONS: Final[dict[str, Reason]] = {
    **{r.value: r for r in RefusalReason},
    **{r.value: r for r in ExtensionReason},
}


def reason_from_value(value: str) -> Reason:
    """The :class:`RefusalReason` or :class:`ExtensionReason` whose value is ``value``.

    The two vocabularies share no value, so a stored reason needs no type tag.

    Raises:
        ValidationError: ``value`` names neither.

    .. versionadded:: 0.2.0
    """
    found = _REASONS.get(value) if isinstance(value, str) else None
    if found is None:
        msg = f"a request reason must be one of {sorted(_REASONS)}, got {_validators.shown(value)}"
        raise ValidationError(msg)
    return found


def check_request_id(value: object, what: str = "a request id") -> str:
    """Return ``value`` if it is a request id: 1-64 letters, digits, ``_`` or ``-``.

    Raises:
        ValidationError: anything else; the value is quoted only when it looks like a key.

    .. versionadded:: 0.2.0
    """
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        msg = (
            f"{what} must be 1-64 letters, digits, '_' or '-' (an opaque id such as "
            f"'req_7f3a'), got {_validators.shown(value)}"
        )
        raise ValidationError(msg)
    return value


def check_actor(value: object) -> str:
    """Return ``value`` if it names who acted: a role, optionally with a key after ``:``.

    ``"subject"``, ``"system"``, ``"staff:box_office_3"``: never a name or an address.

    Raises:
        ValidationError: anything else.

    .. versionadded:: 0.2.0
    """
    if not isinstance(value, str) or not _ACTOR.match(value):
        msg = (
            "a transition's actor is a role, optionally with a staff key: 'subject', "
            f"'system' or 'staff:<key>' (never a name or an e-mail address); got "
            f"{_validators.shown(value)}"
        )
        raise ValidationError(msg)
    return value


# --------------------------------------------------------------------------- converters


def _to_id(value: object) -> str:
    return check_request_id(value)


def _to_optional_id(value: object) -> str | None:
    return None if value is None else check_request_id(value, "duplicate_of")


def _to_kind(value: object) -> RequestKind:
    return _validators.member(RequestKind, value, "a request kind")


def _to_status(value: object) -> RequestStatus:
    return _validators.member(RequestStatus, value, "a request status")


def _to_reason(value: object) -> Reason | None:
    if value is None or isinstance(value, RefusalReason | ExtensionReason):
        return value
    if isinstance(value, str):
        return reason_from_value(value)
    msg = (
        "a request reason must be a RefusalReason or an ExtensionReason, got "
        f"{type(value).__name__}"
    )
    raise ValidationError(msg)


def _to_details(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        msg = (
            "a request's details map keys (e.g. inventory field keys) to text, got "
            f"{type(value).__name__}"
        )
        raise ValidationError(msg)
    if len(value) > MAX_DETAILS:
        msg = f"a request holds at most {MAX_DETAILS} details, got {len(value)}"
        raise ValidationError(msg)
    checked: dict[str, str] = {}
    for key, text in value.items():
        name = _validators.key(key, "a request detail's key")
        # The value is personal data (a corrected address): described, never quoted.
        if not isinstance(text, str):
            msg = f"request detail {name!r} must be text, got {type(text).__name__}"
            raise ValidationError(msg)
        if len(text) > MAX_DETAIL_LENGTH:
            msg = (
                f"request detail {name!r} is {len(text)} characters long; at most "
                f"{MAX_DETAIL_LENGTH} are allowed"
            )
            raise ValidationError(msg)
        checked[name] = _validators.encodable(text, f"request detail {name!r}")
    return MappingProxyType(checked)


def _to_actor(value: object) -> str:
    return check_actor(value)


def _check_flag(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _validators.v_bool(instance, attribute, value)


def _check_note(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    _validators.v_text(MAX_NOTE_LENGTH)(instance, attribute, value)
    if isinstance(value, str):
        _validators.encodable(value, f"{type(instance).__name__}.note")


def _refuse(owner: object, attribute: str, problem: str) -> None:
    raise InvalidAttributeError(type(owner).__name__, attribute, problem)


def _check_reason_fits(owner: object, status: RequestStatus, reason: Reason | None) -> None:
    if status is RequestStatus.REFUSED and not isinstance(reason, RefusalReason):
        _refuse(owner, "reason", "must be a RefusalReason when the status is 'refused'")
    if isinstance(reason, RefusalReason) and status is not RequestStatus.REFUSED:
        _refuse(owner, "reason", f"is a refusal's ground, but the status is {status.value!r}")


# --------------------------------------------------------------------------- values


@attrs.frozen(kw_only=True)
class SubjectRequest:
    """One data subject request in its current state.

    Args:
        id: the request's opaque id (1-64 letters, digits, ``_`` or ``-``).
        kind: the right exercised.
        subject: the host's id of the subject (never shown in ``repr``); after an erasure
            the subject's pseudonymous reference.
        received_at: when the request came in (the deadline runs from here).
        due_at: when the answer is due; later than ``received_at``.
        status: where it stands.
        updated_at: when it last changed (not before ``received_at``).
        verified_at: when the subject's identity was verified; set for every status from
            ``VERIFIED`` on (a ``REFUSED`` request may have been refused unverified), unset
            while ``RECEIVED``.
        extended: whether the deadline was extended (it can be, once); an ``EXTENDED``
            request is.
        duplicate_of: the id of the open request of the same kind this one repeats.
        details: what the request asks for, e.g. for a rectification the corrections
            (inventory field key -> new value). Personal data: not shown in ``repr``, kept
            as a read-only copy, cleared when the subject is erased.
        reason: the latest reason given: a :class:`RefusalReason` (exactly when
            ``REFUSED``) or the :class:`ExtensionReason` of the extension.

    Raises:
        ValidationError: a value is malformed, or the values contradict each other (a
            naive instant, ``due_at`` not after ``received_at``, a status that needs
            ``verified_at`` without it, an extension reason without ``extended``).

    .. versionadded:: 0.2.0
    """

    id: str = attrs.field(converter=_to_id)
    kind: RequestKind = attrs.field(converter=_to_kind)
    subject: SubjectId = attrs.field(converter=subject_id, repr=False)
    received_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    due_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    status: RequestStatus = attrs.field(converter=_to_status)
    updated_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    verified_at: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    extended: bool = attrs.field(default=False, validator=_check_flag)
    duplicate_of: str | None = attrs.field(default=None, converter=_to_optional_id)
    details: Mapping[str, str] = attrs.field(
        factory=dict, converter=_to_details, repr=False, hash=False
    )
    reason: Reason | None = attrs.field(default=None, converter=_to_reason)

    def __attrs_post_init__(self) -> None:
        """Refuse values that contradict each other."""
        if self.due_at <= self.received_at:
            _refuse(self, "due_at", "must be later than received_at")
        if self.updated_at < self.received_at:
            _refuse(self, "updated_at", "cannot be earlier than received_at")
        if self.verified_at is not None and self.verified_at < self.received_at:
            _refuse(self, "verified_at", "cannot be earlier than received_at")
        unverified_allowed = {RequestStatus.RECEIVED, RequestStatus.REFUSED}
        if self.status not in unverified_allowed and self.verified_at is None:
            _refuse(self, "verified_at", f"must be set for a {self.status.value!r} request")
        if self.status is RequestStatus.RECEIVED and self.verified_at is not None:
            _refuse(self, "verified_at", "is set, but the status is still 'received'")
        if self.status is RequestStatus.EXTENDED and not self.extended:
            _refuse(self, "extended", "must be True for an 'extended' request")
        if self.extended and self.status is RequestStatus.RECEIVED:
            _refuse(self, "extended", "is True, but an unverified request cannot be extended")
        if isinstance(self.reason, ExtensionReason) and not self.extended:
            _refuse(self, "reason", "is an extension's reason, but extended is False")
        _check_reason_fits(self, self.status, self.reason)
        if self.duplicate_of == self.id:
            _refuse(self, "duplicate_of", "names the request itself")

    @property
    def open(self) -> bool:
        """Whether the request still awaits its answer."""
        return self.status.open


@attrs.frozen(kw_only=True)
class RequestTransition:
    """One change of a request's status: who made it, when, and why.

    Args:
        request_id: the request's id.
        seq: its place in the request's history: 1 for the first, then 2, 3, ...
        status: the status the request moved to.
        at: when (aware).
        actor: who acted: ``"subject"``, ``"system"`` or ``"staff:<key>"`` (a role or
            staff key, never a name).
        reason: the ground of a refusal (required when ``status`` is ``REFUSED``) or the
            reason of an extension (required when ``EXTENDED``).
        note: free text for the file (not shown in ``repr``; cleared on erasure).

    .. versionadded:: 0.2.0
    """

    request_id: str = attrs.field(converter=_to_id)
    seq: int = attrs.field(validator=v_whole(minimum=1))
    status: RequestStatus = attrs.field(converter=_to_status)
    at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    actor: str = attrs.field(converter=_to_actor)
    reason: Reason | None = attrs.field(default=None, converter=_to_reason)
    note: str | None = attrs.field(default=None, repr=False, validator=_check_note)

    def __attrs_post_init__(self) -> None:
        """Refuse a reason that does not fit the status."""
        _check_reason_fits(self, self.status, self.reason)
        if self.status is RequestStatus.EXTENDED and not isinstance(self.reason, ExtensionReason):
            _refuse(self, "reason", "must be an ExtensionReason when the status is 'extended'")
        if isinstance(self.reason, ExtensionReason) and self.status is not RequestStatus.EXTENDED:
            _refuse(
                self, "reason", f"is an extension's reason, but the status is {self.status.value!r}"
            )


def check_change(
    request: object, transition: object, *, first: bool
) -> tuple[SubjectRequest, RequestTransition]:
    """Return the arguments of a store's ``add`` (``first``) or ``update``, checked.

    ``transition`` must be about ``request`` and record its status; the first transition of
    a request is number 1. Stores call it before writing anything.

    Raises:
        ValidationError: either is not of its type, or they do not fit together.

    .. versionadded:: 0.2.0
    """
    if not isinstance(request, SubjectRequest):
        msg = f"a request store takes a SubjectRequest, got {type(request).__name__}"
        raise ValidationError(msg)
    if not isinstance(transition, RequestTransition):
        msg = f"a request is stored with a RequestTransition, got {type(transition).__name__}"
        raise ValidationError(msg)
    if transition.request_id != request.id:
        msg = (
            f"transition of request {transition.request_id!r} handed over with request "
            f"{request.id!r}; pass the transition of the request being stored"
        )
        raise ValidationError(msg)
    if transition.status is not request.status:
        msg = (
            f"the transition moves request {request.id!r} to {transition.status.value!r} but "
            f"the request's status is {request.status.value!r}; they must agree"
        )
        raise ValidationError(msg)
    if first and transition.seq != 1:
        msg = f"a new request's first transition is number 1, got {transition.seq}"
        raise ValidationError(msg)
    return request, transition


_set = object.__setattr__
_NO_DETAILS: Final[Mapping[str, str]] = MappingProxyType({})


def stored_request(
    *,
    id: str,  # noqa: A002 - the field's name
    kind: RequestKind,
    subject: SubjectId,
    received_at: datetime,
    due_at: datetime,
    status: RequestStatus,
    updated_at: datetime,
    verified_at: datetime | None,
    extended: bool,
    duplicate_of: str | None,
    details: Mapping[str, str] | None,
    reason: Reason | None,
) -> SubjectRequest:
    """A :class:`SubjectRequest` rebuilt from a row its store wrote (internal, not exported).

    The fields were validated when the request was made, before any store wrote it; a store
    decodes each to its type (members looked up, instants in UTC, ``extended`` a bool,
    details a dict of text). Running every converter again on each row of a long deadline
    queue would only repeat those checks, so here only the id's form and the rules between
    the fields (:meth:`SubjectRequest.__attrs_post_init__`) are checked again: a row
    changed outside avgkit into a contradiction is still refused. Equal, field for field,
    to ``SubjectRequest(...)`` with the same arguments (``tests/test_dsar_values.py`` holds
    it to that). Anything not decoded from a store's own row must go through the class.

    Raises:
        ValidationError: the id is malformed or the fields contradict each other.
    """
    if not _REQUEST_ID.match(id):
        check_request_id(id)
    made: SubjectRequest = object.__new__(SubjectRequest)
    _set(made, "id", id)
    _set(made, "kind", kind)
    _set(made, "subject", subject)
    _set(made, "received_at", received_at)
    _set(made, "due_at", due_at)
    _set(made, "status", status)
    _set(made, "updated_at", updated_at)
    _set(made, "verified_at", verified_at)
    _set(made, "extended", extended)
    _set(made, "duplicate_of", duplicate_of)
    _set(made, "details", _NO_DETAILS if not details else _to_details(details))
    _set(made, "reason", reason)
    made.__attrs_post_init__()
    return made


# --------------------------------------------------------------------------- the deadline queue

REQUEST_ID: Final = _REQUEST_ID
"""The form of a request id (for stores that check ids in bulk; see :func:`check_request_id`)."""

DUE_FLAGS: Final[Mapping[RequestStatus, Mapping[object, bool]]] = {
    RequestStatus.RECEIVED: {False: False},
    RequestStatus.VERIFIED: {False: False, True: True},
    RequestStatus.IN_PROGRESS: {False: False, True: True},
    RequestStatus.EXTENDED: {True: True},
}
"""For each open status, the ``extended`` flags it allows, keyed by themselves.

A ``RECEIVED`` request is not yet verified and so never extended, an ``EXTENDED`` one
always is. Stored flags that are ``0`` or ``1`` find their bool here too; anything else
is a :class:`KeyError`, as is a closed status.
"""

_DUE_STATES: Final = frozenset(
    (status, flag) for status, flags in DUE_FLAGS.items() for flag in flags.values()
)


class DueRequestDraft:
    """A :class:`DueRequest`'s fields, assignable (internal, not exported).

    For a store decoding thousands of queue rows: :func:`stored_due` builds one entry per
    call; a store's own loop may instead fill a draft with plain attribute stores (every
    field) and then give it :class:`DueRequest` as its ``__class__`` (the two share one
    layout: DueRequest adds no slot), several times cheaper than ``object.__setattr__`` per
    field. Only after checking what :func:`stored_due` checks, in the same way: the id's
    form (:data:`REQUEST_ID`), the status and flag (:data:`DUE_FLAGS`); a draft never
    leaves that loop.
    """

    __slots__ = ("__weakref__", "due_at", "extended", "id", "kind", "status", "subject")
    id: str
    kind: RequestKind
    subject: SubjectId
    status: RequestStatus
    due_at: datetime
    extended: bool


@attrs.frozen(kw_only=True)
class DueRequest(DueRequestDraft):
    """An open request in the deadline queue.

    What :meth:`RequestStore.due_by <avgkit.storage.RequestStore.due_by>` yields: the fields
    a queue of deadlines is read for (which request, whose, what it asks, where it stands,
    when it is due). The request's other instants, its details (personal data) and reason
    are not read for the queue: :meth:`RequestStore.get <avgkit.storage.RequestStore.get>`
    (or :meth:`SubjectRequests.get <avgkit.dsar.SubjectRequests.get>`) with its :attr:`id`
    gives the whole :class:`SubjectRequest`; :meth:`of` makes the entry of one.

    Args:
        id: the request's id.
        kind: the right exercised.
        subject: the host's id of the subject (never shown in ``repr``).
        status: where it stands: one of :data:`OPEN_STATUSES`.
        due_at: when the answer is due (aware; kept in UTC).
        extended: whether the deadline was extended; an ``EXTENDED`` request is, a
            ``RECEIVED`` one (not yet verified) cannot be.

    Raises:
        ValidationError: a value is malformed, or the values contradict each other (a
            closed status, a naive instant, ``extended`` not fitting the status).

    .. versionadded:: 0.2.0
    """

    id: str = attrs.field(converter=_to_id)
    kind: RequestKind = attrs.field(converter=_to_kind)
    subject: SubjectId = attrs.field(converter=subject_id, repr=False)
    status: RequestStatus = attrs.field(converter=_to_status)
    due_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    extended: bool = attrs.field(default=False, validator=_check_flag)

    def __attrs_post_init__(self) -> None:
        """Refuse values that contradict each other."""
        if not self.status.open:
            _refuse(
                self, "status", f"is {self.status.value!r}: the deadline queue holds open requests"
            )
        if self.status is RequestStatus.EXTENDED and not self.extended:
            _refuse(self, "extended", "must be True for an 'extended' request")
        if self.extended and self.status is RequestStatus.RECEIVED:
            _refuse(self, "extended", "is True, but an unverified request cannot be extended")

    @classmethod
    def of(cls, request: SubjectRequest) -> DueRequest:
        """The queue's entry for ``request``, which must be open.

        Raises:
            ValidationError: ``request`` is not a :class:`SubjectRequest`, or it is closed.
        """
        if not isinstance(request, SubjectRequest):
            msg = f"DueRequest.of() takes a SubjectRequest, got {type(request).__name__}"
            raise ValidationError(msg)
        return cls(
            id=request.id,
            kind=request.kind,
            subject=request.subject,
            status=request.status,
            due_at=request.due_at,
            extended=request.extended,
        )


def stored_due(  # noqa: PLR0917 - positional: one call per row of the queue
    id: str,  # noqa: A002 - the field's name
    kind: RequestKind,
    subject: str,
    status: RequestStatus,
    due_at: datetime,
    extended: bool,  # noqa: FBT001 - positional for speed; internal, one caller per store
) -> DueRequest:
    """A :class:`DueRequest` rebuilt from a row its store wrote (internal, not exported).

    Like :func:`stored_request`: the store decodes each field to its type (members looked
    up, the subject's id as stored, ``due_at`` aware and in UTC, ``extended`` a bool: a
    ``1`` would be taken for ``True``); here the id's form and the rules between the
    fields are checked again, in one test, so that a row changed outside avgkit into a
    contradiction is still refused. Whatever that test does not pass goes through the
    class itself, which raises its own error. Equal, field for field, to
    ``DueRequest(...)`` with the same arguments (``tests/test_dsar_values.py`` holds it to
    that).

    Raises:
        ValidationError: the id is malformed or the fields contradict each other.
    """
    if (status, extended) not in _DUE_STATES or not _REQUEST_ID.match(id):
        return DueRequest(
            id=id, kind=kind, subject=subject, status=status, due_at=due_at, extended=extended
        )
    made: Any = DueRequestDraft()
    made.id = id
    made.kind = kind
    made.subject = subject
    made.status = status
    made.due_at = due_at
    made.extended = extended
    made.__class__ = DueRequest
    return made  # type: ignore[no-any-return]
