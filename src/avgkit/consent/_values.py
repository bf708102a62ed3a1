"""Consent values and their meaning: evidence, events, states, decisions, and replay.

Pure: no I/O, nothing above the values layer. :func:`replay` is the reference semantics
the storage adapters are tested against.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
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
from avgkit.consent._vocab import (
    Actor,
    Channel,
    ConsentAction,
    ConsentStatus,
    DecisionCode,
    Presentation,
)
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
    _validators.encodable(text, "the wording")  # a lone surrogate has no UTF-8 form
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _to_channel(value: object) -> Channel:
    return member(Channel, value, "Evidence.channel")


def _to_actor(value: object) -> Actor:
    return member(Actor, value, "Evidence.actor")


def _to_presentation(value: object) -> Presentation | None:
    return None if value is None else member(Presentation, value, "Evidence.presentation")


def _to_confirmed_via(value: object) -> Channel | None:
    return None if value is None else member(Channel, value, "Evidence.confirmed_via")


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
        presentation: How the question was put (an empty box the subject ticked, a button,
            staff asking); a pre-ticked box is refused as consent (Planet49).
        requested_at: With a double opt-in, when the subject asked (ticked the box); the
            event itself is dated at the confirmation, when the consent became live.
        confirmed_via: With a double opt-in, the channel of the confirmation (usually
            :attr:`Channel.EMAIL_LINK`).

    Raises:
        ValidationError: A required item is missing or malformed; the message says which.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``presentation``, ``requested_at`` and ``confirmed_via``.
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
    presentation: Presentation | None = attrs.field(default=None, converter=_to_presentation)
    requested_at: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    confirmed_via: Channel | None = attrs.field(default=None, converter=_to_confirmed_via)

    @confirmed_via.validator
    def _check_confirmed_via(self, _attribute: object, value: Channel | None) -> None:
        if (value is None) != (self.confirmed_at is None) and value is not None:
            msg = "evidence confirmed_via names the channel of a confirmation: set confirmed_at too"
            raise ValidationError(msg)
        if self.requested_at is not None and self.confirmed_at is None:
            msg = (
                "evidence requested_at belongs to a double opt-in: set confirmed_at (when it "
                "was confirmed) too"
            )
            raise ValidationError(msg)
        if (
            self.requested_at is not None
            and self.confirmed_at is not None
            and self.requested_at > self.confirmed_at
        ):
            msg = "evidence requested_at (double opt-in) cannot be later than confirmed_at"
            raise ValidationError(msg)

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
        presentation: Presentation | str | None = None,
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
            presentation=presentation,
        )

    @property
    def refused_as_consent(self) -> bool:
        """Whether this evidence can never record consent (a pre-ticked box, Planet49)."""
        return self.presentation is not None and not self.presentation.is_active_act


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
        if value.requested_at is not None and value.requested_at > self.at:
            msg = "evidence requested_at (double opt-in) cannot be later than the event's at"
            raise ValidationError(msg)

    @property
    def day(self) -> date:
        """The UTC calendar day of :attr:`at` (for reports grouped per day)."""
        return self.at.date()


class ConfirmationError(ValidationError):
    """A double opt-in confirmation was refused: the token is unknown, expired or used.

    The message says which (an unknown token and a forged one read alike, on purpose) and
    never repeats the token. :attr:`reason` says which. Nothing was written.

    Attributes:
        reason: ``"unknown"``, ``"expired"``, ``"used"`` or ``"withdrawn"`` (consent was
            withdrawn after the request).

    .. versionadded:: 0.2.0
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


_SELECTOR: Final = re.compile(r"\A[A-Za-z0-9_-]{16}\Z")
_VERIFIER: Final = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")


def new_token() -> tuple[str, str, str]:
    """A fresh confirmation token: ``(token, selector, sha256 of the verifier)``.

    The token is ``"<selector>.<verifier>"``: the selector (12 random bytes) finds the
    pending consent, the verifier (32 random bytes, from :mod:`secrets`) proves the holder
    received the e-mail. Only the verifier's SHA-256 is stored.

    .. versionadded:: 0.2.0
    """
    selector = secrets.token_urlsafe(12)
    verifier = secrets.token_urlsafe(32)
    return f"{selector}.{verifier}", selector, verifier_hash(verifier)


def verifier_hash(verifier: str) -> str:
    """The SHA-256 (hex) of a token's verifier, as stored."""
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def split_token(token: object) -> tuple[str, str]:
    """``(selector, verifier)`` of a confirmation token, or :class:`ConfirmationError`.

    .. versionadded:: 0.2.0
    """
    if isinstance(token, str) and token.count(".") == 1:
        selector, verifier = token.split(".")
        if _SELECTOR.match(selector) and _VERIFIER.match(verifier):
            return selector, verifier
    msg = (
        "the confirmation token is not one avgkit issued (it is malformed); ask the subject "
        "to give consent again so that a new confirmation link is sent"
    )
    raise ConfirmationError(msg, "unknown")


def token_matches(pending_hash: str, verifier: str) -> bool:
    """Whether ``verifier`` hashes to the stored hash, compared in constant time."""
    return hmac.compare_digest(pending_hash, verifier_hash(verifier))


