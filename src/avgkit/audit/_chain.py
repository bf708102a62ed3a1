"""The audit chain's values: entries, their canonical encoding and hash, anchors, verification.

Pure: nothing here does I/O; :func:`verify_chain` checks any iterable of entries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

import attrs

from avgkit import _validators
from avgkit._validators import opt, to_utc, v_aware, v_instance, v_sha256, v_whole
from avgkit.audit._bound import BOUND_KIND, NEVER, Reconciler
from avgkit.errors import IntegrityError, ValidationError

Detail = str | int | bool | None
"""A value allowed in an entry's details: flat JSON scalars (no floats, no nesting)."""

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first entry of every chain."""

_DOMAIN: Final = b"avgkit.audit.v1\n"
_ACTION_MAX = 64
_MAX_INT = 2**63 - 1
DETAILS_MAX: Final = 32
"""How many details an entry holds at most."""


def check_action(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= _ACTION_MAX
        or not all(_validators.KEY_PATTERN.match(part) for part in value.split("."))
    ):
        msg = (
            f"audit action {_validators.shown(value)} is invalid: use dotted snake-case, "
            "e.g. 'consent.given'"
        )
        raise ValidationError(msg)
    return value


def check_details(value: object) -> Mapping[str, Detail]:
    if not isinstance(value, Mapping):
        msg = f"audit details must be a mapping, got {type(value).__name__}"
        raise ValidationError(msg)
    if len(value) > DETAILS_MAX:
        msg = f"audit details hold at most {DETAILS_MAX} items, got {len(value)}"
        raise ValidationError(msg)
    out: dict[str, Detail] = {}
    for name, item in value.items():
        _validators.key(name, "audit detail")
        if not (item is None or isinstance(item, str | int)):  # bool is an int
            msg = (
                f"audit detail {name!r} is a {type(item).__name__}; details are flat "
                "str, int, bool or None values (never personal data)"
            )
            raise ValidationError(msg)
        if isinstance(item, str):
            if len(item) > _validators.MAX_TEXT:
                msg = f"audit detail {name!r} is longer than {_validators.MAX_TEXT} characters"
                raise ValidationError(msg)
            _validators.encodable(item, f"audit detail {name!r}")
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > _MAX_INT:
            msg = f"audit detail {name!r} is out of range; details hold 64-bit integers"
            raise ValidationError(msg)
        out[name] = item
    return dict(sorted(out.items()))


def check_actor(value: object) -> str:
    return _validators.key(value, "audit actor")


def _canonical(  # noqa: PLR0917 - private; the one caller passes every field in order
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    subject_ref: str | None,
    details: Mapping[str, Detail],
    prev_hash: str,
) -> bytes:
    body = {
        "seq": seq,
        "at": _validators.utc_text(at),
        "action": action,
        "actor": actor,
        "subject_ref": subject_ref,
        "details": dict(details),
        "prev_hash": prev_hash,
    }
    return _DOMAIN + _encode(body).encode("utf-8")


# The canonical JSON encoder, built once (json.dumps builds one per call).
_encode: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def entry_hash(
    *,
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    subject_ref: str | None,
    details: Mapping[str, Detail],
    prev_hash: str,
) -> str:
    """Return the SHA-256 (hex) that chains an entry with these contents.

    The encoding is canonical JSON (sorted keys, no spaces, UTF-8, instants as
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``) prefixed with a version tag, so the same entry always
    hashes the same on every adapter and platform.

    .. versionadded:: 0.1.0
    """
    return hashlib.sha256(
        _canonical(seq, at, action, actor, subject_ref, details, prev_hash)
    ).hexdigest()


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One sealed entry of the audit log, as stored and returned by an :class:`AuditStore`.

    Attributes:
        seq: position in the chain, starting at 1, without gaps.
        at: when the action happened (aware, UTC).
        action: what happened, dotted snake-case (``"consent.given"``).
        actor: who acted: a role or staff key such as ``"system"`` or ``"staff"``, never a name.
        subject_ref: the pseudonymous reference of the subject concerned, if any.
        details: flat, non-personal facts about the action (purpose, channel, counts).
        prev_hash: the previous entry's ``hash`` (:data:`GENESIS_HASH` for the first).
        hash: SHA-256 over all of the above (see :func:`entry_hash`).

    .. versionadded:: 0.1.0
    """

    seq: int = attrs.field(validator=v_whole(minimum=1, maximum=_MAX_INT))
    at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    action: str = attrs.field(converter=check_action)
    actor: str = attrs.field(converter=check_actor)
    subject_ref: str | None = attrs.field(validator=opt(v_instance(str, "a string")))
    details: Mapping[str, Detail] = attrs.field(converter=check_details)
    prev_hash: str = attrs.field(validator=v_sha256)
    hash: str = attrs.field(validator=v_sha256)

    @classmethod
    def seal(
        cls,
        *,
        seq: int,
        at: datetime,
        action: str,
        actor: str,
        subject_ref: str | None,
        details: Mapping[str, Detail],
        prev_hash: str,
    ) -> AuditEntry:
        """Build an entry and compute its hash from its contents."""
        fields = {
            "seq": seq,
            "at": _validators.to_utc(_validators.aware(at, "at")),
            "action": check_action(action),
            "actor": check_actor(actor),
            "subject_ref": subject_ref,
            "details": check_details(details),
            "prev_hash": prev_hash,
        }
        # Every field checked before anything is hashed (a value JSON cannot encode is
        # refused as the field it is, not as an encoder's TypeError).
        attrs.validate(_validators.trusted(cls, **fields, hash=GENESIS_HASH))
        return seal_checked(**fields)

    def expected_hash(self) -> str:
        """Recompute this entry's hash from its contents (differs from ``hash`` if altered)."""
        return entry_hash(
            seq=self.seq,
            at=self.at,
            action=self.action,
            actor=self.actor,
            subject_ref=self.subject_ref,
            details=self.details,
            prev_hash=self.prev_hash,
        )


