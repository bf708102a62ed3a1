"""The audit log service: records entries through an :class:`~avgkit.storage.AuditStore`."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from avgkit import _validators
from avgkit.audit._anchors import AnchorSink
from avgkit.audit._bound import (
    BOUND_DIGEST,
    BOUND_KIND,
    BOUND_RECORDS,
    RESERVED,
    BoundRecord,
    Reconciler,
    bound_digest,
    check_bound,
    check_kind,
    subject_digest,
)
from avgkit.audit._chain import (
    DETAILS_MAX,
    GENESIS_HASH,
    AnchorKey,
    AuditAnchor,
    AuditEntry,
    ChainRows,
    Detail,
    VerifyReport,
    check_action,
    check_actor,
    check_details,
    seal_checked,
    verify_chain,
    verify_rows,
)
from avgkit.errors import ValidationError
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from avgkit.clock import Clock
    from avgkit.storage import AuditStore, BoundStore, UnitOfWork

_REFERENCE_PREFIX = "sr1:"


@attrs.frozen
class _Anchoring:
    sink: AnchorSink
    key: AnchorKey | None
    every: int


class AuditLog:
    """Records what services do and verifies that the record was not tampered with.

    Args:
        store: where entries are kept (see :func:`avgkit.storage.open_stores`).
        clock: the source of entry times.
        unit_of_work: the store set's unit of work (:meth:`avgkit.storage.StoreSet.atomic`),
            which :meth:`atomic` opens; by default the store's own transaction if it has one.
        reference_secret: where the subject-reference secret is kept: a function given the
            function that makes a new secret, shaped like
            :meth:`avgkit.storage.AuditStore.reference_secret` (the default, the audit
            store's). :class:`~avgkit.Kit` keeps it with the keys, wrapped like them.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``reference_secret``.
    """

    def __init__(
        self,
        store: AuditStore,
        clock: Clock,
        *,
        unit_of_work: UnitOfWork | None = None,
        reference_secret: Callable[[Callable[[], bytes]], bytes] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._unit_of_work = unit_of_work
        self._secret: bytes | None = None
        self._bound: dict[str, BoundStore] = {}
        self._anchoring: _Anchoring | None = None
        self._local = threading.local()  # this thread's open atomic() blocks and anchors
        self._secret_source = (
            store.reference_secret if reference_secret is None else reference_secret
        )

    def __repr__(self) -> str:
        return f"AuditLog(store={self._store!r})"

    def subject_ref(self, subject: str) -> str:
        """Return the pseudonymous reference under which ``subject`` appears in the log.

        It is ``"sr1:"`` and 32 hex characters of HMAC-SHA-256 of the subject id under this
        installation's secret: stable for one installation, meaningless without the secret.
        """
        sid = subject_id(subject)
        digest = hmac.new(
            self._reference_secret(), b"avgkit.subject-ref\n" + sid.encode(), "sha256"
        )
        return "sr1:" + digest.hexdigest()[:32]

    def keyed_ref(self, domain: str, value: str) -> str:
        """A keyed pseudonym of ``value`` in ``domain``, under the same secret as references.

        ``"kr1:"`` and 32 hex characters of HMAC-SHA-256; the erasure's suppression list
        keeps e-mail addresses this way (``keyed_ref("suppression", normalised_email)``), so
        that a later import can be checked against it without the address being stored.

        .. versionadded:: 0.2.0
        """
        _validators.key(domain, "domain")
        if not isinstance(value, str) or not value:
            msg = "keyed_ref() takes a non-empty text value"
            raise ValidationError(msg)
        message = f"avgkit.keyed.{domain}\n".encode() + value.encode("utf-8", "surrogatepass")
        digest = hmac.new(self._reference_secret(), message, "sha256")
        return "kr1:" + digest.hexdigest()[:32]

    def _reference_secret(self) -> bytes:
        # Loaded (or created) once per log. atomic() loads it before opening its block, so
        # the secret is never first created inside a transaction that may roll back: that
        # would leave this object caching a secret no later process ever sees.
        if self._secret is None:
            self._secret = self._secret_source(lambda: secrets.token_bytes(32))
        return self._secret

    def record(
        self,
        action: str,
        *,
        subject: SubjectId | str | None = None,
        actor: str = "system",
        details: Mapping[str, Detail] | None = None,
        at: datetime | None = None,
        bound: Sequence[BoundRecord] = (),
    ) -> AuditEntry:
        """Append one entry and return it sealed.

        ``subject`` is turned into its pseudonymous reference before anything is stored.
        ``details`` must not hold personal data: keys of purposes, channels, counts.
        Concurrent writers (threads or processes sharing the store) are serialised by the
        store, which seals each entry on top of the head it holds locked.

        ``bound`` binds records just stored (of one kind, whose store was given to
        :meth:`bind_store`) to this entry: their digest goes into the entry's details
        (``bound``, ``bound_digest``, ``bound_records``) and the store remembers the
        entry's ``seq``, in one unit of work, so :meth:`verify` finds the records changed,
        deleted or inserted later.

        .. versionchanged:: 0.2.0
           ``bound``.
        """
        when = self._clock.now() if at is None else at
        when = _validators.to_utc(_validators.aware(when, "at"))
        ref = None if subject is None else self.subject_ref(subject)
        clean = check_details(details or {})
        check_action(action)
        check_actor(actor)
        if RESERVED & clean.keys():
            msg = f"the audit details {sorted(RESERVED)} are reserved for bound records"
            raise ValidationError(msg)
        store: BoundStore | None = None
        keys: list[tuple[str, int]] = []
        if bound:
            kind, records = check_bound(bound)
            store = self._bound.get(kind)
            if store is None:
                msg = f"no store is bound for {kind!r} records; call bind_store() first"
                raise ValidationError(msg)
            digests = [self._record_digest(r, subject, ref) for r in records]
            # The three added details are checked values (a kind key, a hex digest, a
            # count): only the size limit and the canonical order need seeing to.
            clean = {
                **clean,
                BOUND_KIND: kind,
                BOUND_DIGEST: bound_digest(digests),
                BOUND_RECORDS: len(records),
            }
            if len(clean) > DETAILS_MAX:
                clean = check_details(clean)  # raises, saying how many are allowed
            clean = dict(sorted(clean.items()))
            keys = [r.key for r in records]

        def seal(head: AuditEntry | AuditAnchor | None) -> AuditEntry:
            # Every field was checked above: hash and build without checking again.
            if head is None:
                return seal_checked(1, when, action, actor, ref, clean, GENESIS_HASH)
            return seal_checked(head.seq + 1, when, action, actor, ref, clean, head.hash)

        if store is None:
            entry = self._store.append(seal)
        else:
            with self.atomic():  # the entry and the binding, together
                entry = self._store.append(seal)
                store.bind(keys, entry.seq)
        anchoring = self._anchoring
        if anchoring is not None and entry.seq % anchoring.every == 0:
            self._schedule(anchoring, AuditAnchor(seq=entry.seq, hash=entry.hash))
        return entry

    def _record_digest(
        self, record: BoundRecord, subject: SubjectId | str | None, ref: str | None
    ) -> str:
        # ``ref`` is the entry's own subject's reference: a record of that subject (the
        # usual case, one event of the subject the entry is about) reuses it, unless the
        # record's subject is a reference already (reference_of keeps those as they are).
        digest = record.digest
        assert digest is not None  # noqa: S101 - check_bound refused records without one
        if record.subject is None:
            return digest
        own = ref is not None and record.subject == subject
        if own and ref is not None and not record.subject.startswith(_REFERENCE_PREFIX):
            return subject_digest(digest, ref)
        return subject_digest(digest, self.reference_of(record.subject))

    def reference_of(self, subject: str) -> str:
        """``subject``'s reference: itself if it is one already (``"sr1:..."``, erased)."""
        if subject.startswith(_REFERENCE_PREFIX):
            return subject
        return self.subject_ref(subject)

    def bind_store(self, kind: str, store: BoundStore) -> None:
        """Reconcile ``store``'s records of ``kind`` with the chain in :meth:`verify`.

        A service calls it once for the store whose records it binds (the breach register
        for ``"breach_version"``). Giving the same store again changes nothing.

        Raises:
            ValidationError: ``kind`` is malformed, or another store is bound for it.

        .. versionadded:: 0.2.0
        """
        check_kind(kind)
        known = self._bound.setdefault(kind, store)
        if known is not store:
            msg = f"another store is already bound for {kind!r} records in this audit log"
            raise ValidationError(msg)

    # ------------------------------------------------------------------ anchors

    def write_anchors(
        self, sink: AnchorSink, *, key: AnchorKey | None = None, every: int = 1000
    ) -> None:
        """Write an anchor of the head to ``sink`` every ``every`` entries, sealed with ``key``.

        An anchor is written once the entry it names is committed (a rolled-back entry gets
        none). Keep the sink where the database's writer cannot change it (see
        :class:`AnchorFile`) and the key apart from the database; check the chain against
        them with ``verify(anchors=..., key=...)``.

        Raises:
            ValidationError: ``sink`` is not callable, ``key`` not an :class:`AnchorKey`,
                or ``every`` not a whole number from 1.

        .. versionadded:: 0.2.0
        """
        if not callable(sink):
            msg = "the anchor sink is a callable taking an AuditAnchor, e.g. AnchorFile(path)"
            raise ValidationError(msg)
        if key is not None and not isinstance(key, AnchorKey):
            msg = f"key must be an AnchorKey, got {type(key).__name__}"
            raise ValidationError(msg)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            msg = "every must be a whole number of entries from 1"
            raise ValidationError(msg)
        self._anchoring = _Anchoring(sink=sink, key=key, every=every)

    def write_anchor(self) -> AuditAnchor | None:
        """Write an anchor of the current head to the sink now; return it (``None``: empty).

        Inside a unit of work it is written once the block commits.

        Raises:
            ValidationError: no sink was given to :meth:`write_anchors`.

        .. versionadded:: 0.2.0
        """
        anchoring = self._anchoring
        if anchoring is None:
            msg = "no anchor sink: call write_anchors(sink, key=...) first"
            raise ValidationError(msg)
        head = self.anchor()
        if head is not None:
            self._schedule(anchoring, head)
            if anchoring.key is not None:
                head = head.sealed(anchoring.key)
        return head

    def _schedule(self, anchoring: _Anchoring, anchor: AuditAnchor) -> None:
        sealed = anchor if anchoring.key is None else anchor.sealed(anchoring.key)

        def write() -> None:
            anchoring.sink(sealed)

        # The SQL stores run it when the transaction commits and drop it on a rollback; in
        # a block of this log's own (the memory adapter) it waits for the block to end.
        after_commit: Callable[[Callable[[], None]], None] | None = getattr(
            self._store, "after_commit", None
        )
        if after_commit is not None:
            after_commit(write)
        elif getattr(self._local, "depth", 0):
            self._local.pending.append(write)
        else:
            write()

    @contextmanager
    def _tracked(self, block: AbstractContextManager[None]) -> Iterator[None]:
        local = self._local
        depth: int = getattr(local, "depth", 0)
        if not depth:
            local.pending = []
        pending: list[Callable[[], None]] = local.pending
        mark = len(pending)
        local.depth = depth + 1
        try:
            with block:
                yield
        except BaseException:
            del pending[mark:]
            raise
        finally:
            local.depth = depth
        if not depth:
            local.pending = []
            for write in pending:
                write()

    def atomic(self) -> AbstractContextManager[None]:
        """A block in which a service's change and its audit entry are stored together.

        It is the store set's unit of work (:meth:`avgkit.storage.StoreSet.atomic`):
        everything written in the block on this thread, in any store of the set, commits
        together or not at all, so a failure can never leave a change without its entry::

            with audit.atomic():
                store.append(event)
                audit.record("consent.given", subject=event.subject)
        """
        self._reference_secret()  # committed on its own, before the block can roll back
        if self._unit_of_work is not None:
            return self._tracked(self._unit_of_work.atomic())
        own: Callable[[], AbstractContextManager[None]] | None = getattr(
            self._store, "atomic", None
        )
        return self._tracked(nullcontext() if own is None else own())

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries oldest first, from sequence number ``start``."""
        if isinstance(start, bool) or not isinstance(start, int) or abs(start) >= 2**63:
            msg = f"start= takes a sequence number (a whole number), got {type(start).__name__}"
            raise ValidationError(msg)
        return self._store.entries(start=start)

    def for_subject(self, subject: SubjectId | str) -> Iterator[AuditEntry]:
        """Stream the entries about one subject, oldest first."""
        return self._store.entries_for(self.subject_ref(subject))

    def anchor(self) -> AuditAnchor | None:
        """Return the current head to keep outside the database, or ``None`` when empty."""
        head = self._store.head()
        return None if head is None else AuditAnchor(seq=head.seq, hash=head.hash)

    def verify(
        self,
        *,
        anchor: AuditAnchor | None = None,
        anchors: Iterable[AuditAnchor] = (),
        key: AnchorKey | None = None,
    ) -> VerifyReport:
        """Recompute the whole chain and reconcile the bound stores with it.

        In one streamed walk: every entry's hash and link, every record of each store given
        to :meth:`bind_store` against the entry that binds it, and the chain against
        ``anchors`` (and ``anchor``): each must match the entry it names, and with ``key``
        (by default the key given to :meth:`write_anchors`) carry its seal.

        Raises:
            IntegrityError: the first problem found, naming the entry or the record (its
                kind and key, never its contents).

        .. versionchanged:: 0.2.0
           Reconciles bound stores; ``anchors`` and ``key``.
        """
        if key is None and self._anchoring is not None:
            key = self._anchoring.key
        if key is not None and not isinstance(key, AnchorKey):
            msg = f"key must be an AnchorKey, got {type(key).__name__}"
            raise ValidationError(msg)
        reconcilers = [
            Reconciler(kind, store.bound_records(), self.reference_of)
            for kind, store in sorted(self._bound.items())
        ]
        store = self._store
        if isinstance(store, ChainRows):  # the stored rows, without decoding each entry
            return verify_rows(
                store.chain_rows(),
                store.chain_entry,
                anchor=anchor,
                anchors=anchors,
                key=key,
                bound=reconcilers,
            )
        return verify_chain(
            store.entries(), anchor=anchor, anchors=anchors, key=key, bound=reconcilers
        )

    def __len__(self) -> int:
        return self._store.count()