@attrs.frozen(kw_only=True)
class PendingConsent:
    """A consent asked for with a double opt-in and not confirmed yet: not consent.

    :meth:`ConsentLedger.give <avgkit.consent.ConsentLedger.give>` returns it for a purpose
    whose :attr:`~avgkit.inventory.Purpose.confirmation` is set; send :attr:`token` to the
    subject (the link in the e-mail) and pass it to :meth:`ConsentLedger.confirm
    <avgkit.consent.ConsentLedger.confirm>`. Stores keep it without the token.

    .. versionadded:: 0.2.0
    """

    selector: str
    """The token's public half: how the store finds this request."""
    verifier_sha256: str = attrs.field(repr=False, validator=v_sha256)
    subject: SubjectId = attrs.field(converter=_subject, repr=False)
    purpose: str = attrs.field(validator=v_key)
    requested_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    """When the subject asked (ticked the box)."""
    expires_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    """When the token stops working."""
    evidence: Evidence = attrs.field(validator=v_instance(Evidence))
    """The evidence of the request: channel, notice, wording, presentation."""
    settled_at: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    """When the token was used (``None`` while open)."""
    token: str | None = attrs.field(default=None, repr=False, eq=False)
    """The token to send, only on the value :meth:`ConsentLedger.give` returns."""

    @expires_at.validator
    def _check_expiry(self, _attribute: object, value: datetime) -> None:
        if value <= self.requested_at:
            msg = "a pending consent's token must expire after the request"
            raise ValidationError(msg)

    def open_at(self, at: datetime) -> bool:
        """Whether the token can still be used at ``at`` (requested, unused, unexpired)."""
        return self.requested_at <= at < self.expires_at and (
            self.settled_at is None or self.settled_at > at
        )


def _v_staff(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    v_key(instance, attribute, value)


@attrs.frozen(kw_only=True)
class CompellingGrounds:
    """Compelling legitimate grounds that override a subject's objection (Art. 21(1)).

    Recorded by :meth:`ConsentLedger.record_grounds
    <avgkit.consent.ConsentLedger.record_grounds>`, never for direct marketing or profiling
    (Art. 21(3)). They answer the objection in force when they were recorded: a later,
    new objection needs new grounds.

    .. versionadded:: 0.2.0
    """

    subject: SubjectId = attrs.field(converter=_subject, repr=False)
    purpose: str = attrs.field(validator=v_key)
    at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    """When the controller decided."""
    reason: str = attrs.field(repr=False, validator=v_text(2000))
    """Why the grounds override the subject's interests (shown in the decision's reason:
    write it without personal data)."""
    decided_by: str = attrs.field(validator=_v_staff)
    """The key of who decided (``"dpo"``, ``"legal_1"``), never a name."""
    until: datetime | None = attrs.field(default=None, converter=to_utc, validator=opt(v_aware))
    """When the grounds stop applying, if they are limited in time."""
    seq: int | None = attrs.field(default=None, eq=False, validator=opt(v_whole(minimum=1)))

    @until.validator
    def _check_until(self, _attribute: object, value: datetime | None) -> None:
        if value is not None and value <= self.at:
            msg = "compelling grounds' until must be later than their at"
            raise ValidationError(msg)

    def answer(self, objection: ConsentEvent, at: datetime) -> bool:
        """Whether these grounds override ``objection`` at ``at``."""
        return (
            objection.at <= self.at <= at
            and objection.subject == self.subject
            and objection.purpose == self.purpose
            and (self.until is None or at < self.until)
        )


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
    pending: PendingConsent | None = None
    """With a double opt-in: a request awaiting confirmation at :attr:`at`, while consent
    is not live (the ledger fills it in; :func:`replay` leaves it ``None``).

    .. versionadded:: 0.2.0
    """
    grounds: CompellingGrounds | None = None
    """Compelling legitimate grounds overriding the objection in force (Art. 21(1)).

    .. versionadded:: 0.2.0
    """

    @property
    def awaiting_confirmation(self) -> bool:
        """Whether a double opt-in awaits confirmation and consent is not live meanwhile."""
        return self.pending is not None and not self.consent_live

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
        if self.awaiting_confirmation:
            assert self.pending is not None  # noqa: S101
            text += (
                f"; a double opt-in requested on {_day(self.pending.requested_at)} awaits "
                "confirmation, and a pending consent is not consent"
            )
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
            grounds = state.grounds
            if grounds is not None and grounds.answer(state.objection_event, when):
                why = (
                    f"allowed: the subject objected to {declared.key!r} on {on}, but the "
                    f"controller recorded compelling legitimate grounds on {_day(grounds.at)} "
                    f"(decided by {grounds.decided_by}) that override it (Art. 21(1) GDPR): "
                    f"{grounds.reason}"
                )
                return made(True, DecisionCode.COMPELLING_GROUNDS, why, state)  # noqa: FBT003
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
        code = DecisionCode.CONSENT_PENDING if state.awaiting_confirmation else codes[state.status]
        return made(allowed, code, why, state)
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
