"""The breach register service: records versions with their audit entries, deadlines, reports."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from avgkit import _validators
from avgkit._render import Lang
from avgkit.breach._assess import assess
from avgkit.breach._options import BreachOptions
from avgkit.breach._reports import BreachDocument, BreachRegisterReport
from avgkit.breach._values import (
    DEFAULT_LARGE_VOLUME,
    FACT_NAMES,
    MAX_NOTE,
    PROCESSOR_NOTICE_DEADLINE,
    PROCESSOR_ROLES,
    Assessment,
    Breach,
    BreachDecision,
    BreachFacts,
    BreachStatus,
    BreachUpdate,
)
from avgkit.errors import NotFound, PolicyError, ValidationError
from avgkit.storage import BoundStore
from avgkit.storage._bound import BREACH_VERSION, breach_bound

if TYPE_CHECKING:
    from avgkit.audit import AuditLog, BoundRecord
    from avgkit.clock import Clock
    from avgkit.host import HostData
    from avgkit.inventory import Inventory
    from avgkit.storage import BreachStore
    from avgkit.subjects import SubjectId


# --------------------------------------------------------------------------- service


class BreachRegister:
    """Records breaches, tracks their deadlines, proposes and records decisions, renders.

    Args:
        store: Where breach versions are kept.
        inventory: The controller's inventory; breach categories must be among its
            :attr:`~avgkit.inventory.Inventory.categories`, processors among its recipients.
        clock: The source of time.
        audit: Every change is recorded here (``breach.recorded``, ``breach.updated``,
            ``breach.decided``, ``breach.processor_notified``, ``breach.authority_notified``,
            ``breach.authority_reference_added``, ``breach.subjects_notified``); details hold
            no personal data.
        processor_notice: The processors' default term to notify (36 hours).
        processor_notice_by_recipient: Terms agreed with particular processors, by the
            inventory key of the recipient (e.g. ``{"mail_platform": timedelta(hours=24)}``);
            each must be a processor or sub-processor.
        large_volume: From how many people the assessment counts a breach as large.

    Each version's digest goes into its audit entry, and a store that can keep the binding
    (a :class:`~avgkit.storage.BoundStore`, as the built-in ones are) is reconciled with the
    chain by :meth:`AuditLog.verify <avgkit.audit.AuditLog.verify>`: a version edited,
    deleted or planted in the store shows there.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Binds every version to its audit entry.
    """

    def __init__(
        self,
        store: BreachStore,
        inventory: Inventory,
        clock: Clock,
        audit: AuditLog,
        *,
        processor_notice: timedelta = PROCESSOR_NOTICE_DEADLINE,
        processor_notice_by_recipient: Mapping[str, timedelta] | None = None,
        large_volume: int = DEFAULT_LARGE_VOLUME,
        host: HostData | None = None,
    ) -> None:
        self._host = host
        self._store = store
        self._inventory = inventory
        self._clock = clock
        self._audit = audit
        self.options = BreachOptions(
            processor_notice=processor_notice,
            processor_notice_by_recipient=processor_notice_by_recipient,
            large_volume=large_volume,
        )
        terms = dict(self.options.processor_notice_by_recipient)
        for key in terms:
            self._recipient(key)
        self._processor_notice = processor_notice
        self._terms = terms
        self._large_volume = large_volume
        self._binds = isinstance(store, BoundStore)
        if self._binds:
            audit.bind_store(BREACH_VERSION, store)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"BreachRegister(store={self._store!r})"

    def _bound(self, breach: Breach) -> tuple[BoundRecord, ...]:
        return (breach_bound(breach),) if self._binds else ()

    # -- reading -----------------------------------------------------------------------

    def get(self, breach_id: str) -> Breach:
        """Return the newest version of a breach.

        Raises:
            NotFound: no breach has that id.
        """
        return self._store.get(_validators.key(breach_id, "breach id"))

    def history(self, breach_id: str) -> tuple[Breach, ...]:
        """Every version of a breach, oldest first.

        Raises:
            NotFound: no breach has that id.
        """
        versions = tuple(self._store.history(_validators.key(breach_id, "breach id")))
        if not versions:
            msg = f"no breach {breach_id!r} in the register"
            raise NotFound(msg)
        return versions

    def breaches(self) -> Iterator[Breach]:
        """Stream the newest version of every breach, by the instant the controller became aware."""
        return self._store.breaches()

    def overdue(self, *, at: datetime | None = None) -> Iterator[Breach]:
        """Stream breaches whose 72 hours passed (now, or at ``at``) with the authority pending.

        .. versionchanged:: 0.2.0
           The instant is the keyword ``at=``, as everywhere.
        """
        when = self._clock.now() if at is None else _validators.aware(at, "at")
        return self._store.overdue(when)

    def status(self, breach: Breach | str, *, at: datetime | None = None) -> BreachStatus:
        """The deadlines and overdue flags of a breach, now (by the clock) or at ``at``.

        Raises:
            ValidationError: ``at`` is naive.

        .. versionchanged:: 0.2.0
           The instant is the keyword ``at=``, and a naive one is refused.
        """
        when = self._clock.now() if at is None else _validators.aware(at, "at")
        return self._breach(breach).status(at=when)

    def assess(self, breach: Breach | str) -> Assessment:
        """Propose whether to notify the authority and the people concerned (see :func:`assess`)."""
        return assess(self._breach(breach), self._inventory, large_volume=self._large_volume)

    def subjects_to_inform(
        self, breach: Breach | str, *, at: datetime | None = None
    ) -> Iterator[SubjectId]:
        """Stream, each once, the subjects whose data the breach may have touched (Art. 34).

        Resolved through the host's data: the subjects holding data of the breach's
        categories during its period (from ``occurred_from`` to ``occurred_until``, or to
        ``at``/now while it lasts). Whether they must be told is the assessment's question
        (:meth:`assess`); this is whom to tell once it says so.

        Raises:
            ValidationError: the register was made without the host's data (open the kit
                with ``host=``).
            NotFound: no such breach.

        .. versionadded:: 0.2.0
        """
        if self._host is None:
            msg = (
                "this breach register cannot reach the host's data; open the kit with host= "
                "to find the subjects a breach touched"
            )
            raise ValidationError(msg)
        known = self._breach(breach).facts
        until = known.occurred_until
        if until is None:
            until = _validators.aware(self._clock.now() if at is None else at, "at")
        return self._host.subjects_with(
            frozenset(known.categories), since=known.occurred_from, until=until
        )

    def processor_term(self, processor: str) -> timedelta:
        """The term within which ``processor`` must notify (its own, or the default).

        Raises:
            PolicyError: ``processor`` is not a recipient in the inventory, or its role is
                not processor or sub-processor.
        """
        self._recipient(processor)
        return self._terms.get(processor, self._processor_notice)

    # -- changing ----------------------------------------------------------------------

    def record(
        self,
        facts: BreachFacts,
        *,
        discovered_at: datetime,
        became_aware_at: datetime | None = None,
        processor: str | None = None,
        processor_notified_at: datetime | None = None,
        actor: str = "staff",
    ) -> Breach:
        """Enter a breach in the register and return its first version.

        ``became_aware_at`` defaults to ``processor_notified_at`` when the processor's notice
        is given (the controller is aware at the latest when it arrives, Art. 33(1) and
        (2)), and to now (the clock) otherwise. When a processor reported the breach, name
        it by its inventory key (a recipient in the role of processor or sub-processor);
        its agreed term starts at ``discovered_at``.

        Raises:
            ValidationError: a datetime is naive or in the future, or the instants are out
                of order (e.g. aware before the breach began, or after the processor's
                notice arrived).
            PolicyError: a category is not declared in the inventory, or ``processor`` is not
                one of its recipients or not a processor or sub-processor.
        """
        now = self._clock.now()
        self._check_facts(facts)
        _validators.key(actor, "actor")
        if became_aware_at is not None:
            aware_at = became_aware_at
        elif processor_notified_at is not None:
            aware_at = processor_notified_at
        else:
            aware_at = now
        self._not_future(discovered_at, "discovered_at", now)
        self._not_future(aware_at, "became_aware_at", now)
        self._not_future(processor_notified_at, "processor_notified_at", now)
        term = None if processor is None else self.processor_term(processor)
        breach = Breach(
            id="br_" + secrets.token_hex(8),
            version=1,
            recorded_at=now,
            updated_at=now,
            facts=facts,
            discovered_at=discovered_at,
            became_aware_at=aware_at,
            processor=processor,
            processor_notice_within=term,
            processor_notified_at=processor_notified_at,
        )
        with self._audit.atomic():  # the version and its audit entry, together
            self._store.put(breach)
            self._audit.record(
                "breach.recorded",
                bound=self._bound(breach),
                actor=actor,
                details={
                    "breach": breach.id,
                    "version": 1,
                    "processor": processor,
                    "categories": len(facts.categories),
                    "subjects_max": facts.subjects.maximum,
                },
            )
        return breach

    def update(self, breach_id: str, *, note: str, actor: str = "staff", **changes: Any) -> Breach:
        """Record a phased update (Art. 33(4)): a note and any changed facts; a new version.

        ``changes`` are :class:`BreachFacts` fields (``subjects=Headcount(...)``,
        ``root_cause=...``).

        Raises:
            ValidationError: an unknown field name or a bad value.
            PolicyError: a new category is not declared in the inventory.
            NotFound: no breach has that id.
            ConflictError: someone stored a newer version meanwhile; re-read and retry.
        """
        unknown = sorted(set(changes) - FACT_NAMES)
        if unknown:
            msg = f"update() got unknown breach facts {unknown}; known: {sorted(FACT_NAMES)}"
            raise ValidationError(msg)
        _validators.text(note, "note", max_length=MAX_NOTE)
        _validators.key(actor, "actor")
        current = self.get(breach_id)
        facts = attrs.evolve(current.facts, **changes)
        self._check_facts(facts)
        changed = tuple(
            sorted(name for name in changes if getattr(facts, name) != getattr(current.facts, name))
        )
        now = self._clock.now()
        update = BreachUpdate(
            at=now, version=current.version + 1, note=note, changed=changed, actor=actor
        )
        breach = self._next(current, now, facts=facts, updates=(*current.updates, update))
        with self._audit.atomic():  # the version and its audit entry, together
            self._store.put(breach)
            self._audit.record(
                "breach.updated",
                bound=self._bound(breach),
                actor=actor,
                details={
                    "breach": breach.id,
                    "version": breach.version,
                    "changed": ",".join(changed),
                },
            )
        return breach

    def decide(
        self,
        breach_id: str,
        *,
        notify_authority: bool,
        notify_subjects: bool,
        reason: str,
        public_communication: bool = False,
        actor: str = "staff",
    ) -> Breach:
        """Record the human decision on notification and its reason, with the proposal.

        The assessment's proposal at this moment is stored beside the decision, so the
        register shows whether (and why) someone departed from it. A later decision
        replaces an earlier one (both stay in the history).

        Raises:
            ValidationError: a flag is not a bool or the reason is empty.
            NotFound: no breach has that id.
        """
        current = self.get(breach_id)
        now = self._clock.now()
        decision = BreachDecision(
            decided_at=now,
            actor=actor,
            notify_authority=notify_authority,
            notify_subjects=notify_subjects,
            public_communication=public_communication,
            reason=reason,
            proposal=self.assess(current),
        )
        breach = self._next(current, now, decision=decision)
        with self._audit.atomic():  # the version and its audit entry, together
            self._store.put(breach)
            self._audit.record(
                "breach.decided",
                bound=self._bound(breach),
                actor=actor,
                details={
                    "breach": breach.id,
                    "version": breach.version,
                    "notify_authority": notify_authority,
                    "notify_subjects": notify_subjects,
                    "public_communication": public_communication,
                    "follows_proposal": decision.follows_proposal,
                },
            )
        return breach

    def record_processor_notice(
        self, breach_id: str, *, at: datetime | None = None, actor: str = "staff"
    ) -> Breach:
        """Record when the processor's notice reached the controller (default: now).

        Raises:
            ValidationError: the breach was not reported by a processor, or ``at`` is naive,
                in the future or before the discovery.
        """
        _validators.key(actor, "actor")
        current = self.get(breach_id)
        now = self._clock.now()
        when = now if at is None else self._not_future(at, "at", now)
        breach = self._next(current, now, processor_notified_at=when)
        with self._audit.atomic():  # the version and its audit entry, together
            self._store.put(breach)
            self._audit.record(
                "breach.processor_notified",
                bound=self._bound(breach),
                actor=actor,
                details={
                    "breach": breach.id,
                    "version": breach.version,
                    "late": breach.processor_notice_late,
                },
            )
        return breach

    def record_authority_notification(
        self,
        breach_id: str,
        *,
        at: datetime | None = None,
        reference: str | None = None,
        delay_reason: str | None = None,
        actor: str = "staff",
    ) -> Breach:
        """Record that the supervisory authority was notified (default: now).

        Calling it again for a breach already notified changes only what is passed: the
        notification time, the reference and the delay reason recorded earlier are kept
        unless given anew. To add the authority's reference later, prefer
        :meth:`add_authority_reference`.

        Raises:
            ValidationError: the notification is later than 72 hours after awareness and no
                ``delay_reason`` is given (Art. 33(1)); ``at`` is naive, in the future or
                before awareness.
        """
        _validators.key(actor, "actor")
        current = self.get(breach_id)
        now = self._clock.now()
        if at is not None:
            when = self._not_future(at, "at", now)
        else:
            when = now if current.authority_notified_at is None else current.authority_notified_at
        breach = self._next(
            current,
            now,
            authority_notified_at=when,
            authority_reference=current.authority_reference if reference is None else reference,
            delay_reason=current.delay_reason if delay_reason is None else delay_reason,
        )
        with self._audit.atomic():  # the version and its audit entry, together
            self._store.put(breach)
            self._audit.record(
                "breach.authority_notified",
                bound=self._bound(breach),
                actor=actor,
                details={
                    "breach": breach.id,
                    "version": breach.version,
                    "late": breach.authority_late,
                },
            )
        return breach

    def add_authority_reference(
        self, breach_id: str, reference: str, *, actor: str = "staff"
    ) -> Breach:
        """Add (or correct) the authority's reference for a notification already recorded.

        The authority's reference (the AP's *meldnummer*) often arrives after the
        notification; this keeps the notification time and the delay reason as they are.

        Raises:
            ValidationError: the reference is empty or too long, or no notification of the
                authority is recorded yet.
            NotFound: no breach has that id.
        """
        _validators.key(actor, "actor")
        _validators.text(reference, "reference", max_length=200)
        current = self.get(breach_id)
        if current.authority_notified_at is None:
            msg = (
                f"breach {current.id}: the authority's notification is not recorded yet; "
                "record it with record_authority_notification(..., reference=...)"
            )
            raise ValidationError(msg)
        corrected = current.authority_reference is not None
        breach = self._next(current, self._clock.now(), authority_reference=reference)
        with self._audit.atomic():  # the version and its audit entry, together
            self._store.put(breach)
            self._audit.record(
                "breach.authority_reference_added",
                bound=self._bound(breach),
                actor=actor,
                details={"breach": breach.id, "version": breach.version, "corrected": corrected},
            )
        return breach

    def record_subject_notification(
        self,
        breach_id: str,
        *,
        at: datetime | None = None,
        public: bool = False,
        actor: str = "staff",
    ) -> Breach:
        """Record that the people concerned were informed (Art. 34), or told publicly."""
        _validators.key(actor, "actor")
        current = self.get(breach_id)
        now = self._clock.now()
        when = now if at is None else self._not_future(at, "at", now)
        breach = self._next(current, now, subjects_notified_at=when, subjects_public=public)
        with self._audit.atomic():  # the version and its audit entry, together
            self._store.put(breach)
            self._audit.record(
                "breach.subjects_notified",
                bound=self._bound(breach),
                actor=actor,
                details={"breach": breach.id, "version": breach.version, "public": public},
            )
        return breach

    # -- reports -----------------------------------------------------------------------

    def notice(self, breach: Breach | str) -> BreachDocument:
        """The processor's notice of ``breach``: the seven questions of a processing agreement.

        Render it with ``to_json()`` (valid against ``breach-notice.schema.json``) or
        ``to_html(lang)``.

        .. versionadded:: 0.2.0
        """
        return BreachDocument(kind="notice", breach=self._breach(breach), inventory=self._inventory)

    def notification(self, breach: Breach | str, *, country: str | None = None) -> BreachDocument:
        """The authority notification of ``breach`` (the Art. 33(3) contents).

        It is addressed to the controller's supervisory authority, or, for a venue operating
        in several countries, to the authority of ``country`` (where the breach happened or
        the people concerned live; the lead authority decides under Art. 56). Render it with
        ``to_json()`` (valid against ``breach-notification.schema.json``) or
        ``to_html(lang)``.

        Raises:
            ValidationError: ``country`` is not an ISO 3166-1 alpha-2 code.
            PolicyError: avgkit knows no supervisory authority for ``country``.

        .. versionadded:: 0.2.0
        """
        authority = (
            None if country is None else self._inventory.jurisdiction(country).require_authority()
        )
        return BreachDocument(
            kind="notification",
            breach=self._breach(breach),
            inventory=self._inventory,
            authority=authority,
        )

    def report(self) -> BreachRegisterReport:
        """The whole register (Art. 33(5)), newest versions; render it with ``to_csv(lang)``.

        .. versionadded:: 0.2.0
        """
        return BreachRegisterReport(
            breaches=tuple(self._store.breaches()), inventory=self._inventory
        )

    def notice_json(self, breach: Breach | str) -> dict[str, Any]:
        """The processor's notice (a processing agreement's seven questions) as a JSON-ready dict.

        It is valid against ``avgkit/schemas/breach-notice.schema.json``.
        """
        return self.notice(breach).to_mapping()

    def notification_json(
        self, breach: Breach | str, *, country: str | None = None
    ) -> dict[str, Any]:
        """The authority notification (Art. 33(3) contents) as a JSON-ready dict.

        It is valid against ``avgkit/schemas/breach-notification.schema.json``; ``country``
        as for :meth:`notification`.
        """
        return self.notification(breach, country=country).to_mapping()

    def notice_html(self, breach: Breach | str, lang: Lang = "nl") -> str:
        """The processor's notice as a printable HTML page in ``lang``."""
        return self.notice(breach).to_html(lang)

    def notification_html(
        self, breach: Breach | str, lang: Lang = "nl", *, country: str | None = None
    ) -> str:
        """The authority notification as a printable HTML page in ``lang``.

        ``country`` as for :meth:`notification`.
        """
        return self.notification(breach, country=country).to_html(lang)

    def register_csv(self, lang: Lang = "en") -> str:
        """The whole register (Art. 33(5)) as CSV, one row per breach (newest versions)."""
        return self.report().to_csv(lang)

    # -- helpers -----------------------------------------------------------------------

    def _breach(self, breach: Breach | str) -> Breach:
        if isinstance(breach, Breach):
            return breach
        return self.get(breach)

    def _recipient(self, key: str) -> None:
        _validators.key(key, "processor")
        role = self._inventory.recipient(key).role  # PolicyError naming it when not declared
        if role not in PROCESSOR_ROLES:
            msg = (
                f"recipient {key!r} has the role {role.value!r}, not processor or "
                "sub_processor; only a processor reports a breach to the controller under a "
                "processing agreement (Art. 33(2)). Record the breach without processor=, "
                "or correct the recipient's role in the inventory"
            )
            raise PolicyError(msg)

    def _check_facts(self, facts: BreachFacts) -> None:
        if not isinstance(facts, BreachFacts):
            msg = f"facts must be BreachFacts, got {type(facts).__name__}"
            raise ValidationError(msg)
        declared = self._inventory.categories
        undeclared = sorted(set(facts.categories) - declared)
        if undeclared:
            msg = (
                f"categories {undeclared} are not declared in the inventory; declared: "
                f"{sorted(declared)}. Declare a field of that category, or correct the breach"
            )
            raise PolicyError(msg)

    @staticmethod
    def _not_future(value: datetime | None, name: str, now: datetime) -> datetime:
        if value is None:
            return now
        when = _validators.aware(value, name)
        if when > now:
            msg = f"{name} is in the future; record what has happened, by the clock's time"
            raise ValidationError(msg)
        return when

    @staticmethod
    def _next(current: Breach, now: datetime, **changes: Any) -> Breach:
        return attrs.evolve(current, version=current.version + 1, updated_at=now, **changes)
