"""The public names code outside the project is written against keep working.

Every name here is imported the way users' code, the examples and the docs import it; a
rename must keep the old path (re-exported) or be recorded as a breaking change.
"""

import importlib

import pytest

import avgkit
from avgkit import Kit
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

TOP_LEVEL = [
    "Kit",
    "Inventory",
    "Purpose",
    "Field",
    "Recipient",
    "LawfulBasis",
    "SpecialCategory",
    "HostData",
    "AvgkitError",
    "ValidationError",
    "PolicyError",
    "IntegrityError",
    "StorageError",
    "NotFound",
    "NotPermitted",
    "ConfigurationError",
    "ShreddedKeyError",
    "Evidence",
    "Channel",
    "Decision",
    "hash_wording",
    "ConsentOptions",
    "BreachOptions",
    "PseudonymOptions",
]

# Module paths that existed before the packages were split, with names imported from them.
OLD_PATHS = {
    "avgkit.consent": ["ConsentLedger", "ConsentEvent", "Evidence", "replay", "Decision"],
    "avgkit.consent_records": ["ConsentReport", "kantara_receipts", "iso27560_records"],
    "avgkit.audit": ["AuditLog", "AuditEntry", "AuditAnchor", "verify_chain", "GENESIS_HASH"],
    "avgkit.breach": ["BreachRegister", "Breach", "BreachFacts", "Headcount", "assess"],
    "avgkit.inventory": ["Inventory", "Purpose", "Field", "tag", "ProcessingRegister"],
    "avgkit.pseudonym": [
        "Pseudonyms",
        "Pseudonymiser",
        "Tokeniser",
        "KeyEncryptionKey",
        "PseudonymKey",
        "RecordAnonymiser",
        "k_anonymity",
        "ShreddedKeyError",
        "seal_bytes",
        "open_bytes",
        "seal_stream",
        "open_stream",
        "seal_file",
        "open_file",
        "SealCost",
        "SEALED_VERSION",
        "is_sealed",
    ],
    "avgkit.storage": ["StoreSet", "UnitOfWork", "open_stores", "register_scheme"],
    "avgkit.errors": ["AvgkitError", "ShreddedKeyError", "ConfigurationError"],
    "avgkit.testing": ["ManualClock"],
    "avgkit.testing.conformance": [
        "AuditStoreContract",
        "ConsentStoreContract",
        "KeyStoreContract",
        "BreachStoreContract",
        "HostDataContract",
    ],
    "avgkit.permissions": ["Permissions", "Decision"],
    "avgkit.host": ["HostData", "HostSubject", "HostRecord", "SubjectKind"],
    "avgkit.retention": ["RetentionRule", "RetentionPolicy", "Hold", "Trigger", "Action"],
    "avgkit.presets.ticketing": ["inventory", "retention_policy"],
}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_the_top_level_package_exports(name):
    assert name in avgkit.__all__
    assert getattr(avgkit, name) is not None


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in OLD_PATHS.items() for n in names]
)
def test_old_import_paths_still_work(module, name):
    assert getattr(importlib.import_module(module), name) is not None


def test_all_lists_exactly_what_a_package_defines():
    for module in OLD_PATHS:
        loaded = importlib.import_module(module)
        for name in getattr(loaded, "__all__", ()):
            assert hasattr(loaded, name), f"{module}.__all__ names missing {name!r}"


def test_a_re_exported_name_is_one_object_everywhere():
    from avgkit.consent import Evidence as FromConsent
    from avgkit.errors import ShreddedKeyError as FromErrors
    from avgkit.pseudonym import ShreddedKeyError as FromPseudonym

    assert avgkit.Evidence is FromConsent
    assert FromErrors is FromPseudonym


def test_the_kit_reaches_every_landed_service():
    with Kit.open("memory://", inventory=ticketing.inventory(), clock=ManualClock()) as kit:
        for attribute in ("consent", "pseudonyms", "breaches", "audit", "permissions"):
            assert getattr(kit, attribute) is not None
        assert kit.may_process("cust-1", "ticket_sale").allowed
