"""Key objects, key rings, stored key records and key wrapping (private; see avgkit.pseudonym).

Keys are values the library makes (``generate()``) or imports from bytes the host keeps
(``from_bytes()``); there is no default key anywhere. Their ``repr`` never shows material.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar, Final, Generic, Self, TypeVar

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from avgkit._validators import member, to_utc, v_aware
from avgkit.errors import IntegrityError, NotFound, ValidationError

__all__ = [
    "KEY_ID_PATTERN",
    "KeyEncryptionKey",
    "KeyKind",
    "KeyRing",
    "PseudonymKey",
    "StoredKey",
    "SubjectKey",
    "TokenKey",
    "check_key_id",
    "new_key_id",
]

KEY_ID_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
"""Key ids: lower-case letters, digits, ``_`` and ``-``, at most 32 characters, no dots (the
text forms of pseudonyms and tokens use dots as separators)."""


def new_key_id() -> str:
    """A fresh random key id (12 hex characters; random, so it says nothing about the key)."""
    return secrets.token_hex(6)


def check_key_id(value: object) -> str:
    """Return ``value`` if it is a valid key id, else raise :class:`ValidationError`."""
    if not isinstance(value, str) or not KEY_ID_PATTERN.match(value):
        shown = (
            f"a key id of {len(value)} characters"
            if isinstance(value, str)
            else f"a key id of type {type(value).__name__}"
        )
        msg = (
            f"{shown} is invalid: use 1-32 lower-case letters, digits, '_' or '-' "
            "(no dots), or leave it out to get a random one"
        )
        raise ValidationError(msg)
    return value


class KeyKind(enum.StrEnum):
    """What a stored key is for.

    .. versionadded:: 0.1.0
    """

    PSEUDONYM = "pseudonym"
    """HMAC-SHA-256 keys for keyed pseudonyms (:class:`PseudonymKey`)."""
    TOKEN = "token"  # noqa: S105 - a kind name, not a secret
    """AES-SIV keys for reversible deterministic tokens (:class:`TokenKey`)."""
    SUBJECT = "subject"
    """Per-subject AES-GCM data keys for crypto-shredding (:class:`SubjectKey`)."""
    SECRET = "secret"  # noqa: S105 - a kind name, not a secret
    """Secrets the kit keeps with the keys, such as the one behind subject references.

    .. versionadded:: 0.2.0
    """


def _material_checker(
    sizes: tuple[int, ...], what: str
) -> Any:  # the attrs validator signature is untyped
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, bytes):
            msg = f"{what} material must be bytes, got {type(value).__name__}"
            raise ValidationError(msg)
        if len(value) not in sizes:
            wanted = " or ".join(str(size) for size in sizes)
            msg = (
                f"{what} material is {len(value)} bytes; it must be {wanted} bytes of random "
                f"data. Make one with {what}.generate()"
            )
            raise ValidationError(msg)
        if len(set(value)) == 1:
            msg = (
                f"{what} material is one byte repeated, which is no secret; make one with "
                f"{what}.generate()"
            )
            raise ValidationError(msg)

    return check


@attrs.frozen(kw_only=True)
class _Key:
    id: str = attrs.field(converter=check_key_id)
    material: bytes = attrs.field(repr=False)

    SIZES: ClassVar[tuple[int, ...]] = (32,)

    @classmethod
    def generate(cls, *, key_id: str | None = None) -> Self:
        """Make a new key from the operating system's random source."""
        return cls(id=new_key_id() if key_id is None else key_id, material=_random(cls.SIZES))

    @classmethod
    def from_bytes(cls, material: bytes, *, key_id: str) -> Self:
        """Import a key the host keeps elsewhere (a secrets manager, an HSM export).

        Raises:
            ValidationError: the material is not bytes, has the wrong length, or is one
                byte repeated; the message gives the length only, never the material.
        """
        return cls(id=key_id, material=material)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, material=<redacted>)"


