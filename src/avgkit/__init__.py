"""avgkit: GDPR (AVG) building blocks for ticket systems.

Declare what personal data you hold and why (:class:`Inventory`), open one :class:`Kit`, and
reach every service from it. Only re-exports live here; the code is in the submodules.

.. versionadded:: 0.1.0
"""

from avgkit._version import __version__
from avgkit.audit import AuditLog
from avgkit.breach import BreachOptions
from avgkit.clock import Clock, SystemClock
from avgkit.consent import Channel, ConsentOptions, Decision, Evidence, hash_wording
from avgkit.errors import (
    AvgkitError,
    ConfigurationError,
    ConflictError,
    IntegrityError,
    NotFound,
    NotPermitted,
    PolicyError,
    ShreddedKeyError,
    StorageError,
    ValidationError,
)
from avgkit.host import HostData
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
from avgkit.pseudonym import PseudonymOptions
from avgkit.subjects import SubjectId, subject_id

__all__ = [
    "Art9Condition",
    "AuditLog",
    "AvgkitError",
    "BreachOptions",
    "Channel",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "ConsentOptions",
    "Controller",
    "Decision",
    "Evidence",
    "Field",
    "HostData",
    "IdentifierKind",
    "IntegrityError",
    "Inventory",
    "Kit",
    "LawfulBasis",
    "NotFound",
    "NotPermitted",
    "PolicyError",
    "ProcessingRegister",
    "PseudonymOptions",
    "Purpose",
    "Recipient",
    "RecipientRole",
    "ShreddedKeyError",
    "SpecialCategory",
    "StorageError",
    "SubjectId",
    "SystemClock",
    "Texts",
    "TransferMechanism",
    "Treatment",
    "ValidationError",
    "__version__",
    "hash_wording",
    "subject_id",
    "tag",
]