def seal_checked(  # noqa: PLR0917 - private; the audit log passes every field in order
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    subject_ref: str | None,
    details: Mapping[str, Detail],
    prev_hash: str,
) -> AuditEntry:
    """:meth:`AuditEntry.seal` for contents the caller has checked already.

    ``at`` aware UTC, ``action``, ``actor`` and ``details`` as their checks return them
    (details sorted), ``prev_hash`` the head's: the audit log checks each once when it
    records, and this hashes and builds the entry without checking it all again.
    """
    digest = hashlib.sha256(
        _canonical(seq, at, action, actor, subject_ref, details, prev_hash)
    ).hexdigest()
    return _validators.trusted(
        AuditEntry,
        seq=seq,
        at=at,
        action=action,
        actor=actor,
        subject_ref=subject_ref,
        details=details,
        prev_hash=prev_hash,
        hash=digest,
    )


_ANCHOR_DOMAIN: Final = b"avgkit.anchor.v1\n"
_KEY_PREFIX: Final = "ak1:"
_KEY_BYTES: Final = 32


class AnchorKey:
    """The secret that seals audit anchors (HMAC-SHA-256), kept where the database is not.

    Without it anyone who can write the database can recompute the whole chain, since the
    chain itself is plain SHA-256. Anchors sealed with this key cannot be forged without it:
    keep it with the other keys (an environment secret, a secrets manager), never in the
    store whose log it seals. Its ``repr`` and ``str`` show no key material.

    Args:
        secret: 32 or more random bytes (see :meth:`generate`).

    .. versionadded:: 0.2.0
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) < _KEY_BYTES:
            msg = (
                f"an anchor key is at least {_KEY_BYTES} random bytes; make one with "
                "AnchorKey.generate()"
            )
            raise ValidationError(msg)
        self._secret = secret

    def __repr__(self) -> str:
        return "AnchorKey(<secret>)"

    __str__ = __repr__

    @classmethod
    def generate(cls) -> AnchorKey:
        """A new random key."""
        return cls(secrets.token_bytes(_KEY_BYTES))

    @classmethod
    def from_text(cls, text: object) -> AnchorKey:
        """The key written by :meth:`to_text` (``"ak1:"`` and hex).

        Raises:
            ValidationError: ``text`` is not such a key (the message never repeats it).
        """
        if isinstance(text, str) and text.startswith(_KEY_PREFIX):
            body = text[len(_KEY_PREFIX) :]
            if len(body) >= 2 * _KEY_BYTES and all(c in "0123456789abcdef" for c in body):
                return cls(bytes.fromhex(body))
        msg = (
            "an anchor key is written 'ak1:' and at least 64 lower-case hex characters; "
            "make one with AnchorKey.generate().to_text()"
        )
        raise ValidationError(msg)

    def to_text(self) -> str:
        """The key as text, to keep in a secrets manager (it *is* the secret)."""
        return _KEY_PREFIX + self._secret.hex()

    def mac(self, seq: int, digest: str) -> str:
        """HMAC-SHA-256 (hex) of the head ``seq:digest``."""
        message = _ANCHOR_DOMAIN + f"{seq}:{digest}".encode("ascii")
        return hmac.new(self._secret, message, "sha256").hexdigest()


def _anchor_seq(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_INT:
        msg = "an audit anchor's seq is a whole number from 1"
        raise ValidationError(msg)
    return value


@attrs.frozen(kw_only=True)
class AuditAnchor:
    """The head of a chain at one moment, kept outside the database.

    Without a ``mac`` it detects truncation (entries removed from the end). Sealed with an
    :class:`AnchorKey` (``mac`` set, see :meth:`sealed`) it also makes a rewritten chain
    show: the anchored entry's hash cannot be changed without forging the seal.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``mac``: the anchor sealed with an :class:`AnchorKey`, written ``SEQ:HASH:MAC``.
    """

    seq: int = attrs.field(converter=_anchor_seq)
    hash: str = attrs.field(validator=v_sha256)
    mac: str | None = attrs.field(default=None, validator=opt(v_sha256))

    def __str__(self) -> str:
        head = f"{self.seq}:{self.hash}"
        return head if self.mac is None else f"{head}:{self.mac}"

    @classmethod
    def parse(cls, text: object) -> AuditAnchor:
        """Parse the ``"SEQ:HASH"`` or ``"SEQ:HASH:MAC"`` form produced by ``str(anchor)``.

        Raises:
            ValidationError: ``text`` is not an anchor.
        """
        parts = text.strip().split(":") if isinstance(text, str) else []
        if (
            len(parts) not in {2, 3}
            or not parts[0].isascii()
            or not parts[0].isdigit()
            or len(parts[0]) > 19  # noqa: PLR2004 - the digits of a 64-bit seq
        ):
            msg = "an audit anchor is written 'SEQ:SHA256HEX' or 'SEQ:SHA256HEX:MAC'"
            raise ValidationError(msg)
        return cls(seq=int(parts[0]), hash=parts[1], mac=parts[2] if len(parts) == 3 else None)  # noqa: PLR2004

    def sealed(self, key: AnchorKey) -> AuditAnchor:
        """This anchor with its seal under ``key``."""
        return AuditAnchor(seq=self.seq, hash=self.hash, mac=key.mac(self.seq, self.hash))

    def seal_ok(self, key: AnchorKey) -> bool:
        """Whether the anchor carries a seal made with ``key``."""
        return self.mac is not None and hmac.compare_digest(self.mac, key.mac(self.seq, self.hash))


@attrs.frozen(kw_only=True)
class VerifyReport:
    """What :meth:`AuditLog.verify` checked.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``records`` and ``anchors``.
    """

    entries: int
    """How many entries were verified."""
    head: AuditAnchor | None
    """The last entry's anchor, or ``None`` for an empty log."""
    records: Mapping[str, int] = attrs.field(factory=dict)
    """How many bound records of each kind were reconciled with the chain."""
    anchors: int = 0
    """How many anchors the chain was checked against."""


