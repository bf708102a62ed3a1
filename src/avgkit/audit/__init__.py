"""The tamper-evident audit log: an append-only, hash-chained record of what avgkit did.

Every service records its actions here (a consent given, a subject erased, a breach
updated). Entries hold *pseudonymous* subject references only: a keyed HMAC of the subject
id under a per-installation secret, so the log proves what happened to "subject sr1:…" without
saying who that was, and stays meaningless once the host has erased the subject.

Each entry's hash is SHA-256 over a canonical encoding of the entry and the previous entry's
hash. :meth:`AuditLog.verify` recomputes the chain and raises :class:`~avgkit.IntegrityError`
naming the first entry that was changed, removed, inserted or reordered. Removing entries at
the *end* of the log leaves a shorter but consistent chain; to detect that, keep the
:class:`AuditAnchor` from :meth:`AuditLog.anchor` somewhere the database's administrators
cannot rewrite (a printed register, a mail to the DPO) and pass it to ``verify``.

.. versionadded:: 0.1.0
"""

from avgkit.audit._chain import (
    GENESIS_HASH,
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
    "AuditAnchor",
    "AuditEntry",
    "AuditLog",
    "Detail",
    "VerifyReport",
    "entry_hash",
    "verify_chain",
]
