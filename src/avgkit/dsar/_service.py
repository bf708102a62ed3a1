"""``kit.dsar``: data subject requests from receipt to answer, within the deadline.

A request is received (and, for access and erasure, holds the subject's data against the
retention run), verified (the host's callback checks the requester's proof), worked on and
answered: an access or portability export, a rectification or restriction in the host, an
objection in the consent ledger, an erasure through ``kit.erasure``. Every change of status
is stored with its time, audited and told to the subject through the notifier.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import attrs
from dateutil.relativedelta import relativedelta

from avgkit import _validators
from avgkit.consent._values import Evidence, hash_wording
from avgkit.consent._vocab import Actor, Channel
from avgkit.dsar._deadlines import MAX_EXTENSION, RESPONSE_PERIOD, due_at, end_of_day, zone
from avgkit.dsar._export import AccessExport, ExportKind, build_export
from avgkit.dsar._options import DsarOptions
from avgkit.dsar._values import (
    DueRequest,
    ExtensionReason,
    RefusalReason,
    RequestKind,
    RequestStatus,
    RequestTransition,
    SubjectRequest,
    check_actor,
)
from avgkit.erasure._values import Deferral, ErasureOutcome
from avgkit.errors import ConfigurationError, NotFound, NotPermitted, StorageError, ValidationError
from avgkit.feed._values import FeedKind, FeedNotice
from avgkit.retention._values import Hold, HoldReason, PlannedAction, RetentionRule
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from avgkit.audit import AuditLog
    from avgkit.clock import Clock
    from avgkit.consent import ConsentLedger
    from avgkit.erasure import Erasure
    from avgkit.host import HostData
    from avgkit.inventory import Inventory
    from avgkit.storage import FeedStore, RequestStore, RetentionStore, StoreSet

__all__ = ["Fulfilment", "SubjectRequests"]

_HOLDING: Final = frozenset({RequestKind.ACCESS, RequestKind.PORTABILITY, RequestKind.ERASURE})
"""Kinds whose open requests keep the subject's data from the retention run."""

_OBJECTION_WORDING: Final = hash_wording("Objection made by a data subject request (Art. 21).")

_RESTRICTION_GROUNDS: Final = frozenset(
    {"accuracy_contested", "unlawful", "legal_claims", "objection_pending"}
)
"""Art. 18(1)(a)-(d), as a restriction request's ``ground`` detail."""


@attrs.frozen(kw_only=True)
class Fulfilment:
    """What :meth:`SubjectRequests.fulfil` did for a request.

    .. versionadded:: 0.2.0
    """

    request: SubjectRequest
    """The request after it: ``COMPLETED``, or still in progress when something deferred it."""
    export: AccessExport | None = None
    """The export, for an access or portability request."""
    erasure: ErasureOutcome | None = None
    """What the erasure did, for an erasure request."""
    deferred: Deferral | None = None
    """Why an erasure waits (an upcoming visit, a dispute) and until when."""
    rectified: int = 0
    """Host records changed, for a rectification."""
    objections: tuple[str, ...] = ()
    """Purposes objected to, for an objection."""

    @property
    def done(self) -> bool:
        """Whether the request is answered completely."""
        return self.request.status is RequestStatus.COMPLETED


def _audit_actor(actor: str) -> str:
    """A request's actor (``staff:Desk-3``) as an audit actor key (``staff_desk_3``)."""
    return re.sub(r"[^a-z0-9_]", "_", actor.lower())[:64]


