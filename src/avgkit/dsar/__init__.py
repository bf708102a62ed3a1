"""Data subject requests (Art. 15-21 GDPR): the requests, their states and their history.

A visitor asks for a copy of their data, a correction, an erasure or a restriction; the
venue must answer within a month (Art. 12(3)), verify the requester's identity first, and
be able to show what was done when. :class:`SubjectRequest` is a request in its current
state, :class:`RequestTransition` one step of its history; :class:`RequestKind`,
:class:`RequestStatus`, :class:`RefusalReason` and :class:`ExtensionReason` map to the W3C
Data Privacy Vocabulary.

.. versionadded:: 0.2.0
"""

from avgkit.dsar._values import (
    OPEN_STATUSES,
    ExtensionReason,
    RefusalReason,
    RequestKind,
    RequestStatus,
    RequestTransition,
    SubjectRequest,
)

__all__ = [
    "OPEN_STATUSES",
    "ExtensionReason",
    "RefusalReason",
    "RequestKind",
    "RequestStatus",
    "RequestTransition",
    "SubjectRequest",
]
