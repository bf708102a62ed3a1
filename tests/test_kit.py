import pytest

import avgkit
from avgkit import Kit
from avgkit.clock import SystemClock
from avgkit.errors import ValidationError
from avgkit.presets import ticketing
from avgkit.testing import ManualClock


def test_open_wires_the_audit_log_to_the_clock(tmp_path):
    clock = ManualClock()
    with Kit.open(
        f"sqlite:///{tmp_path}/avg.db", inventory=ticketing.inventory(), clock=clock
    ) as kit:
        entry = kit.audit.record("test.opened")
        assert entry.at == clock.now()
        assert kit.audit.verify().entries == 1


def test_the_system_clock_is_the_default():
    with Kit.open("memory://", inventory=ticketing.inventory()) as kit:
        assert isinstance(kit.clock, SystemClock)


def test_a_kit_refuses_something_that_is_not_an_inventory():
    with pytest.raises(ValidationError, match="Inventory"):
        Kit.open("memory://", inventory={"purposes": {}})


def test_state_persists_across_kits_on_one_file(tmp_path):
    url = f"sqlite:///{tmp_path}/avg.db"
    with Kit.open(url, inventory=ticketing.inventory()) as kit:
        ref = kit.audit.record("test.one", subject="cust-1").subject_ref
    with Kit.open(url, inventory=ticketing.inventory()) as kit:
        assert kit.audit.subject_ref("cust-1") == ref
        assert len(kit.audit) == 1


def test_the_public_surface_of_design_md_is_importable():
    for name in [
        "Kit",
        "Inventory",
        "Purpose",
        "Field",
        "Recipient",
        "LawfulBasis",
        "SpecialCategory",
        "AvgkitError",
        "ValidationError",
        "PolicyError",
        "IntegrityError",
    ]:
        assert name in avgkit.__all__
        assert getattr(avgkit, name)
