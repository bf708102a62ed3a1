"""Storage protocols: the state avgkit owns, and how a store set is opened from a URL.

avgkit keeps a little state of its own (the audit log now; consent events, keys, breaches
later). Each kind of state has a :class:`typing.Protocol` here; adapters implement them:

* ``memory://`` — :mod:`avgkit.storage.memory`, the reference implementation, for tests;
* ``sqlite:///relative.db`` or ``sqlite:////absolute.db`` — :mod:`avgkit.storage.sqlite`, the
  embedded default (one file, WAL, versioned migrations);
* ``postgresql://user@host:5432/db?schema=venue`` (or ``postgres://``) —
  :mod:`avgkit.storage.postgres`, psycopg 3 with a connection pool, one schema per
  installation (the ``postgres`` extra);
* further schemes registered by plugins through the ``avgkit.stores`` entry-point group, or
  at run time with :func:`register_scheme`.

Adapters raise :class:`~avgkit.errors.StorageError` (never a driver's own exception), return
frozen values, and stream anything that can be long. A plugin author proves an adapter by
subclassing the contracts in :mod:`avgkit.testing.conformance`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from importlib.metadata import entry_points
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, runtime_checkable
from urllib.parse import urlsplit

import attrs

from avgkit.errors import StorageError, ValidationError

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.audit._bound import BoundRecord
    from avgkit.audit._chain import AuditAnchor, AuditEntry
    from avgkit.breach._values import Breach
    from avgkit.consent._values import (
        CompellingGrounds,
        ConsentEvent,
        LatestEvents,
        PendingConsent,
    )
    from avgkit.consent._wordings import Wording, WordingIndex, WordingWithdrawal
    from avgkit.dsar._values import (
        DueRequest,
        RequestKind,
        RequestStatus,
        RequestTransition,
        SubjectRequest,
    )
    from avgkit.erasure._values import ErasureEntry, ErasureNotice
    from avgkit.feed._values import FeedNotice
    from avgkit.pseudonym._keys import KeyKind, StoredKey
    from avgkit.retention._values import (
        ClaimedAction,
        Hold,
        Outcome,
        PlannedAction,
        StoredHold,
    )
    from avgkit.subjects import SubjectId

__all__ = [
    "AppendedEvents",
    "AuditStore",
    "BoundStore",
    "BreachStore",
    "ConfirmationStore",
    "ConsentStore",
    "ErasureStore",
    "FeedStore",
    "GroundsStore",
    "KeyStore",
    "RequestStore",
    "RetentionStore",
    "StoreOpener",
    "StoreSet",
    "Transactional",
    "UnitOfWork",
    "WordingStore",
    "open_stores",
    "register_scheme",
]


@runtime_checkable
class AuditStore(Protocol):
    """Keeps the audit chain. Entries are only ever appended, never changed.

    .. versionadded:: 0.1.0
    """

    def head(self) -> AuditEntry | None:
        """Return the entry with the highest sequence number, or ``None`` when empty."""
        ...

    def append(self, seal: Callable[[AuditEntry | AuditAnchor | None], AuditEntry]) -> AuditEntry:
        """Append the entry ``seal`` builds on top of the current head, and return it.

        The adapter serialises appenders: it takes its write lock, reads the head, calls
        ``seal(head)`` (``None`` for an empty log) and stores the result, all in one
        transaction, so concurrent writers (threads or processes) queue instead of racing.
        ``seal`` is pure: it only hashes, and reads only the head's ``seq`` and ``hash``,
        so the head may be given as the entry or as its :class:`~avgkit.audit.AuditAnchor`
        (the SQL adapters read just those two columns).

        Raises:
            ConflictError: the sealed entry does not extend the head by exactly one (its
                ``seq`` is not ``head.seq + 1``). The adapter stores nothing in that case.

        .. versionchanged:: 0.2.0
           ``seal`` also takes the head's anchor.
        """
        ...

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries with ``seq >= start`` in sequence order, in bounded memory."""
        ...

    def entries_for(self, subject_ref: str) -> Iterator[AuditEntry]:
        """Stream the entries whose ``subject_ref`` equals ``subject_ref``, in sequence order."""
        ...

    def count(self) -> int:
        """Return the number of stored entries."""
        ...

    def reference_secret(self, create: Callable[[], bytes]) -> bytes:
        """Return this installation's secret for subject references.

        On first use, call ``create`` and store its result atomically; concurrent first
        callers must all get the same secret back.
        """
        ...


