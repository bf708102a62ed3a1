"""The consent report, Kantara receipts and ISO/IEC TS 27560 records (also in avgkit.consent).

Kept as a module of its own so that code written against ``avgkit.consent_records`` keeps
working; the code lives in the :mod:`avgkit.consent` package.

.. versionadded:: 0.1.0
"""

from avgkit.consent._records import (
    ISO27560_SCHEMA_VERSION,
    KANTARA_VERSION,
    ConsentReport,
    LedgerView,
    PurposeSection,
    ReportDay,
    iso27560_records,
    kantara_receipts,
)

__all__ = [
    "ISO27560_SCHEMA_VERSION",
    "KANTARA_VERSION",
    "ConsentReport",
    "LedgerView",
    "PurposeSection",
    "ReportDay",
    "iso27560_records",
    "kantara_receipts",
]
