"""The pseudonym service: keys in the key store, pseudonyms, tokens, anonymiser, shredding."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from avgkit import _validators
from avgkit.audit._chain import Detail
from avgkit.errors import (
    ConflictError,
    IntegrityError,
    NotFound,
    ShreddedKeyError,
    StorageError,
    ValidationError,
)
from avgkit.inventory import IdentifierKind, Inventory, Treatment
from avgkit.pseudonym._anonymise import KAnonymityReport, RecordAnonymiser, k_anonymity
from avgkit.pseudonym._generalise import (
    Generaliser,
)
from avgkit.pseudonym._keys import (
    KeyEncryptionKey,
    KeyKind,
    KeyRing,
    PseudonymKey,
    StoredKey,
    SubjectKey,
    TokenKey,
)
from avgkit.pseudonym._options import PseudonymOptions
from avgkit.pseudonym._pseudo import (
    Pseudonymiser,
    Tokeniser,
    ValueKind,
)
from avgkit.pseudonym._vault import KeyVault
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from avgkit.audit import AuditLog
    from avgkit.clock import Clock
    from avgkit.storage import AuditStore, KeyStore, UnitOfWork


SEAL_VERSION: Final = b"as1"
"""The first bytes of a sealed blob: ``as1 || 12-byte nonce || AES-256-GCM ciphertext+tag``.