@runtime_checkable
class AppendedEvents(Protocol):
    """A consent store that can give back the events a batch just stored, with their seqs.

    The ledger binds an import's events to its audit entry: it needs each stored event's
    ``seq`` and columns, which :meth:`ConsentStore.append_many` does not return. The SQLite,
    PostgreSQL and memory consent stores implement it.

    .. versionadded:: 0.2.0
    """

    def appended(self, count: int) -> list[ConsentEvent]:
        """The ``count`` events stored last, oldest first, as stored (``seq`` set).

        Called in the unit of work that stored them, right after
        :meth:`ConsentStore.append_many`; the adapter keeps other writers from storing events
        in between (SQLite has one writer; PostgreSQL locks the table for the batch).
        """
        ...


@runtime_checkable
class BoundStore(Protocol):
    """A store whose records are bound to the audit chain, so ``verify()`` reconciles them.

    A service stores a record, then writes its audit entry with the record's digest
    (:meth:`avgkit.audit.AuditLog.record` with ``bound=``), which calls :meth:`bind` in the
    same unit of work. :meth:`bound_records` gives everything back for
    :meth:`~avgkit.audit.AuditLog.verify`, which walks it beside the chain. The SQLite,
    PostgreSQL and memory breach stores implement it.

    .. versionadded:: 0.2.0
    """

    def bind(self, keys: Sequence[tuple[str, int]], audit_seq: int) -> None:
        """Remember that audit entry ``audit_seq`` binds the records with these keys.

        A key is ``(record_id, record_no)`` (:attr:`avgkit.audit.BoundRecord.key`). Done in
        the caller's transaction; a binding is never changed once stored.
        """
        ...

    def bound_records(self) -> Iterator[BoundRecord]:
        """Stream every stored record with its digest, recomputed from what is stored.

        Records that no entry binds come first (``bound_seq=None``), then a binding whose
        record is gone (``digest=None``), then the rest ordered by ``bound_seq``, then key;
        in bounded memory, with no query per record. An adapter may raise
        :class:`~avgkit.errors.IntegrityError` itself for what only it can check (a copy of a
        record that disagrees with it), naming the record, never its contents.
        """
        ...


@runtime_checkable
class BreachStore(Protocol):
    """Keeps the breach register: every version of every breach record.

    Versions are append-only: a breach's versions are 1, 2, 3, ... without gaps, and a stored
    version never changes. The newest version is the breach's current state.

    .. versionadded:: 0.1.0
    """

    def put(self, breach: Breach) -> None:
        """Store ``breach`` as its id's next version, atomically.

        Version 1 creates the breach; version ``n`` needs version ``n - 1`` to be the newest.

        Raises:
            ConflictError: version 1 of an existing id, or version ``n`` when the newest
                stored version is not ``n - 1`` (another writer got there first).
            NotFound: version ``n > 1`` of an id that was never stored.
        """
        ...

    def get(self, breach_id: str) -> Breach:
        """Return the newest version of a breach.

        Raises:
            NotFound: no breach has that id.
        """
        ...

    def history(self, breach_id: str) -> Iterator[Breach]:
        """Stream every version of a breach, oldest first (nothing for an unknown id)."""
        ...

    def breaches(self) -> Iterator[Breach]:
        """Stream the newest version of every breach, by ``became_aware_at`` then id."""
        ...

    def overdue(self, now: datetime) -> Iterator[Breach]:
        """Stream pending breaches whose ``authority_due`` is before ``now``.

        Pending means ``Breach.authority_pending``; the order is ``authority_due``, then id.
        The adapter selects them in its backend, not by loading every breach.
        """
        ...

    def count(self) -> int:
        """Return the number of breaches (not versions)."""
        ...


@runtime_checkable
class KeyStore(Protocol):
    """Keeps keys: pseudonym and token key rings, and one data key per subject.

    Material is stored exactly as handed over (wrapped when the caller uses a
    :class:`~avgkit.pseudonym.KeyEncryptionKey`). Whoever can read the key store can undo
    pseudonyms and open sealed data: keep it apart from the data, ideally in a store set of
    its own, and keep its backups short-lived. :meth:`shred` must destroy material for good
    (no soft delete), leaving only a tombstone that says when.

    .. versionadded:: 0.1.0
    """

    def add(self, key: StoredKey) -> None:
        """Store a new key.

        Raises:
            ConflictError: a key with the same id exists, or (for a subject key) the subject
                already has a key or was shredded. Nothing is stored in that case.
        """
        ...

    def get(self, key_id: str) -> StoredKey:
        """Return the key with id ``key_id``.

        Raises:
            NotFound: no such key (never stored, or shredded).
        """
        ...

    def ring(self, kind: KeyKind) -> tuple[StoredKey, ...]:
        """Return the keys of ``kind`` (never subject keys), oldest first.

        Oldest means added first: the order of :meth:`add` calls, never ``created_at`` (a
        clock that stepped back must not keep a rotation from taking effect).
        """
        ...

    def for_subject(self, subject_ref: str) -> StoredKey | None:
        """Return the data key of the subject with reference ``subject_ref``, if it has one."""
        ...

    def shred(self, subject_ref: str, at: datetime) -> bool:
        """Destroy the subject's data key and remember the instant; idempotent.

        The shredding is recorded even when the subject has no key (the first instant wins),
        so :meth:`add` refuses a key for the subject afterwards. Returns ``True`` when a key
        was destroyed, ``False`` when there was none (never made or already shredded). Done
        in one transaction.
        """
        ...

    def shredded_at(self, subject_ref: str) -> datetime | None:
        """Return when the subject's key was shredded, or ``None``."""
        ...


