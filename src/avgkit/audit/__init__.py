"""The tamper-evident audit log: an append-only, hash-chained record of what avgkit did.

Every service records its actions here (a consent given, a subject erased, a breach
updated). Entries hold *pseudonymous* subject references only: a keyed HMAC of the subject
id under a per-installation secret, so the log proves what happened to "subject sr1:…" without
saying who that was, and stays meaningless once the host has erased the subject.

Each entry's hash is SHA-256 over a canonical encoding of the entry and the previous entry's
hash. :meth:`AuditLog.verify` recomputes the chain and raises :class:`~avgkit.IntegrityError`
naming the first entry that was changed, removed, inserted or reordered. Records that
services store beside their entries (breach versions) are bound to them: the entry holds the
record's digest (:class:`BoundRecord`), and ``verify`` reconciles the stores with the chain.

The chain alone is plain SHA-256: whoever can write the database can rewrite all of it, or
cut entries off its end. Anchors close that gap: :meth:`AuditLog.write_anchors` writes the
head, sealed with an :class:`AnchorKey` the database does not hold, to a sink the database's
writer cannot change (an :class:`AnchorFile`, or a callable), and ``verify(anchors=...,
key=...)`` checks the chain against them.

.. versionadded:: 0.1.0
"""

from avgkit.audit._anchors import AnchorFile, AnchorSink
from avgkit.audit._bound import BoundRecord, Reconciler
from avgkit.audit._chain import (
    GENESIS_HASH,
    AnchorKey,
    AuditAnchor,
    AuditEntry,
    Detail,
    VerifyReport,
    entry_hash,
    verify_chain,
)
from avgkit.audit._log import AuditLog

__all__ = [
    "GENESIS_HASH",
    "AnchorFile",
    "AnchorKey",
    "AnchorSink",
    "AuditAnchor",
    "AuditEntry",
    "AuditLog",
    "BoundRecord",
    "Detail",
    "Reconciler",
    "VerifyReport",
    "entry_hash",
    "verify_chain",
]