def _random(sizes: tuple[int, ...]) -> bytes:
    return secrets.token_bytes(sizes[-1])


@attrs.frozen(kw_only=True, repr=False)
class PseudonymKey(_Key):
    """A secret for keyed pseudonyms (HMAC-SHA-256): 32 to 64 random bytes.

    .. versionadded:: 0.1.0
    """

    SIZES: ClassVar[tuple[int, ...]] = (32, 48, 64)
    material: bytes = attrs.field(repr=False, validator=_material_checker(SIZES, "PseudonymKey"))


@attrs.frozen(kw_only=True, repr=False)
class TokenKey(_Key):
    """A secret for reversible tokens: 64 random bytes (AES-256-SIV takes two 256-bit keys).

    .. versionadded:: 0.1.0
    """

    SIZES: ClassVar[tuple[int, ...]] = (64,)
    material: bytes = attrs.field(repr=False, validator=_material_checker(SIZES, "TokenKey"))


@attrs.frozen(kw_only=True, repr=False)
class SubjectKey(_Key):
    """One subject's data key (AES-256-GCM): 32 random bytes. Shredding it is erasure.

    .. versionadded:: 0.1.0
    """

    SIZES: ClassVar[tuple[int, ...]] = (32,)
    material: bytes = attrs.field(repr=False, validator=_material_checker(SIZES, "SubjectKey"))


@attrs.frozen(kw_only=True, repr=False)
class KeyEncryptionKey(_Key):
    """A key-encryption key (KEK): wraps key material before it reaches a :class:`KeyStore`.

    Keep it outside the key database (an environment secret, a secrets manager): a copy of
    the key database is then useless on its own. Wrapping is AES-256-GCM with the key's id
    and kind as associated data, so a wrapped key cannot be swapped for another.

    .. versionadded:: 0.1.0
    """

    SIZES: ClassVar[tuple[int, ...]] = (32,)
    material: bytes = attrs.field(
        repr=False, validator=_material_checker(SIZES, "KeyEncryptionKey")
    )

    def wrap(self, stored: StoredKey) -> StoredKey:
        """Return ``stored`` with its material wrapped by this KEK."""
        if stored.wrapped_by is not None:
            msg = f"key {stored.key_id!r} is already wrapped by KEK {stored.wrapped_by!r}"
            raise ValidationError(msg)
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.material).encrypt(nonce, stored.material, _wrap_aad(stored))
        return attrs.evolve(stored, material=nonce + sealed, wrapped_by=self.id)

    def unwrap(self, stored: StoredKey) -> StoredKey:
        """Return ``stored`` with its material unwrapped.

        Raises:
            NotFound: it was wrapped by another KEK (the message names both ids).
            IntegrityError: the material does not unwrap: a different KEK under the same id,
                or altered material.
        """
        if stored.wrapped_by is None:
            return stored
        if stored.wrapped_by != self.id:
            msg = (
                f"key {stored.key_id!r} is wrapped by KEK {stored.wrapped_by!r}, but KEK "
                f"{self.id!r} was given; pass the KEK it was stored with"
            )
            raise NotFound(msg)
        blob = stored.material
        try:
            material = AESGCM(self.material).decrypt(blob[:12], blob[12:], _wrap_aad(stored))
        except InvalidTag:
            msg = (
                f"key {stored.key_id!r} does not unwrap with KEK {self.id!r}: either this is "
                "not the KEK it was wrapped with (another key under the same id), or the "
                "stored material was altered. Check the KEK first; restore the key store "
                "from a backup only if the KEK is right"
            )
            raise IntegrityError(msg) from None
        return attrs.evolve(stored, material=material, wrapped_by=None)


def _wrap_aad(stored: StoredKey) -> bytes:
    ref = stored.subject_ref or ""
    return f"avgkit.kek.v1\x00{stored.key_id}\x00{stored.kind}\x00{ref}".encode()


