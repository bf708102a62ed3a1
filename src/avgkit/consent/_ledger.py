"""The consent ledger service: records events with their audit entries, answers from the store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from avgkit import _validators
from avgkit.audit import BoundRecord
from avgkit.consent._bound import CONSENT_EVENT, consent_bound
from avgkit.consent._options import ConsentOptions
from avgkit.consent._records import ConsentReport, iso27560_records, kantara_receipts
from avgkit.consent._registry import WordingRegistry
from avgkit.consent._values import (
    CompellingGrounds,
    ConfirmationError,
    ConsentEvent,
    ConsentState,
    Decision,
    Evidence,
    PendingConsent,
    age_on,
    consults_ledger,
    decide,
    hash_wording,
    new_token,
    split_token,
    state_from,
    token_matches,
    verifier_hash,
)
from avgkit.consent._vocab import Actor, Channel, ConsentAction
from avgkit.consent._wordings import WordingIndex
from avgkit.errors import AvgkitError, NotPermitted, PolicyError, StorageError, ValidationError
from avgkit.feed._values import FeedKind, FeedNotice
from avgkit.inventory import Purpose
from avgkit.storage import (
    AppendedEvents,
    BoundStore,
    ConfirmationStore,
    GroundsStore,
    WordingStore,
)
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from avgkit._render import Lang
    from avgkit.audit import AuditLog
    from avgkit.clock import Clock
    from avgkit.inventory import Inventory
    from avgkit.storage import ConsentStore, FeedStore

# Compared with a pending consent's hash when the selector is unknown, so that an unknown
# token costs the same comparison as a wrong one.
_NO_HASH = verifier_hash("0" * 43)


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
        minor_age: The Art. 8(1) age (13 to 18) below which consent must be given by a
            parent or guardian; by default the age of the controller's country.
        clock_skew: How far in the future an event may be dated (5 minutes by default).
        feed: The outbox for downstream recipients: each event is told to the recipients of
            its purpose in the same unit of work (``kit.feed``); ``None`` tells nobody.
        options: The ledger's settings (:class:`ConsentOptions`); ``minor_age`` and
            ``clock_skew`` given as well override theirs.

    The double opt-in, the wording registry and compelling grounds need a store that also
    implements :class:`~avgkit.storage.ConfirmationStore`,
    :class:`~avgkit.storage.WordingStore` and :class:`~avgkit.storage.GroundsStore` (the
    memory, SQLite and PostgreSQL stores do).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``feed``.
    .. versionchanged:: 0.2.0
       ``options``; the Art. 8 age defaults to the controller's country's.
    """

    def __init__(
        self,
        store: ConsentStore,
        inventory: Inventory,
        clock: Clock,
        audit: AuditLog,
        *,
        minor_age: int | None = None,
        clock_skew: timedelta | None = None,
        feed: FeedStore | None = None,
        options: ConsentOptions | None = None,
    ) -> None:
        self._feed = feed
        chosen = ConsentOptions() if options is None else options
        if not isinstance(chosen, ConsentOptions):
            msg = f"options= takes a ConsentOptions, got {type(chosen).__name__}"
            raise ValidationError(msg)
        if minor_age is not None:
            chosen = attrs.evolve(chosen, minor_age=minor_age)
        if clock_skew is not None:
            chosen = attrs.evolve(chosen, clock_skew=clock_skew)
        self.options = chosen
        self._store = store
        self._inventory = inventory
        self._clock = clock
        self._audit = audit
        # Each stored event is bound to its audit entry, so verify() finds an edited,
        # deleted or planted event row (a store that cannot bind is left as it is).
        self._binds = isinstance(store, BoundStore)
        if self._binds:
            audit.bind_store(CONSENT_EVENT, store)  # type: ignore[arg-type]
        self.jurisdiction = inventory.jurisdiction(chosen.country)
        """The default jurisdiction (the controller's country unless ``options.country``)."""
        self.minor_age = (
            self.jurisdiction.minor_age if chosen.minor_age is None else chosen.minor_age
        )
        self.clock_skew = chosen.clock_skew
        self._wordings = (
            WordingRegistry(store, inventory, clock, audit)
            if isinstance(store, WordingStore)
            else None
        )

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
        country: str | None = None,
        sale_channel: str | None = None,
    ) -> ConsentEvent | PendingConsent:
        """Record that consent for ``purpose`` was given, and return the stored event.

        For a purpose with :attr:`~avgkit.inventory.Purpose.confirmation` (double opt-in)
        nothing is consent yet: a :class:`PendingConsent` is recorded and returned, with a
        single-use :attr:`~PendingConsent.token` to send to the subject; :meth:`confirm`
        makes the consent live at the instant of the confirmation.

        Pass ``age`` (in years, on the day of the event) or ``birth_date`` when the host
        knows it; neither is stored. A subject younger than the Art. 8(1) age needs
        ``evidence.actor`` to be :attr:`Actor.GUARDIAN`. The age is that of ``country``
        (the subject's, for a venue in two countries), else of the ``sale_channel`` (or the
        evidence's channel) in ``ConsentOptions.channel_countries``, else :attr:`minor_age`.

        Raises:
            PolicyError: ``purpose`` is undeclared or its basis is not consent.
            NotPermitted: A minor consented without a parent or guardian acting, or the
                evidence says the box was pre-ticked (not consent: CJEU Planet49).
            ValidationError: A malformed value, a naive datetime, an event dated beyond
                the clock-skew allowance in the future, or (strict wordings) a wording or
                notice that is not registered and in force.
            StorageError: The purpose needs a double opt-in and the store keeps no pending
                consents.

        .. versionchanged:: 0.2.0
           ``country`` and ``sale_channel``; double opt-in; refuses a pre-ticked box.
        """
        event = self._event(subject, purpose, ConsentAction.GIVEN, evidence, at)
        self._check_active(event)
        self._check_minor(event, age, birth_date, self._age_for(event, country, sale_channel))
        if self.options.strict_wordings:
            self.wordings.check(purpose, event.evidence, event.at)
        if self._inventory.purpose(purpose).confirmation:
            return self._request(event)
        return self._record(event)

    def confirm(
        self,
        token: str,
        *,
        channel: Channel | str = Channel.EMAIL_LINK,
        at: datetime | None = None,
    ) -> ConsentEvent:
        """Confirm a double opt-in with the token :meth:`give` handed out; return the consent.

        The consent is live from the confirmation's instant (``at``, now by default): the
        stored event is dated then, and its evidence keeps the request's (channel, notice,
        wording, presentation) with ``requested_at``, ``confirmed_at`` and
        ``confirmed_via``. The token works once.

        Raises:
            ConfirmationError: the token is malformed, unknown (or forged), used already,
                expired, or consent was withdrawn after the request; nothing is written.
            PolicyError: the request's purpose is no longer declared (or not consent).
            StorageError: the store keeps no pending consents.

        .. versionadded:: 0.2.0
        """
        selector, verifier = split_token(token)
        confirmations = self._confirmations()
        now = self._clock.now()
        when = now if at is None else _validators.aware(at, "at")
        self._check_not_future(when, now + self.clock_skew)
        found = confirmations.pending(selector)
        if not token_matches(_NO_HASH if found is None else found.verifier_sha256, verifier):
            found = None
        if found is None:
            msg = (
                "the confirmation token is unknown: it was never issued, or it was erased; "
                "ask the subject to give consent again so that a new link is sent"
            )
            raise ConfirmationError(msg, "unknown")
        if found.settled_at is not None:
            msg = "the confirmation link was used already; the consent it confirmed stands"
            raise ConfirmationError(msg, "used")
        if when >= found.expires_at:
            msg = (
                f"the confirmation link expired on {found.expires_at.isoformat()}; ask the "
                "subject to give consent again so that a new link is sent"
            )
            raise ConfirmationError(msg, "expired")
        if when < found.requested_at:
            msg = "a confirmation cannot be dated before the request it confirms"
            raise ValidationError(msg)
        declared = self._inventory.purpose(found.purpose)
        self._check_kind(declared, ConsentAction.GIVEN)
        latest = self._store.latest(found.subject, found.purpose, when).consent
        if (
            latest is not None
            and latest.kind is ConsentAction.WITHDRAWN
            and latest.at >= found.requested_at
        ):
            msg = (
                "consent was withdrawn after this confirmation link was sent; the withdrawal "
                "counts from the instant it was recorded, so the link no longer confirms"
            )
            raise ConfirmationError(msg, "withdrawn")
        evidence = attrs.evolve(
            found.evidence,
            requested_at=found.requested_at,
            confirmed_at=when,
            confirmed_via=_validators.member(Channel, channel, "channel"),
        )
        event = ConsentEvent(
            subject=found.subject,
            purpose=found.purpose,
            kind=ConsentAction.GIVEN,
            at=when,
            evidence=evidence,
        )
        with self._audit.atomic():  # the token is used up only if the consent is stored
            if not confirmations.settle_pending(selector, when):
                msg = "the confirmation link was used already; the consent it confirmed stands"
                raise ConfirmationError(msg, "used")
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
                if event.kind is ConsentAction.GIVEN:
                    self._check_active(event)
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
                bound=self._bound_batch(stored),
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
        declared = self._inventory.purpose(purpose)
        when = self._instant(at)
        latest = self._store.latest(sid, purpose, when)
        state = state_from(latest, subject=sid, purpose=purpose, at=when)
        # Only the rare states read more: a double opt-in not live, an objection that
        # compelling grounds may override.
        store = self._store
        if (
            declared.confirmation
            and not state.consent_live
            and isinstance(store, ConfirmationStore)
        ):
            pending = store.open_pending(sid, purpose, when)
            before = state.consent_event
            if pending is not None and (before is None or before.at < pending.requested_at):
                state = attrs.evolve(state, pending=pending)
        if (
            state.objected
            and not (declared.direct_marketing or declared.profiling)
            and isinstance(store, GroundsStore)
        ):
            grounds = store.grounds(sid, purpose, when)
            objection = state.objection_event
            if grounds is not None and objection is not None and grounds.answer(objection, when):
                state = attrs.evolve(state, grounds=grounds)
        return state

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

    def audience(
        self, purpose: str, *, at: datetime | None = None, current_wordings: bool = False
    ) -> Iterator[SubjectId]:
        """Stream the subjects with live consent for ``purpose`` (and no objection to it).

        The set is computed inside the storage adapter (one statement on PostgreSQL; on
        SQLite one ordered pass over the purpose index, each row's verdict computed by the
        database), never by a query per subject, and streamed in bounded memory.
        The order is unspecified. A double opt-in counts from its confirmation: pending
        consents are not in the audience. ``current_wordings=True`` leaves out consents
        given under a wording version that was withdrawn (see :attr:`wordings`).

        .. versionchanged:: 0.2.0
           ``current_wordings``.

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
        when = self._instant(at)
        if current_wordings:
            return self._wording_store().current_audience(purpose, when)
        return self._store.audience(purpose, when)

    def to_renew(self, purpose: str, *, at: datetime | None = None) -> Iterator[SubjectId]:
        """Stream the subjects with live consent for ``purpose`` to ask again (set-based).

        Those whose consent was given under a withdrawn wording, or, once a version
        registered with ``renewal=True`` took effect, under an older version.

        Raises:
            PolicyError: ``purpose`` is undeclared or not based on consent.
            StorageError: the store keeps no wording registry.

        .. versionadded:: 0.2.0
        """
        declared = self._inventory.purpose(purpose)
        self._check_kind(declared, ConsentAction.GIVEN)
        return self._wording_store().to_renew(purpose, self._instant(at))

    def record_grounds(
        self,
        subject: SubjectId | str,
        purpose: str,
        *,
        reason: str,
        decided_by: str,
        at: datetime | None = None,
        until: datetime | None = None,
    ) -> CompellingGrounds:
        """Record compelling legitimate grounds that override ``subject``'s objection.

        Art. 21(1): after an objection to a legitimate-interest or public-task purpose,
        processing may go on only if the controller demonstrates compelling legitimate
        grounds that override the subject's interests, rights and freedoms. The grounds,
        with ``reason`` and who decided (a staff key), are stored and audited (the audit
        entry holds the reason's SHA-256, not its text); :meth:`may_process` then allows,
        with :attr:`DecisionCode.COMPELLING_GROUNDS` and the reason, until ``until`` or a
        new objection.

        Raises:
            PolicyError: ``purpose`` is undeclared, is direct marketing or profiling (the
                objection is absolute, Art. 21(3)), or allows no objection at all.
            ValidationError: the subject has no objection in force to ``purpose``, or a
                value is malformed; nothing is written.
            StorageError: the store keeps no grounds.

        .. versionadded:: 0.2.0
        """
        sid = subject_id(subject)
        declared = self._inventory.purpose(purpose)
        if declared.direct_marketing or declared.profiling:
            what = "direct marketing" if declared.direct_marketing else "profiling"
            msg = (
                f"purpose {purpose!r} is {what}: an objection to it is absolute (Art. 21(3) "
                "GDPR) and no grounds can override it; stop the processing"
            )
            raise PolicyError(msg)
        self._check_kind(declared, ConsentAction.OBJECTED)
        store = self._store
        if not isinstance(store, GroundsStore):
            msg = "this consent store keeps no compelling grounds; use memory, SQLite or PostgreSQL"
            raise StorageError(msg)
        now = self._clock.now()
        when = now if at is None else _validators.aware(at, "at")
        self._check_not_future(when, now + self.clock_skew)
        grounds = CompellingGrounds(
            subject=sid,
            purpose=purpose,
            at=when,
            reason=reason,
            decided_by=decided_by,
            until=until,
        )
        objection = self._store.latest(sid, purpose, when).objection
        if objection is None or objection.kind is not ConsentAction.OBJECTED:
            msg = (
                f"the subject has no objection to {purpose!r} in force at {when.isoformat()}: "
                "there is nothing for compelling grounds to override"
            )
            raise ValidationError(msg)
        with self._audit.atomic():
            stored = store.add_grounds(grounds)
            self._audit.record(
                "consent.grounds_recorded",
                subject=sid,
                actor=grounds.decided_by,
                details={
                    "purpose": purpose,
                    "reason_sha256": hash_wording(grounds.reason),
                    "until": None if grounds.until is None else grounds.until.isoformat(),
                },
                at=now,
            )
        return stored

    @property
    def wordings(self) -> WordingRegistry:
        """The wording registry: privacy-notice versions and checkbox wordings per language.

        Raises:
            StorageError: the store keeps no wording registry.

        .. versionadded:: 0.2.0
        """
        if self._wordings is None:
            msg = "this consent store keeps no wording registry; use memory, SQLite or PostgreSQL"
            raise StorageError(msg)
        return self._wordings

    def _wording_store(self) -> WordingStore:
        store = self._store
        if not isinstance(store, WordingStore):
            msg = "this consent store keeps no wording registry; use memory, SQLite or PostgreSQL"
            raise StorageError(msg)
        return store

    def _confirmations(self) -> ConfirmationStore:
        store = self._store
        if not isinstance(store, ConfirmationStore):
            msg = (
                "this consent store keeps no pending consents, so a double opt-in cannot be "
                "recorded; use memory, SQLite or PostgreSQL"
            )
            raise StorageError(msg)
        return store

    def wording_index(self) -> WordingIndex | None:
        """The wording registry's contents, or ``None`` when the store keeps none.

        .. versionadded:: 0.2.0
        """
        return None if self._wordings is None else self._wordings.index()

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
        return ConsentReport.build(
            self,
            self._inventory,
            since=since,
            until=until,
            purpose=purpose,
            wordings=self.wording_index(),
        )

    def kantara_receipts(
        self, subject: SubjectId | str, *, policy_url: str, lang: Lang = "en", phone: str = ""
    ) -> list[dict[str, Any]]:
        """``subject``'s consents as Kantara Consent Receipts v1.1, one per consent given.

        See :func:`avgkit.consent_records.kantara_receipts`.

        .. versionadded:: 0.1.0
        """
        return kantara_receipts(
            self,
            self._inventory,
            subject,
            policy_url=policy_url,
            lang=lang,
            phone=phone,
            wordings=self.wording_index(),
        )

    def iso27560_records(
        self, subject: SubjectId | str, *, at: datetime | None = None, lang: Lang = "en"
    ) -> list[dict[str, Any]]:
        """``subject``'s consent records in the ISO/IEC TS 27560 shape, with DPV IRIs.

        See :func:`avgkit.consent_records.iso27560_records`.

        .. versionadded:: 0.1.0
        """
        return iso27560_records(
            self, self._inventory, subject, at=at, lang=lang, wordings=self.wording_index()
        )

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

    def _age_for(
        self, event: ConsentEvent, country: str | None, sale_channel: str | None
    ) -> tuple[int, str | None]:
        """The Art. 8 age for ``event`` and the country it came from (``None``: the default)."""
        chosen = country
        if chosen is None:
            channels = self.options.channel_countries
            if sale_channel is not None:
                if sale_channel not in channels:
                    msg = (
                        f"sale channel {sale_channel!r} has no country in "
                        f"ConsentOptions.channel_countries (known: {sorted(channels)})"
                    )
                    raise ValidationError(msg)
                chosen = channels[sale_channel]
            else:
                chosen = channels.get(event.evidence.channel.value)
        if chosen is None:
            return self.minor_age, None
        return self._inventory.jurisdiction(chosen).minor_age, chosen

    def _check_minor(
        self,
        event: ConsentEvent,
        age: int | None,
        birth_date: date | None,
        rule: tuple[int, str | None],
    ) -> None:
        minor_age, country = rule
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
        if age < minor_age and event.evidence.actor is not Actor.GUARDIAN:
            where = "" if country is None else f" in {country}"
            msg = (
                f"consent for {event.purpose!r} refused: the subject is younger than "
                f"{minor_age}{where}, so a parent or guardian must give it (Art. 8(1) GDPR); "
                "record it with Evidence(actor=Actor.GUARDIAN, ...)"
            )
            raise NotPermitted(msg)

    @staticmethod
    def _check_active(event: ConsentEvent) -> None:
        if event.evidence.refused_as_consent:
            msg = (
                f"consent for {event.purpose!r} refused: the evidence says the box was "
                "pre-ticked, and a pre-ticked box is not consent (Art. 4(11) GDPR, CJEU "
                "C-673/17 Planet49); show an empty box the subject ticks"
            )
            raise NotPermitted(msg)

    def _request(self, event: ConsentEvent) -> PendingConsent:
        # A double opt-in: the request and its audit entry, no consent event yet.
        confirmations = self._confirmations()
        if event.evidence.confirmed_at is not None:
            msg = (
                f"purpose {event.purpose!r} needs a double opt-in: give() records the request "
                "and confirm(token) its confirmation; leave confirmed_at unset"
            )
            raise ValidationError(msg)
        token, selector, verifier = new_token()
        now = self._clock.now()
        pending = PendingConsent(
            selector=selector,
            verifier_sha256=verifier,
            subject=event.subject,
            purpose=event.purpose,
            requested_at=event.at,
            expires_at=max(now, event.at) + self.options.confirmation_expiry,
            evidence=event.evidence,
            token=token,
        )
        with self._audit.atomic():
            confirmations.add_pending(pending)
            self._audit.record(
                "consent.requested",
                subject=event.subject,
                actor=event.evidence.staff_key or event.evidence.actor.value,
                details={
                    "purpose": event.purpose,
                    "channel": event.evidence.channel.value,
                    "notice_version": event.evidence.notice_version,
                    "actor": event.evidence.actor.value,
                    "expires_at": pending.expires_at.isoformat(),
                },
                at=now,
            )
        return pending

    def _bound_batch(self, count: int) -> list[BoundRecord]:
        # The imported events as stored (seqs set), bound to the import's one audit entry.
        if not self._binds:
            return []
        if not isinstance(self._store, AppendedEvents):
            msg = (
                "this consent store binds its events to the audit chain but cannot give back "
                "an imported batch (AppendedEvents); nothing was imported"
            )
            raise StorageError(msg)
        return [consent_bound(event) for event in self._store.appended(count)]

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
            if event.evidence.confirmed_via is not None:
                details["confirmed_via"] = event.evidence.confirmed_via.value
            entry = self._audit.record(
                event.kind.audit_action,
                subject=event.subject,
                actor=event.evidence.staff_key or event.evidence.actor.value,
                details=details,
                at=self._clock.now(),
                bound=[consent_bound(stored)] if self._binds else (),
            )
            self._tell_recipients(stored, entry.subject_ref)
        return stored

    def _tell_recipients(self, event: ConsentEvent, ref: str | None = None) -> None:
        # Art. 7(3) and 19: a recipient that received data under consent (an artist, the
        # CRM) must stop when it is withdrawn; the notice commits with the event. ``ref``:
        # the subject's reference when the caller has it (its audit entry's) already.
        if self._feed is None:
            return
        recipients = self._inventory.purpose(event.purpose).recipients
        if not recipients:
            return
        kind = _FEED_KINDS[event.kind]
        if ref is None:
            ref = self._audit.subject_ref(event.subject)
        # Built from checked parts (the stored event, the inventory's recipient keys, the
        # subject's reference, a kind that names a purpose and no fields): not re-checked.
        self._feed.append(
            [
                _validators.trusted(
                    FeedNotice,
                    seq=0,
                    recipient=recipient,
                    kind=kind,
                    subject_ref=ref,
                    subject=event.subject,
                    purpose=event.purpose,
                    at=event.at,
                    fields=(),
                )
                for recipient in recipients
            ]
        )
