"""The key store seen through the key-encryption key (private; see avgkit.pseudonym).

Every key avgkit reads or writes passes through a :class:`KeyVault`. It wraps material
before it is stored and unwraps it when read, and it holds the one rule a KEK is worth
anything by: once a key store's keys are wrapped, every key in it must be. Its marker is
the subject-reference secret, which the vault also keeps (wrapped like a key): a store set
up with a KEK has a wrapped secret, so a process opened without the KEK is refused before
it reads or writes anything, and a process with the KEK refuses any unwrapped row.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from avgkit.errors import ConfigurationError, ConflictError, IntegrityError, NotFound
from avgkit.pseudonym._keys import KeyEncryptionKey, KeyKind, StoredKey

if TYPE_CHECKING:
    from avgkit.clock import Clock
    from avgkit.storage import AuditStore, KeyStore

__all__ = ["REFERENCE_SECRET_ID", "KeyVault", "WrappingReport", "stored_wrapping"]

REFERENCE_SECRET_ID: Final = "subject-ref"  # noqa: S105 - a key id, not the secret
"""The key id under which the subject-reference secret is kept in the key store."""

_RINGS: Final = (KeyKind.PSEUDONYM, KeyKind.TOKEN)


@runtime_checkable
class _SecretKeeper(Protocol):
    """An audit store from before the secret moved to the keys: it can hand it over."""

    def stored_reference_secret(self) -> bytes | None: ...

    def discard_reference_secret(self) -> None: ...


@runtime_checkable
class WrappingReport(Protocol):
    """A key store that can say how all its keys are wrapped, subject keys included.

    :meth:`~avgkit.storage.KeyStore.ring` never lists subject keys, so without this a store
    whose only wrapped keys are subject keys (an older store, from before the marker) looks
    unwrapped. The SQL key store has it; a store without it is judged by its rings.
    """

    def wrappings(self) -> frozenset[str | None]:
        """The ids of the KEKs wrapping stored keys; ``None`` among them for a key in the clear."""
        ...


def stored_wrapping(store: KeyStore) -> frozenset[str | None]:
    """How the keys in ``store`` are wrapped, as far as it tells, reading (never unwrapping).

    The marker (the subject-reference secret) decides where there is one; otherwise every
    key of the rings, and every key at all when the store is a :class:`WrappingReport`.
    Each KEK id found is in the set, and ``None`` for a key stored in the clear; an empty
    set is a store without keys.
    """
    try:
        marker: StoredKey | None = store.get(REFERENCE_SECRET_ID)
    except NotFound:
        marker = None
    if marker is not None:
        return frozenset({marker.wrapped_by})
    found = {stored.wrapped_by for kind in _RINGS for stored in store.ring(kind)}
    if isinstance(store, WrappingReport):
        found |= store.wrappings()
    return frozenset(found)


class KeyVault:
    """A :class:`~avgkit.storage.KeyStore` with the KEK applied and enforced.

    Args:
        store: the key store.
        kek: the key-encryption key, or ``None`` for a store whose keys are not wrapped.
        clock: when a secret kept here was made.
        legacy: the audit store that kept the subject-reference secret before it moved to
            the key store; the vault moves it over on first use (read old, write new, then
            delete old) so that subject references stay what they were.
    """

    def __init__(
        self,
        store: KeyStore,
        kek: KeyEncryptionKey | None,
        clock: Clock,
        *,
        legacy: AuditStore | None = None,
    ) -> None:
        self.store = store
        self.kek = kek
        self._clock = clock
        self._legacy = legacy
        self._checked = False
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyVault(store={self.store!r}, kek={'set' if self.kek else 'none'})"

    # ---------------------------------------------------------------- the rule

    def check(self) -> None:
        """Refuse a key store whose wrapping does not match this vault's KEK.

        Reads the stored marker (the subject-reference secret) once per vault; a store
        without one (new, or from before the marker) is judged by its key rings and, when
        it can report them (:class:`WrappingReport`), by how every key in it is wrapped,
        subject keys included: an older store whose only wrapped keys are subject keys is
        refused without its KEK like any other.

        Raises:
            ConfigurationError: the store's keys are wrapped and no KEK was given.
            NotFound: they are wrapped by another KEK (the message names both ids).
            IntegrityError: a KEK was given and the marker or a key is stored unwrapped, or
                the marker or a ring key does not unwrap with it.
        """
        if self._checked:
            return
        marker = self._get(REFERENCE_SECRET_ID)
        if marker is not None:
            self.unwrap(marker)
        else:
            for kind in _RINGS:
                for stored in self.store.ring(kind):
                    self.unwrap(stored)
            if isinstance(self.store, WrappingReport):
                self._judge(self.store.wrappings())
        self._checked = True

    def _judge(self, wrappings: frozenset[str | None]) -> None:
        """Refuse keys (subject keys, which no ring lists) wrapped otherwise than this vault."""
        wrapped = sorted(w for w in wrappings if w is not None)
        if self.kek is None:
            if wrapped:
                msg = (
                    f"the key store holds keys wrapped by KEK {wrapped[0]!r}, and this kit was "
                    "opened without a KEK; pass that KeyEncryptionKey as kek= to use this key "
                    "store (nothing is read or written without it)"
                )
                raise ConfigurationError(msg)
            return
        if None in wrappings:
            msg = (
                "the key store holds keys stored unwrapped, but this kit wraps every key with "
                f"KEK {self.kek.id!r}: the key store was set up without a KEK (avgkit does not "
                "wrap existing keys later), or rows were written without it; open a store made "
                "without a KEK without kek="
            )
            raise IntegrityError(msg)
        others = [w for w in wrapped if w != self.kek.id]
        if others:
            msg = (
                f"the key store holds keys wrapped by KEK {others[0]!r}, but KEK "
                f"{self.kek.id!r} was given; pass the KEK they were stored with"
            )
            raise NotFound(msg)

    def unwrap(self, stored: StoredKey) -> StoredKey:
        """Return ``stored`` with its material in the clear, as this vault's KEK allows.

        Raises:
            ConfigurationError: ``stored`` is wrapped and this vault has no KEK.
            IntegrityError: this vault has a KEK and ``stored`` is not wrapped (a row
                written without the KEK: planted, or the store was set up without one), or
                it does not unwrap (the message names the key id, never material).
            NotFound: ``stored`` is wrapped by another KEK.
        """
        if self.kek is None:
            if stored.wrapped_by is not None:
                msg = (
                    f"key {stored.key_id!r} is wrapped by KEK {stored.wrapped_by!r}, and this "
                    "kit was opened without a KEK; pass that KeyEncryptionKey as kek= to use "
                    "this key store (nothing is read or written without it)"
                )
                raise ConfigurationError(msg)
            return stored
        if stored.wrapped_by is None:
            msg = (
                f"the {stored.kind} key {stored.key_id!r} is stored unwrapped, but this kit "
                f"wraps every key with KEK {self.kek.id!r}: the row was written without the "
                "KEK (by hand, or by a process opened without kek=), or the key store was "
                "set up without a KEK; avgkit does not use it. Remove the row, or open a "
                "store made without a KEK without kek="
            )
            raise IntegrityError(msg)
        return self.kek.unwrap(stored)

    def wrap(self, stored: StoredKey) -> StoredKey:
        """Return ``stored`` as it is to be stored: wrapped when this vault has a KEK."""
        return stored if self.kek is None else self.kek.wrap(stored)

    # ---------------------------------------------------------------- the store, checked

    def ready(self) -> None:
        """Check the store and make sure it holds the marker; call it before writing a key.

        Called outside any transaction, so that the marker (the subject-reference secret)
        is never first stored inside a block that may roll back, leaving this vault with a
        secret no other process sees.
        """
        self.check()
        self.reference_secret()

    def add(self, stored: StoredKey) -> None:
        """Store a new key (in the clear in ``stored``), wrapped as the store requires.

        Raises:
            ConflictError: the id (or the subject's key) is taken, or the subject shredded.
        """
        self.check()
        self.store.add(self.wrap(stored))

    def ring(self, kind: KeyKind) -> tuple[StoredKey, ...]:
        """The keys of ``kind``, oldest first, unwrapped."""
        self.check()
        return tuple(self.unwrap(stored) for stored in self.store.ring(kind))

    def ring_ids(self, kind: KeyKind) -> tuple[str, ...]:
        """The ids of the keys of ``kind``, oldest first (material is not unwrapped)."""
        self.check()
        return tuple(stored.key_id for stored in self.store.ring(kind))

    def for_subject(self, subject_ref: str) -> StoredKey | None:
        """The subject's data key, unwrapped, if it has one."""
        self.check()
        stored = self.store.for_subject(subject_ref)
        return None if stored is None else self.unwrap(stored)

    def shred(self, subject_ref: str, at: datetime) -> bool:
        """Destroy the subject's data key (see :meth:`avgkit.storage.KeyStore.shred`)."""
        self.check()
        return self.store.shred(subject_ref, at)

    def shredded_at(self, subject_ref: str) -> datetime | None:
        """When the subject's data key was shredded, or ``None``."""
        return self.store.shredded_at(subject_ref)

    # ---------------------------------------------------------------- the reference secret

    def reference_secret(self, create: Callable[[], bytes] | None = None) -> bytes:
        """Return the subject-reference secret kept with the keys, making it once.

        The shape of :meth:`avgkit.storage.AuditStore.reference_secret`, so that an
        :class:`~avgkit.audit.AuditLog` can take it. On first use an existing secret kept
        by the legacy audit store is moved here (wrapped by the KEK if there is one) and
        then deleted there; otherwise ``create`` makes a new one. Concurrent first callers
        all get the same secret: the first ``add`` wins and the others read it back.
        """
        with self._lock:
            if self._secret is None:
                self.check()
                self._secret = self._load(create)
            return self._secret

    def _load(self, create: Callable[[], bytes] | None) -> bytes:
        stored = self._get(REFERENCE_SECRET_ID)
        if stored is None:
            old = self._legacy_secret(create)
        else:  # moved before; a crash may have kept the old copy from being deleted
            keeper = self._legacy if isinstance(self._legacy, _SecretKeeper) else None
            old = None if keeper is None else keeper.stored_reference_secret()
        if stored is None:
            if old is None:
                old = _fresh() if create is None else create()
            record = StoredKey(
                key_id=REFERENCE_SECRET_ID,
                kind=KeyKind.SECRET,
                material=old,
                created_at=self._clock.now(),
            )
            # Another process may store it first: theirs is read back below.
            with contextlib.suppress(ConflictError):
                self.store.add(self.wrap(record))
            stored = self._get(REFERENCE_SECRET_ID)
            if stored is None:  # pragma: no cover - a store that lost what it just took
                msg = "the key store did not keep the subject-reference secret it was given"
                raise IntegrityError(msg)
        secret = self.unwrap(stored).material
        if isinstance(self._legacy, _SecretKeeper) and old is not None:
            self._legacy.discard_reference_secret()  # safely with the keys now
        return secret

    def _legacy_secret(self, create: Callable[[], bytes] | None) -> bytes | None:
        if self._legacy is None:
            return None
        if isinstance(self._legacy, _SecretKeeper):
            return self._legacy.stored_reference_secret()
        # An adapter that cannot hand the secret over keeps it: ask for it as before, so
        # that references do not change under its existing data.
        return self._legacy.reference_secret(_fresh if create is None else create)

    def _get(self, key_id: str) -> StoredKey | None:
        try:
            return self.store.get(key_id)
        except NotFound:
            return None


def _fresh() -> bytes:
    return secrets.token_bytes(32)
