"""The public names code outside the project is written against keep working.

Every name here is imported the way users' code, the examples and the docs import it; a
rename must keep the old path (re-exported) or be recorded as a breaking change.
"""

import doctest
import importlib
import inspect

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


# Public modules added since, with every name each exports: the whole of its contract.
NEW_MODULES = {
    "avgkit.storage.checks": [
        "REFERENCE_PREFIX",
        "beyond_newest",
        "check_acknowledged",
        "check_batch",
        "check_change",
        "check_forget",
        "check_instant",
        "check_limit",
        "check_notices",
        "check_page",
        "check_recipient",
        "check_reference",
        "check_request_id",
        "check_request_kind",
        "check_request_status",
        "check_update",
        "hold_not_found",
        "request_not_found",
        "request_of_another_subject",
        "request_stored_already",
        "restriction_lifted_early",
        "status_changed",
        "transition_out_of_turn",
    ],
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


@pytest.mark.parametrize(("module", "names"), sorted(NEW_MODULES.items()))
def test_a_new_public_module_exports_exactly_its_names(module, names):
    loaded = importlib.import_module(module)
    assert list(loaded.__all__) == sorted(names)
    assert all(getattr(loaded, name) is not None for name in names)


def _adapter_checks():
    from avgkit.storage import checks

    return [(name, getattr(checks, name)) for name in checks.__all__ if name.islower()]


@pytest.mark.parametrize(("name", "check"), _adapter_checks())
def test_every_adapter_check_names_its_method_and_its_example_runs(name, check):
    """Each docstring names the protocol method, what is raised, and has a working example."""
    from avgkit.storage import checks

    doc = inspect.getdoc(check)
    assert ":meth:`" in doc
    assert "<avgkit.storage." in doc
    assert "Raises:" in doc or "Traceback" in doc.split("Example:")[-1]
    assert "Example:" in doc
    assert ".. versionadded::" in doc
    (test,) = doctest.DocTestFinder().find(check, name, globs=dict(vars(checks)))
    if name.startswith("check_"):
        assert len(test.examples) >= 2, "an example of the check passing and of it refusing"
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_checks_are_the_ones_avgkits_adapters_call():
    """Re-exported, not copied: the feed and request rules are the same objects."""
    from avgkit.storage import _feed_rules, _request_rules, checks

    assert checks.check_page is _feed_rules.check_page
    assert checks.check_acknowledged is _feed_rules.check_acknowledged
    assert checks.beyond_newest is _feed_rules.beyond_newest
    assert checks.check_limit is _request_rules.check_limit
    assert checks.check_update is _request_rules.check_update


def test_all_lists_exactly_what_a_package_defines():
    for module in [*OLD_PATHS, *NEW_MODULES]:
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
