"""The inventory: what personal data a controller processes, why, on which basis, for whom.

A controller declares once, in Python or in a policy file (TOML or JSON, validated by the
JSON Schema shipped as ``avgkit/schemas/inventory.schema.json``):

- :class:`Purpose` values, each with one :class:`LawfulBasis` (Art. 6(1)), whether it is
  direct marketing or profiling, and the recipients it discloses data to;
- :class:`Field` values, each with a DPV personal-data category, an :class:`IdentifierKind`,
  an Art. 9 :class:`SpecialCategory` (with its :class:`Art9Condition`) if any, the purposes it
  serves and its anonymisation :class:`Treatment`;
- :class:`Recipient` values with their :class:`RecipientRole`, country and, outside the EEA,
  their :class:`TransferMechanism`;
- the :class:`Controller` and its security measures.

An :class:`Inventory` refuses contradictions with :class:`~avgkit.errors.PolicyError`, answers
:meth:`Inventory.may_use`, and renders the Art. 30 record of processing activities
(:meth:`Inventory.register`).

.. versionadded:: 0.1.0
"""

from avgkit.inventory._authorities import AUTHORITIES, authority_for
from avgkit.inventory._inventory import Inventory
from avgkit.inventory._jurisdictions import (
    ART8_AGES,
    GDPR_DEFAULT_AGE,
    Art8Age,
    Jurisdiction,
    art8_age,
)
from avgkit.inventory._register import ProcessingActivity, ProcessingRegister, RegisterRecipient
from avgkit.inventory._values import (
    METADATA_KEY,
    Controller,
    Field,
    FieldTag,
    Purpose,
    PurposeUse,
    Recipient,
    SupervisoryAuthority,
    Texts,
    tag,
)
from avgkit.inventory._vocab import (
    EEA_COUNTRIES,
    SUPPORTED_CATEGORIES,
    Art9Condition,
    DataOrigin,
    IdentifierKind,
    LawfulBasis,
    RecipientRole,
    SpecialCategory,
    TransferMechanism,
    Treatment,
    category_label,
)

__all__ = [
    "ART8_AGES",
    "AUTHORITIES",
    "EEA_COUNTRIES",
    "GDPR_DEFAULT_AGE",
    "METADATA_KEY",
    "SUPPORTED_CATEGORIES",
    "Art8Age",
    "Art9Condition",
    "Controller",
    "DataOrigin",
    "Field",
    "FieldTag",
    "IdentifierKind",
    "Inventory",
    "Jurisdiction",
    "LawfulBasis",
    "ProcessingActivity",
    "ProcessingRegister",
    "Purpose",
    "PurposeUse",
    "Recipient",
    "RecipientRole",
    "RegisterRecipient",
    "SpecialCategory",
    "SupervisoryAuthority",
    "Texts",
    "TransferMechanism",
    "Treatment",
    "art8_age",
    "authority_for",
    "category_label",
    "tag",
]
