import sqlite3

import pytest

import avgkit
from avgkit import Kit
from avgkit.clock import SystemClock
from avgkit.errors import ValidationError
from avgkit.presets import ticketing
from avgkit.pseudonym import KeyEncryptionKey
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


def test_keys_can_live_in_a_separate_database(tmp_path):
    """With keys_url, key material is written to that file and never to the data file."""
    data, keys = tmp_path / "avg.db", tmp_path / "keys.db"
    with Kit.open(
        f"sqlite:///{data}", inventory=ticketing.inventory(), keys_url=f"sqlite:///{keys}"
    ) as kit:
        kit.pseudonyms.rotate()
        kit.pseudonyms.seal("cust-1", b"contact", purpose="ticket_sale")
        pseudonym = kit.pseudonyms.pseudonym("a@b.nl", domain="crm_export", kind="email")
    with sqlite3.connect(keys) as conn:
        kinds = sorted(row[0] for row in conn.execute("SELECT kind FROM keys_material"))
        assert kinds == ["pseudonym", "secret", "subject"]  # the secret: subject references'
    with sqlite3.connect(data) as conn:
        assert conn.execute("SELECT count(*) FROM keys_material").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM audit_meta").fetchone()[0] == 0
        actions = [row[0] for row in conn.execute("SELECT action FROM audit_entries")]
    assert "pseudonym.key_created" in actions  # the audit trail stays with the data
    with Kit.open(
        f"sqlite:///{data}", inventory=ticketing.inventory(), keys_url=f"sqlite:///{keys}"
    ) as kit:
        kit.pseudonyms.verify("a@b.nl", pseudonym, domain="crm_export", kind="email")


def test_a_kek_wraps_key_material_at_rest(tmp_path):
    kek = KeyEncryptionKey.generate()
    url = f"sqlite:///{tmp_path}/avg.db"
    with Kit.open(url, inventory=ticketing.inventory(), kek=kek) as kit:
        kit.pseudonyms.rotate()
        key = kit.pseudonyms.ring("pseudonym").current
    with sqlite3.connect(tmp_path / "avg.db") as conn:
        (stored,) = conn.execute(
            "SELECT material FROM keys_material WHERE kind = 'pseudonym'"
        ).fetchone()
    assert key.material not in bytes(stored)
    with Kit.open(url, inventory=ticketing.inventory(), kek=kek) as kit:
        assert kit.pseudonyms.ring("pseudonym").current == key


def test_a_kit_refuses_a_kek_that_is_not_one():
    with pytest.raises(ValidationError, match="KeyEncryptionKey"):
        Kit.open("memory://", inventory=ticketing.inventory(), kek=b"0" * 32)
