"""The consent ledger service: records events with their audit entries, answers from the store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from avgkit import _validators
from avgkit.consent._options import DEFAULT_CLOCK_SKEW, DEFAULT_MINOR_AGE, ConsentOptions
from avgkit.consent._records import ConsentReport, iso27560_records, kantara_receipts
from avgkit.consent._values import (
    ConsentEvent,
    ConsentState,
    Decision,
    Evidence,
    age_on,
    consults_ledger,
    decide,
    state_from,
)
from avgkit.consent._vocab import Actor, Channel, ConsentAction
from avgkit.errors import AvgkitError, NotPermitted, PolicyError, ValidationError
from avgkit.feed._values import FeedKind, FeedNotice
from avgkit.inventory import Purpose
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from avgkit._render import Lang
    from avgkit.audit import AuditLog
    from avgkit.clock import Clock
    from avgkit.inventory import Inventory
    from avgkit.storage import ConsentStore, FeedStore


# --------------------------------------------------------------------------- the service

_FEED_KINDS: dict[ConsentAction, FeedKind] = {
    ConsentAction.GIVEN: FeedKind.CONSENT_GIVEN,
    ConsentAction.WITHDRAWN: FeedKind.CONSENT_WITHDRAWN,
    ConsentAction.OBJECTED: FeedKind.OBJECTION,
    ConsentAction.OBJECTION_LIFTED: FeedKind.OBJECTION_LIFTED,
}


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
        feed: The outbox for downstream recipients: each event is told to the recipients of
            its purpose in the same unit of work (``kit.feed``); ``None`` tells nobody.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``feed``.
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
        feed: FeedStore | None = None,
    ) -> None:
        self._feed = feed
        self.options = ConsentOptions(minor_age=minor_age, clock_skew=clock_skew)
        self._store = store
        self._inventory = inventory
        self._clock = clock
        self._audit = audit
        self.minor_age = self.options.minor_age
        self.clock_skew = self.options.clock_skew

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
        self, subject: SubjectId | str, purpose: str, *, at: datetime | None = None
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
        start = _validators.aware(since, "since")
        end = _validators.aware(until, "until")
        if end < start:
            msg = "until must not be earlier than since"
            raise ValidationError(msg)
        if purpose is not None:
            self._inventory.purpose(purpose)
        return self._store.events(since=start, until=end, purpose=purpose)

    def may_process(
        self, subject: SubjectId | str, purpose: str, *, at: datetime | None = None
    ) -> Decision:
        """Whether ``subject``'s data may be processed for ``purpose`` now (or at ``at``).

        Raises:
            PolicyError: ``purpose`` is not declared.
            ValidationError: ``subject`` or ``at`` is malformed.
        """
        sid = subject_id(subject)
        declared = self._inventory.purpose(purpose)
        when = self._instant(at)
        state = self.state(sid, purpose, at=when) if consults_ledger(declared) else None
        return decide(declared, state, subject=sid, at=when)

    def audience(self, purpose: str, *, at: datetime | None = None) -> Iterator[SubjectId]:
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

    def objectors(self, purpose: str, *, at: datetime | None = None) -> Iterator[SubjectId]:
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
        return ConsentReport.build(self, self._inventory, since=since, until=until, purpose=purpose)

    def kantara_receipts(
        self, subject: SubjectId | str, *, policy_url: str, lang: Lang = "en", phone: str = ""
    ) -> list[dict[str, Any]]:
        """``subject``'s consents as Kantara Consent Receipts v1.1, one per consent given.

        See :func:`avgkit.consent_records.kantara_receipts`.

        .. versionadded:: 0.1.0
        """
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
        return iso27560_records(self, self._inventory, subject, at=at, lang=lang)

    def _instant(self, at: datetime | None) -> datetime:
        return self._clock.now() if at is None else _validators.aware(at, "at")

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
            self._tell_recipients(stored)
        return stored

    def _tell_recipients(self, event: ConsentEvent) -> None:
        # Art. 7(3) and 19: a recipient that received data under consent (an artist, the
        # CRM) must stop when it is withdrawn; the notice commits with the event.
        if self._feed is None:
            return
        recipients = self._inventory.purpose(event.purpose).recipients
        if not recipients:
            return
        kind = _FEED_KINDS[event.kind]
        ref = self._audit.subject_ref(event.subject)
        self._feed.append(
            [
                FeedNotice(
                    seq=0,
                    recipient=recipient,
                    kind=kind,
                    subject_ref=ref,
                    subject=event.subject,
                    purpose=event.purpose,
                    at=event.at,
                )
                for recipient in recipients
            ]
        )
