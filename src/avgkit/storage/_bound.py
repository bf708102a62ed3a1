"""The canonical digests of the records stores bind to the audit chain (private).

Each digest is computed from exactly what a store keeps of a record, so a store can recompute
it from its columns when :meth:`~avgkit.audit.AuditLog.verify` reconciles it; a service
computes the same digest when it writes the record's audit entry.
"""

from __future__ import annotations

import hashlib
from typing import Final

from avgkit.audit._bound import BoundRecord
from avgkit.breach._values import Breach
from avgkit.consent._bound import CONSENT_EVENT, consent_bound, consent_event_digest

__all__ = [
    "BREACH_VERSION",
    "CONSENT_EVENT",
    "breach_bound",
    "breach_version_digest",
    "consent_bound",
    "consent_event_digest",
]

BREACH_VERSION: Final = "breach_version"
"""The kind of a stored breach version: key ``(breach_id, version)``."""

_BREACH: Final = b"avgkit.breach-version.v1\n"


def breach_version_digest(breach_id: str, version: int, data: str) -> str:
    """SHA-256 (hex) of a breach version as stored: its id, version and JSON text."""
    head = f"{breach_id}\n{version}\n".encode("utf-8", "surrogatepass")
    return hashlib.sha256(_BREACH + head + data.encode("utf-8", "surrogatepass")).hexdigest()


def breach_bound(breach: Breach) -> BoundRecord:
    """The bound record of a breach version about to be stored (``Breach.to_json()``)."""
    return BoundRecord(
        kind=BREACH_VERSION,
        record_id=breach.id,
        record_no=breach.version,
        digest=breach_version_digest(breach.id, breach.version, breach.to_json()),
    )
