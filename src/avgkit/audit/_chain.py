"""The audit chain's values: entries, their canonical encoding and hash, anchors, verification.

Pure: nothing here does I/O; :func:`verify_chain` checks any iterable of entries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

import attrs

from avgkit import _validators
from avgkit._validators import opt, to_utc, v_aware, v_instance, v_sha256, v_whole
from avgkit.errors import IntegrityError, ValidationError

Detail = str | int | bool | None
"""A value allowed in an entry's details: flat JSON scalars (no floats, no nesting)."""

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first entry of every chain."""

_DOMAIN: Final = b"avgkit.audit.v1\n"
_ACTION_MAX = 64
_MAX_INT = 2**63 - 1
_DETAILS_MAX = 32


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
    if len(value) > _DETAILS_MAX:
        msg = f"audit details hold at most {_DETAILS_MAX} items, got {len(value)}"
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
    return _DOMAIN + json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


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

    seq: int = attrs.field(validator=v_whole(minimum=1))
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
        at = _validators.aware(at, "at")
        action = check_action(action)
        details = check_details(details)
        digest = entry_hash(
            seq=seq,
            at=at,
            action=action,
            actor=actor,
            subject_ref=subject_ref,
            details=details,
            prev_hash=prev_hash,
        )
        return cls(
            seq=seq,
            at=at,
            action=action,
            actor=actor,
            subject_ref=subject_ref,
            details=details,
            prev_hash=prev_hash,
            hash=digest,
        )

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


@attrs.frozen(kw_only=True)
class AuditAnchor:
    """The head of a chain at one moment: keep it outside the database to detect truncation.

    .. versionadded:: 0.1.0
    """

    seq: int
    hash: str = attrs.field(validator=v_sha256)

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> AuditAnchor:
        """Parse the ``"seq:hash"`` form produced by ``str(anchor)``."""
        seq, sep, digest = text.partition(":")
        if not sep or not seq.isdigit():
            msg = "an audit anchor is written 'SEQ:SHA256HEX', e.g. '42:9f86d0…'"
            raise ValidationError(msg)
        return cls(seq=int(seq), hash=digest)


@attrs.frozen(kw_only=True)
class VerifyReport:
    """What :meth:`AuditLog.verify` checked.

    .. versionadded:: 0.1.0
    """

    entries: int
    """How many entries were verified."""
    head: AuditAnchor | None
    """The last entry's anchor, or ``None`` for an empty log."""


def verify_chain(
    entries: Iterable[AuditEntry],
    *,
    anchor: AuditAnchor | None = None,
) -> VerifyReport:
    """Check a sequence of entries, oldest first, and return what was verified.

    Streams: memory stays flat however long the chain is.

    Raises:
        IntegrityError: naming the first entry (by position) whose sequence number, link
            or hash is wrong, or when the chain does not reach ``anchor``.

    .. versionadded:: 0.1.0
    """
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    last: AuditEntry | None = None
    anchor_seen = anchor is None
    iterator = iter(entries)
    while True:
        try:
            entry = next(iterator)
        except StopIteration:
            break
        except (ValueError, TypeError) as exc:
            # A row that no longer even parses as an entry (bad JSON, a mangled instant, a
            # value avgkit refuses) was edited behind avgkit's back. ValidationError is a
            # ValueError; the adapters' decoders raise ValueError or TypeError.
            msg = (
                f"audit chain broken at entry {expected_seq}: it is malformed "
                f"({type(exc).__name__})"
            )
            raise IntegrityError(msg) from exc
        if entry.seq != expected_seq:
            msg = (
                f"audit chain broken at entry {expected_seq}: found sequence number "
                f"{entry.seq} there; an entry was removed, inserted or reordered"
            )
            raise IntegrityError(msg)
        if entry.prev_hash != prev_hash:
            msg = (
                f"audit chain broken at entry {entry.seq}: it does not link to entry "
                f"{entry.seq - 1}; an entry was removed, inserted, reordered or changed"
            )
            raise IntegrityError(msg)
        if not hmac.compare_digest(entry.expected_hash(), entry.hash):
            msg = f"audit chain broken at entry {entry.seq}: its contents were changed"
            raise IntegrityError(msg)
        if anchor is not None and entry.seq == anchor.seq:
            if entry.hash != anchor.hash:
                msg = f"audit chain broken at entry {entry.seq}: it differs from the anchor"
                raise IntegrityError(msg)
            anchor_seen = True
        prev_hash = entry.hash
        expected_seq += 1
        count += 1
        last = entry
    if not anchor_seen:
        assert anchor is not None  # noqa: S101 - narrowed by anchor_seen's initial value
        msg = (
            f"audit chain ends at entry {count} but the anchor says entry {anchor.seq} "
            "existed; entries were removed from the end"
        )
        raise IntegrityError(msg)
    head = None if last is None else AuditAnchor(seq=last.seq, hash=last.hash)
    return VerifyReport(entries=count, head=head)