class _Anchors:
    """The anchors a walk checks, in ``seq`` order; ``due`` is the next one's entry."""

    def __init__(
        self, anchor: AuditAnchor | None, anchors: Iterable[AuditAnchor], key: AnchorKey | None
    ) -> None:
        found: dict[int, AuditAnchor] = {}
        if isinstance(anchors, str | bytes) or not isinstance(anchors, Iterable):
            msg = f"anchors= takes AuditAnchor values (a list), got {type(anchors).__name__}"
            raise ValidationError(msg)
        for item in (*(() if anchor is None else (anchor,)), *anchors):
            if not isinstance(item, AuditAnchor):
                msg = f"anchors are AuditAnchor values, got {type(item).__name__}"
                raise ValidationError(msg)
            if key is not None and not item.seal_ok(key):
                msg = (
                    f"the anchor of entry {item.seq} is not sealed with this key: it was "
                    "forged or sealed with another key"
                )
                raise IntegrityError(msg)
            other = found.setdefault(item.seq, item)
            if other.hash != item.hash:
                msg = f"two anchors of entry {item.seq} disagree: one of them was forged"
                raise IntegrityError(msg)
        self.count = len(found)
        self._pending = sorted(found.values(), key=lambda a: a.seq, reverse=True)
        self.due = self._pending[-1].seq if self._pending else NEVER

    def at(self, seq: int, digest: str) -> None:
        if self._pending.pop().hash != digest:
            msg = f"audit chain broken at entry {seq}: it differs from its anchor"
            raise IntegrityError(msg)
        self.due = self._pending[-1].seq if self._pending else NEVER

    def finish(self, count: int) -> None:
        if self._pending:
            msg = (
                f"audit chain ends at entry {count} but an anchor says entry "
                f"{self._pending[-1].seq} existed; entries were removed from the end"
            )
            raise IntegrityError(msg)