@runtime_checkable
class ConsentStore(Protocol):
    """Keeps the consent ledger: events are only ever appended, never changed.

    Events are ordered by ``at``, then by ``seq`` (the order the store recorded them). The
    answers at an instant use the events with ``at`` at or before it; their meaning is
    :func:`avgkit.consent.replay`, which the conformance contract checks adapters against.
    The one exception to "never changed" is :meth:`forget`, which re-keys an erased
    subject's events to its pseudonymous reference.

    .. versionadded:: 0.1.0
    """

    def append(self, event: ConsentEvent) -> ConsentEvent:
        """Store one event and return it with its ``seq`` set."""
        ...

    def append_many(self, events: Sequence[ConsentEvent]) -> int:
        """Store a batch in one transaction (all or nothing); return how many were stored."""
        ...

    def latest(self, subject: SubjectId, purpose: str, at: datetime) -> LatestEvents:
        """Return the latest consent-track and objection-track events at or before ``at``."""
        ...

    def history(self, subject: SubjectId) -> Iterator[ConsentEvent]:
        """Stream every event of ``subject`` ordered by ``at``, then ``seq``."""
        ...

    def events(
        self, *, since: datetime, until: datetime, purpose: str | None = None
    ) -> Iterator[ConsentEvent]:
        """Stream the events with ``since <= at < until`` (of one purpose, if given), in order."""
        ...

    def audience(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream, each once, the subjects with live consent for ``purpose`` at ``at``.

        Live: the latest consent-track event is a given one whose ``expires_at`` is unset or
        later than ``at``, and the latest objection-track event, if any, is not an
        objection. SQL adapters compute this in one statement, inside the database.
        """
        ...

    def objectors(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream, each once, the subjects whose latest objection-track event is an objection."""
        ...

    def forget(self, subject: SubjectId, reference: str) -> int:
        """Re-key every event of ``subject`` to its pseudonymous ``reference`` and drop order refs.

        The one change the ledger allows, made on erasure: the consent evidence stays (proof
        of consent, Art. 17(3)(e)) but is keyed by the subject's reference
        (:meth:`avgkit.audit.AuditLog.subject_ref`) instead of the host's raw id, and loses
        its order references. In one transaction every event of ``subject`` gets
        ``subject = reference`` and ``order_ref = None``; ``seq``, purpose, kind, ``at`` and
        the rest of the evidence stay. Afterwards ``history(subject)`` is empty and
        :meth:`history` of the reference returns the events; :meth:`latest`,
        :meth:`audience` and :meth:`objectors` no longer know the raw id. Returns how many
        events were re-keyed: 0 when there are none, so a repeated erasure converges.

        Raises:
            ValidationError: ``reference`` is not ``"sr1:"`` and 32 lower-case hex
                characters, or ``subject`` already starts with ``"sr1:"``; nothing changes.

        .. versionadded:: 0.2.0
        """
        ...

    def count(self) -> int:
        """Return the number of stored events."""
        ...


@runtime_checkable
class WordingStore(Protocol):
    """The wording registry beside a consent ledger: the exact texts subjects saw.

    Implemented by the consent store itself (``stores.consent``), because the audience that
    leaves out consents under a withdrawn wording, and the list of whom to ask again, are
    one statement over the events and the registry together. Registered wordings are never
    changed; a version can only be withdrawn.

    .. versionadded:: 0.2.0
    """

    def register_wordings(self, wordings: Sequence[Wording]) -> int:
        """Register wordings in one transaction; return how many were new.

        Checked with :func:`avgkit.consent.check_registration` against what is stored,
        inside the transaction: a version registered again with the same text is skipped,
        one with another text refused (:class:`~avgkit.errors.ValidationError`) and nothing
        stored. A registration that adds anything changes :meth:`wording_generation` (to a
        number not handed out before, even by a change that was rolled back).
        """
        ...

    def withdraw_wording(self, withdrawal: WordingWithdrawal) -> WordingWithdrawal:
        """Withdraw a registered version; return the withdrawal in force (the first one).

        Raises:
            NotFound: the version is not registered; nothing is stored.
        """
        ...

    def wording_index(self) -> WordingIndex:
        """Everything registered and withdrawn, with the current generation."""
        ...

    def wording_generation(self) -> int:
        """A number that changes whenever the registry changes (one cheap read)."""
        ...

    def current_audience(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """:meth:`ConsentStore.audience` without consents given under a withdrawn wording.

        A consent is left out when every registration of ``purpose`` whose text has the
        consent's ``wording_sha256`` belongs to a version withdrawn at or before ``at``.
        SQL adapters compute it in one statement.
        """
        ...

    def to_renew(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream the subjects with live consent to ask again (one statement in SQL).

        Live as for :meth:`ConsentStore.audience`, and the consent's wording needs renewal
        (:meth:`avgkit.consent.WordingIndex.needs_renewal`): it was withdrawn, or a version
        with ``renewal`` took effect by ``at`` and the text is of none of the versions from
        it on.
        """
        ...


@runtime_checkable
class ConfirmationStore(Protocol):
    """Pending double opt-ins beside a consent ledger, found by their token's selector.

    Implemented by the consent store itself; its :meth:`ConsentStore.forget` deletes the
    subject's pending requests as well.

    .. versionadded:: 0.2.0
    """

    def add_pending(self, pending: PendingConsent) -> None:
        """Store a pending consent (without its token).

        Raises:
            ConflictError: a pending consent with the same selector is stored already
                (selectors are random: a second one is a replay); nothing is stored.
        """
        ...

    def pending(self, selector: str) -> PendingConsent | None:
        """The pending consent of a token's selector, used or not, or ``None``."""
        ...

    def settle_pending(self, selector: str, at: datetime) -> bool:
        """Mark the pending consent used at ``at`` if it is still unused; ``False`` if not.

        A compare-and-set: of two confirmations racing, exactly one gets ``True``.
        """
        ...

    def open_pending(self, subject: SubjectId, purpose: str, at: datetime) -> PendingConsent | None:
        """The newest pending consent of ``subject`` and ``purpose`` open at ``at``."""
        ...


@runtime_checkable
class GroundsStore(Protocol):
    """Compelling legitimate grounds (Art. 21(1)) beside a consent ledger, append-only.

    Implemented by the consent store itself; its :meth:`ConsentStore.forget` re-keys the
    subject's grounds to the reference as it does the events.

    .. versionadded:: 0.2.0
    """

    def add_grounds(self, grounds: CompellingGrounds) -> CompellingGrounds:
        """Store grounds and return them with their ``seq``."""
        ...

    def grounds(self, subject: SubjectId, purpose: str, at: datetime) -> CompellingGrounds | None:
        """The latest grounds of ``subject`` and ``purpose`` recorded at or before ``at``."""
        ...


@runtime_checkable
class RetentionStore(Protocol):
    """Holds, warnings sent, and staged retention plans with their executors' claims.

    Holds and warnings name the host's subject id while the subject lives;
    :meth:`forget_subject` drops them when the subject is erased, and a finished action
    keeps only the subject's reference.

    .. versionadded:: 0.2.0
    """

    def place_hold(self, hold: Hold, at: datetime) -> StoredHold:
        """Store a new hold placed at ``at``; returns it with its number."""
        ...

    def release_hold(self, hold_id: int, at: datetime) -> StoredHold:
        """Release hold ``hold_id`` at ``at`` (again: no change). NotFound if unknown."""
        ...

    def holds_for(self, subject: SubjectId, at: datetime) -> tuple[StoredHold, ...]:
        """The subject's holds in force at ``at`` (placed, not released, not lapsed)."""
        ...

    def active_holds(self, at: datetime) -> Iterator[StoredHold]:
        """Stream every hold in force at ``at``."""
        ...

    def warned_at(self, subject: SubjectId, rule: str, anchor: datetime) -> datetime | None:
        """When the subject was warned of ``rule``'s action for the trigger at ``anchor``."""
        ...

    def warnings_for(
        self, rule: str, subjects: Sequence[SubjectId]
    ) -> dict[tuple[SubjectId, datetime], datetime]:
        """For a batch of subjects, every warning of ``rule``: (subject, anchor) -> when sent."""
        ...

    def record_warning(self, subject: SubjectId, rule: str, anchor: datetime, at: datetime) -> None:
        """Remember that the subject was warned at ``at`` (a second call changes nothing)."""
        ...

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Drop the subject's holds and warnings and re-key its staged actions, after erasure.

        Staged actions then name the pseudonymous ``reference`` instead of the host's id.
        Returns the rows changed.

        Raises:
            ValidationError: as for :meth:`RequestStore.forget_subject` (checked with
                :func:`avgkit.storage.checks.check_forget`); nothing is changed.
        """
        ...

    def stage(
        self, plan_id: str, fingerprint: str, at: datetime, actions: Iterator[PlannedAction]
    ) -> int:
        """Store a plan's actions for executors to claim, in one transaction.

        Returns how many were staged; 0 (reading nothing from ``actions``) when the plan was
        staged before, so every executor may call it.
        """
        ...

    def plan_fingerprint(self, plan_id: str) -> str | None:
        """The policy fingerprint a staged plan was made under (``None``: not staged)."""
        ...

    def claim(
        self,
        plan_id: str,
        executor: str,
        at: datetime,
        *,
        limit: int,
        stale_before: datetime,
    ) -> tuple[ClaimedAction, ...]:
        """Claim up to ``limit`` unfinished actions of a plan for ``executor``.

        An action is free when nobody claimed it, or its claim was made at or before
        ``stale_before`` (its executor died). Two executors never get the same action from
        one call each: on PostgreSQL the claim skips rows another transaction has locked.
        """
        ...

    def finish(
        self,
        plan_id: str,
        number: int,
        outcome: Outcome,
        at: datetime,
        *,
        subject_ref: str | None,
    ) -> bool:
        """Mark an action finished with ``outcome``; False if it was finished before.

        With ``subject_ref`` the stored action's subject id is replaced by it.
        """
        ...

    def outcomes(self, plan_id: str) -> dict[tuple[str, str, str], int]:
        """Counted in the store: finished actions per (rule, action, outcome)."""
        ...

    def unfinished(self, plan_id: str) -> int:
        """How many of the plan's actions are not finished."""
        ...


@runtime_checkable
class ErasureStore(Protocol):
    """The erasure log, the suppression list, and the outbox's erasure notices.

    Everything here names subjects by their pseudonymous reference only.

    .. versionadded:: 0.2.0
    """

    def begin(
        self, entry: ErasureEntry, *, suppressions: Sequence[str], recipients: Sequence[str]
    ) -> bool:
        """Log an erasure as begun, with its suppression pseudonyms and one notice per recipient.

        In one transaction. False (changing nothing) when the subject's erasure was begun
        before: a repeated erasure neither adds notices nor counts twice.
        """
        ...

    def complete(self, subject_ref: str, at: datetime) -> bool:
        """Mark the subject's erasure complete; False if it was complete already."""
        ...

    def get(self, subject_ref: str) -> ErasureEntry | None:
        """The subject's log entry, if it was ever erased."""
        ...

    def entries(self) -> Iterator[ErasureEntry]:
        """Stream the log, oldest first."""
        ...

    def is_suppressed(self, pseudonym: str) -> bool:
        """Whether ``pseudonym`` (of an e-mail address) belongs to an erased subject."""
        ...

    def erased_among(self, subject_refs: Sequence[str]) -> frozenset[str]:
        """Those of ``subject_refs`` the log holds (one query per call)."""
        ...

    def notices(self, *, after: int = 0) -> Iterator[ErasureNotice]:
        """Stream the outbox's erasure notices with ``seq`` above ``after``."""
        ...

    def count(self) -> int:
        """How many subjects the log holds."""
        ...


@runtime_checkable
class RequestStore(Protocol):
    """Data subject requests, each with its history of transitions, and Art. 18 restrictions.

    A request is stored with its first transition (:meth:`add`) and changed only by
    :meth:`update`, a compare-and-set on its status that appends the next transition: two
    staff members acting on one request at once cannot both succeed. Requests and
    restrictions name the host's subject id while the subject exists;
    :meth:`forget_subject` re-keys them to the subject's pseudonymous reference on erasure.
    Every write is one transaction and joins :meth:`StoreSet.atomic`.

    .. versionadded:: 0.2.0
    """

    def add(self, request: SubjectRequest, transition: RequestTransition) -> None:
        """Store a new request with its first transition, in one transaction.

        Raises:
            ConflictError: a request with the same id is stored; nothing changes.
            ValidationError: ``transition`` is not the request's first (``seq`` 1, the
                request's id and status); nothing is stored.
        """
        ...

    def get(self, request_id: str) -> SubjectRequest:
        """Return the request's current state.

        Raises:
            NotFound: no request has that id.
            ValidationError: ``request_id`` is not a request id.
        """
        ...

    def update(
        self,
        request: SubjectRequest,
        transition: RequestTransition,
        *,
        expected: RequestStatus,
    ) -> None:
        """Store the request's new state and append ``transition``, if nobody got there first.

        Compare-and-set: the write happens only if the stored status is still ``expected``
        and ``transition.seq`` is the request's next number (one more than its newest);
        otherwise nothing changes. ``transition`` carries the request's id and its new
        status. A request's kind, subject and ``received_at`` never change.

        Raises:
            NotFound: no request has ``request.id``.
            ConflictError: the stored status is not ``expected``, or ``transition.seq`` is
                not the next number (another writer changed the request): re-read and retry.
            ValidationError: ``transition`` is about another request or status, or the
                update would change the kind, subject or ``received_at``.
        """
        ...

    def transitions(self, request_id: str) -> tuple[RequestTransition, ...]:
        """The request's transitions, oldest first (``seq`` 1, 2, ...; empty if unknown)."""
        ...

    def for_subject(self, subject: SubjectId) -> tuple[SubjectRequest, ...]:
        """The subject's requests in the order they were received (ties: the order added)."""
        ...

    def open_of(self, subject: SubjectId, kind: RequestKind) -> SubjectRequest | None:
        """The subject's oldest open request of ``kind`` (a new one may duplicate it)."""
        ...

    def due_by(self, before: datetime, *, limit: int | None = None) -> Iterator[DueRequest]:
        """Stream the open requests with ``due_at <= before``, earliest due first.

        Each as its :class:`~avgkit.dsar.DueRequest` (id, kind, subject, status,
        ``due_at``, ``extended``), equal to ``DueRequest.of(store.get(id))`` as the request
        was when read; :meth:`get` gives the whole request (its other instants, details and
        reason are not read for the queue). Ties are broken by the order the requests were
        added; ``limit`` caps how many. SQL adapters run one statement on an index of the
        open requests, in keyset pages selecting only those columns, so the closed ones
        (nearly all of them, after a few years) are never read.

        Raises:
            ValidationError: ``before`` is naive, or ``limit`` is negative.
            IntegrityError: while streaming, a column the queue reads was changed outside
                avgkit (the message names the row's number, no stored value).
        """
        ...

    def open_subjects(self, kinds: Sequence[RequestKind]) -> frozenset[SubjectId]:
        """The subjects with at least one open request of one of ``kinds`` (one query)."""
        ...

    def restrict(self, subject: SubjectId, request_id: str, at: datetime) -> None:
        """Begin restricting the processing of the subject's data (Art. 18) at ``at``.

        ``request_id`` is the restriction request it answers. Idempotent: while a
        restriction of the subject is in force, a second call changes nothing.

        Raises:
            NotFound: no request has ``request_id``.
            ValidationError: the request is about another subject.
        """
        ...

    def lift(self, subject: SubjectId, at: datetime) -> bool:
        """End the subject's restriction at ``at``; ``False`` (no change) if none is in force."""
        ...

    def restricted(self, subject: SubjectId, at: datetime) -> bool:
        """Whether the subject's processing was restricted at ``at``.

        A restriction holds from its start (inclusive) until it was lifted (exclusive).
        """
        ...

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Re-key the subject's requests and restrictions to ``reference``, on erasure.

        In one transaction: the requests and restrictions of ``subject`` name the
        pseudonymous ``reference`` instead, the requests' details are cleared and so are
        the notes of their transitions. Afterwards no stored row holds the raw id; the
        requests (their kinds, dates, statuses and reasons) stay as evidence that they were
        answered. Returns the rows changed (requests, transitions whose note was cleared,
        restrictions): 0 when there is nothing left to change, so a repeated erasure
        converges.

        Raises:
            ValidationError: ``reference`` is not ``"sr1:"`` and 32 lower-case hex
                characters, or ``subject`` already starts with ``"sr1:"``; nothing changes.
        """
        ...

    def count(self) -> int:
        """Return the number of stored requests."""
        ...


@runtime_checkable
class FeedStore(Protocol):
    """The downstream feed: notices for each recipient, read in order behind a cursor.

    Notices are numbered by the store in increasing order (:attr:`FeedNotice.seq`); a
    notice appended later never gets a lower number than one a reader has seen, even with
    writers committing concurrently. Each recipient has a cursor: the highest number it
    acknowledged, which only moves forward.

    .. versionadded:: 0.2.0
    """

    def append(self, notices: Sequence[FeedNotice]) -> tuple[FeedNotice, ...]:
        """Store a batch in one transaction (all or nothing); return them with ``seq`` set.

        Raises:
            ValidationError: an item is not a :class:`~avgkit.feed.FeedNotice`, or is one
                with its ``seq`` already set (stored before); nothing is stored.
        """
        ...

    def read(
        self, recipient: str, *, after: int | None = None, limit: int = 500
    ) -> tuple[FeedNotice, ...]:
        """Up to ``limit`` of the recipient's notices with ``seq > after``, in ``seq`` order.

        ``after`` defaults to the recipient's :meth:`cursor`, so a reader that
        acknowledges what it processed gets the rest next time.

        Raises:
            ValidationError: ``after`` is negative or ``limit`` is not positive.
        """
        ...

    def acknowledge(self, recipient: str, seq: int) -> int:
        """Move the recipient's cursor forward to ``seq``; return the cursor.

        A ``seq`` at or below the cursor changes nothing (the cursor never moves back).

        Raises:
            ValidationError: ``seq`` is beyond the recipient's newest notice (it cannot have
                read it), or is not a whole number.
        """
        ...

    def cursor(self, recipient: str) -> int:
        """The highest ``seq`` the recipient acknowledged (0: never)."""
        ...

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Drop the host's id from the subject's notices, on erasure; return how many changed.

        The notices keep the subject's reference, so recipients still learn of the
        erasure. 0 when none names ``subject``.

        Raises:
            ValidationError: as for :meth:`RequestStore.forget_subject`.
        """
        ...

    def count(self) -> int:
        """Return the number of stored notices."""
        ...


@runtime_checkable
class Transactional(Protocol):
    """A store whose writes can share one transaction with the other stores of its set.

    The SQLite, PostgreSQL and memory audit stores offer it: inside ``atomic()``, every write
    of any store of the same set on the same thread joins one transaction, so a service's
    change and its audit entry are stored together or not at all. Adapters without
    transactions simply do not implement it (their :meth:`StoreSet.atomic` is then a block
    that undoes nothing).

    .. versionadded:: 0.1.0
    """

    def atomic(self) -> AbstractContextManager[None]:
        """Return a block whose writes, on this thread, commit together or not at all."""
        ...


@runtime_checkable
class UnitOfWork(Protocol):
    """Something that opens one transaction across several stores: a :class:`StoreSet`.

    Services take it (not a store's own transaction) for every operation that writes more
    than one thing: a consent event and its audit entry, an erasure's consent, keys, requests
    and outbox. Blocks nest: an inner block joins the outer one.

    .. versionadded:: 0.2.0
    """

    def atomic(self) -> AbstractContextManager[None]:
        """Return a block whose writes, on this thread, commit together or not at all."""
        ...


@attrs.define(kw_only=True)
class StoreSet:
    """The stores of one installation, opened together from one URL.

    Use it as a context manager, or call :meth:`close`.

    .. versionadded:: 0.1.0
    """

    url: str = attrs.field(repr=False)
    """The URL it was opened from (not shown in ``repr``: it may hold a password)."""
    audit: AuditStore
    """The audit chain."""
    keys: KeyStore | None = None
    """Pseudonym, token and per-subject keys (``None`` if the adapter keeps none)."""
    consent: ConsentStore | None = None
    """The consent ledger's events (``None`` if the adapter keeps none)."""
    breaches: BreachStore | None = None
    """The breach register (``None`` if the adapter keeps none)."""
    retention: RetentionStore | None = None
    """Holds, warnings and staged retention plans (``None`` if the adapter keeps none)."""
    erasures: ErasureStore | None = None
    """The erasure log, suppression list and erasure notices (``None``: none kept)."""
    requests: RequestStore | None = None
    """Data subject requests, their transitions and restrictions (``None``: none kept).

    .. versionadded:: 0.2.0
    """
    feed: FeedStore | None = None
    """The downstream feed of notices per recipient (``None``: none kept).

    .. versionadded:: 0.2.0
    """
    closer: Callable[[], None] = attrs.field(default=lambda: None, repr=False)
    transaction: Callable[[], AbstractContextManager[None]] | None = attrs.field(
        default=None, repr=False
    )
    """How the adapter opens one transaction across all of its stores (see :meth:`atomic`)."""
    joiner: Callable[[Any], AbstractContextManager[None]] | None = attrs.field(
        default=None, repr=False
    )
    """How the adapter runs inside a connection the host hands over (see :meth:`joined`)."""

    def joined(self, connection: Any) -> AbstractContextManager[None]:
        """A block in which avgkit writes through the host's own connection and transaction.

        A ticket shop commits an order and the consent given with it together, or neither::

            with shop.transaction():                  # the host's transaction (psycopg)
                shop.execute("INSERT INTO orders ...")
                with kit.stores.joined(shop):
                    kit.consent.give("cust-1042", "newsletter", evidence)
            # the host's COMMIT stores both; its ROLLBACK leaves neither

        Inside the block, on this thread, every avgkit write joins the host's open
        transaction as a savepoint (an avgkit error undoes only avgkit's part); nothing is
        committed until the host commits. Open the host's transaction before the block: with
        none open, each avgkit write commits on its own. The SQLite adapter takes a
        :class:`sqlite3.Connection` to the same file, the PostgreSQL adapter a
        :class:`psycopg.Connection` to the same database (avgkit's schema is used only inside
        the block).

        Raises:
            ValidationError: the adapter cannot join a host connection, or ``connection`` is
                not one it can join (another file or database, another driver).

        .. versionadded:: 0.2.0
        """
        if self.joiner is None:
            msg = (
                "this store set's adapter cannot join a host's connection; the SQLite and "
                "PostgreSQL adapters can"
            )
            raise ValidationError(msg)
        return self.joiner(connection)

    def atomic(self) -> AbstractContextManager[None]:
        """The unit of work: a block whose writes, in any store of the set, commit together.

        Everything written on this thread inside the block, to any store of this set, is
        stored together or not at all; an exception rolls all of it back. Blocks nest (the
        inner one joins the outer). An adapter without transactions (``transaction`` unset)
        falls back to its audit store's, if it has one.

        .. versionadded:: 0.2.0
        """
        if self.transaction is not None:
            return self.transaction()
        if isinstance(self.audit, Transactional):
            return self.audit.atomic()
        return nullcontext()

    def close(self) -> None:
        """Release connections and files held by the stores."""
        self.closer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


StoreOpener = Callable[[str], StoreSet]
"""A function that opens a :class:`StoreSet` from a URL of its scheme."""

_OPENERS: dict[str, StoreOpener] = {}


def register_scheme(scheme: str, opener: StoreOpener) -> None:
    """Make :func:`open_stores` open URLs of ``scheme`` with ``opener``.

    Plugins can instead declare an entry point in the ``avgkit.stores`` group whose name is
    the scheme and whose object is the opener.

    .. versionadded:: 0.1.0
    """
    if not scheme or not scheme.replace("+", "").replace("-", "").isalnum():
        msg = f"store scheme {scheme!r} is invalid; use letters, digits, '+' or '-'"
        raise ValidationError(msg)
    _OPENERS[scheme.lower()] = opener


# The built-in adapters are found by module name, as plugins are by entry point: this package
# holds only the protocols, so it never imports an adapter (they import it).
_BUILTIN: Final[dict[str, str]] = {
    "memory": "avgkit.storage.memory",
    "sqlite": "avgkit.storage.sqlite",
    "postgresql": "avgkit.storage.postgres",
    "postgres": "avgkit.storage.postgres",
}


def _builtin(scheme: str) -> StoreOpener | None:
    module_name = _BUILTIN.get(scheme)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = (
            f"the {scheme} adapter needs a driver that is not installed ({exc.name}); "
            "for PostgreSQL install it with: pip install 'avgkit[postgres]'"
        )
        raise StorageError(msg) from None
    opener: StoreOpener = module.open_url
    return opener


def open_stores(url: str) -> StoreSet:
    """Open the store set a URL names.

    ``memory://`` gives fresh in-memory stores; ``sqlite:///avg.db`` a SQLite file relative
    to the working directory, ``sqlite:////var/lib/avg.db`` an absolute one.

    Raises:
        ValidationError: the URL is malformed or its scheme is unknown.
        StorageError: the adapter could not open its database.

    .. versionadded:: 0.1.0
    """
    if not isinstance(url, str) or "://" not in url:
        msg = (
            "a store URL looks like 'memory://', 'sqlite:///avg.db' or "
            "'postgresql://user@host:5432/db?schema=venue'"
        )
        raise ValidationError(msg)
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # e.g. an unbalanced "[" in the host part
        msg = f"the store URL is malformed ({exc}); check brackets and special characters"
        raise ValidationError(msg) from None
    opener = _OPENERS.get(scheme) or _builtin(scheme)
    if opener is None:
        found = entry_points(group="avgkit.stores", name=scheme)
        for ep in found:
            opener = ep.load()
            break
    if opener is None:
        known = sorted({"memory", "sqlite", "postgresql", *_OPENERS})
        msg = f"no storage adapter for scheme {scheme!r}; known schemes: {known}"
        raise ValidationError(msg)
    return opener(url)