.. versionadded:: 0.1.0
"""
_NONCE = 12
_TAG = 16
_SEAL_AAD: Final = b"avgkit.seal.v1\x00"


_SHREDDED: Final = "pseudonym.subject_key_shredded"
_SHRED_STARTED: Final = "pseudonym.subject_key_shred_started"

_RING_TYPES: Final[dict[KeyKind, type[PseudonymKey | TokenKey]]] = {
    KeyKind.PSEUDONYM: PseudonymKey,
    KeyKind.TOKEN: TokenKey,
}


def _key_id_in(text: object) -> str:
    """The key id of a pseudonym or token text (``"ps1.<key id>..."``), or ``""``."""
    parts = text.split(".", 2) if isinstance(text, str) else []
    return parts[1] if len(parts) == 3 else ""  # noqa: PLR2004


def _no_key_store() -> StorageError:
    return StorageError(
        "this store set has no key store; open one whose adapter keeps keys "
        "(memory://, sqlite:///..., postgresql://...)"
    )


class Pseudonyms:
    """``kit.pseudonyms``: keys in the key store, pseudonyms, tokens, anonymiser, shredding.

    Pseudonym and token keys are made explicitly with :meth:`rotate` (the first call makes
    the first key); until then pseudonymising raises :class:`~avgkit.errors.NotFound`.
    Per-subject data keys are made on the first :meth:`seal` for a subject. Keys are kept
    under the subject's pseudonymous reference (the audit log's), never the subject id.

    Whoever reads the key store can undo pseudonyms and open sealed data: give keys a
    store set of their own (``Pseudonyms(open_stores("sqlite:////secure/keys.db").keys,
    ...)``), and pass a ``kek`` so that the key material at rest is wrapped by a secret
    kept outside any database. Once a key store holds wrapped keys, every key in it must
    be wrapped: a service without the KEK reads and writes nothing there
    (:class:`~avgkit.errors.ConfigurationError`), and one with the KEK refuses an unwrapped
    row (:class:`~avgkit.errors.IntegrityError`).

    Args:
        store: where keys are kept.
        inventory: the declared fields (for the anonymiser) and purposes (for sealing).
        clock: the source of time.
        audit: the audit log (key creation and shredding are recorded).
        kek: wraps key material before it is stored, and unwraps it on reading.
        default_country: how national phone numbers are read (``"NL"`` or ``"BE"``).
        keys_unit_of_work: when the key store lives in another store set than the audit log
            (``Kit.open(..., keys_url=...)``), that set. Its writes cannot share the audit
            log's transaction, so key changes are then audited intent first: the intent is
            committed, the key changed, then the outcome recorded; no failure loses the trace.
        legacy_secret: the audit store that kept the subject-reference secret before it
            moved to the key store (see :meth:`reference_secret`); the kit passes its own.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``legacy_secret``; a wrapped key store refuses unwrapped keys.
    """

    def __init__(
        self,
        store: KeyStore | None,
        inventory: Inventory,
        clock: Clock,
        audit: AuditLog,
        *,
        kek: KeyEncryptionKey | None = None,
        default_country: str = "NL",
        keys_unit_of_work: UnitOfWork | None = None,
        legacy_secret: AuditStore | None = None,
    ) -> None:
        if kek is not None and not isinstance(kek, KeyEncryptionKey):
            msg = f"kek must be a KeyEncryptionKey, got {type(kek).__name__}"
            raise ValidationError(msg)
        self.options = PseudonymOptions(default_country=default_country)
        self._store = store
        self._inventory = inventory
        self._clock = clock
        self._audit = audit
        self._kek = kek
        self._default_country = default_country
        self._keys_apart = keys_unit_of_work
        self._pseudonymiser: Pseudonymiser | None = None
        self._tokeniser: Tokeniser | None = None
        self._legacy_secret = legacy_secret
        self._vault = None if store is None else KeyVault(store, kek, clock, legacy=legacy_secret)

    def __repr__(self) -> str:
        return f"Pseudonyms(store={self._store!r}, kek={'set' if self._kek else 'none'})"

    # ------------------------------------------------------------------ keys

    @property
    def store(self) -> KeyStore:
        """The key store.

        Raises:
            StorageError: the store set has no key store.
        """
        if self._store is None:
            raise _no_key_store()
        return self._store

    @property
    def _keys(self) -> KeyVault:
        if self._vault is None:
            raise _no_key_store()
        return self._vault

    def check_keys(self) -> None:
        """Check that this service's KEK (or its absence) matches the key store.

        The kit calls it when it opens, so that a process without the KEK stops before it
        reads or writes anything. Does nothing without a key store.

        Raises:
            ConfigurationError: the stored keys are wrapped and no KEK was given.
            NotFound: they are wrapped by another KEK.
            IntegrityError: a KEK was given, and the store's keys are not wrapped or do not
                unwrap with it.

        .. versionadded:: 0.2.0
        """
        if self._vault is not None:
            self._vault.check()

    def reference_secret(self, create: Callable[[], bytes]) -> bytes:
        """Return the subject-reference secret, kept with the keys and wrapped like them.

        The shape of :meth:`avgkit.storage.AuditStore.reference_secret`: the kit's audit
        log takes its secret from here (``AuditLog(..., reference_secret=...)``), so that
        the secret lives where the keys live (the key store set, when keys are kept apart)
        and a recreated main store does not change subject references. A secret an older
        avgkit kept in the audit store (``legacy_secret``) is moved here on first use.
        Without a key store the audit store keeps it, as before.

        .. versionadded:: 0.2.0
        """
        if self._vault is not None:
            return self._vault.reference_secret(create)
        if self._legacy_secret is None:
            raise _no_key_store()
        return self._legacy_secret.reference_secret(create)

    def rotate(self, kind: KeyKind | str = KeyKind.PSEUDONYM, *, actor: str = "system") -> str:
        """Make a new pseudonym (or token) key, the newest of its ring; return its id.

        The first call for a kind makes the first key. Older keys stay, so values made under
        them still verify; move them with :meth:`repseudonymise` / :meth:`retokenise`.

        Raises:
            ValidationError: ``kind`` is not ``"pseudonym"`` or ``"token"``.
        """
        key_type = self._ring_type(kind)
        key = key_type.generate()
        self.add_key(key, actor=actor)
        return key.id

    def ensure_key(self, kind: KeyKind | str = KeyKind.PSEUDONYM, *, actor: str = "system") -> str:
        """Make the first key of ``kind`` unless one exists; return the current key's id.

        Safe to call from every worker at start-up, at the same time: the first key has a
        fixed id (``"pseudonym-1"``, ``"token-1"``), so exactly one of the racing workers
        stores it and the others read it back, instead of each making a ring of its own.

        Raises:
            ValidationError: ``kind`` is not ``"pseudonym"`` or ``"token"``.

        .. versionadded:: 0.2.0
        """
        key_type = self._ring_type(kind)
        existing = self.key_ids(kind)
        if existing:
            return existing[-1]
        first = key_type.generate(key_id=f"{KeyKind(kind)}-1")
        try:
            self.add_key(first, actor=actor)
        except ConflictError:
            self.refresh()  # another worker stored the first key first: use theirs
        return self.key_ids(kind)[-1]

    def add_key(self, key: PseudonymKey | TokenKey, *, actor: str = "system") -> None:
        """Store a key made elsewhere (imported with ``from_bytes``) as the newest of its ring.

        Raises:
            ConflictError: a key with that id is already stored.
        """
        if not isinstance(key, PseudonymKey | TokenKey):
            msg = f"add_key takes a PseudonymKey or TokenKey, got {type(key).__name__}"
            raise ValidationError(msg)
        kind = KeyKind.PSEUDONYM if isinstance(key, PseudonymKey) else KeyKind.TOKEN
        stored = StoredKey(
            key_id=key.id, kind=kind, material=key.material, created_at=self._clock.now()
        )
        details: dict[str, Detail] = {"kind": str(kind), "key_id": key.id}
        keys = self._keys
        keys.ready()
        if self._keys_apart is None:
            with self._audit.atomic():  # the key and its audit entry, together
                keys.add(stored)
                self._audit.record("pseudonym.key_created", actor=actor, details=details)
        else:
            # The keys live in another database: no shared transaction. Record the intent
            # first, so that a key can never exist without a trace, then the outcome.
            self._audit.record("pseudonym.key_creation_started", actor=actor, details=details)
            with self._keys_apart.atomic():
                keys.add(stored)
            self._audit.record("pseudonym.key_created", actor=actor, details=details)
        self.refresh()

    @staticmethod
    def _ring_type(kind: KeyKind | str) -> type[PseudonymKey | TokenKey]:
        try:
            return _RING_TYPES[KeyKind(kind)]
        except (ValueError, KeyError):
            msg = "only 'pseudonym' and 'token' keys form a ring; pass one of those as the kind"
            raise ValidationError(msg) from None

    def ring(
        self, kind: KeyKind | str = KeyKind.PSEUDONYM
    ) -> KeyRing[PseudonymKey] | KeyRing[TokenKey]:
        """The ring of ``kind`` as stored now, oldest key first.

        Raises:
            NotFound: no key of that kind exists yet (make one with :meth:`rotate`).
        """
        key_type = self._ring_type(kind)
        if key_type is PseudonymKey:
            return KeyRing(
                PseudonymKey(id=s.key_id, material=s.material) for s in self._stored(kind)
            )
        return KeyRing(TokenKey(id=s.key_id, material=s.material) for s in self._stored(kind))

    def _stored(self, kind: KeyKind | str) -> tuple[StoredKey, ...]:
        stored = self._keys.ring(KeyKind(kind))
        if not stored:
            msg = (
                f"there is no {KeyKind(kind)} key yet; make the first with "
                f"kit.pseudonyms.rotate({str(KeyKind(kind))!r}) - avgkit has no default key"
            )
            raise NotFound(msg)
        return stored

    def key_ids(self, kind: KeyKind | str = KeyKind.PSEUDONYM) -> tuple[str, ...]:
        """The ids of the ring's keys, oldest first (empty before the first :meth:`rotate`)."""
        self._ring_type(kind)
        return self._keys.ring_ids(KeyKind(kind))

    def refresh(self) -> None:
        """Forget the cached rings (another process may have rotated)."""
        self._pseudonymiser = None
        self._tokeniser = None

    @property
    def pseudonymiser(self) -> Pseudonymiser:
        """A :class:`Pseudonymiser` over the stored pseudonym ring (cached; see refresh)."""
        if self._pseudonymiser is None:
            ring = KeyRing(
                PseudonymKey(id=s.key_id, material=s.material)
                for s in self._stored(KeyKind.PSEUDONYM)
            )
            self._pseudonymiser = Pseudonymiser(ring, default_country=self._default_country)
        return self._pseudonymiser

    @property
    def tokeniser(self) -> Tokeniser:
        """A :class:`Tokeniser` over the stored token ring (cached; see refresh)."""
        if self._tokeniser is None:
            ring = KeyRing(
                TokenKey(id=s.key_id, material=s.material) for s in self._stored(KeyKind.TOKEN)
            )
            self._tokeniser = Tokeniser(ring, default_country=self._default_country)
        return self._tokeniser

    def _fresh_pseudonymiser(self, text: str) -> Pseudonymiser:
        current = self.pseudonymiser
        key_id = _key_id_in(text)
        if key_id and key_id not in current.ring:
            self.refresh()  # a key made by another process since we cached the ring
            current = self.pseudonymiser
        return current

    def _fresh_tokeniser(self, text: str) -> Tokeniser:
        current = self.tokeniser
        key_id = _key_id_in(text)
        if key_id and key_id not in current.ring:
            self.refresh()
            current = self.tokeniser
        return current

    # ------------------------------------------------------------------ pseudonyms & tokens

    def pseudonym(self, value: str, *, domain: str, kind: ValueKind | str = "text") -> str:
        """The keyed pseudonym of ``value`` for ``domain`` (see :meth:`Pseudonymiser.pseudonym`)."""
        return self.pseudonymiser.pseudonym(value, domain=domain, kind=kind)

    def pseudonymise_many(
        self, values: Iterable[str], *, domain: str, kind: ValueKind | str = "text"
    ) -> list[str]:
        """Pseudonymise many values in one pass (the fast path for extracts)."""
        return self.pseudonymiser.pseudonymise_many(values, domain=domain, kind=kind)

    def verify(
        self, value: str, pseudonym: str, *, domain: str, kind: ValueKind | str = "text"
    ) -> None:
        """Raise :class:`~avgkit.errors.IntegrityError` unless ``pseudonym`` is ``value``'s."""
        self._fresh_pseudonymiser(pseudonym).verify(value, pseudonym, domain=domain, kind=kind)

    def repseudonymise(
        self, pseudonym: str, value: str, *, domain: str, kind: ValueKind | str = "text"
    ) -> str:
        """Move ``pseudonym`` to the newest key (see :meth:`Pseudonymiser.repseudonymise`)."""
        return self._fresh_pseudonymiser(pseudonym).repseudonymise(
            pseudonym, value, domain=domain, kind=kind
        )

    def token(self, value: str, *, domain: str, kind: ValueKind | str = "text") -> str:
        """A reversible token of ``value`` for ``domain`` (see :class:`Tokeniser`)."""
        return self.tokeniser.token(value, domain=domain, kind=kind)

    def detokenise(self, token: str, *, domain: str, kind: ValueKind | str = "text") -> str:
        """The value behind ``token`` (see :meth:`Tokeniser.detokenise`)."""
        return self._fresh_tokeniser(token).detokenise(token, domain=domain, kind=kind)

    def retokenise(self, token: str, *, domain: str, kind: ValueKind | str = "text") -> str:
        """Move ``token`` to the newest token key."""
        return self._fresh_tokeniser(token).retokenise(token, domain=domain, kind=kind)

    # ------------------------------------------------------------------ anonymising

    def anonymiser(
        self,
        *,
        domain: str,
        passthrough: Iterable[str] = (),
        generalisers: Mapping[str, Generaliser] | None = None,
    ) -> RecordAnonymiser:
        """A :class:`RecordAnonymiser` over the kit's inventory and clock.

        The pseudonym ring is only loaded when a field's treatment is ``pseudonymise``.
        """
        needs_keys = any(f.treatment is Treatment.PSEUDONYMISE for f in self._inventory.fields)
        return RecordAnonymiser(
            self._inventory,
            clock=self._clock,
            pseudonymiser=self.pseudonymiser if needs_keys else None,
            domain=domain,
            generalisers=generalisers,
            passthrough=passthrough,
        )

    def anonymise(
        self, record: Mapping[str, object], *, domain: str, passthrough: Iterable[str] = ()
    ) -> dict[str, object]:
        """Anonymise one record as the inventory declares (see :class:`RecordAnonymiser`)."""
        return self.anonymiser(domain=domain, passthrough=passthrough).anonymise(record)

    def k_anonymity(
        self,
        rows: Iterable[Mapping[str, object]],
        *,
        k: int,
        quasi_identifiers: Sequence[str] | None = None,
    ) -> KAnonymityReport:
        """:func:`k_anonymity`; by default over the inventory's quasi-identifier fields.

        Without ``quasi_identifiers``, the fields the inventory marks ``quasi`` are used,
        those of them the first row holds (rows must then be a re-iterable sequence or the
        first row is read twice: pass a list).
        """
        if quasi_identifiers is None:
            rows = list(rows)
            present = set(rows[0]) if rows else set()
            quasi_identifiers = [
                f.key
                for f in self._inventory.fields
                if f.identifier is IdentifierKind.QUASI and f.key in present
            ]
        return k_anonymity(rows, quasi_identifiers, k=k)

    # ------------------------------------------------------------------ crypto-shredding

    def _purpose(self, purpose: str) -> str:
        return self._inventory.purpose(purpose).key

    def _subject_key(self, sid: SubjectId, ref: str, *, create: bool) -> SubjectKey:
        keys = self._keys
        for _ in range(3):
            plain = keys.for_subject(ref)
            if plain is not None:
                return SubjectKey(id=plain.key_id, material=plain.material)
            shredded = keys.shredded_at(ref)
            if shredded is not None:
                msg = (
                    f"the data key of subject {ref} was shredded at {shredded:%Y-%m-%d %H:%M} "
                    "UTC; what was sealed with it can never be opened again"
                    + ("" if not create else ", and nothing new is sealed for an erased subject")
                )
                raise ShreddedKeyError(msg, shredded_at=shredded)
            self._refuse_if_shredded_in_chain(sid, ref)
            if not create:
                msg = f"subject {ref} has no data key: nothing was ever sealed for it here"
                raise NotFound(msg)
            keys.ready()
            key = SubjectKey.generate()
            record = StoredKey(
                key_id=key.id,
                kind=KeyKind.SUBJECT,
                material=key.material,
                created_at=self._clock.now(),
                subject_ref=ref,
            )
            try:
                keys.add(record)
            except ConflictError:
                continue  # another writer made (or shredded) it first: read theirs
            return key
        msg = f"could not create the data key of subject {ref}; retry"  # pragma: no cover
        raise ConflictError(msg)  # pragma: no cover

    def _refuse_if_shredded_in_chain(self, sid: SubjectId, ref: str) -> None:
        """Refuse a subject the audit log says was shredded although no tombstone says so.

        Only reached when the subject has neither a key nor a tombstone, i.e. before its
        first key is made (rare), so reading its audit entries (one indexed query) is cheap.
        """
        for entry in self._audit.for_subject(sid):
            if entry.action == _SHREDDED:
                shredded = self._keys.shredded_at(ref)
                if shredded is not None:  # a shred() that committed since the key store was read
                    msg = f"the data key of subject {ref} was shredded; nothing is sealed for it"
                    raise ShreddedKeyError(msg, shredded_at=shredded)
                msg = (
                    f"the audit log records that the data key of subject {ref} was shredded "
                    f"at {entry.at:%Y-%m-%d %H:%M} UTC (entry {entry.seq}), but the key store "
                    "holds no tombstone for it: the key store was changed outside avgkit. "
                    "Nothing is sealed or opened for an erased subject; restore the key store "
                    "or its tombstone"
                )
                raise IntegrityError(msg)
            if entry.action == _SHRED_STARTED:
                msg = (
                    f"an erasure of subject {ref} was started (audit entry {entry.seq}) and "
                    "has not completed; nothing new is sealed for it. Run shred() again to "
                    "finish it"
                )
                raise ShreddedKeyError(msg, shredded_at=entry.at)

    @staticmethod
    def _aad(ref: str, purpose: str) -> bytes:
        return _SEAL_AAD + ref.encode() + b"\x00" + purpose.encode()

    def seal(self, subject: SubjectId | str, data: bytes, *, purpose: str) -> bytes:
        """Encrypt ``data`` under the subject's data key (made on first use).

        The blob is bound to the subject and the purpose (AES-GCM associated data): it opens
        only for the same subject and purpose. Once :meth:`shred` destroys the key, every copy
        of the blob, including those in backups made earlier, is unreadable.

        Raises:
            ValidationError: ``data`` is not bytes, or the subject id is malformed.
            PolicyError: ``purpose`` is not declared in the inventory.
            ShreddedKeyError: the subject's key was shredded (the subject was erased).
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            msg = f"seal() takes bytes, got {type(data).__name__}; encode text first"
            raise ValidationError(msg)
        purpose = self._purpose(purpose)
        sid = subject_id(subject)
        ref = self._audit.subject_ref(sid)
        key = self._subject_key(sid, ref, create=True)
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(key.material).encrypt(nonce, bytes(data), self._aad(ref, purpose))
        return SEAL_VERSION + nonce + sealed

    def open(self, subject: SubjectId | str, blob: bytes, *, purpose: str) -> bytes:
        """Decrypt a blob made by :meth:`seal` for the same subject and purpose.

        Raises:
            ShreddedKeyError: the subject's key was shredded; the data is gone for good.
            NotFound: nothing was ever sealed for this subject here.
            IntegrityError: the blob was altered, truncated, or sealed for another subject
                or purpose.
            PolicyError: ``purpose`` is not declared in the inventory.
        """
        purpose = self._purpose(purpose)
        sid = subject_id(subject)
        ref = self._audit.subject_ref(sid)
        if not isinstance(blob, bytes | bytearray | memoryview):
            msg = f"open() takes the sealed bytes, got {type(blob).__name__}"
            raise ValidationError(msg)
        blob = bytes(blob)
        key = self._subject_key(sid, ref, create=False)
        head = len(SEAL_VERSION)
        if len(blob) < head + _NONCE + _TAG or not blob.startswith(SEAL_VERSION):
            msg = f"the sealed data of subject {ref} is truncated or not an avgkit sealed blob"
            raise IntegrityError(msg)
        try:
            return AESGCM(key.material).decrypt(
                blob[head : head + _NONCE], blob[head + _NONCE :], self._aad(ref, purpose)
            )
        except InvalidTag:
            msg = (
                f"the sealed data of subject {ref} does not open for purpose {purpose!r}: it "
                "was altered, or was sealed for another subject or purpose"
            )
            raise IntegrityError(msg) from None

    @property
    def keys_apart(self) -> bool:
        """Whether the keys live in another store set than the audit log (``keys_url=``).

        .. versionadded:: 0.2.0
        """
        return self._keys_apart is not None

    def shred(self, subject: SubjectId | str, *, actor: str = "system") -> bool:
        """Destroy the subject's data key for good; return whether a key was destroyed.

        Everything sealed for the subject, in the database and in every backup or export
        taken before, becomes unreadable (as long as no backup of the *key store* survives:
        keep those short-lived). Idempotent; audited as ``pseudonym.subject_key_shredded``
        (preceded by ``pseudonym.subject_key_shred_started`` when the keys live apart).
        """
        ref = self._audit.subject_ref(subject_id(subject))
        _validators.key(actor, "actor")
        keys = self._keys
        keys.check()
        if self._keys_apart is None:
            with self._audit.atomic():  # the shredding and its audit entry, together
                destroyed = keys.shred(ref, self._clock.now())
                self._audit.record(
                    "pseudonym.subject_key_shredded",
                    subject=subject,
                    actor=actor,
                    details={"destroyed": destroyed},
                )
            return destroyed
        # The keys live in another database, so the key and the audit entry cannot commit
        # together. The intent is committed first: if destroying the key or recording the
        # outcome then fails, the log still shows the erasure was under way (and a retry,
        # being idempotent, completes it).
        self._audit.record("pseudonym.subject_key_shred_started", subject=subject, actor=actor)
        with self._keys_apart.atomic():
            destroyed = keys.shred(ref, self._clock.now())
        self._audit.record(
            "pseudonym.subject_key_shredded",
            subject=subject,
            actor=actor,
            details={"destroyed": destroyed},
        )
        return destroyed

    def shredded_at(self, subject: SubjectId | str) -> datetime | None:
        """When the subject's data key was shredded, or ``None``."""
        return self._keys.shredded_at(self._audit.subject_ref(subject_id(subject)))
