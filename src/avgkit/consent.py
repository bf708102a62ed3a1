"""The consent ledger: opt-ins, withdrawals and objections per subject and purpose, with evidence.

Ticket buyers tick separate boxes per purpose (newsletter, loyalty programme, sharing with the
artist). The venue must know exactly who consented to what on which day, stop using an address
the moment consent is withdrawn, and show visitors their own history. The ledger is
append-only: every act is a :class:`ConsentEvent` carrying its :class:`Evidence` (channel,
privacy-notice version, SHA-256 of the exact wording shown, who acted), and every answer is
computed from the events:

* :meth:`ConsentLedger.state` — the :class:`ConsentState` of one subject and purpose at any
  instant (``at=`` a past instant gives the state then);
* :meth:`ConsentLedger.may_process` — a :class:`Decision` combining the inventory's lawful
  basis with the ledger: contract, legal-obligation and vital-interest purposes are allowed,
  consent purposes need live, unexpired consent, legitimate-interest and public-task purposes
  need the absence of an objection (Art. 21);
* :meth:`ConsentLedger.audience` — the subjects who may be mailed for a consent purpose,
  computed inside the storage adapter and streamed;
* :meth:`ConsentLedger.import_events` — a migration from a CRM or an older ticket system,
  atomic per call.

:func:`replay` is the pure reference semantics the adapters are tested against.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from avgkit import _validate
from avgkit.errors import AvgkitError, NotPermitted, PolicyError, ValidationError
from avgkit.inventory import LawfulBasis, Purpose
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from avgkit._render import Lang
    from avgkit.audit import AuditLog
    from avgkit.clock import Clock
    from avgkit.consent_records import ConsentReport
    from avgkit.inventory import Inventory
    from avgkit.storage import ConsentStore

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_MINOR_AGE",
    "Actor",
    "Channel",
    "ConsentAction",
    "ConsentEvent",
    "ConsentLedger",
    "ConsentState",
    "ConsentStatus",
    "Decision",
    "DecisionCode",
    "Evidence",
    "LatestEvents",
    "age_on",
    "hash_wording",
    "replay",
]

DEFAULT_MINOR_AGE: Final = 16
"""The Art. 8(1) age below which a parent or guardian must consent (16 in the Netherlands).

.. versionadded:: 0.1.0
"""

DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far in the future an event may be dated before the ledger refuses it.

.. versionadded:: 0.1.0
"""

_SHA256_HEX: Final = re.compile(r"\A[0-9a-f]{64}\Z")
_MIN_ART8_AGE: Final = 13
_MAX_MINOR_AGE: Final = 18
_NOTICE_MAX: Final = 100
_E = TypeVar("_E", bound=enum.StrEnum)
_ORDER_REF_MAX: Final = 128


# --------------------------------------------------------------------------- vocabularies


class ConsentAction(enum.StrEnum):
    """What a :class:`ConsentEvent` records.

    ``GIVEN`` and ``WITHDRAWN`` form the consent track of a purpose (only for purposes whose
    basis is consent); ``OBJECTED`` and ``OBJECTION_LIFTED`` the objection track (Art. 21:
    legitimate-interest, public-task and direct-marketing purposes).

    .. versionadded:: 0.1.0
    """

    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    OBJECTED = "objected"
    OBJECTION_LIFTED = "objection_lifted"

    @property
    def is_consent(self) -> bool:
        """Whether this action belongs to the consent track (given or withdrawn)."""
        return self in {ConsentAction.GIVEN, ConsentAction.WITHDRAWN}

    @property
    def audit_action(self) -> str:
        """The audit-log action recorded for it, e.g. ``"consent.given"``."""
        return f"consent.{self.value}"


class Channel(enum.StrEnum):
    """Where the subject acted.

    .. versionadded:: 0.1.0
    """

    WEBSHOP = "webshop"
    """The online ticket shop or "my account" page."""
    BOX_OFFICE = "box_office"
    """At the counter, entered by staff."""
    IMPORT = "import"
    """Migrated from a CRM or an older ticket system (:meth:`ConsentLedger.import_events`)."""
    API = "api"
    """Through the host's API (an app, a partner integration)."""
    EMAIL_LINK = "email_link"
    """A link in an e-mail: a double opt-in confirmation or an unsubscribe link."""


class Actor(enum.StrEnum):
    """Who performed the act recorded in the evidence.

    .. versionadded:: 0.1.0
    """

    SUBJECT = "subject"
    """The data subject themself."""
    GUARDIAN = "guardian"
    """A parent or guardian, for a minor (Art. 8(1))."""
    STAFF = "staff"
    """A member of staff on the subject's behalf (e.g. at the box office)."""