def _material(_instance: object, _attribute: object, value: bytes) -> None:
    if not isinstance(value, bytes) or not value:
        msg = "stored key material must be non-empty bytes"
        raise ValidationError(msg)


def _to_kind(value: object) -> KeyKind:
    return member(KeyKind, value, "StoredKey.kind")


@attrs.frozen(kw_only=True)
class StoredKey:
    """A key as a :class:`~avgkit.storage.KeyStore` keeps it.

    Attributes:
        key_id: the key's id (unique in the store).
        kind: what the key is for.
        material: the key bytes, or the wrapped bytes when ``wrapped_by`` is set.
        created_at: when it was made (aware, UTC); informative only: rings are in the
            order keys were added, whatever the clock said.
        subject_ref: for :attr:`KeyKind.SUBJECT` keys, the subject's pseudonymous
            reference (never the subject id itself); ``None`` for the other kinds.
        wrapped_by: the id of the :class:`KeyEncryptionKey` that wrapped ``material``.

    .. versionadded:: 0.1.0
    """

    key_id: str = attrs.field(converter=check_key_id)
    kind: KeyKind = attrs.field(converter=_to_kind)
    material: bytes = attrs.field(repr=False, validator=_material)
    created_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    subject_ref: str | None = attrs.field(default=None)
    wrapped_by: str | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        """Refuse a subject key without a subject, or another kind with one."""
        if (self.kind is KeyKind.SUBJECT) != (self.subject_ref is not None):
            msg = "a stored key has a subject_ref exactly when its kind is 'subject'"
            raise ValidationError(msg)
        if self.wrapped_by is not None:
            check_key_id(self.wrapped_by)


K = TypeVar("K", PseudonymKey, TokenKey)


class KeyRing(Generic[K]):
    """Keys of one kind, oldest first: the newest makes new values, all of them verify.

    Rotation adds a key at the end; values made under older keys still verify and can be
    moved to the newest key (re-pseudonymisation, re-tokenisation). An empty ring is
    refused: there is no default key. ``K``, the kind of key a ring holds, is
    :class:`PseudonymKey` or :class:`TokenKey`.

    Args:
        keys: the keys, oldest first.

    Raises:
        ValidationError: no keys, mixed kinds, or two keys with the same id.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_by_id", "_keys")

    def __init__(self, keys: Iterable[K]) -> None:
        ordered = tuple(keys)
        if not ordered:
            msg = (
                "a key ring needs at least one key; make one with PseudonymKey.generate() "
                "(or kit.pseudonyms.rotate()) - avgkit has no default key"
            )
            raise ValidationError(msg)
        kinds = {type(key) for key in ordered}
        if len(kinds) != 1 or not issubclass(next(iter(kinds)), PseudonymKey | TokenKey):
            msg = "a key ring holds keys of one kind: all PseudonymKey or all TokenKey"
            raise ValidationError(msg)
        by_id = {key.id: key for key in ordered}
        if len(by_id) != len(ordered):
            msg = "a key ring must not hold two keys with the same id"
            raise ValidationError(msg)
        self._keys: tuple[K, ...] = ordered
        self._by_id: dict[str, K] = by_id

    @property
    def current(self) -> K:
        """The newest key: the one that makes new pseudonyms or tokens."""
        return self._keys[-1]

    def get(self, key_id: str) -> K:
        """The key with id ``key_id``.

        Raises:
            NotFound: no key in the ring has that id.
        """
        try:
            return self._by_id[key_id]
        except KeyError:
            msg = (
                f"no key with id {key_id!r} in the key ring (known: {sorted(self._by_id)}); "
                "was it made with another installation's keys?"
            )
            raise NotFound(msg) from None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._by_id

    def rotated(self, key: K) -> KeyRing[K]:
        """A new ring with ``key`` added as the newest."""
        keys = list(self._keys)
        keys.append(key)
        return KeyRing(keys)

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing(ids={[key.id for key in self._keys]!r}, current={self.current.id!r})"
