"""Erasure: one operation for retention and for requests (Art. 17).

:class:`Erasure` (``kit.erasure``) erases one subject everywhere: in the host (orders and
payments anonymised, the rest deleted), in avgkit (consents withdrawn, the consent evidence
re-keyed to the subject's pseudonymous reference, the data key shredded), keeping only a
suppression pseudonym of each e-mail address and an erasure notice per recipient. Holds
defer it; the erasure log brings erased subjects back to erased after a host restore.

.. versionadded:: 0.2.0
"""

from avgkit.erasure._service import EMAIL_CATEGORY, Erasure, ReplayReport
from avgkit.erasure._values import (
    Deferral,
    ErasureEntry,
    ErasureNotice,
    ErasureOutcome,
)

__all__ = [
    "EMAIL_CATEGORY",
    "Deferral",
    "Erasure",
    "ErasureEntry",
    "ErasureNotice",
    "ErasureOutcome",
    "ReplayReport",
]