class ConsentStatus(enum.StrEnum):
    """The consent track of one subject and purpose at an instant.

    .. versionadded:: 0.1.0
    """

    NEVER_GIVEN = "never_given"
    """No consent was given up to the instant (a withdrawal may still have been recorded)."""
    GIVEN = "given"
    """Consent is live: given, not withdrawn, not expired."""
    WITHDRAWN = "withdrawn"
    """Consent was given and later withdrawn."""
    EXPIRED = "expired"
    """Consent was given with an expiry that has passed."""


class DecisionCode(enum.StrEnum):
    """Why :meth:`ConsentLedger.may_process` decided as it did (stable, machine-readable).

    .. versionadded:: 0.1.0
    """

    BASIS_WITHOUT_CONSENT = "basis_without_consent"
    """Contract, legal obligation or vital interests: no consent or objection involved."""
    CONSENT_GIVEN = "consent_given"
    CONSENT_NEVER_GIVEN = "consent_never_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    NO_OBJECTION = "no_objection"
    """Legitimate interests or public task, and the subject has not objected."""
    OBJECTED = "objected"
    """The subject objected (Art. 21); for direct marketing or profiling that is absolute."""


# --------------------------------------------------------------------------- values


def hash_wording(text: str) -> str:
    """Return the SHA-256 (64 lower-case hex) of the exact wording shown, encoded as UTF-8.

    Hash the text exactly as displayed (after template rendering); store the texts
    themselves in the host, keyed by notice version, so the hash can be checked later.

    .. versionadded:: 0.1.0
    """
    if not isinstance(text, str) or not text:
        msg = "hash_wording() takes the non-empty text that was shown to the subject"
        raise ValidationError(msg)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _member(kind: type[_E], value: object, what: str) -> _E:
    if isinstance(value, kind):
        return value
    allowed = [member.value for member in kind]
    if not isinstance(value, str):
        msg = f"{what} must be one of {allowed}, got {type(value).__name__}"
        raise ValidationError(msg)
    try:
        return kind(value)
    except ValueError:
        msg = f"{what} {_validate.shown(value)} is not one of {allowed}"
        raise ValidationError(msg) from None


def _to_channel(value: object) -> Channel:
    return _member(Channel, value, "evidence channel")


def _to_actor(value: object) -> Actor:
    return _member(Actor, value, "evidence actor")


def _to_kind(value: object) -> ConsentAction:
    return _member(ConsentAction, value, "consent kind")


def _to_confirmed_at(value: object) -> datetime | None:
    return None if value is None else _validate.aware(value, "confirmed_at")


def _to_expires_at(value: object) -> datetime | None:
    return None if value is None else _validate.aware(value, "expires_at")


def _to_at(value: object) -> datetime:
    return _validate.aware(value, "at")


def _check_sha256(_instance: object, _attribute: object, value: object) -> None:
    if value == "":
        msg = (
            "evidence is missing wording_sha256: the SHA-256 of the exact wording shown to "
            "the subject; compute it with avgkit.consent.hash_wording(text)"
        )
        raise ValidationError(msg)
    if not isinstance(value, str) or not _SHA256_HEX.match(value):
        msg = "evidence wording_sha256 must be 64 lower-case hex characters (a SHA-256)"
        raise ValidationError(msg)


def _check_notice(_instance: object, _attribute: object, value: object) -> None:
    if value == "":
        msg = (
            "evidence is missing notice_version: the version of the privacy notice in force "
            "when the subject acted, e.g. '2023-11-10'"
        )
        raise ValidationError(msg)
    _validate.text(value, "evidence notice_version", max_length=_NOTICE_MAX)


