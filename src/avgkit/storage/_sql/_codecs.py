"""Rows of the shared stores to values and back (private).

A row that no longer decodes (bytes that are not UTF-8, a value of the wrong type, details
that are not JSON, a breach record avgkit refuses) was changed outside avgkit: it is
reported as :class:`~avgkit.errors.IntegrityError` naming the row by its sequence number,
id or version, never by the stored value, and without the decoder's exception attached
(its message can quote the value).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final, NoReturn

from avgkit._validators import shown
from avgkit.audit._chain import AuditEntry
from avgkit.breach._values import Breach
from avgkit.errors import IntegrityError
from avgkit.pseudonym._keys import KeyKind, StoredKey
from avgkit.storage._sql._dialect import Dialect, decode_text
from avgkit.storage._sql._errors import raise_clean

__all__ = [
    "AUDIT_COLUMNS",
    "KEY_COLUMNS",
    "audit_entry",
    "audit_values",
    "breach",
    "breach_keyset",
    "opt_text",
    "select_list",
    "stored_key",
    "stored_key_values",
]

AUDIT_COLUMNS: Final = (
    "seq",
    "at",
    "action",
    "actor",
    "subject_ref",
    "details",
    "prev_hash",
    "hash",
)
KEY_COLUMNS: Final = ("key_id", "kind", "material", "created_at", "subject_ref", "wrapped_by")
_NOT_TEXT: Final = frozenset({"seq", "material"})
# What a decoder raises on a mangled value: UnicodeDecodeError, json's JSONDecodeError and
# avgkit's ValidationError are ValueErrors; a wrong type is a TypeError.
_UNDECODABLE: Final = (ValueError, TypeError, KeyError)


def select_list(d: Dialect, columns: Sequence[str]) -> str:
    """The select list of ``columns``, text and instants selected as the codecs read them."""
    return ", ".join(c if c in _NOT_TEXT else d.column(c) for c in columns)


def opt_text(value: object) -> str | None:
    """A nullable stored text value."""
    return None if value is None else decode_text(value)


def audit_values(entry: AuditEntry, d: Dialect) -> tuple[Any, ...]:
    """The values of :data:`AUDIT_COLUMNS` for ``entry``."""
    # Canonical JSON text, not a JSON column type: the row must come back exactly as it
    # was sealed (PostgreSQL's jsonb refuses \u0000 and normalises numbers).
    details = json.dumps(dict(entry.details), sort_keys=True, ensure_ascii=False)
    return (
        entry.seq,
        d.instant_in(entry.at),
        entry.action,
        entry.actor,
        entry.subject_ref,
        details,
        entry.prev_hash,
        entry.hash,
    )


def audit_entry(row: Sequence[Any], d: Dialect) -> AuditEntry:
    """The entry of a row selected with :func:`select_list` of :data:`AUDIT_COLUMNS`.

    Raises:
        IntegrityError: the row does not decode; the message names its seq.
    """
    seq = row[0]
    try:
        _, at, action, actor, subject_ref, details, prev_hash, digest = row
        entry = AuditEntry(
            seq=seq,
            at=d.instant_out(at),
            action=decode_text(action),
            actor=decode_text(actor),
            subject_ref=opt_text(subject_ref),
            details=json.loads(decode_text(details)),
            prev_hash=decode_text(prev_hash),
            hash=decode_text(digest),
        )
    except _UNDECODABLE as exc:
        where = seq if isinstance(seq, int) else "?"
        _tampered(f"audit chain broken at entry {where}: it is malformed", exc, "")
    return entry


def stored_key_values(key: StoredKey, d: Dialect) -> tuple[Any, ...]:
    """The values of :data:`KEY_COLUMNS` for ``key``."""
    return (
        key.key_id,
        str(key.kind),
        key.material,
        d.instant_in(key.created_at),
        key.subject_ref,
        key.wrapped_by,
    )


def stored_key(row: Sequence[Any], d: Dialect) -> StoredKey:
    """The key of a row selected with :func:`select_list` of :data:`KEY_COLUMNS`.

    Raises:
        IntegrityError: the row does not decode (it was changed outside avgkit).
    """
    try:
        key_id, kind, material, created_at, subject_ref, wrapped_by = row
        if not isinstance(material, bytes | bytearray | memoryview):
            msg = f"key material is a {type(material).__name__}"
            raise TypeError(msg)
        key = StoredKey(
            key_id=decode_text(key_id),
            kind=KeyKind(decode_text(kind)),
            material=bytes(material),
            created_at=d.instant_out(created_at),
            subject_ref=opt_text(subject_ref),
            wrapped_by=opt_text(wrapped_by),
        )
    except _UNDECODABLE as exc:
        name = _name(row[0])
        _tampered(
            f"the stored key {name} is malformed", exc, ": restore the key store from a backup"
        )
    return key


def breach(breach_id: object, version: object, data: object) -> Breach:
    """The breach version stored as ``data`` (``breach_id`` and ``version`` name it).

    Raises:
        IntegrityError: the record does not decode (it was changed outside avgkit).
    """
    try:
        record = Breach.from_json(decode_text(data))
    except _UNDECODABLE as exc:
        _tampered(_breach_named(breach_id, version), exc, ": restore it from a backup")
    return record


def breach_keyset(
    d: Dialect, sort_value: object, breach_id: object, version: object
) -> tuple[object, object]:
    """The keyset parameters after a register row: its instant and id, re-encoded.

    Raises:
        IntegrityError: the row's instant or id does not decode.
    """
    try:
        keyset = (d.instant_in(d.instant_out(sort_value)), decode_text(breach_id))
    except _UNDECODABLE as exc:
        _tampered(_breach_named(breach_id, version), exc, ": restore it from a backup")
    return keyset


def _name(value: object) -> str:
    # Ids are shown only when they look like keys (never free text, which could be anything
    # someone wrote into the row).
    try:
        return shown(decode_text(value))
    except _UNDECODABLE:
        return "with an undecodable id"


def _breach_named(breach_id: object, version: object) -> str:
    number = version if isinstance(version, int) else "?"
    return f"the stored breach {_name(breach_id)} (version {number}) is malformed"


def _tampered(what: str, exc: Exception, advice: str) -> NoReturn:
    msg = f"{what} ({type(exc).__name__}); the row was changed outside avgkit{advice}"
    raise_clean(IntegrityError(msg))
