"""avgkit: GDPR (AVG) building blocks for ticket systems.

Declare what personal data you hold and why (:class:`Inventory`), open one :class:`Kit`, and
reach every service from it. Only re-exports live here; the code is in the submodules.

.. versionadded:: 0.1.0
"""

from avgkit._version import __version__
from avgkit.audit import AuditLog
from avgkit.clock import Clock, SystemClock
from avgkit.errors import (
    AvgkitError,
    ConflictError,
    IntegrityError,
    NotFound,
    NotPermitted,
    PolicyError,
    StorageError,
    ValidationError,
)
from avgkit.inventory import (
    Art9Condition,
    Controller,
    Field,
    IdentifierKind,
    Inventory,
    LawfulBasis,
    ProcessingRegister,
    Purpose,
    Recipient,
    RecipientRole,
    SpecialCategory,
    Texts,
    TransferMechanism,
    Treatment,
    tag,
)
from avgkit.kit import Kit
from avgkit.subjects import SubjectId, subject_id

__all__ = [
    "Art9Condition",
    "AuditLog",
    "AvgkitError",
    "Clock",
    "ConflictError",
    "Controller",
    "Field",
    "IdentifierKind",
    "IntegrityError",
    "Inventory",
    "Kit",
    "LawfulBasis",
    "NotFound",
    "NotPermitted",
    "PolicyError",
    "ProcessingRegister",
    "Purpose",
    "Recipient",
    "RecipientRole",
    "SpecialCategory",
    "StorageError",
    "SubjectId",
    "SystemClock",
    "Texts",
    "TransferMechanism",
    "Treatment",
    "ValidationError",
    "__version__",
    "subject_id",
    "tag",
]