def _check_order_ref(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None:
        _validate.text(value, "evidence order_ref", max_length=_ORDER_REF_MAX)


@attrs.frozen(kw_only=True)
class Evidence:
    """How a consent event came about: the proof Art. 7(1) asks the controller to keep.

    Args:
        channel: Where the subject acted.
        notice_version: The version of the privacy notice in force (required).
        wording_sha256: SHA-256 of the exact wording shown (required; see
            :func:`hash_wording`).
        actor: Who acted: the subject (default), a guardian for a minor, or staff.
        staff_key: With ``actor=Actor.STAFF``, an optional staff key (``"box_office_3"``),
            never a name.
        order_ref: The host's order reference the consent was collected with, if any.
        confirmed_at: When a double opt-in was confirmed, if it was.
        expires_at: When the consent lapses by itself, if ever.

    Raises:
        ValidationError: A required item is missing or malformed; the message says which.

    .. versionadded:: 0.1.0
    """

    channel: Channel = attrs.field(converter=_to_channel)
    notice_version: str = attrs.field(default="", validator=_check_notice)
    wording_sha256: str = attrs.field(default="", validator=_check_sha256)
    actor: Actor = attrs.field(default=Actor.SUBJECT, converter=_to_actor)
    staff_key: str | None = attrs.field(default=None)
    order_ref: str | None = attrs.field(default=None, repr=False, validator=_check_order_ref)
    confirmed_at: datetime | None = attrs.field(default=None, converter=_to_confirmed_at)
    expires_at: datetime | None = attrs.field(default=None, converter=_to_expires_at)

    @staff_key.validator
    def _check_staff_key(self, _attribute: object, value: object) -> None:
        if value is None:
            return
        if self.actor is not Actor.STAFF:
            msg = (
                f"evidence staff_key is only recorded when staff acted (actor 'staff'), "
                f"not {str(self.actor)!r}"
            )
            raise ValidationError(msg)
        _validate.key(value, "evidence staff")


def _subject(value: object) -> SubjectId:
    return subject_id(value)


def _purpose_key(value: object) -> str:
    return _validate.key(value, "purpose")


def _check_seq(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        msg = "a consent event's seq is a positive integer assigned by the store"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class ConsentEvent:
    """One recorded act: consent given or withdrawn, an objection made or lifted.

    Args:
        subject: The subject's id (never shown in ``repr``).
        purpose: The purpose key.
        kind: What happened.
        at: When it happened (aware; stored in UTC).
        evidence: How it came about.
        seq: The store's sequence number, ``None`` until stored. It orders events with the
            same ``at`` and is not part of equality: an event equals its stored copy.

    Raises:
        ValidationError: A value is malformed; evidence that expires before the event or a
            double opt-in confirmed before it is refused.

    .. versionadded:: 0.1.0
    """

    subject: SubjectId = attrs.field(converter=_subject, repr=False)
    purpose: str = attrs.field(converter=_purpose_key)
    kind: ConsentAction = attrs.field(converter=_to_kind)
    at: datetime = attrs.field(converter=_to_at)
    evidence: Evidence = attrs.field()
    seq: int | None = attrs.field(default=None, eq=False, validator=_check_seq)

    @evidence.validator
    def _check_evidence(self, _attribute: object, value: object) -> None:
        if not isinstance(value, Evidence):
            msg = (
                f"a consent event needs Evidence (channel, notice_version, wording_sha256), "
                f"got {type(value).__name__}"
            )
            raise ValidationError(msg)
        if value.expires_at is not None:
            if self.kind is not ConsentAction.GIVEN:
                msg = f"only given consent can expire; a {self.kind.value!r} event has no expiry"
                raise ValidationError(msg)
            if value.expires_at <= self.at:
                msg = "evidence expires_at must be later than the event's at"
                raise ValidationError(msg)
        if value.confirmed_at is not None and value.confirmed_at < self.at:
            msg = "evidence confirmed_at (double opt-in) cannot be earlier than the event's at"
            raise ValidationError(msg)

    @property
    def day(self) -> date:
        """The UTC calendar day of :attr:`at` (for reports grouped per day)."""
        return self.at.date()


@attrs.frozen(kw_only=True)
class LatestEvents:
    """What a store answers about one subject and purpose at an instant.

    Args:
        consent: The latest given/withdrawn event at or before the instant.
        objection: The latest objected/objection-lifted event at or before the instant.
        ever_given: Whether any consent was given at or before the instant.

    .. versionadded:: 0.1.0
    """

    consent: ConsentEvent | None = None
    objection: ConsentEvent | None = None
    ever_given: bool = False


@attrs.frozen(kw_only=True)
class ConsentState:
    """The state of one subject and purpose at one instant.

    .. versionadded:: 0.1.0
    """

    subject: SubjectId = attrs.field(repr=False)
    purpose: str
    at: datetime
    """The instant the state describes."""
    status: ConsentStatus
    """The consent track: never given, given (live), withdrawn or expired."""
    objected: bool
    """Whether an objection (Art. 21) is in force."""
    consent_event: ConsentEvent | None = None
    """The latest given/withdrawn event at or before :attr:`at`."""
    objection_event: ConsentEvent | None = None
    """The latest objected/objection-lifted event at or before :attr:`at`."""

    @property
    def consent_live(self) -> bool:
        """Whether consent is given, not withdrawn and not expired."""
        return self.status is ConsentStatus.GIVEN

    @property
    def never_given(self) -> bool:
        """Whether no consent was ever given up to :attr:`at`."""
        return self.status is ConsentStatus.NEVER_GIVEN

    @property
    def withdrawn_without_consent(self) -> bool:
        """Whether a withdrawal was recorded although consent was never given before it."""
        return (
            self.status is ConsentStatus.NEVER_GIVEN
            and self.consent_event is not None
            and self.consent_event.kind is ConsentAction.WITHDRAWN
        )

    def describe(self) -> str:
        """A sentence on the state, without personal data (for logs, screens, reasons)."""
        p = repr(self.purpose)
        ev = self.consent_event
        if self.status is ConsentStatus.GIVEN:
            assert ev is not None  # noqa: S101 - GIVEN always has its event
            text = f"consent for {p} given on {_day(ev.at)} via {ev.evidence.channel.value}"
            if ev.evidence.expires_at is not None:
                text += f", valid until {_day(ev.evidence.expires_at)}"
        elif self.status is ConsentStatus.WITHDRAWN:
            assert ev is not None  # noqa: S101
            text = f"consent for {p} was withdrawn on {_day(ev.at)}"
        elif self.status is ConsentStatus.EXPIRED:
            assert ev is not None  # noqa: S101
            assert ev.evidence.expires_at is not None  # noqa: S101
            text = f"consent for {p} expired on {_day(ev.evidence.expires_at)}"
        elif self.withdrawn_without_consent:
            assert ev is not None  # noqa: S101
            text = (
                f"consent for {p} was never given (a withdrawal was recorded on {_day(ev.at)}, "
                "but there was no consent to withdraw)"
            )
        else:
            text = f"consent for {p} was never given"
        if self.objected:
            assert self.objection_event is not None  # noqa: S101
            text += f"; the subject objected on {_day(self.objection_event.at)}"
        return text


def _day(value: datetime) -> str:
    return value.date().isoformat()


@attrs.frozen(kw_only=True)
class Decision:
    """The answer of :meth:`ConsentLedger.may_process`: allowed or not, on which basis, why.

    ``bool(decision)`` is :attr:`allowed`; :meth:`require` raises
    :class:`~avgkit.errors.NotPermitted` with the reason when it is not.

    .. versionadded:: 0.1.0
    """

    allowed: bool
    subject: SubjectId = attrs.field(repr=False)
    purpose: str
    basis: LawfulBasis
    code: DecisionCode
    reason: str
    """A sentence naming the basis and article, without personal data."""
    at: datetime
    state: ConsentState | None = None
    """The ledger state used, for consent, legitimate-interest and public-task purposes."""

    def __bool__(self) -> bool:
        return self.allowed

    def require(self) -> None:
        """Raise :class:`~avgkit.errors.NotPermitted` with :attr:`reason` unless allowed."""
        if not self.allowed:
            raise NotPermitted(self.reason)


# --------------------------------------------------------------------------- semantics


def replay(
    events: Iterable[ConsentEvent],
    *,
    subject: SubjectId | str,
    purpose: str,
    at: datetime,
) -> ConsentState:
    """Compute a state from events, the reference semantics every adapter must match.

    Events of other subjects or purposes and events after ``at`` are ignored. The others are
    applied in order of ``at``; events with the same ``at`` in the order given (the order
    they were recorded). On the consent track the last given/withdrawn event counts; a given
    consent whose ``expires_at`` is at or before ``at`` is expired; a withdrawal with no
    consent before it leaves the status :attr:`ConsentStatus.NEVER_GIVEN`. On the objection
    track the last objected/objection-lifted event counts.

    .. versionadded:: 0.1.0
    """
    sid = subject_id(subject)
    when = _validate.aware(at, "at")
    relevant = sorted(
        (e for e in events if e.subject == sid and e.purpose == purpose and e.at <= when),
        key=lambda e: e.at,
    )
    latest = LatestEvents()
    for event in relevant:
        if event.kind.is_consent:
            latest = attrs.evolve(
                latest,
                consent=event,
                ever_given=latest.ever_given or event.kind is ConsentAction.GIVEN,
            )
        else:
            latest = attrs.evolve(latest, objection=event)
    return state_from(latest, subject=sid, purpose=purpose, at=when)


def state_from(
    latest: LatestEvents, *, subject: SubjectId, purpose: str, at: datetime
) -> ConsentState:
    """Turn a store's :class:`LatestEvents` into a :class:`ConsentState` at ``at``.

    .. versionadded:: 0.1.0
    """
    consent = latest.consent
    if consent is None or not latest.ever_given:
        status = ConsentStatus.NEVER_GIVEN
    elif consent.kind is ConsentAction.WITHDRAWN:
        status = ConsentStatus.WITHDRAWN
    elif consent.evidence.expires_at is not None and consent.evidence.expires_at <= at:
        status = ConsentStatus.EXPIRED
    else:
        status = ConsentStatus.GIVEN
    objection = latest.objection
    return ConsentState(
        subject=subject,
        purpose=purpose,
        at=at,
        status=status,
        objected=objection is not None and objection.kind is ConsentAction.OBJECTED,
        consent_event=consent,
        objection_event=objection,
    )


def age_on(birth_date: date, day: date) -> int:
    """Return the age in whole years of someone born on ``birth_date`` on ``day``.

    .. versionadded:: 0.1.0
    """
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def _objection_absolute(purpose: Purpose) -> bool:
    # Art. 21(2)-(3): an objection to direct marketing, including profiling for it, must be
    # honoured without weighing. The inventory marks profiling separately; the ledger treats
    # an objection to a profiling purpose as absolute as well.
    return purpose.direct_marketing or purpose.profiling


# --------------------------------------------------------------------------- the service


class ConsentLedger:
    """The append-only consent ledger of one installation.

    Args:
        store: Where events are kept (``kit.stores.consent``).
        inventory: The declared purposes and their lawful bases.
        clock: The source of "now".
        audit: The audit log every event is recorded in.
        minor_age: The Art. 8(1) age (13 to 18; 16 by default, as in the Netherlands) below
            which consent must be given by a parent or guardian.
        clock_skew: How far in the future an event may be dated (5 minutes by default).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        store: ConsentStore,
        inventory: Inventory,
        clock: Clock,
        audit: AuditLog,
        *,
        minor_age: int = DEFAULT_MINOR_AGE,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    ) -> None:
        if (
            not isinstance(minor_age, int)
            or isinstance(minor_age, bool)
            or not _MIN_ART8_AGE <= minor_age <= _MAX_MINOR_AGE
        ):
            msg = (
                f"minor_age must be a whole number of years from {_MIN_ART8_AGE} to "
                f"{_MAX_MINOR_AGE} (Art. 8(1) GDPR allows 13 to 16; 16 in the Netherlands)"
            )
            raise ValidationError(msg)
        if not isinstance(clock_skew, timedelta) or clock_skew < timedelta(0):
            msg = "clock_skew must be a non-negative timedelta, e.g. timedelta(minutes=5)"
            raise ValidationError(msg)
        self._store = store
        self._inventory = inventory
        self._clock = clock
        self._audit = audit
        self.minor_age = minor_age
        self.clock_skew = clock_skew

    def __repr__(self) -> str:
        return f"ConsentLedger(store={self._store!r}, minor_age={self.minor_age})"

    # ------------------------------------------------------------------ recording

    def give(
        self,
        subject: SubjectId | str,
        purpose: str,
        evidence: Evidence,
        *,
        at: datetime | None = None,
        age: int | None = None,
        birth_date: date | None = None,
    ) -> ConsentEvent:
        """Record that consent for ``purpose`` was given, and return the stored event.

        Pass ``age`` (in years, on the day of the event) or ``birth_date`` when the host
        knows it; neither is stored. A subject younger than :attr:`minor_age` needs
        ``evidence.actor`` to be :attr:`Actor.GUARDIAN` (Art. 8(1)).

        Raises:
            PolicyError: ``purpose`` is undeclared or its basis is not consent.
            NotPermitted: A minor consented without a parent or guardian acting.
            ValidationError: A malformed value, a naive datetime, or an event dated beyond
                the clock-skew allowance in the future.
        """
        event = self._event(subject, purpose, ConsentAction.GIVEN, evidence, at)
        self._check_minor(event, age, birth_date)
        return self._record(event)

    def withdraw(
        self,
        subject: SubjectId | str,
        purpose: str,
        evidence: Evidence,
        *,
        at: datetime | None = None,
    ) -> ConsentEvent:
        """Record that consent for ``purpose`` was withdrawn, and return the stored event.

        A withdrawal of consent that was never given is recorded all the same (the subject
        said so, and that is evidence); :meth:`state` then reports
        :attr:`ConsentStatus.NEVER_GIVEN` with
        :attr:`ConsentState.withdrawn_without_consent` set, and the audit entry says
        ``never_given``.

        Raises:
            PolicyError: ``purpose`` is undeclared or its basis is not consent.
            ValidationError: As for :meth:`give`.
        """
        event = self._event(subject, purpose, ConsentAction.WITHDRAWN, evidence, at)
        return self._record(event)

    def object(
        self,
        subject: SubjectId | str,
        purpose: str,
        evidence: Evidence,
        *,
        at: datetime | None = None,
    ) -> ConsentEvent:
        """Record an objection (Art. 21) to ``purpose``, and return the stored event.

        Objection is possible for legitimate-interest and public-task purposes and for any
        direct-marketing purpose. For direct marketing or profiling it is absolute; otherwise
        :meth:`may_process` still refuses, with a reason saying the controller must
        demonstrate compelling legitimate grounds (Art. 21(1)) before going on.

        Raises:
            PolicyError: ``purpose`` is undeclared or allows no objection.
            ValidationError: As for :meth:`give`.
        """
        event = self._event(subject, purpose, ConsentAction.OBJECTED, evidence, at)
        return self._record(event)

    def lift_objection(
        self,
        subject: SubjectId | str,
        purpose: str,
        evidence: Evidence,
        *,
        at: datetime | None = None,
    ) -> ConsentEvent:
        """Record that the subject withdrew an objection to ``purpose``.

        Raises:
            PolicyError: ``purpose`` is undeclared or allows no objection.
            ValidationError: As for :meth:`give`.
        """
        event = self._event(subject, purpose, ConsentAction.OBJECTION_LIFTED, evidence, at)
        return self._record(event)

    def import_events(self, events: Iterable[ConsentEvent]) -> int:
        """Store historic events (a migration) in one atomic batch; return how many.

        Every event must carry ``Channel.IMPORT`` evidence and pass the same checks as
        :meth:`give` and friends (declared purpose of the right basis, not in the future).
        The batch is stored completely or not at all. It writes one ``consent.imported``
        audit entry (count, purposes), not one per event.

        Raises:
            AvgkitError: The subclass of the first bad event's error, its message starting
                with ``"event N of the batch"`` (0-based) and holding no personal data.
                Nothing is stored then.
        """
        batch = list(events)
        limit = self._clock.now() + self.clock_skew
        checked: set[tuple[str, ConsentAction]] = set()  # (purpose, kind) pairs known good
        for index, event in enumerate(batch):
            try:
                if not isinstance(event, ConsentEvent):
                    msg = f"expected a ConsentEvent, got {type(event).__name__}"
                    raise ValidationError(msg)
                if event.evidence.channel is not Channel.IMPORT:
                    msg = (
                        f"imported events carry Channel.IMPORT evidence, not "
                        f"{event.evidence.channel.value!r}"
                    )
                    raise ValidationError(msg)
                pair = (event.purpose, event.kind)
                if pair not in checked:
                    self._check_kind(self._inventory.purpose(event.purpose), event.kind)
                    checked.add(pair)
                if event.at > limit:
                    self._check_not_future(event.at, limit)
                confirmed = event.evidence.confirmed_at
                if confirmed is not None and confirmed > limit:  # as give() checks it
                    self._check_not_future(confirmed, limit, what="confirmed_at")
            except AvgkitError as exc:
                raise type(exc)(f"event {index} of the batch: {exc}") from exc
        purposes = {purpose for purpose, _kind in checked}
        if not batch:
            return 0
        with self._audit.atomic():  # the batch and its audit entry, together
            stored = self._store.append_many(batch)
            self._audit.record(
                "consent.imported",
                details={
                    "channel": Channel.IMPORT.value,
                    "events": stored,
                    "purposes": ",".join(sorted(purposes)),
                },
            )
        return stored

    # ------------------------------------------------------------------ answering

    def state(
        self, subject: SubjectId | str, purpose: str, at: datetime | None = None
    ) -> ConsentState:
        """The state of ``subject`` for ``purpose`` now, or at the past instant ``at``.

        Raises:
            PolicyError: ``purpose`` is not declared.
            ValidationError: ``subject`` or ``at`` is malformed (naive, for instance).
        """
        sid = subject_id(subject)
        self._inventory.purpose(purpose)
        when = self._instant(at)
        latest = self._store.latest(sid, purpose, when)
        return state_from(latest, subject=sid, purpose=purpose, at=when)

    def history(self, subject: SubjectId | str) -> tuple[ConsentEvent, ...]:
        """Every event of ``subject``, oldest first (ties in recording order), with evidence."""
        return tuple(self._store.history(subject_id(subject)))

    def events(
        self,
        *,
        since: datetime,
        until: datetime,
        purpose: str | None = None,
    ) -> Iterator[ConsentEvent]:
        """Stream the events with ``since <= at < until``, oldest first (for reports).

        Raises:
            PolicyError: ``purpose`` is given and not declared.
            ValidationError: ``since`` or ``until`` is naive, or ``until`` is before ``since``.
        """
        start = _validate.aware(since, "since")
        end = _validate.aware(until, "until")
        if end < start:
            msg = "until must not be earlier than since"
            raise ValidationError(msg)
        if purpose is not None:
            self._inventory.purpose(purpose)
        return self._store.events(since=start, until=end, purpose=purpose)

    def may_process(
        self, subject: SubjectId | str, purpose: str, at: datetime | None = None
    ) -> Decision:
        """Whether ``subject``'s data may be processed for ``purpose`` now (or at ``at``).

        Raises:
            PolicyError: ``purpose`` is not declared.
            ValidationError: ``subject`` or ``at`` is malformed.
        """
        sid = subject_id(subject)
        declared = self._inventory.purpose(purpose)
        when = self._instant(at)
        basis = declared.basis
        article = f"{basis.label('en')} ({basis.article})"

        def decide(
            allowed: bool,  # noqa: FBT001 - a local helper, called positionally below
            code: DecisionCode,
            reason: str,
            state: ConsentState | None,
        ) -> Decision:
            return Decision(
                allowed=allowed,
                subject=sid,
                purpose=purpose,
                basis=basis,
                code=code,
                reason=reason,
                at=when,
                state=state,
            )

        if basis in {
            LawfulBasis.CONTRACT,
            LawfulBasis.LEGAL_OBLIGATION,
            LawfulBasis.VITAL_INTERESTS,
        }:
            return decide(
                True,  # noqa: FBT003
                DecisionCode.BASIS_WITHOUT_CONSENT,
                f"allowed: purpose {purpose!r} rests on {article}, which needs no consent",
                None,
            )
        state = self.state(sid, purpose, when)
        if state.objected:
            assert state.objection_event is not None  # noqa: S101
            on = _day(state.objection_event.at)
            if _objection_absolute(declared):
                why = (
                    f"not allowed: the subject objected to {purpose!r} on {on}; an objection to "
                    "direct marketing or profiling is absolute (Art. 21(3) GDPR)"
                )
            else:
                why = (
                    f"not allowed: the subject objected to {purpose!r} on {on} (Art. 21(1) "
                    "GDPR); processing must stop unless the controller demonstrates compelling "
                    "legitimate grounds that override the subject's interests"
                )
            return decide(False, DecisionCode.OBJECTED, why, state)  # noqa: FBT003
        if declared.needs_consent:
            codes = {
                ConsentStatus.GIVEN: DecisionCode.CONSENT_GIVEN,
                ConsentStatus.NEVER_GIVEN: DecisionCode.CONSENT_NEVER_GIVEN,
                ConsentStatus.WITHDRAWN: DecisionCode.CONSENT_WITHDRAWN,
                ConsentStatus.EXPIRED: DecisionCode.CONSENT_EXPIRED,
            }
            allowed = state.consent_live
            verdict = "allowed" if allowed else "not allowed"
            why = f"{verdict}: purpose {purpose!r} rests on {article}; {state.describe()}"
            return decide(allowed, codes[state.status], why, state)
        return decide(
            True,  # noqa: FBT003
            DecisionCode.NO_OBJECTION,
            f"allowed: purpose {purpose!r} rests on {article} and the subject has not "
            "objected (Art. 21)",
            state,
        )

    def audience(self, purpose: str, at: datetime | None = None) -> Iterator[SubjectId]:
        """Stream the subjects with live consent for ``purpose`` (and no objection to it).

        The set is computed inside the storage adapter (one SQL statement in SQLite and
        PostgreSQL), never by a Python loop over subjects, and streamed in bounded memory.
        The order is unspecified.

        Raises:
            PolicyError: ``purpose`` is undeclared, or its basis is not consent: the ledger
                only knows who opted in or objected, so for a legitimate-interest or
                public-task purpose the audience is the host's own subjects minus
                :meth:`objectors`, and for contract purposes the host's customers.
        """
        declared = self._inventory.purpose(purpose)
        if not declared.needs_consent:
            msg = (
                f"purpose {purpose!r} rests on {declared.basis.value!r} "
                f"({declared.basis.article}), not consent, so the ledger cannot list its "
                "audience; select the host's own subjects and leave out "
                "ledger.objectors(purpose)"
            )
            raise PolicyError(msg)
        return self._store.audience(purpose, self._instant(at))

    def objectors(self, purpose: str, at: datetime | None = None) -> Iterator[SubjectId]:
        """Stream the subjects with an objection to ``purpose`` in force (set-based, streamed).

        Raises:
            PolicyError: ``purpose`` is undeclared or allows no objection.
        """
        declared = self._inventory.purpose(purpose)
        self._check_kind(declared, ConsentAction.OBJECTED)
        return self._store.objectors(purpose, self._instant(at))

    # ------------------------------------------------------------------ internals

    def report(
        self, *, since: datetime, until: datetime, purpose: str | None = None
    ) -> ConsentReport:
        """Who consented to what on which day, ``since <= at < until``, per purpose and UTC day.

        The result renders as CSV and printable HTML; see
        :class:`avgkit.consent_records.ConsentReport`.

        Raises:
            ValidationError: ``since`` or ``until`` is naive, or ``until`` is before ``since``.
            PolicyError: ``purpose`` is undeclared or rests on a basis without consent or
                objection.

        .. versionadded:: 0.1.0
        """
        from avgkit.consent_records import ConsentReport  # noqa: PLC0415 - it imports this module

        return ConsentReport.build(self, self._inventory, since=since, until=until, purpose=purpose)

    def kantara_receipts(
        self, subject: SubjectId | str, *, policy_url: str, lang: Lang = "en", phone: str = ""
    ) -> list[dict[str, Any]]:
        """``subject``'s consents as Kantara Consent Receipts v1.1, one per consent given.

        See :func:`avgkit.consent_records.kantara_receipts`.

        .. versionadded:: 0.1.0
        """
        from avgkit.consent_records import kantara_receipts  # noqa: PLC0415 - it imports this module

        return kantara_receipts(
            self, self._inventory, subject, policy_url=policy_url, lang=lang, phone=phone
        )

    def iso27560_records(
        self, subject: SubjectId | str, *, at: datetime | None = None, lang: Lang = "en"
    ) -> list[dict[str, Any]]:
        """``subject``'s consent records in the ISO/IEC TS 27560 shape, with DPV IRIs.

        See :func:`avgkit.consent_records.iso27560_records`.

        .. versionadded:: 0.1.0
        """
        from avgkit.consent_records import iso27560_records  # noqa: PLC0415 - it imports this module

        return iso27560_records(self, self._inventory, subject, at=at, lang=lang)

    def _instant(self, at: datetime | None) -> datetime:
        return self._clock.now() if at is None else _validate.aware(at, "at")

    def _event(
        self,
        subject: SubjectId | str,
        purpose: str,
        kind: ConsentAction,
        evidence: Evidence,
        at: datetime | None,
    ) -> ConsentEvent:
        declared = self._inventory.purpose(purpose)
        self._check_kind(declared, kind)
        now = self._clock.now()
        event = ConsentEvent(
            subject=subject,
            purpose=purpose,
            kind=kind,
            at=now if at is None else at,
            evidence=evidence,
        )
        limit = now + self.clock_skew
        self._check_not_future(event.at, limit)
        if event.evidence.confirmed_at is not None:
            self._check_not_future(event.evidence.confirmed_at, limit, what="confirmed_at")
        return event

    @staticmethod
    def _check_kind(purpose: Purpose, kind: ConsentAction) -> None:
        basis = f"{purpose.basis.value!r} ({purpose.basis.article})"
        if kind.is_consent and not purpose.needs_consent:
            msg = (
                f"consent can only be given or withdrawn for purposes whose basis is consent; "
                f"purpose {purpose.key!r} rests on {basis}"
            )
            raise PolicyError(msg)
        if not kind.is_consent and not purpose.objection_allowed:
            msg = (
                f"an objection (Art. 21) is only possible to legitimate-interest, public-task "
                f"or direct-marketing purposes; purpose {purpose.key!r} rests on {basis}"
            )
            raise PolicyError(msg)

    def _check_not_future(self, when: datetime, limit: datetime, *, what: str = "at") -> None:
        if when > limit:
            msg = (
                f"the event's {what} ({when.isoformat()}) lies in the future beyond the "
                f"clock-skew allowance of {self.clock_skew}; record events when they happen"
            )
            raise ValidationError(msg)

    def _check_minor(self, event: ConsentEvent, age: int | None, birth_date: date | None) -> None:
        if age is not None and birth_date is not None:
            msg = "pass either age or birth_date, not both"
            raise ValidationError(msg)
        if birth_date is not None:
            if not isinstance(birth_date, date) or isinstance(birth_date, datetime):
                msg = f"birth_date must be a date, got {type(birth_date).__name__}"
                raise ValidationError(msg)
            age = age_on(birth_date, event.at.date())
        if age is None:
            return
        if not isinstance(age, int) or isinstance(age, bool) or age < 0:
            msg = "age must be a non-negative whole number of years"
            raise ValidationError(msg)
        if age < self.minor_age and event.evidence.actor is not Actor.GUARDIAN:
            msg = (
                f"consent for {event.purpose!r} refused: the subject is younger than "
                f"{self.minor_age}, so a parent or guardian must give it (Art. 8(1) GDPR); "
                "record it with Evidence(actor=Actor.GUARDIAN, ...)"
            )
            raise NotPermitted(msg)

    def _record(self, event: ConsentEvent) -> ConsentEvent:
        # The event and its audit entry are stored together or not at all.
        with self._audit.atomic():
            never_given = False
            if event.kind is ConsentAction.WITHDRAWN:
                never_given = not self._store.latest(
                    event.subject, event.purpose, event.at
                ).ever_given
            stored = self._store.append(event)
            details: dict[str, str | int | bool | None] = {
                "purpose": event.purpose,
                "channel": event.evidence.channel.value,
                "notice_version": event.evidence.notice_version,
                "actor": event.evidence.actor.value,
            }
            if never_given:
                details["never_given"] = True
            self._audit.record(
                event.kind.audit_action,
                subject=event.subject,
                actor=event.evidence.staff_key or event.evidence.actor.value,
                details=details,
                at=self._clock.now(),
            )
        return stored
