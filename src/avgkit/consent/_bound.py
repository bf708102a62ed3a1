"""The canonical digest of a stored consent event, bound to its audit entry (private).

A value-level function: the ledger computes it when it records an event's audit entry, and
the consent stores recompute it from their columns when :meth:`~avgkit.audit.AuditLog.verify`
reconciles them (they import it through :mod:`avgkit.storage._bound`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

from avgkit import _validators
from avgkit.audit._bound import BoundRecord
from avgkit.consent._values import ConsentEvent
from avgkit.errors import ValidationError

__all__ = ["CONSENT_EVENT", "consent_bound", "consent_event_digest"]

CONSENT_EVENT: Final = "consent_event"
"""The kind of a stored consent event: key ``("", seq)``."""

_CONSENT: Final = b"avgkit.consent-event.v1\n"


def _instant(value: object) -> str | None:
    return None if value is None else _validators.utc_text(value)  # type: ignore[arg-type]


def consent_event_digest(event: ConsentEvent) -> str:
    """SHA-256 (hex) of a stored consent event's columns, but its subject and order ref.

    Covered: ``seq``, purpose, kind, ``at`` and the evidence's channel, notice version,
    wording hash, actor, staff key, ``confirmed_at``, ``expires_at``, presentation,
    ``requested_at`` and ``confirmed_via``. The subject is
    folded in as its reference by the audit log (:class:`~avgkit.audit.BoundRecord`), so
    the digest survives the erasure's re-keying; the order reference, which the erasure
    clears, is not covered.

    Raises:
        ValidationError: ``event`` was not stored yet (its ``seq`` is unset).
    """
    if event.seq is None:
        msg = "a consent event is bound once stored: its seq is unset"
        raise ValidationError(msg)
    evidence = event.evidence
    columns = [
        event.seq,
        event.purpose,
        event.kind.value,
        _validators.utc_text(event.at),
        evidence.channel.value,
        evidence.notice_version,
        evidence.wording_sha256,
        evidence.actor.value,
        evidence.staff_key or None,
        _instant(evidence.confirmed_at),
        _instant(evidence.expires_at),
        None if evidence.presentation is None else evidence.presentation.value,
        _instant(evidence.requested_at),
        None if evidence.confirmed_via is None else evidence.confirmed_via.value,
    ]
    text = json.dumps(columns, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(_CONSENT + text.encode("utf-8", "surrogatepass")).hexdigest()


def consent_bound(event: ConsentEvent, *, bound_seq: int | None = None) -> BoundRecord:
    """The bound record of a stored consent event (``seq`` set), about its subject."""
    return BoundRecord(
        kind=CONSENT_EVENT,
        record_id="",
        record_no=event.seq or 0,
        digest=consent_event_digest(event),
        bound_seq=bound_seq,
        subject=event.subject,
    )