def _reconcile(bound: Sequence[Reconciler], seq: int, details: Mapping[str, Detail]) -> int:
    kind = details.get(BOUND_KIND)
    for reconciler in bound:
        if seq >= reconciler.due or kind == reconciler.kind:
            reconciler.at(seq, details)
    return min(r.due for r in bound)


def _entries(iterator: Iterator[AuditEntry], first: int) -> Iterator[AuditEntry]:
    # Entries as they come, a row that no longer even parses as one (bad JSON, a mangled
    # instant, a value avgkit refuses) reported as tampering: it was edited behind avgkit's
    # back. ValidationError is a ValueError; the adapters' decoders raise ValueError or
    # TypeError. A generator, so the walk's loop stays a plain for loop.
    seq = first
    try:
        for entry in iterator:
            yield entry
            seq += 1
    except (ValueError, TypeError) as exc:
        msg = f"audit chain broken at entry {seq}: it is malformed ({type(exc).__name__})"
        raise IntegrityError(msg) from exc


def _gap(expected: int, seq: object) -> IntegrityError:
    return IntegrityError(
        f"audit chain broken at entry {expected}: found sequence number {seq} there; an "
        "entry was removed, inserted or reordered"
    )


def _unlinked(seq: int) -> IntegrityError:
    return IntegrityError(
        f"audit chain broken at entry {seq}: it does not link to entry {seq - 1}; an entry "
        "was removed, inserted, reordered or changed"
    )


def _changed(seq: int) -> IntegrityError:
    return IntegrityError(f"audit chain broken at entry {seq}: its contents were changed")


def _report(
    checks: _Anchors, bound: Sequence[Reconciler], count: int, digest: str | None
) -> VerifyReport:
    checks.finish(count)
    for reconciler in bound:
        reconciler.finish(count)
    return VerifyReport(
        entries=count,
        head=None if digest is None else AuditAnchor(seq=count, hash=digest),
        records={r.kind: r.count for r in bound},
        anchors=checks.count,
    )


