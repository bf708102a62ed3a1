"""Records bound to the audit chain: their digests, and the merge that reconciles a store.

Pure: nothing here does I/O. A service that stores a record (a breach version, a consent
event) puts the record's digest in the details of the audit entry written in the same unit
of work, and the store remembers which entry bound the record. :func:`reconcile` walks the
chain and a store's records side by side (both ordered by the binding entry's ``seq``), so
an edited, deleted or inserted record is found in one streamed pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final

import attrs

from avgkit import _validators
from avgkit._validators import opt, v_instance, v_key, v_sha256, v_whole
from avgkit.errors import IntegrityError, ValidationError

__all__ = [
    "BOUND_DIGEST",
    "BOUND_KIND",
    "BOUND_RECORDS",
    "BoundRecord",
    "Reconciler",
    "bound_digest",
    "subject_digest",
]

BOUND_KIND: Final = "bound"
"""The detail naming the kind of record an entry binds (``"breach_version"``)."""
BOUND_DIGEST: Final = "bound_digest"
"""The detail holding the digest of the records an entry binds (see :func:`bound_digest`)."""
BOUND_RECORDS: Final = "bound_records"
"""The detail holding how many records an entry binds."""
RESERVED: Final = frozenset({BOUND_KIND, BOUND_DIGEST, BOUND_RECORDS})

_MANY: Final = b"avgkit.bound.v1\n"
_SUBJECT: Final = b"avgkit.bound-subject.v1\n"


@attrs.frozen(kw_only=True)
class BoundRecord:
    """A stored record as it is bound to the audit chain, or as a store reads it back.

    A record is named by its kind and key (``record_id`` and ``record_no``: a breach's id
    and version, or ``""`` and a consent event's ``seq``), never by personal values.

    Attributes:
        kind: what the record is, snake-case (``"breach_version"``, ``"consent_event"``).
        record_id: the text part of its key (``""`` when the key is a number only).
        record_no: the numeric part of its key.
        digest: SHA-256 (hex) of its canonical stored form; ``None`` when a store read back
            a binding whose record is gone.
        bound_seq: the ``seq`` of the audit entry that binds it; ``None`` when read back
            unbound (stored outside avgkit).
        subject: the subject the record is about (the host's id or its ``sr1:``
            reference), folded into the digest as its reference so that moving a record to
            another subject shows; ``None`` for records about no one.

    .. versionadded:: 0.2.0
    """

    kind: str = attrs.field(validator=v_key)
    record_id: str = attrs.field(validator=v_instance(str, "a string"))
    record_no: int = attrs.field(validator=v_whole(minimum=0))
    digest: str | None = attrs.field(validator=opt(v_sha256))
    bound_seq: int | None = attrs.field(default=None, validator=opt(v_whole(minimum=1)))
    subject: str | None = attrs.field(
        default=None, repr=False, validator=opt(v_instance(str, "a string"))
    )

    @property
    def name(self) -> str:
        """How errors name it: ``"breach_version br_1f/2"`` or ``"consent_event 17"``."""
        key = str(self.record_no) if not self.record_id else f"{self.record_id}/{self.record_no}"
        return f"{self.kind} {key}"

    @property
    def key(self) -> tuple[str, int]:
        """``(record_id, record_no)``: the order records of one entry are digested in."""
        return (self.record_id, self.record_no)


def subject_digest(digest: str, subject_ref: str) -> str:
    """Fold a subject's pseudonymous reference into a record's digest.

    .. versionadded:: 0.2.0
    """
    return hashlib.sha256(_SUBJECT + f"{digest}\n{subject_ref}".encode()).hexdigest()


def bound_digest(digests: Sequence[str]) -> str:
    """The digest an audit entry holds for the records it binds, in key order.

    One record: its own digest, so the entry shows the record's digest as it is. Several
    (a batch stored in one unit of work): SHA-256 over their digests, one a line.

    .. versionadded:: 0.2.0
    """
    if not digests:
        msg = "an audit entry binds at least one record"
        raise ValidationError(msg)
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256(_MANY + "\n".join(digests).encode()).hexdigest()


def check_bound(records: Sequence[BoundRecord]) -> tuple[str, tuple[BoundRecord, ...]]:
    """The one kind of ``records`` and the records in key order; refuse a mixed batch."""
    if not isinstance(records, Sequence) or not records:
        msg = "bound= takes a non-empty sequence of BoundRecord values"
        raise ValidationError(msg)
    for record in records:
        if not isinstance(record, BoundRecord):
            msg = f"bound= takes BoundRecord values, got {type(record).__name__}"
            raise ValidationError(msg)
        if record.digest is None:
            msg = f"{record.name} has no digest to bind"
            raise ValidationError(msg)
    kinds = {record.kind for record in records}
    if len(kinds) != 1:
        msg = f"one audit entry binds records of one kind, got {sorted(kinds)}"
        raise ValidationError(msg)
    ordered = tuple(sorted(records, key=lambda r: r.key))
    if len({r.key for r in ordered}) != len(ordered):
        msg = "bound= names the same record twice"
        raise ValidationError(msg)
    return kinds.pop(), ordered


class Reconciler:
    """Reconciles one store's bound records with the chain, as the chain is walked.

    :meth:`due` says from which entry ``seq`` on :meth:`at` must be called; entries before
    it that bind no record of this kind need no work, which keeps the walk's cost per entry
    at one comparison.

    Args:
        kind: the kind of record the store holds.
        records: the store's records ordered by ``bound_seq`` (unbound ones first), then
            key, as :meth:`~avgkit.storage.BoundStore.bound_records` streams them.
        subject_ref: turns a record's ``subject`` into its reference (given a reference,
            it must return it unchanged).

    Attributes:
        kind: the kind of record reconciled (``"consent_event"``, ``"breach_version"``).
        count: how many records were reconciled so far.
        due: the ``seq`` from which :meth:`at` must be called for every entry (a very
            large number once every record was reconciled).

    :meth:`AuditLog.verify` builds one per bound store; :func:`verify_chain` takes them as
    ``bound=`` for a walk of entries read some other way.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        kind: str,
        records: Iterable[BoundRecord],
        subject_ref: Callable[[str], str],
    ) -> None:
        self.kind = kind
        self._records: Iterator[BoundRecord] = iter(records)
        self._subject_ref = subject_ref
        self._next: BoundRecord | None = None
        self.count = 0
        self.due = 0
        self._advance()

    def _advance(self) -> None:
        try:
            record = next(self._records)
        except StopIteration:
            self._next = None
            self.due = NEVER
            return
        except (ValueError, TypeError) as exc:
            # A row that no longer decodes was edited behind avgkit's back.
            msg = f"a stored {self.kind} record is malformed ({type(exc).__name__})"
            raise IntegrityError(msg) from None
        if record.bound_seq is None:
            msg = (
                f"{record.name} is bound to no audit entry: it was stored outside avgkit; "
                "restore the store from a backup"
            )
            raise IntegrityError(msg)
        if record.digest is None:
            msg = (
                f"{record.name}, bound to audit entry {record.bound_seq}, was deleted; "
                "restore it from a backup"
            )
            raise IntegrityError(msg)
        if record.bound_seq < self.due:
            msg = f"the {self.kind} records are not streamed in audit order (an adapter bug)"
            raise IntegrityError(msg)
        self._next = record
        self.due = record.bound_seq

    def _digest(self, record: BoundRecord) -> str:
        digest = record.digest
        assert digest is not None  # noqa: S101 - _advance() refused records without one
        if record.subject is None:
            return digest
        return subject_digest(digest, self._subject_ref(record.subject))

    def at(self, seq: int, details: Mapping[str, object]) -> None:
        """Check the records bound to entry ``seq`` (whose ``details`` are verified)."""
        binds = details.get(BOUND_KIND) == self.kind
        record = self._next
        if record is not None and (self.due < seq or (self.due == seq and not binds)):
            msg = (
                f"{record.name} claims audit entry {record.bound_seq}, which does not bind "
                "it: it was inserted or re-bound outside avgkit"
            )
            raise IntegrityError(msg)
        if not binds:
            return
        expected = details.get(BOUND_RECORDS)
        digest = details.get(BOUND_DIGEST)
        found: list[BoundRecord] = []
        while self._next is not None and self._next.bound_seq == seq:
            record = self._next
            found.append(record)
            # One record (nearly every entry): checked before the stream moves on, so its
            # change is reported as such, not as whatever the store checks after its last.
            if expected == 1 and len(found) == 1 and self._digest(record) != digest:
                raise _changed(record.name, seq)
            self._advance()
        if len(found) != expected:
            names = ", ".join(r.name for r in found[:3]) or "none"
            msg = (
                f"audit entry {seq} binds {expected} {self.kind} record(s) but the store "
                f"holds {len(found)} bound to it ({names}): records were deleted or inserted"
            )
            raise IntegrityError(msg)
        if expected != 1 and bound_digest([self._digest(r) for r in found]) != digest:
            raise _changed(f"one of {len(found)} {self.kind} records", seq)
        self.count += len(found)

    def finish(self, last_seq: int) -> None:
        """After the whole chain: a record bound beyond its end is forged (or the chain cut)."""
        record = self._next
        if record is not None:
            msg = (
                f"{record.name} claims audit entry {record.bound_seq}, but the chain ends at "
                f"entry {last_seq}: the record was forged or the chain truncated"
            )
            raise IntegrityError(msg)


NEVER: Final = 2**63


def _changed(what: str, seq: int) -> IntegrityError:
    return IntegrityError(
        f"{what}, bound to audit entry {seq}, was changed after it was recorded; "
        "restore it from a backup"
    )


def check_kind(kind: object) -> str:
    """A record kind: snake-case."""
    return _validators.key(kind, "bound record kind")
