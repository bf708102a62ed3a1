"""``kit.erasure``: one erasure for retention and for requests (service)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Final

import attrs

from avgkit import _validators
from avgkit.audit import AuditLog
from avgkit.clock import Clock
from avgkit.consent._ledger import ConsentLedger
from avgkit.consent._values import Evidence, hash_wording
from avgkit.consent._vocab import Actor, Channel, ConsentStatus
from avgkit.erasure._values import (
    Deferral,
    ErasureEntry,
    ErasureNotice,
    ErasureOutcome,
)
from avgkit.errors import StorageError
from avgkit.feed._values import FeedKind, FeedNotice
from avgkit.host import HostData
from avgkit.inventory import Inventory
from avgkit.pseudonym import Pseudonyms
from avgkit.pseudonym._pseudo import normalise_email
from avgkit.retention._values import HoldReason
from avgkit.storage import (
    ConsentStore,
    ErasureStore,
    FeedStore,
    RequestStore,
    RetentionStore,
    StoreSet,
)
from avgkit.subjects import SubjectId, subject_id

__all__ = ["Erasure", "ReplayReport"]

EMAIL_CATEGORY: Final = "EmailAddress"
"""The DPV category whose values an erasure keeps as suppression pseudonyms."""
_REPLAY_BATCH: Final = 500
_WORDING: Final = hash_wording("Withdrawn as part of the erasure of the subject's data (Art. 17).")


@attrs.frozen(kw_only=True)
class ReplayReport:
    """What :meth:`Erasure.replay` found in a restored host database.

    .. versionadded:: 0.2.0
    """

    scanned: int
    """Host subjects checked against the erasure log."""
    erased_again: int
    """Subjects the log says were erased and the restored host held again: erased now."""


class Erasure:
    """``kit.erasure``: erase one subject everywhere, honouring holds; replay after a restore.

    An erasure, in order: check holds (an upcoming visit, a dispute, an open request defer
    it; nothing changes then); log it as begun with a keyed pseudonym of each of the
    subject's e-mail addresses (the suppression list) and a notice per recipient (the
    feed), audited; erase the subject in the host (orders and payments anonymised, the
    rest deleted); shred the subject's data key; then, in one unit of work, withdraw every
    live consent, re-key the consent evidence to the pseudonymous reference, drop holds and
    warnings, and mark the erasure complete. Each step is idempotent, so an erasure
    interrupted anywhere completes when it is run again, and never counts twice.

    Args:
        stores: the store set (with erasure and retention stores).
        host: the host's data.
        inventory: the declared fields (which ones hold e-mail addresses) and recipients.
        audit: the audit log.
        ledger: the consent ledger (``None`` when the store set keeps no consent events).
        pseudonyms: for shredding the subject's data key.
        clock: the source of "now".

    Raises:
        StorageError: the store set keeps no erasure log or no retention store.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        *,
        stores: StoreSet,
        host: HostData,
        inventory: Inventory,
        audit: AuditLog,
        ledger: ConsentLedger | None,
        pseudonyms: Pseudonyms,
        clock: Clock,
    ) -> None:
        if stores.erasures is None or stores.retention is None:
            msg = (
                "this store set keeps no erasure log or retention store; use an adapter "
                "with an ErasureStore and a RetentionStore (memory, sqlite, postgresql)"
            )
            raise StorageError(msg)
        self._stores = stores
        self._log: ErasureStore = stores.erasures
        self._retention: RetentionStore = stores.retention
        self._consent: ConsentStore | None = stores.consent
        self._requests: RequestStore | None = stores.requests
        self._feed: FeedStore | None = stores.feed
        self._host = host
        self._inventory = inventory
        self._audit = audit
        self._ledger = ledger
        self._pseudonyms = pseudonyms
        self._clock = clock
        self._email_fields = frozenset(
            f.key for f in inventory.fields if f.category == EMAIL_CATEGORY
        )

    def __repr__(self) -> str:
        return f"Erasure(log={self._log!r})"

    def _now(self, at: datetime | None) -> datetime:
        return _validators.aware(self._clock.now() if at is None else at, "at")

    # ------------------------------------------------------------------ suppression

    def suppression_ref(self, email: str) -> str:
        """The keyed pseudonym under which an erased subject's e-mail address is kept.

        Raises:
            ValidationError: ``email`` is not an e-mail address.
        """
        return self._audit.keyed_ref("suppression", normalise_email(email))

    def is_suppressed(self, email: str) -> bool:
        """Whether ``email`` belonged to an erased subject: do not put it back on a list.

        A host's import (a CRM export, a newsletter list) checks each address here before
        recording consent for it.

        Raises:
            ValidationError: ``email`` is not an e-mail address.
        """
        return self._log.is_suppressed(self.suppression_ref(email))

    # ------------------------------------------------------------------ deferral

    def deferral(self, subject: SubjectId | str, *, at: datetime | None = None) -> Deferral | None:
        """What defers the subject's erasure at ``at`` (now), or ``None`` when nothing does.

        A hold placed through ``kit.retention.hold()`` (a dispute, an open request) or an
        upcoming visit: the erasure waits until after the visit (the last one, if several).
        A fiscal-retention hold defers nothing: the records are kept anonymised instead.
        """
        sid = subject_id(subject)
        now = self._now(at)
        holds = [
            h.hold
            for h in self._retention.holds_for(sid, now)
            if h.hold.reason is not HoldReason.FISCAL_RETENTION
        ]
        if holds:
            open_ended = [h for h in holds if h.until is None]
            chosen = open_ended[0] if open_ended else max(holds, key=lambda h: h.until or now)
            return Deferral(reason=chosen.reason, until=chosen.until)
        upcoming = self._host.event_dates(sid, after=now)
        if upcoming:
            return Deferral(reason=HoldReason.UPCOMING_VISIT, until=max(upcoming))
        return None

    def _keeps_records(self, sid: SubjectId, now: datetime) -> bool:
        return any(
            h.hold.reason is HoldReason.FISCAL_RETENTION
            for h in self._retention.holds_for(sid, now)
        )

    # ------------------------------------------------------------------ erasing

    def erase(
        self,
        subject: SubjectId | str,
        *,
        cause: str = "request",
        keep_records: bool = False,
        honour_holds: bool = True,
        actor: str = "system",
        at: datetime | None = None,
        and_then: Callable[[], None] | None = None,
    ) -> ErasureOutcome:
        """Erase ``subject`` in the host and in avgkit, unless a hold defers it.

        Args:
            subject: the host's id of the subject.
            cause: why, for the log and the audit (``"request"``, ``"retention:<rule>"``).
            keep_records: anonymise the subject's records in the host instead of deleting
                them (a retention rule whose action is ``anonymise``; a fiscal hold).
            honour_holds: ``False`` only to re-erase after a restore (:meth:`replay`).
            actor: who asked (an audit actor key: ``"system"``, ``"dsar"``, a staff key).
            at: the instant (now by default).
            and_then: called inside the erasure's last unit of work, so that the caller's
                own bookkeeping (a retention action marked done) commits with it. Not
                called when the erasure is deferred.

        Returns:
            What was done, or the deferral when a hold keeps the data for now (nothing is
            changed then). Erasing again converges: ``repeated`` is set and nothing counts
            twice.

        Raises:
            ValidationError: a malformed subject id, cause or actor, or a naive ``at``.
            StorageError: a store failed; the erasure is then incomplete and running it
                again completes it.
        """
        sid = subject_id(subject)
        now = self._now(at)
        _validators.key(actor, "actor")
        ref = self._audit.subject_ref(sid)
        entry = ErasureEntry(subject_ref=ref, started_at=now, cause=cause)
        if honour_holds:
            deferral = self.deferral(sid, at=now)
            if deferral is not None:
                self._audit.record(
                    "erasure.deferred",
                    subject=sid,
                    actor=actor,
                    at=now,
                    details={
                        "cause": cause,
                        "hold": deferral.reason.value,
                        "until": "" if deferral.until is None else deferral.until.isoformat(),
                    },
                )
                return ErasureOutcome(subject_ref=ref, deferred=deferral)
        keep = keep_records or self._keeps_records(sid, now)
        suppressions = self._suppressions(sid)
        recipients = [r.key for r in self._inventory.recipients]
        with self._audit.atomic():  # the intent, committed before the host is touched
            begun = self._log.begin(entry, suppressions=suppressions, recipients=recipients)
            if begun and self._feed is not None:
                self._feed.append(
                    [
                        FeedNotice(
                            seq=0,
                            recipient=key,
                            kind=FeedKind.ERASURE,
                            subject_ref=ref,
                            subject=None,
                            at=now,
                        )
                        for key in recipients
                    ]
                )
            if begun:
                self._audit.record(
                    "erasure.started",
                    subject=sid,
                    actor=actor,
                    at=now,
                    details={"cause": cause, "recipients": len(recipients)},
                )
        host = self._host.anonymise(sid) if keep else self._host.delete(sid)
        # With the keys apart, shredding commits on its own (intent first); otherwise it is
        # part of the last unit of work below.
        shredded = self._pseudonyms.shred(sid, actor=actor) if self._pseudonyms.keys_apart else None
        with self._audit.atomic():
            if shredded is None:
                shredded = self._pseudonyms.shred(sid, actor=actor)
            withdrawn = self._withdraw_all(sid, now)
            rekeyed = 0 if self._consent is None else self._consent.forget(sid, ref)
            self._retention.forget_subject(sid, ref)
            if self._requests is not None:
                self._requests.forget_subject(sid, ref)
            if self._feed is not None:
                self._feed.forget_subject(sid, ref)
            completed = self._log.complete(ref, now)
            self._audit.record(
                "erasure.completed",
                subject=sid,
                actor=actor,
                at=now,
                details={
                    "cause": cause,
                    "anonymised": host.anonymised,
                    "deleted": host.deleted,
                    "consents_withdrawn": withdrawn,
                    "key_shredded": shredded,
                    "repeated": not (begun and completed),
                },
            )
            if and_then is not None:
                and_then()
        return ErasureOutcome(
            subject_ref=ref,
            host=host,
            consents_withdrawn=withdrawn,
            events_rekeyed=rekeyed,
            key_shredded=shredded,
            suppressed=len(suppressions) if begun else 0,
            notices=len(recipients) if begun else 0,
            repeated=not begun,
        )

    def _suppressions(self, sid: SubjectId) -> list[str]:
        found: dict[str, None] = {}
        for record in self._host.records(sid):
            for key in self._email_fields:
                value = record.values.get(key)
                if isinstance(value, str) and value.strip():
                    try:
                        found.setdefault(self.suppression_ref(value))
                    except ValueError:
                        continue  # not an address after all: nothing to suppress
        return list(found)

    def _withdraw_all(self, sid: SubjectId, now: datetime) -> int:
        if self._ledger is None or self._consent is None:
            return 0
        purposes = dict.fromkeys(event.purpose for event in self._consent.history(sid))
        evidence = Evidence(
            channel=Channel.ERASURE,
            notice_version="erasure",
            wording_sha256=_WORDING,
            actor=Actor.STAFF,
        )
        withdrawn = 0
        for purpose in purposes:
            if self._ledger.state(sid, purpose, at=now).status is ConsentStatus.GIVEN:
                self._ledger.withdraw(sid, purpose, evidence, at=now)
                withdrawn += 1
        return withdrawn

    # ------------------------------------------------------------------ after a restore

    def replay(self, *, progress: Callable[[int], None] | None = None) -> ReplayReport:
        """Bring subjects the log says were erased back to erased, after a host restore.

        A host database restored from a backup made before some erasures holds those
        subjects again. The log keeps only their pseudonymous references, so every host
        subject is checked by its reference (a batch at a time, in the store), and each one
        found is erased again, without honouring holds (the erasure already happened).
        ``progress`` is called with the number of subjects scanned so far.
        """
        scanned = again = 0
        subjects: Iterator[SubjectId] = (s.id for s in self._host.subjects())
        while batch := list(islice(subjects, _REPLAY_BATCH)):
            refs = {self._audit.subject_ref(sid): sid for sid in batch}
            for ref in self._log.erased_among(tuple(refs)):
                self.erase(refs[ref], cause="replay", honour_holds=False)
                again += 1
            scanned += len(batch)
            if progress is not None:
                progress(scanned)
        self._audit.record("erasure.replayed", details={"scanned": scanned, "erased": again})
        return ReplayReport(scanned=scanned, erased_again=again)

    # ------------------------------------------------------------------ reading

    def entry(self, subject: SubjectId | str) -> ErasureEntry | None:
        """The subject's line in the erasure log, or ``None`` if it was never erased."""
        return self._log.get(self._audit.subject_ref(subject_id(subject)))

    def log(self) -> Iterator[ErasureEntry]:
        """Stream the erasure log, oldest first (pseudonymous references only)."""
        return self._log.entries()

    def notices(self, *, after: int = 0) -> Iterator[ErasureNotice]:
        """Stream the erasure notices for recipients with ``seq`` above ``after``."""
        return self._log.notices(after=after)