def verify_chain(
    entries: Iterable[AuditEntry],
    *,
    anchor: AuditAnchor | None = None,
    anchors: Iterable[AuditAnchor] = (),
    key: AnchorKey | None = None,
    bound: Sequence[Reconciler] = (),
) -> VerifyReport:
    """Check a sequence of entries, oldest first, and return what was verified.

    Streams: memory stays flat however long the chain is (anchors are held, one per
    anchored entry). ``anchors`` (and ``anchor``) must each match the entry they name;
    with ``key`` every anchor must also carry its seal. ``bound`` reconciles stores'
    records with the entries that bind them, in the same walk.

    Raises:
        IntegrityError: naming the first entry (by position) whose sequence number, link
            or hash is wrong, when the chain does not reach or differs from an anchor, or
            when a bound record was changed, deleted or inserted.
        ValidationError: an anchor is not an :class:`AuditAnchor`.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``anchors``, ``key`` and ``bound``.
    """
    checks = _Anchors(anchor, anchors, key)
    due = min((r.due for r in bound), default=NEVER)
    prev_hash = GENESIS_HASH
    expected_seq = 1
    last: str | None = None
    iterator = iter(entries)
    for entry in _entries(iterator, expected_seq):
        seq = entry.seq
        if seq != expected_seq:
            raise _gap(expected_seq, seq)
        if entry.prev_hash != prev_hash:
            raise _unlinked(seq)
        digest = entry.hash
        if not hmac.compare_digest(entry.expected_hash(), digest):
            raise _changed(seq)
        if seq == checks.due:
            checks.at(seq, digest)
        if bound and (seq >= due or BOUND_KIND in entry.details):
            due = _reconcile(bound, seq, entry.details)
        prev_hash = last = digest
        expected_seq += 1
    return _report(checks, bound, expected_seq - 1, last)


ChainRow = tuple[int, str, str, str, str | None, str, str, str]
"""An entry as stored: seq, the instant as canonical text (``YYYY-MM-DDTHH:MM:SS.ffffffZ``),
action, actor, subject_ref, the details as JSON text, prev_hash and hash."""


@runtime_checkable
class ChainRows(Protocol):
    """An audit store that can hand :func:`verify_rows` its entries as stored rows.

    Optional, for speed: verifying rows skips decoding and validating each entry, which the
    hash check makes redundant.
    """

    def chain_rows(self) -> Iterator[ChainRow]:
        """Every entry as a :data:`ChainRow`, in sequence order (streamed)."""
        ...

    def chain_entry(self, seq: int) -> AuditEntry:
        """The entry ``seq``, fully decoded (``IntegrityError`` when it does not decode)."""
        ...


def verify_rows(
    rows: Iterable[ChainRow],
    decode: Callable[[int], AuditEntry],
    *,
    anchor: AuditAnchor | None = None,
    anchors: Iterable[AuditAnchor] = (),
    key: AnchorKey | None = None,
    bound: Sequence[Reconciler] = (),
) -> VerifyReport:
    """:func:`verify_chain` over stored rows, without decoding each into an entry.

    A row's canonical bytes are rebuilt from its stored text and hashed: if the hash
    matches, the row holds exactly the sealed contents (the canonical encoding is
    injective), so nothing needs validating. A row that does not match is decoded by
    ``decode`` (the store's own reader, which refuses a malformed row) and checked as
    :func:`verify_chain` checks an entry; the verdict is always that of the full check.
    """
    checks = _Anchors(anchor, anchors, key)
    due = min((r.due for r in bound), default=NEVER)
    prev_hash = GENESIS_HASH
    expected_seq = 1
    last: str | None = None
    loads, encode, sha256 = json.loads, _encode, hashlib.sha256
    for seq, at, action, actor, subject_ref, text, prev, digest in rows:
        if seq != expected_seq:
            raise _gap(expected_seq, seq)
        if prev != prev_hash:
            raise _unlinked(seq)
        try:
            details = loads(text)
            body = {
                "seq": seq,
                "at": at,
                "action": action,
                "actor": actor,
                "subject_ref": subject_ref,
                "details": details,
                "prev_hash": prev,
            }
            same = sha256(_DOMAIN + encode(body).encode("utf-8")).hexdigest() == digest
        except (ValueError, TypeError):  # bad JSON, a value JSON cannot hold
            same = False
        if not same:
            entry = decode(seq)
            if not hmac.compare_digest(entry.expected_hash(), entry.hash):
                raise _changed(seq)
            details = entry.details
        if seq == checks.due:
            checks.at(seq, digest)
        if bound and (seq >= due or BOUND_KIND in details):
            due = _reconcile(bound, seq, details)
        prev_hash = last = digest
        expected_seq += 1
    return _report(checks, bound, expected_seq - 1, last)
