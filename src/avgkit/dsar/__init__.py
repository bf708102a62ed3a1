"""Data subject requests (Art. 15-21 GDPR): the requests, their states and their history.

A visitor asks for a copy of their data, a correction, an erasure or a restriction; the
venue must answer within a month (Art. 12(3)), verify the requester's identity first, and
be able to show what was done when. :class:`SubjectRequest` is a request in its current
state, :class:`RequestTransition` one step of its history, :class:`DueRequest` its entry in
the queue of deadlines; :class:`RequestKind`, :class:`RequestStatus`, :class:`RefusalReason`
and :class:`ExtensionReason` map to the W3C Data Privacy Vocabulary.

.. versionadded:: 0.2.0
"""

from avgkit.dsar._deadlines import MAX_EXTENSION, RESPONSE_PERIOD, due_at
from avgkit.dsar._export import EXPORT_FORMAT, AccessExport, ExportKind, build_export, export_schema
from avgkit.dsar._options import DsarOptions, Notifier, Verifier
from avgkit.dsar._rights import RIGHTS, Right
from avgkit.dsar._service import Fulfilment, SubjectRequests
from avgkit.dsar._values import (
    OPEN_STATUSES,
    DueRequest,
    ExtensionReason,
    RefusalReason,
    RequestKind,
    RequestStatus,
    RequestTransition,
    SubjectRequest,
)

__all__ = [
    "EXPORT_FORMAT",
    "MAX_EXTENSION",
    "OPEN_STATUSES",
    "RESPONSE_PERIOD",
    "RIGHTS",
    "AccessExport",
    "DsarOptions",
    "DueRequest",
    "ExportKind",
    "ExtensionReason",
    "Fulfilment",
    "Notifier",
    "RefusalReason",
    "RequestKind",
    "RequestStatus",
    "RequestTransition",
    "Right",
    "SubjectRequest",
    "SubjectRequests",
    "Verifier",
    "build_export",
    "due_at",
    "export_schema",
]
