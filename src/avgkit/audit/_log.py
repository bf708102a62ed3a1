"""The audit log service: records entries through an :class:`~avgkit.storage.AuditStore`."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING

from avgkit import _validators
from avgkit.audit._chain import (
    GENESIS_HASH,
    AuditAnchor,
    AuditEntry,
    Detail,
    VerifyReport,
    check_action,
    check_actor,
    check_details,
    verify_chain,
)
from avgkit.errors import ValidationError
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from avgkit.clock import Clock
    from avgkit.storage import AuditStore, UnitOfWork


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
    ) -> AuditEntry:
        """Append one entry and return it sealed.

        ``subject`` is turned into its pseudonymous reference before anything is stored.
        ``details`` must not hold personal data: keys of purposes, channels, counts.
        Concurrent writers (threads or processes sharing the store) are serialised by the
        store, which seals each entry on top of the head it holds locked.
        """
        when = self._clock.now() if at is None else at
        when = _validators.aware(when, "at")
        ref = None if subject is None else self.subject_ref(subject)
        clean = check_details(details or {})
        check_action(action)
        check_actor(actor)

        def seal(head: AuditEntry | None) -> AuditEntry:
            return AuditEntry.seal(
                seq=1 if head is None else head.seq + 1,
                at=when,
                action=action,
                actor=actor,
                subject_ref=ref,
                details=clean,
                prev_hash=GENESIS_HASH if head is None else head.hash,
            )

        return self._store.append(seal)

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
            return self._unit_of_work.atomic()
        own: Callable[[], AbstractContextManager[None]] | None = getattr(
            self._store, "atomic", None
        )
        return nullcontext() if own is None else own()

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries oldest first, from sequence number ``start``."""
        return self._store.entries(start=start)

    def for_subject(self, subject: SubjectId | str) -> Iterator[AuditEntry]:
        """Stream the entries about one subject, oldest first."""
        return self._store.entries_for(self.subject_ref(subject))

    def anchor(self) -> AuditAnchor | None:
        """Return the current head to keep outside the database, or ``None`` when empty."""
        head = self._store.head()
        return None if head is None else AuditAnchor(seq=head.seq, hash=head.hash)

    def verify(self, *, anchor: AuditAnchor | None = None) -> VerifyReport:
        """Recompute the whole chain; raise :class:`~avgkit.IntegrityError` on tampering."""
        return verify_chain(self._store.entries(), anchor=anchor)

    def __len__(self) -> int:
        return self._store.count()