class SubjectRequests:
    """``kit.dsar``: receive, verify, extend, refuse and fulfil data subject requests.

    Args:
        stores: the store set (it needs a request store; a retention store for holds).
        inventory: the declared purposes, fields and recipients.
        host: the host's data.
        clock: the source of "now".
        audit: the audit log.
        ledger: the consent ledger (objections; the consent history in the export).
        erasure: a callable returning ``kit.erasure`` (built on first use).
        dates: when the retention rules covering a subject fall due, for the export.
        rules: the retention policy's rules (those on records date each record).
        options: deadlines and callbacks (:class:`~avgkit.dsar.DsarOptions`).

    Raises:
        StorageError: the store set keeps no requests.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        *,
        stores: StoreSet,
        inventory: Inventory,
        host: HostData,
        clock: Clock,
        audit: AuditLog,
        ledger: ConsentLedger | None = None,
        erasure: Callable[[], Erasure] | None = None,
        dates: Callable[[SubjectId, datetime], Sequence[PlannedAction]] | None = None,
        rules: Sequence[RetentionRule] = (),
        options: DsarOptions | None = None,
    ) -> None:
        if stores.requests is None:
            msg = "this store set keeps no requests; use an adapter with a RequestStore"
            raise StorageError(msg)
        self._stores = stores
        self._store: RequestStore = stores.requests
        self._holds: RetentionStore | None = stores.retention
        self._feed: FeedStore | None = stores.feed
        self._inventory = inventory
        self._host = host
        self._clock = clock
        self._audit = audit
        self._ledger = ledger
        self._erasure = erasure
        self._dates = dates
        self._rules = tuple(rule for rule in rules if rule.records)
        self.options = DsarOptions() if options is None else options
        self._zone = zone(self.options.timezone)

    def __repr__(self) -> str:
        return f"SubjectRequests(store={self._store!r}, timezone={self.options.timezone!r})"

    def _now(self, at: datetime | None) -> datetime:
        return _validators.aware(self._clock.now() if at is None else at, "at")

    # ------------------------------------------------------------------ reading

    def get(self, request_id: str) -> SubjectRequest:
        """The request with ``request_id``.

        Raises:
            NotFound: no request has that id.
        """
        return self._store.get(request_id)

    def history(self, request_id: str) -> tuple[RequestTransition, ...]:
        """Every change of the request's status, oldest first (the subject may see them)."""
        self._store.get(request_id)
        return self._store.transitions(request_id)

    def for_subject(self, subject: SubjectId | str) -> tuple[SubjectRequest, ...]:
        """The subject's requests, in the order they came in."""
        return self._store.for_subject(subject_id(subject))

    def due(self, *, at: datetime | None = None, limit: int | None = None) -> Iterator[DueRequest]:
        """Stream the open requests past or nearing their deadline, earliest due first.

        Nearing means due within ``options.nearing`` (7 days by default) of ``at`` (now).
        One query in the store; each request comes as its :class:`DueRequest` (:meth:`get`
        with its id gives the whole request).
        """
        now = self._now(at)
        return self._store.due_by(now + self.options.nearing, limit=limit)

    def overdue(self, *, at: datetime | None = None) -> Iterator[DueRequest]:
        """Stream the open requests whose deadline has passed at ``at`` (now), as in :meth:`due`."""
        now = self._now(at)
        return (r for r in self._store.due_by(now) if r.due_at < now)

    # ------------------------------------------------------------------ the lifecycle

    def receive(
        self,
        subject: SubjectId | str,
        kind: RequestKind | str,
        *,
        details: Mapping[str, str] | None = None,
        actor: str = "subject",
        at: datetime | None = None,
    ) -> SubjectRequest:
        """Record a request as received: the deadline starts now (or at ``at``).

        A second open request of the same kind for the subject is recorded all the same,
        linked to the first by :attr:`~avgkit.dsar.SubjectRequest.duplicate_of`. An open
        access, portability or erasure request holds the subject's data: the retention run
        defers its actions until the request is answered.

        ``details`` say what the request asks: for a rectification the corrections (field
        key -> the new value; the fields must be declared), for an objection the purposes
        (``{"purposes": "newsletter,profiling"}``; all objectionable purposes when left
        out), for a restriction its ``ground`` (``accuracy_contested``, ``unlawful``,
        ``legal_claims`` or ``objection_pending``, Art. 18(1)).

        Raises:
            NotFound: the host knows no such subject.
            ValidationError: an unknown kind, malformed details, a naive or future ``at``.
            PolicyError: a rectified field or objected purpose is not declared.
        """
        sid = subject_id(subject)
        now = self._now(at)
        if now > self._clock.now():
            msg = "a request cannot be received in the future; pass at= no later than now"
            raise ValidationError(msg)
        what = _validators.member(RequestKind, kind, "request kind")
        who = check_actor(actor)
        checked = self._check_details(what, details or {})
        if self._host.subject(sid) is None:
            msg = (
                "the host knows no such subject; check the id (an unknown requester gets the "
                "answer that no data is processed, outside avgkit)"
            )
            raise NotFound(msg)
        earlier = self._store.open_of(sid, what)
        request = SubjectRequest(
            id="rq_" + secrets.token_hex(10),
            kind=what,
            subject=sid,
            received_at=now,
            due_at=due_at(now, tz=self._zone, service_level=self.options.service_level),
            status=RequestStatus.RECEIVED,
            updated_at=now,
            duplicate_of=None if earlier is None else earlier.id,
            details=checked,
        )
        step = RequestTransition(
            request_id=request.id, seq=1, status=RequestStatus.RECEIVED, at=now, actor=who
        )
        with self._stores.atomic():
            self._store.add(request, step)
            if what in _HOLDING and self._holds is not None:
                self._hold(sid, now)
            self._audit.record(
                "dsar.received",
                subject=sid,
                actor=_audit_actor(who),
                at=now,
                details={
                    "request": request.id,
                    "kind": what.value,
                    "due": request.due_at.isoformat(),
                    "duplicate_of": request.duplicate_of or "",
                },
            )
        self._tell(request, step)
        return request

    def verify(
        self,
        request_id: str,
        *,
        proof: Mapping[str, str] | None = None,
        verified: bool = False,
        actor: str = "system",
        at: datetime | None = None,
    ) -> SubjectRequest:
        """Mark the requester's identity as verified, through the verifier or by staff.

        With ``proof`` (an order code and an e-mail address, say), the configured verifier
        decides; staff who checked identity themselves pass ``verified=True`` instead. The
        proof is not stored.

        Raises:
            NotPermitted: the proof does not establish the identity (the failed attempt is
                audited; the request stays as it was: refuse it with
                ``RefusalReason.IDENTITY_NOT_ESTABLISHED`` when it cannot be established).
            ValidationError: neither proof nor ``verified=True``, or the request is not
                waiting for verification.
            ConfigurationError: proof given but no verifier configured.
        """
        now = self._now(at)
        who = check_actor(actor)
        request = self._store.get(request_id)
        self._require_open(request)
        if request.verified_at is not None:
            msg = f"request {request.id} is verified already"
            raise ValidationError(msg)
        if proof is None and not verified:
            msg = "verify() needs proof= for the verifier, or verified=True from staff"
            raise ValidationError(msg)
        if proof is not None:
            verifier = self.options.verifier
            if verifier is None:
                msg = "no verifier is configured; pass DsarOptions(verifier=...) to Kit.open"
                raise ConfigurationError(msg)
            if not verifier(request.subject, dict(proof)):
                self._audit.record(
                    "dsar.verification_failed",
                    subject=request.subject,
                    actor=_audit_actor(who),
                    at=now,
                    details={"request": request.id},
                )
                msg = (
                    f"the proof given does not establish the identity for request "
                    f"{request.id}; ask for other proof, or refuse it with "
                    "RefusalReason.IDENTITY_NOT_ESTABLISHED"
                )
                raise NotPermitted(msg)
        return self._move(request, RequestStatus.VERIFIED, who, now, verified_at=now)

    def start(
        self, request_id: str, *, actor: str = "system", at: datetime | None = None
    ) -> SubjectRequest:
        """Mark a verified request as being worked on.

        Raises:
            NotPermitted: the request is not verified yet.
        """
        now = self._now(at)
        request = self._store.get(request_id)
        self._require_verified(request)
        if request.status is RequestStatus.IN_PROGRESS:
            return request
        return self._move(request, RequestStatus.IN_PROGRESS, check_actor(actor), now)

    def extend(
        self,
        request_id: str,
        *,
        reason: ExtensionReason,
        by: relativedelta = MAX_EXTENSION,
        note: str | None = None,
        actor: str = "system",
        at: datetime | None = None,
    ) -> SubjectRequest:
        """Extend the deadline, once, by up to two further months (Art. 12(3)).

        Only with a reason (the complexity or the number of requests), only before the
        first month ends, and the subject is told (through the notifier) with the reason.

        Raises:
            ValidationError: no listed reason, a second extension, a period that is not 1-2
                months, or the first month is over.
            NotPermitted: the request is not verified yet.
            ConfigurationError: no notifier to tell the subject.
        """
        now = self._now(at)
        who = check_actor(actor)
        if not isinstance(reason, ExtensionReason):
            msg = (
                "an extension needs one of the listed reasons: "
                f"{[r.value for r in ExtensionReason]} (ExtensionReason)"
            )
            raise ValidationError(msg)
        if not isinstance(by, relativedelta) or by.normalized() != relativedelta(
            months=by.months, years=by.years
        ):
            msg = "extend by a whole number of months: relativedelta(months=1) or (months=2)"
            raise ValidationError(msg)
        months = by.years * 12 + by.months
        if not 1 <= months <= MAX_EXTENSION.months:
            msg = f"an extension is 1 or 2 further months (Art. 12(3)), not {months}"
            raise ValidationError(msg)
        request = self._store.get(request_id)
        self._require_verified(request)
        if request.extended:
            msg = f"request {request.id} was extended already; Art. 12(3) allows one extension"
            raise ValidationError(msg)
        first_month_ends = due_at(request.received_at, tz=self._zone)
        if now > first_month_ends:
            msg = (
                f"request {request.id}: the first month ended at "
                f"{first_month_ends.isoformat()}; an extension must be made before that"
            )
            raise ValidationError(msg)
        if self.options.notifier is None:
            msg = (
                "the subject must be told of an extension and its reason (Art. 12(3)); "
                "configure DsarOptions(notifier=...)"
            )
            raise ConfigurationError(msg)
        local = request.received_at.astimezone(self._zone)
        new_due = end_of_day(local + RESPONSE_PERIOD + relativedelta(months=months), self._zone)
        return self._move(
            request,
            RequestStatus.EXTENDED,
            who,
            now,
            due=max(new_due, request.due_at),
            extended=True,
            reason=reason,
            note=note,
        )

    def refuse(
        self,
        request_id: str,
        *,
        reason: RefusalReason,
        note: str | None = None,
        actor: str = "system",
        at: datetime | None = None,
    ) -> SubjectRequest:
        """Refuse a request, with one of the listed reasons; the subject is told.

        Raises:
            ValidationError: the reason is not a :class:`~avgkit.dsar.RefusalReason`, or the
                request is answered already.
        """
        now = self._now(at)
        who = check_actor(actor)
        if not isinstance(reason, RefusalReason):
            msg = (
                "a refusal needs one of the listed reasons: "
                f"{[r.value for r in RefusalReason]} (RefusalReason)"
            )
            raise ValidationError(msg)
        request = self._store.get(request_id)
        self._require_open(request)
        return self._move(request, RequestStatus.REFUSED, who, now, reason=reason, note=note)

    def complete(
        self,
        request_id: str,
        *,
        note: str | None = None,
        actor: str = "system",
        at: datetime | None = None,
    ) -> SubjectRequest:
        """Mark a verified request as answered (work done outside avgkit).

        Raises:
            NotPermitted: the request is not verified yet.
        """
        now = self._now(at)
        request = self._store.get(request_id)
        self._require_verified(request)
        return self._move(request, RequestStatus.COMPLETED, check_actor(actor), now, note=note)

    # ------------------------------------------------------------------ answering

    def export(
        self,
        subject: SubjectId | str,
        *,
        kind: ExportKind = "access",
        at: datetime | None = None,
        country: str | None = None,
    ) -> AccessExport:
        """The subject's access (Art. 15) or portability (Art. 20) export, without a request.

        ``country`` names the supervisory authority the export points the subject to, for a
        venue operating in several countries (the country of the sale or of the subject);
        the controller's own by default.

        Raises:
            NotFound: the host knows no such subject.
            PolicyError: avgkit knows no supervisory authority for ``country``.
        """
        sid = subject_id(subject)
        now = self._now(at)
        found = self._host.subject(sid)
        if found is None:
            msg = "the host knows no such subject; nothing can be exported for it"
            raise NotFound(msg)
        events = () if self._ledger is None else self._ledger.history(sid)
        dates = () if self._dates is None else tuple(self._dates(sid, now))
        return build_export(
            inventory=self._inventory,
            subject=found,
            subject_ref=self._audit.subject_ref(sid),
            records=self._host.records(sid),
            events=events,
            dates=dates,
            rules=self._rules,
            requests=self._store.for_subject(sid),
            restricted=self._store.restricted(sid, now),
            at=now,
            kind=kind,
            wordings=None if self._ledger is None else self._ledger.wording_index(),
            country=country,
        )

    def fulfil(
        self, request_id: str, *, actor: str = "system", at: datetime | None = None
    ) -> Fulfilment:
        """Answer a verified request as its kind says, and complete it when all is done.

        Access and portability: the export (the request completes; hand the export over).
        Rectification: the corrections go to the host. Restriction: processing is
        restricted (``may_process`` refuses all but legal claims) and the host is told.
        Objection: recorded in the consent ledger for each purpose. Erasure: through
        ``kit.erasure``; a hold (an upcoming visit, a dispute) defers it, and the request
        stays in progress until a later :meth:`fulfil` (or :meth:`resume`) finishes it.

        Raises:
            NotPermitted: the request is not verified yet.
            ValidationError: the request is answered already.
        """
        now = self._now(at)
        who = check_actor(actor)
        request = self._store.get(request_id)
        self._require_verified(request)
        if request.status is not RequestStatus.IN_PROGRESS:
            request = self._move(request, RequestStatus.IN_PROGRESS, who, now)
        kind = request.kind
        if kind in {RequestKind.ACCESS, RequestKind.PORTABILITY}:
            export = self.export(
                request.subject,
                kind="access" if kind is RequestKind.ACCESS else "portability",
                at=now,
            )
            done = self._finish(request, who, now)
            return Fulfilment(request=done, export=export)
        if kind is RequestKind.RECTIFICATION:
            return self._rectify(request, who, now)
        if kind is RequestKind.RESTRICTION:
            return self._restrict(request, who, now)
        if kind is RequestKind.OBJECTION:
            return self._object(request, who, now)
        return self._erase(request, who, now)

    def resume(self, *, at: datetime | None = None) -> Iterator[Fulfilment]:
        """Try again every erasure request that a hold deferred; yield what each did."""
        now = self._now(at)
        far = now + relativedelta(years=100)
        for entry in list(self._store.due_by(far)):
            if entry.kind is RequestKind.ERASURE and entry.status is RequestStatus.IN_PROGRESS:
                yield self.fulfil(entry.id, at=now)  # re-reads the whole request

    def lift_restriction(
        self, subject: SubjectId | str, *, actor: str = "system", at: datetime | None = None
    ) -> bool:
        """End a restriction of processing (Art. 18(3): tell the subject before lifting).

        Returns whether a restriction was in force.
        """
        sid = subject_id(subject)
        now = self._now(at)
        who = check_actor(actor)
        with self._stores.atomic():
            lifted = self._store.lift(sid, now)
            if lifted:
                self._notices(sid, FeedKind.RESTRICTION_LIFTED, now)
                self._audit.record(
                    "dsar.restriction_lifted", subject=sid, actor=_audit_actor(who), at=now
                )
        if lifted:
            self._host.restrict(sid, restricted=False)
        return lifted

    def restricted(self, subject: SubjectId | str, *, at: datetime | None = None) -> bool:
        """Whether processing of the subject's data is restricted at ``at`` (now)."""
        return self._store.restricted(subject_id(subject), self._now(at))

    # ------------------------------------------------------------------ the kinds

    def _rectify(self, request: SubjectRequest, who: str, now: datetime) -> Fulfilment:
        changes = dict(request.details)
        changed = self._host.rectify(request.subject, changes)
        with self._stores.atomic():
            self._notices(request.subject, FeedKind.RECTIFICATION, now, fields=tuple(changes))
            self._audit.record(
                "dsar.rectified",
                subject=request.subject,
                actor=_audit_actor(who),
                at=now,
                details={"request": request.id, "fields": ",".join(sorted(changes))},
            )
            done = self._finish(request, who, now, atomic=False)
        self._tell_last(done)
        return Fulfilment(request=done, rectified=changed)

    def _restrict(self, request: SubjectRequest, who: str, now: datetime) -> Fulfilment:
        self._host.restrict(request.subject, restricted=True)
        with self._stores.atomic():
            self._store.restrict(request.subject, request.id, now)
            self._notices(request.subject, FeedKind.RESTRICTION, now)
            self._audit.record(
                "dsar.restricted",
                subject=request.subject,
                actor=_audit_actor(who),
                at=now,
                details={"request": request.id, "ground": request.details.get("ground", "")},
            )
            done = self._finish(request, who, now, atomic=False)
        self._tell_last(done)
        return Fulfilment(request=done)

    def _object(self, request: SubjectRequest, who: str, now: datetime) -> Fulfilment:
        if self._ledger is None:
            msg = "an objection is recorded in the consent ledger; this store set keeps none"
            raise StorageError(msg)
        named = request.details.get("purposes")
        purposes = (
            tuple(p for p in named.split(",") if p)
            if named
            else tuple(p.key for p in self._inventory.purposes if p.objection_allowed)
        )
        evidence = Evidence(
            channel=Channel.API,
            notice_version="request",
            wording_sha256=_OBJECTION_WORDING,
            actor=Actor.SUBJECT,
        )
        with self._stores.atomic():
            for purpose in purposes:
                self._ledger.object(request.subject, purpose, evidence, at=now)
            done = self._finish(request, who, now, atomic=False)
        self._tell_last(done)
        return Fulfilment(request=done, objections=purposes)

    def _erase(self, request: SubjectRequest, who: str, now: datetime) -> Fulfilment:
        if self._erasure is None:
            msg = "erasure requests need kit.erasure; open the kit with host= and its stores"
            raise ConfigurationError(msg)
        erasure = self._erasure()
        sid = request.subject
        # This request's own hold must not defer it; other holds (a visit, a dispute,
        # another open access request) still do.
        self._release_holds(sid, now, keep_for=request.id)
        finished: list[SubjectRequest] = []

        def complete_with_erasure() -> None:
            finished.append(self._finish(request, who, now, atomic=False, tell=False))

        outcome = erasure.erase(
            sid, cause="request", actor="dsar", at=now, and_then=complete_with_erasure
        )
        if outcome.deferred is not None:
            deferral = outcome.deferred
            self._audit.record(
                "dsar.erasure_deferred",
                subject=sid,
                actor=_audit_actor(who),
                at=now,
                details={
                    "request": request.id,
                    "hold": deferral.reason.value,
                    "until": "" if deferral.until is None else deferral.until.isoformat(),
                },
            )
            return Fulfilment(
                request=self._store.get(request.id), erasure=outcome, deferred=deferral
            )
        done = finished[0] if finished else self._store.get(request.id)
        self._tell_last(done)
        return Fulfilment(request=done, erasure=outcome)

    # ------------------------------------------------------------------ helpers

    def _check_details(self, kind: RequestKind, details: Mapping[str, str]) -> dict[str, str]:
        if not isinstance(details, Mapping):
            msg = "details map names to texts, e.g. {'email': 'new@example.org'}"
            raise ValidationError(msg)
        checked = dict(details)
        if kind is RequestKind.RECTIFICATION:
            if not checked:
                msg = "a rectification request says what to correct: details={field: new value}"
                raise ValidationError(msg)
            for name in checked:
                self._inventory.field(name)
        elif kind is RequestKind.OBJECTION:
            self._check_objection(checked)
        elif kind is RequestKind.RESTRICTION:
            ground = checked.get("ground")
            if set(checked) - {"ground"} or (
                ground is not None and ground not in _RESTRICTION_GROUNDS
            ):
                msg = (
                    "a restriction's details hold only 'ground', one of "
                    f"{sorted(_RESTRICTION_GROUNDS)} (Art. 18(1))"
                )
                raise ValidationError(msg)
        return checked

    def _check_objection(self, details: Mapping[str, str]) -> None:
        unknown = set(details) - {"purposes"}
        if unknown:
            msg = f"an objection's details hold only 'purposes', not {sorted(unknown)}"
            raise ValidationError(msg)
        for key in filter(None, details.get("purposes", "").split(",")):
            purpose = self._inventory.purpose(key)
            if not purpose.objection_allowed:
                msg = (
                    f"purpose {key!r} rests on {purpose.basis.value!r}, which allows no "
                    "objection (Art. 21 covers legitimate interests, public tasks and direct "
                    "marketing)"
                )
                raise ValidationError(msg)

    def _require_open(self, request: SubjectRequest) -> None:
        if not request.open:
            msg = f"request {request.id} is {request.status.value} already; nothing can change it"
            raise ValidationError(msg)

    def _require_verified(self, request: SubjectRequest) -> None:
        self._require_open(request)
        if request.verified_at is None:
            msg = (
                f"request {request.id} is not verified; verify the requester's identity "
                "before working on it (verify())"
            )
            raise NotPermitted(msg)

    def _move(
        self,
        request: SubjectRequest,
        status: RequestStatus,
        actor: str,
        at: datetime,
        *,
        verified_at: datetime | None = None,
        due: datetime | None = None,
        extended: bool | None = None,
        reason: RefusalReason | ExtensionReason | None = None,
        note: str | None = None,
        atomic: bool = True,
        tell: bool = True,
    ) -> SubjectRequest:
        if at < request.updated_at:
            msg = "a request's status cannot change before its last change; check at="
            raise ValidationError(msg)
        updated = attrs.evolve(
            request,
            status=status,
            updated_at=at,
            verified_at=request.verified_at if verified_at is None else verified_at,
            due_at=request.due_at if due is None else due,
            extended=request.extended if extended is None else extended,
            reason=reason
            if reason is not None
            else (request.reason if status is not RequestStatus.REFUSED else None),
        )
        seq = len(self._store.transitions(request.id)) + 1
        step = RequestTransition(
            request_id=request.id,
            seq=seq,
            status=status,
            at=at,
            actor=actor,
            reason=reason,
            note=note,
        )
        details: dict[str, str | int | bool | None] = {
            "request": request.id,
            "kind": request.kind.value,
            "status": status.value,
        }
        if reason is not None:
            details["reason"] = reason.value
        if due is not None:
            details["due"] = updated.due_at.isoformat()

        def write() -> None:
            self._store.update(updated, step, expected=request.status)
            if not status.open:
                self._release_holds(request.subject, at)
            self._audit.record(
                f"dsar.{status.value}",
                subject=request.subject,
                actor=_audit_actor(actor),
                at=at,
                details=details,
            )

        if atomic:
            with self._stores.atomic():
                write()
        else:
            write()
        if tell and atomic:
            self._tell(updated, step)
        return updated

    def _finish(
        self,
        request: SubjectRequest,
        who: str,
        now: datetime,
        *,
        atomic: bool = True,
        tell: bool = True,
    ) -> SubjectRequest:
        current = self._store.get(request.id)
        return self._move(current, RequestStatus.COMPLETED, who, now, atomic=atomic, tell=tell)

    def _tell(self, request: SubjectRequest, step: RequestTransition) -> None:
        notifier = self.options.notifier
        if notifier is not None:
            notifier(request, step)

    def _tell_last(self, request: SubjectRequest) -> None:
        steps = self._store.transitions(request.id)
        if steps:
            self._tell(request, steps[-1])

    def _hold(self, subject: SubjectId, now: datetime) -> None:
        assert self._holds is not None  # noqa: S101 - checked by the caller
        held = any(
            h.hold.reason is HoldReason.OPEN_REQUEST for h in self._holds.holds_for(subject, now)
        )
        if not held:
            self._holds.place_hold(Hold(subject=subject, reason=HoldReason.OPEN_REQUEST), now)

    def _release_holds(self, subject: SubjectId, now: datetime, keep_for: str = "") -> None:
        """Release the open-request hold once no holding request but ``keep_for`` is open."""
        if self._holds is None:
            return
        if any(
            r.open and r.kind in _HOLDING and r.id != keep_for
            for r in self._store.for_subject(subject)
        ):
            return
        for stored in self._holds.holds_for(subject, now):
            if stored.hold.reason is HoldReason.OPEN_REQUEST:
                self._holds.release_hold(stored.id, now)

    def _notices(
        self,
        subject: SubjectId,
        kind: FeedKind,
        at: datetime,
        *,
        fields: tuple[str, ...] = (),
    ) -> None:
        if self._feed is None:
            return
        ref = self._audit.subject_ref(subject)
        self._feed.append(
            [
                FeedNotice(
                    seq=0,
                    recipient=r.key,
                    kind=kind,
                    subject_ref=ref,
                    subject=subject,
                    purpose=None,
                    at=at,
                    fields=fields,
                )
                for r in self._inventory.recipients
            ]
        )
