"""A service's change and its audit entry are stored together or not at all.

Each test makes the audit append fail (as a full disk or a lost connection would) after the
service's own store has written, and checks that the change did not stay behind unaudited.
"""

from datetime import UTC, datetime, timedelta

import pytest

from avgkit import Kit
from avgkit.breach import BreachFacts, BreachKind, Headcount
from avgkit.consent import Channel, Evidence, hash_wording
from avgkit.errors import NotFound, StorageError
from avgkit.presets import ticketing
from avgkit.storage.sqlite._db import Database
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
EVIDENCE = Evidence(
    channel=Channel.WEBSHOP, notice_version="2024-05", wording_sha256=hash_wording("Ja!")
)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def kit(request, tmp_path):
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/avg.db"
    else:
        url = request.getfixturevalue("pg_url")
    with Kit.open(url, inventory=ticketing.inventory(), clock=ManualClock(NOW)) as opened:
        yield opened


def fail_audit_appends(kit, monkeypatch):
    def broken(_seal):
        raise StorageError("simulated: the disk is full")

    monkeypatch.setattr(kit.stores.audit, "append", broken)


def test_a_consent_event_is_not_kept_when_its_audit_entry_fails(kit, monkeypatch):
    fail_audit_appends(kit, monkeypatch)
    with pytest.raises(StorageError, match="simulated"):
        kit.consent.give("cust-1", "newsletter", EVIDENCE)
    monkeypatch.undo()
    assert kit.consent.history("cust-1") == ()
    assert not kit.may_process("cust-1", "newsletter").allowed


def test_an_import_batch_is_not_kept_when_its_audit_entry_fails(kit, monkeypatch):
    from avgkit.consent import ConsentAction, ConsentEvent

    imported = Evidence(channel=Channel.IMPORT, notice_version="2019", wording_sha256="0" * 64)
    batch = [
        ConsentEvent(
            subject=f"cust-{i}",
            purpose="newsletter",
            kind=ConsentAction.GIVEN,
            at=NOW - timedelta(days=400),
            evidence=imported,
        )
        for i in range(50)
    ]
    fail_audit_appends(kit, monkeypatch)
    with pytest.raises(StorageError, match="simulated"):
        kit.consent.import_events(batch)
    monkeypatch.undo()
    assert list(kit.consent.audience("newsletter")) == []


def test_a_breach_is_not_kept_when_its_audit_entry_fails(kit, monkeypatch):
    facts = BreachFacts(
        summary="A list went to the wrong partner.",
        system="mail platform",
        categories=("EmailAddress",),
        subjects=Headcount(minimum=10, maximum=20),
        subject_group="newsletter subscribers",
        contact_details_known=True,
        root_cause="A shared key.",
        occurred_from=NOW - timedelta(hours=5),
        kinds=(BreachKind.CONFIDENTIALITY,),
        likely_consequences="Unwanted mail.",
        measures_taken="The key was revoked.",
        contact_point="Privacy officer, privacy@venue.example",
    )
    fail_audit_appends(kit, monkeypatch)
    with pytest.raises(StorageError, match="simulated"):
        kit.breaches.record(facts, discovered_at=NOW - timedelta(hours=1))
    monkeypatch.undo()
    assert list(kit.breaches.breaches()) == []


def test_a_key_is_not_kept_when_its_audit_entry_fails(kit, monkeypatch):
    fail_audit_appends(kit, monkeypatch)
    with pytest.raises(StorageError, match="simulated"):
        kit.pseudonyms.rotate()
    monkeypatch.undo()
    with pytest.raises(NotFound):
        kit.pseudonyms.pseudonym("cust-1", domain="crm_export")


def test_a_shredding_is_undone_when_its_audit_entry_fails(kit, monkeypatch):
    kit.pseudonyms.seal("cust-1", b"contact data", purpose="ticket_sale")
    fail_audit_appends(kit, monkeypatch)
    with pytest.raises(StorageError, match="simulated"):
        kit.pseudonyms.shred("cust-1")
    monkeypatch.undo()
    assert kit.pseudonyms.shredded_at("cust-1") is None
    assert kit.pseudonyms.shred("cust-1") is True
    assert [e.action for e in kit.audit.entries()] == ["pseudonym.subject_key_shredded"]


# --- the SQLite mechanism underneath ---------------------------------------------------------


def test_sqlite_writes_nest_as_savepoints(tmp_path):
    db = Database(str(tmp_path / "n.db"))
    db.migrate("nesting", ("CREATE TABLE nesting_rows (a INTEGER);",))

    def fail_inside():
        with db.write("inner that fails") as inner:
            inner.execute("INSERT INTO nesting_rows VALUES (2)")
            raise RuntimeError

    with db.write("outer") as conn:
        conn.execute("INSERT INTO nesting_rows VALUES (1)")
        with pytest.raises(RuntimeError):
            fail_inside()
        with db.write("inner") as inner:
            inner.execute("INSERT INTO nesting_rows VALUES (3)")
    with db.read("count") as conn:
        assert [r[0] for r in conn.execute("SELECT a FROM nesting_rows ORDER BY a")] == [1, 3]
    db.close()


def test_sqlite_after_commit_waits_for_the_outer_commit(tmp_path):
    db = Database(str(tmp_path / "n.db"))
    ran = []
    with db.write("outer"):
        with db.write("inner"):
            db.after_commit(lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]

    def roll_back():
        with db.write("rolled back"):
            db.after_commit(lambda: ran.append("rolled back"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        roll_back()
    assert ran == ["committed"]
    db.close()


def test_a_rolled_back_block_does_not_change_subject_references(kit):
    """The reference secret is committed before any atomic block can roll it back."""
    if kit.stores.url == "memory://":
        pytest.skip("memory stores are gone once closed: nothing to reopen")

    def roll_back():
        with kit.audit.atomic():
            kit.audit.record("test.inside", subject="cust-1")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        roll_back()
    entry = kit.audit.record("test.after", subject="cust-1")
    url = kit.stores.url
    kit.close()
    with Kit.open(url, inventory=ticketing.inventory(), clock=ManualClock(NOW)) as again:
        assert again.audit.subject_ref("cust-1") == entry.subject_ref
        assert [e.action for e in again.audit.for_subject("cust-1")] == ["test.after"]


def test_sqlite_callbacks_of_a_rolled_back_savepoint_never_run(tmp_path):
    db = Database(str(tmp_path / "n.db"))
    ran = []

    def undone():
        with db.write("inner"):
            db.after_commit(lambda: ran.append("undone"))
            raise RuntimeError

    with db.write("outer"):
        db.after_commit(lambda: ran.append("kept"))
        with pytest.raises(RuntimeError):
            undone()
    assert ran == ["kept"]
    db.close()


def test_sqlite_keeps_the_real_error_when_sqlite_rolled_back_by_itself(tmp_path):
    """If the transaction is already gone, the original error surfaces, not a ROLLBACK one."""
    db = Database(str(tmp_path / "n.db"))

    def fail_after_sqlite_rolled_back():
        with db.write("outer") as conn:
            conn.execute("ROLLBACK")  # what SQLite does by itself on some I/O errors
            raise LookupError("the real problem")

    with pytest.raises(LookupError, match="the real problem"):
        fail_after_sqlite_rolled_back()
    with db.write("still usable") as conn:
        conn.execute("SELECT 1")
    db.close()
