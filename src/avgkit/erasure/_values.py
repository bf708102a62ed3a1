"""What an erasure leaves behind and reports: log entries, notices, outcomes (values, no I/O).

Everything here names the subject by its pseudonymous reference (``sr1:…``), never by the
host's id: these values outlive the person's data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from avgkit import _validators
from avgkit.consent._values import subject_reference
from avgkit.errors import ValidationError
from avgkit.host._values import HostErasure
from avgkit.retention._values import HoldReason

MAX_CAUSE: Final = 200


def _check_reference(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    del attribute
    subject_reference(value)


def _check_cause(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > MAX_CAUSE:
        msg = f"an erasure's cause is a short text ('request', 'retention:<rule>'), 1-{MAX_CAUSE}"
        raise ValidationError(msg)


def _aware(value: object) -> datetime:
    return _validators.aware(value, "an erasure instant")


def _optional_aware(value: object) -> datetime | None:
    return None if value is None else _aware(value)


@attrs.frozen(kw_only=True)
class ErasureEntry:
    """One subject's line in the erasure log: begun, and (once done) completed.

    The log is what brings erased subjects back to erased after a host database is
    restored from a backup made before their erasure.

    .. versionadded:: 0.2.0
    """

    subject_ref: str = attrs.field(validator=_check_reference)
    started_at: datetime = attrs.field(converter=_aware)
    cause: str = attrs.field(validator=_check_cause)
    """Why: ``"request"`` (Art. 17), ``"retention:<rule>"``, ``"replay"``."""
    completed_at: datetime | None = attrs.field(default=None, converter=_optional_aware)

    @property
    def complete(self) -> bool:
        """Whether every step of the erasure was carried out."""
        return self.completed_at is not None


@attrs.frozen(kw_only=True)
class ErasureNotice:
    """An outbox entry telling one recipient (a CRM) that a subject was erased (Art. 19).

    .. versionadded:: 0.2.0
    """

    seq: int
    """Position in the outbox, increasing: what a reader's cursor remembers."""
    recipient: str
    """The inventory's key of the recipient to tell."""
    subject_ref: str = attrs.field(validator=_check_reference)
    at: datetime = attrs.field(converter=_aware)


@attrs.frozen(kw_only=True)
class Deferral:
    """Why an erasure was not carried out now, and until when.

    .. versionadded:: 0.2.0
    """

    reason: HoldReason
    until: datetime | None
    """When it may run (``None``: once the hold is released)."""


@attrs.frozen(kw_only=True)
class ErasureOutcome:
    """What :meth:`Erasure.erase <avgkit.erasure.Erasure.erase>` did (or did not do, and why).

    .. versionadded:: 0.2.0
    """

    subject_ref: str = attrs.field(validator=_check_reference)
    deferred: Deferral | None = None
    """Set when a hold deferred the erasure: nothing was changed."""
    host: HostErasure = attrs.field(factory=HostErasure)
    """Records the host anonymised and deleted."""
    consents_withdrawn: int = 0
    """Consents that were live and are now withdrawn."""
    events_rekeyed: int = 0
    """Consent events now keyed by the subject's reference instead of the host's id."""
    key_shredded: bool = False
    """Whether the subject had a data key, now destroyed."""
    suppressed: int = 0
    """E-mail addresses kept as keyed pseudonyms, so an import cannot put them back."""
    notices: int = 0
    """Recipients told through the outbox."""
    repeated: bool = False
    """The subject had been erased before: this run only made sure of it."""

    @property
    def erased(self) -> bool:
        """Whether the erasure was carried out (not deferred)."""
        return self.deferred is None
