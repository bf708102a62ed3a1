"""Consent values and their meaning: evidence, events, states, decisions, and replay.

Pure: no I/O, nothing above the values layer. :func:`replay` is the reference semantics
the storage adapters are tested against.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Final

import attrs

from avgkit import _validators
from avgkit._validators import (
    member,
    opt,
    to_utc,
    v_aware,
    v_instance,
    v_key,
    v_sha256,
    v_text,
    v_whole,
)
from avgkit.consent._vocab import Actor, Channel, ConsentAction, ConsentStatus, DecisionCode
from avgkit.errors import NotPermitted, ValidationError
from avgkit.inventory._values import Purpose
from avgkit.inventory._vocab import LawfulBasis
from avgkit.subjects import SubjectId, subject_id

_NOTICE_MAX: Final = 100
_ORDER_REF_MAX: Final = 128
REFERENCE_PREFIX: Final = "sr1:"
"""How every pseudonymous subject reference starts (see :func:`subject_reference`)."""
_REFERENCE: Final = re.compile(r"\Asr1:[0-9a-f]{32}\Z")
_NO_LEDGER_BASES: Final = frozenset(
    {LawfulBasis.CONTRACT, LawfulBasis.LEGAL_OBLIGATION, LawfulBasis.VITAL_INTERESTS}
)


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


def _to_channel(value: object) -> Channel:
    return member(Channel, value, "Evidence.channel")


def _to_actor(value: object) -> Actor:
    return member(Actor, value, "Evidence.actor")


def _to_kind(value: object) -> ConsentAction:
    return member(ConsentAction, value, "ConsentEvent.kind")


def _check_sha256(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value == "":
        msg = (
            "evidence is missing wording_sha256: the SHA-256 of the exact wording shown to "
            "the subject; compute it with avgkit.consent.hash_wording(text)"
        )
        raise ValidationError(msg)
    v_sha256(instance, attribute, value)


_v_notice: Final = v_text(_NOTICE_MAX)


def _check_notice(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value == "":
        msg = (
            "evidence is missing notice_version: the version of the privacy notice in force "
            "when the subject acted, e.g. '2023-11-10'"
        )
        raise ValidationError(msg)
    _v_notice(instance, attribute, value)


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
    order_ref: str | None = attrs.field(
        default=None, repr=False, validator=opt(v_text(_ORDER_REF_MAX))
    )
    confirmed_at: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    expires_at: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )

    @staff_key.validator
    def _check_staff_key(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None:
            return
        if self.actor is not Actor.STAFF:
            msg = (
                f"evidence staff_key is only recorded when staff acted (actor 'staff'), "
                f"not {str(self.actor)!r}"
            )
            raise ValidationError(msg)
        v_key(self, attribute, value)

    @classmethod
    def from_wording(
        cls,
        wording: str,
        *,
        channel: Channel | str,
        notice_version: str,
        actor: Actor | str = Actor.SUBJECT,
        staff_key: str | None = None,
        order_ref: str | None = None,
        confirmed_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> Evidence:
        """Evidence for the exact ``wording`` shown, hashed here (see :func:`hash_wording`).

        The checkout passes the text it rendered next to the checkbox::

            evidence = Evidence.from_wording(
                "Ja, stuur mij de nieuwsbrief.", channel="webshop", notice_version="2024-05"
            )

        Only the hash is kept; keep the texts themselves by notice version in the host.

        Raises:
            ValidationError: ``wording`` is empty or not text, or another item is malformed.

        .. versionadded:: 0.2.0
        """
        return cls(
            channel=channel,
            notice_version=notice_version,
            wording_sha256=hash_wording(wording),
            actor=actor,
            staff_key=staff_key,
            order_ref=order_ref,
            confirmed_at=confirmed_at,
            expires_at=expires_at,
        )


def _subject(value: object) -> SubjectId:
    return subject_id(value)


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
    purpose: str = attrs.field(validator=v_key)
    kind: ConsentAction = attrs.field(converter=_to_kind)
    at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    evidence: Evidence = attrs.field(
        validator=v_instance(Evidence, "Evidence (channel, notice_version, wording_sha256)")
    )
    seq: int | None = attrs.field(default=None, eq=False, validator=opt(v_whole(minimum=1)))

    @evidence.validator
    def _check_evidence(self, _attribute: object, value: Evidence) -> None:
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
    when = _validators.aware(at, "at")
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


def consults_ledger(purpose: Purpose) -> bool:
    """Whether a decision for ``purpose`` depends on the ledger (consent or objection).

    Contract, legal obligation and vital interests need neither consent nor the absence of an
    objection; every other basis does.

    .. versionadded:: 0.2.0
    """
    return purpose.basis not in _NO_LEDGER_BASES


def decide(
    declared: Purpose, state: ConsentState | None, *, subject: SubjectId, at: datetime
) -> Decision:
    """The decision for one subject and a declared purpose, given its consent state.

    Pure: ``state`` is the subject's :class:`ConsentState` at ``at`` (``None`` is allowed only
    when :func:`consults_ledger` is false for the purpose). This is the one place that says
    how the inventory's lawful basis and the ledger combine into a :class:`Decision`.

    .. versionadded:: 0.2.0
    """
    sid = subject
    when = at
    basis = declared.basis
    article = f"{basis.label('en')} ({basis.article})"

    def made(
        allowed: bool,  # noqa: FBT001 - a local helper, called positionally below
        code: DecisionCode,
        reason: str,
        found: ConsentState | None,
    ) -> Decision:
        return Decision(
            allowed=allowed,
            subject=sid,
            purpose=declared.key,
            basis=basis,
            code=code,
            reason=reason,
            at=when,
            state=found,
        )

    if not consults_ledger(declared):
        return made(
            True,  # noqa: FBT003
            DecisionCode.BASIS_WITHOUT_CONSENT,
            f"allowed: purpose {declared.key!r} rests on {article}, which needs no consent",
            None,
        )
    if state is None:
        msg = f"purpose {declared.key!r} rests on a basis that needs the subject's consent state"
        raise ValidationError(msg)
    if state.objected:
        assert state.objection_event is not None  # noqa: S101
        on = _day(state.objection_event.at)
        if _objection_absolute(declared):
            why = (
                f"not allowed: the subject objected to {declared.key!r} on {on}; an objection to "
                "direct marketing or profiling is absolute (Art. 21(3) GDPR)"
            )
        else:
            why = (
                f"not allowed: the subject objected to {declared.key!r} on {on} (Art. 21(1) "
                "GDPR); processing must stop unless the controller demonstrates compelling "
                "legitimate grounds that override the subject's interests"
            )
        return made(False, DecisionCode.OBJECTED, why, state)  # noqa: FBT003
    if declared.needs_consent:
        codes = {
            ConsentStatus.GIVEN: DecisionCode.CONSENT_GIVEN,
            ConsentStatus.NEVER_GIVEN: DecisionCode.CONSENT_NEVER_GIVEN,
            ConsentStatus.WITHDRAWN: DecisionCode.CONSENT_WITHDRAWN,
            ConsentStatus.EXPIRED: DecisionCode.CONSENT_EXPIRED,
        }
        allowed = state.consent_live
        verdict = "allowed" if allowed else "not allowed"
        why = f"{verdict}: purpose {declared.key!r} rests on {article}; {state.describe()}"
        return made(allowed, codes[state.status], why, state)
    return made(
        True,  # noqa: FBT003
        DecisionCode.NO_OBJECTION,
        f"allowed: purpose {declared.key!r} rests on {article} and the subject has not "
        "objected (Art. 21)",
        state,
    )


def check_batch(events: object) -> Sequence[ConsentEvent]:
    """Return ``events`` if it is a sequence of :class:`ConsentEvent`, else refuse all of it.

    Stores call it before writing a batch, so a bad item stores nothing and the caller gets a
    :class:`~avgkit.errors.ValidationError` naming the item's position, never a driver error.

    .. versionadded:: 0.2.0
    """
    if not isinstance(events, Sequence) or isinstance(events, str | bytes):
        msg = f"a batch of consent events is a list or tuple, got {type(events).__name__}"
        raise ValidationError(msg)
    for index, event in enumerate(events):
        if not isinstance(event, ConsentEvent):
            msg = f"item {index} of the batch is a {type(event).__name__}, not a ConsentEvent"
            raise ValidationError(msg)
    return events


def subject_reference(value: object) -> SubjectId:
    """Return ``value`` if it is a pseudonymous subject reference, else refuse it.

    A reference is what :meth:`avgkit.audit.AuditLog.subject_ref` returns: ``"sr1:"`` and 32
    lower-case hex characters. Erased subjects' consent events are kept under it.

    Raises:
        ValidationError: ``value`` is anything else; the message describes it only by type
            and length (it may be a raw subject id passed in the wrong place).

    .. versionadded:: 0.2.0
    """
    if not isinstance(value, str) or not _REFERENCE.match(value):
        # Not shown(), which quotes key-like text: a raw subject id ("cust-1042") passed in
        # the wrong place is key-like, and must not reach a log line.
        got = f"a {len(value)}-character string" if isinstance(value, str) else type(value).__name__
        msg = (
            "a subject reference must be 'sr1:' and 32 lower-case hex characters, as "
            f"AuditLog.subject_ref() returns; got {got}"
        )
        raise ValidationError(msg)
    return SubjectId(value)


def check_forget(subject: object, reference: object) -> tuple[SubjectId, SubjectId]:
    """Return the arguments of :meth:`ConsentStore.forget() <avgkit.storage.ConsentStore.forget>`.

    Stores call it before writing: ``subject`` must be a subject id that is not itself a
    reference (no id starting with ``"sr1:"``: the stores' triggers tell raw ids and
    references apart by that prefix), and ``reference`` a :func:`subject_reference`.

    Raises:
        ValidationError: either is malformed; neither value is repeated in the message.

    .. versionadded:: 0.2.0
    """
    sid = subject_id(subject)
    if sid.startswith(REFERENCE_PREFIX):
        msg = (
            "forget() takes the host's raw subject id and its reference; the subject given "
            "already starts with 'sr1:', like a reference (were its events re-keyed already?)"
        )
        raise ValidationError(msg)
    return sid, subject_reference(reference)
