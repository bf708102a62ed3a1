"""Everything under the chain: bound records, keyed anchors, and the attacks they stop.

Each attack is made as someone with write access to the database would make it: straight
SQL with the append-only triggers out of the way (dropped on SQLite; on PostgreSQL the
session's ``session_replication_role`` set to ``replica``, which skips them), or the
memory adapter's objects changed in place.
"""

import hashlib
import hmac
import json
import sqlite3
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit, urlunsplit

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avgkit import Channel, Evidence, Kit, hash_wording
from avgkit.audit import (
    GENESIS_HASH,
    AnchorFile,
    AnchorKey,
    AuditAnchor,
    AuditEntry,
    AuditLog,
    BoundRecord,
)
from avgkit.audit._bound import Reconciler, bound_digest
from avgkit.audit._chain import verify_chain
from avgkit.consent import ConsentEvent
from avgkit.errors import IntegrityError, StorageError, ValidationError
from avgkit.presets import ticketing
from avgkit.storage.memory import MemoryAuditStore
from avgkit.storage.sqlite import path_from_url
from avgkit.testing import ManualClock
from test_breach import NOW, PERSONAL_CONTACT, facts

SQL_URLS = ["sqlite", "postgresql"]


def open_kit(url, clock=None):
    return Kit.open(url, inventory=ticketing.inventory(), clock=clock or ManualClock(NOW))


def record_breach(kit):
    breach = kit.breaches.record(
        facts(), discovered_at=NOW - timedelta(hours=2), processor="mail_platform"
    )
    kit.breaches.update(breach.id, note="More rows went out.", root_cause="A typo.")
    return breach


def execute(url, statement, params=()):
    """Run ``statement`` on the store's database as an attacker would: triggers off."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(path_from_url(url), isolation_level=None)
        try:
            triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            for (name,) in triggers.fetchall():
                conn.execute(f"DROP TRIGGER {name}")
            return conn.execute(statement, params).rowcount
        finally:
            conn.close()
    import psycopg

    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    with psycopg.connect(urlunsplit(parts._replace(query="")), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(f'SET search_path = "{schema}"')
        return conn.execute(statement.replace("?", "%s"), params).rowcount


@pytest.fixture(params=SQL_URLS)
def sql_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/avg.db"
    return request.getfixturevalue("pg_url")


def verify_fails(url, match):
    with open_kit(url) as kit, pytest.raises(IntegrityError, match=match) as caught:
        kit.audit.verify()
    text = str(caught.value)
    assert PERSONAL_CONTACT not in text
    assert "typo" not in text
    return text


# --------------------------------------------------------------------------- breaches


def test_every_breach_version_is_reconciled_with_the_chain(store_url):
    with open_kit(store_url) as kit:
        breach = record_breach(kit)
        report = kit.audit.verify()
        assert report.records == {"breach_version": 2, "consent_event": 0}
        entry = list(kit.audit.entries())[-1]
        assert entry.details["bound"] == "breach_version"
        assert entry.details["bound_records"] == 1
        assert len(entry.details["bound_digest"]) == 64
        assert kit.breaches.get(breach.id).version == 2


def test_an_edited_breach_version_is_named(sql_url):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
    changed = execute(
        sql_url,
        "UPDATE breach_versions SET data = replace(data, 'typo', 'cosmic ray') "
        "WHERE breach_id = ? AND version = 2",
        (breach.id,),
    )
    assert changed == 1
    verify_fails(sql_url, rf"breach_version {breach.id}/2, bound to audit entry \d+, was changed")


def test_a_deleted_breach_version_is_named(sql_url):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
    execute(
        sql_url, "DELETE FROM breach_versions WHERE breach_id = ? AND version = 2", (breach.id,)
    )
    verify_fails(sql_url, rf"breach_version {breach.id}/2, bound to audit entry \d+, was deleted")


def test_a_forged_breach_version_is_named(sql_url):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
    execute(
        sql_url,
        "INSERT INTO breach_versions (breach_id, version, data) "
        "SELECT breach_id, 3, data FROM breach_versions WHERE breach_id = ? AND version = 2",
        (breach.id,),
    )
    verify_fails(sql_url, rf"breach_version {breach.id}/3 is bound to no audit entry")


def test_a_forged_version_with_a_forged_binding_is_caught(sql_url):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
        seq = kit.audit.anchor().seq
    execute(
        sql_url,
        "INSERT INTO breach_versions (breach_id, version, data) "
        "SELECT breach_id, 3, data FROM breach_versions WHERE breach_id = ? AND version = 2",
        (breach.id,),
    )
    execute(
        sql_url,
        "INSERT INTO audit_bindings (kind, record_id, record_no, audit_seq) "
        "VALUES ('breach_version', ?, 3, ?)",
        (breach.id, seq),
    )
    # Found by the count of the entry's records or, looking ahead, by the newest-version
    # row that no longer is the newest: either way the breach is named.
    verify_fails(
        sql_url,
        rf"audit entry {seq} binds 1 breach_version record\(s\) but .* 2|"
        rf"breach {breach.id} is not its newest stored version",
    )


def test_a_version_re_bound_to_another_entry_is_caught(sql_url):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
        kit.audit.record("test.unrelated")
        last = kit.audit.anchor().seq
    execute(
        sql_url,
        "UPDATE audit_bindings SET audit_seq = ? WHERE record_id = ? AND record_no = 2",
        (last, breach.id),
    )
    verify_fails(sql_url, r"binds 1 breach_version record\(s\) but the store holds 0")


@pytest.mark.parametrize(
    ("column", "value"),
    [("authority_pending", 0), ("data", "{}"), ("version", 1)],
)
def test_an_edited_newest_version_row_is_named(sql_url, column, value):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
    if column == "authority_pending" and sql_url.startswith("postgresql"):
        value = False
    execute(sql_url, f"UPDATE breaches SET {column} = ? WHERE breach_id = ?", (value, breach.id))
    verify_fails(sql_url, rf"the breaches row of breach {breach.id} (is not|disagrees)")


def test_a_deleted_breach_is_caught(sql_url):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
    execute(sql_url, "DELETE FROM breach_versions WHERE breach_id = ?", (breach.id,))
    execute(sql_url, "DELETE FROM breaches WHERE breach_id = ?", (breach.id,))
    verify_fails(sql_url, rf"breach_version {breach.id}/1, bound to audit entry \d+, was deleted")


def test_a_breach_row_without_versions_is_caught(sql_url):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
    execute(sql_url, "DELETE FROM breach_versions WHERE breach_id = ?", (breach.id,))
    execute(sql_url, "DELETE FROM audit_bindings WHERE record_id = ?", (breach.id,))
    verify_fails(sql_url, rf"the breaches row of breach {breach.id} is not its newest")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE breaches SET authority_pending = authority_pending",
        "UPDATE breaches SET version = version + 1",
        "DELETE FROM breaches",
        "UPDATE audit_bindings SET audit_seq = audit_seq + 1",
        "DELETE FROM audit_bindings",
    ],
)
def test_the_breach_tables_refuse_changes_through_sql(sql_url, statement):
    with open_kit(sql_url) as kit:
        record_breach(kit)
        db = kit.stores.breaches._db
        with pytest.raises(StorageError), db.write("tampering") as conn:
            conn.execute(statement)
        assert kit.audit.verify().records == {"breach_version": 2, "consent_event": 0}


def test_memory_breach_store_tampering_is_caught():
    with open_kit("memory://") as kit:
        breach = record_breach(kit)
        store = kit.stores.breaches
        versions = store._versions[breach.id]
        original = versions[1]
        versions[1] = attrs.evolve(original, delay_reason="forged")
        with pytest.raises(IntegrityError, match=f"breach_version {breach.id}/2, bound"):
            kit.audit.verify()
        versions[1] = original
        versions.append(attrs.evolve(original, version=3))
        with pytest.raises(IntegrityError, match=f"{breach.id}/3 is bound to no audit entry"):
            kit.audit.verify()
        del versions[1:]
        with pytest.raises(IntegrityError, match=f"{breach.id}/2, bound .* was deleted"):
            kit.audit.verify()


def test_a_store_bound_twice_for_one_kind_is_refused():
    log = AuditLog(MemoryAuditStore(), ManualClock(NOW))
    first, second = object(), object()
    log.bind_store("thing", first)
    log.bind_store("thing", first)
    with pytest.raises(ValidationError, match="another store is already bound"):
        log.bind_store("thing", second)
    with pytest.raises(ValidationError, match="reserved for bound records"):
        log.record("test.forged", details={"bound": "thing"})
    digest = "a" * 64
    with pytest.raises(ValidationError, match="no store is bound for 'other'"):
        log.record(
            "test.x",
            bound=[BoundRecord(kind="other", record_id="", record_no=1, digest=digest)],
        )


def test_a_failing_binding_leaves_neither_entry_nor_record(sql_url):
    with open_kit(sql_url) as kit:
        breach = record_breach(kit)
        entries = len(kit.audit)
        store = kit.stores.breaches
        # Version 2 is bound already: the duplicate binding fails, and takes the entry along.
        with pytest.raises(StorageError), kit.audit.atomic():
            kit.audit.record(
                "test.rebind",
                bound=[
                    BoundRecord(
                        kind="breach_version",
                        record_id=breach.id,
                        record_no=2,
                        digest="b" * 64,
                    )
                ],
            )
        assert len(kit.audit) == entries
        assert store.get(breach.id).version == 2
        kit.audit.verify()


# --------------------------------------------------------------------------- the merge


@st.composite
def bound_chains(draw):
    """A chain of entries, some binding one or more records; the records as a store has them."""
    log = AuditLog(MemoryAuditStore(), ManualClock(NOW))
    records: list[BoundRecord] = []
    bound = _ListStore()
    log.bind_store("thing", bound)
    for index in range(draw(st.integers(1, 12))):
        count = draw(st.integers(0, 3))
        batch = [
            BoundRecord(
                kind="thing",
                record_id=f"r{index}",
                record_no=n,
                digest=hashlib.sha256(f"{index}/{n}".encode()).hexdigest(),
            )
            for n in range(count)
        ]
        entry = log.record("test.step", bound=batch) if batch else log.record("test.step")
        records += [attrs.evolve(r, bound_seq=entry.seq) for r in batch]
    return list(log.entries()), records


class _ListStore:
    def __init__(self):
        self.bindings = {}

    def bind(self, keys, audit_seq):
        for key in keys:
            self.bindings[key] = audit_seq

    def bound_records(self):
        return iter(())


def _walk(entries, records):
    order = sorted(records, key=lambda r: (r.bound_seq is not None, r.bound_seq or 0, r.key))
    return verify_chain(entries, bound=[Reconciler("thing", order, lambda s: s)])


@given(bound_chains(), st.data())
@settings(max_examples=150, deadline=None)
def test_any_changed_deleted_or_inserted_record_is_found(chain, data):
    """The merge finds every single edit of a store's records, whatever the chain's shape."""
    entries, records = chain
    assert _walk(entries, records).records == {"thing": len(records)}
    attacks = ["insert", "rebind"] + (["change", "delete"] if records else [])
    attack = data.draw(st.sampled_from(attacks))
    tampered = list(records)
    if attack == "change":
        i = data.draw(st.integers(0, len(records) - 1))
        tampered[i] = attrs.evolve(tampered[i], digest="f" * 64)
    elif attack == "delete":
        del tampered[data.draw(st.integers(0, len(records) - 1))]
    elif attack == "insert":
        seq = data.draw(st.one_of(st.none(), st.integers(1, len(entries) + 2)))
        forged = BoundRecord(kind="thing", record_id="zz", record_no=9, digest="e" * 64)
        tampered.append(attrs.evolve(forged, bound_seq=seq))
    else:
        seq = data.draw(st.integers(1, len(entries) + 2))
        if not records:
            tampered.append(BoundRecord(kind="thing", record_id="zz", record_no=1, digest="e" * 64))
        i = data.draw(st.integers(0, len(tampered) - 1))
        if tampered[i].bound_seq == seq:
            seq += 1
        tampered[i] = attrs.evolve(tampered[i], bound_seq=seq)
    with pytest.raises(IntegrityError):
        _walk(entries, tampered)


def test_several_records_of_one_entry_are_digested_in_key_order():
    one, two = ("a" * 64, "b" * 64)
    assert bound_digest([one]) == one
    assert bound_digest([one, two]) != bound_digest([two, one])
    with pytest.raises(ValidationError):
        bound_digest([])


# --------------------------------------------------------------------------- anchors


def rewritten(entries):
    """The chain as an attacker with the database recomputes it: one detail changed."""
    out, prev = [], GENESIS_HASH
    for entry in entries:
        details = dict(entry.details)
        if entry.seq == 2:
            details["i"] = 99
        sealed = AuditEntry.seal(
            seq=entry.seq,
            at=entry.at,
            action=entry.action,
            actor=entry.actor,
            subject_ref=entry.subject_ref,
            details=details,
            prev_hash=prev,
        )
        out.append(sealed)
        prev = sealed.hash
    return out


def test_a_chain_rewritten_whole_passes_alone_and_fails_against_sealed_anchors(tmp_path):
    store = MemoryAuditStore()
    log = AuditLog(store, ManualClock(NOW))
    key = AnchorKey.generate()
    sink = AnchorFile(tmp_path / "anchors.txt")
    log.write_anchors(sink, key=key, every=2)
    for i in range(5):
        log.record("test.step", details={"i": i})
    anchors = list(sink)
    assert [a.seq for a in anchors] == [2, 4]
    assert all(a.seal_ok(key) for a in anchors)
    assert log.verify(anchors=sink, key=key).anchors == 2
    forged = rewritten(list(log.entries()))
    assert verify_chain(forged).entries == 5  # the plain chain cannot tell
    with pytest.raises(IntegrityError, match="entry 2: it differs from its anchor"):
        verify_chain(forged, anchors=sink, key=key)
    # Forging the anchors too needs the key.
    fake = [AuditAnchor(seq=e.seq, hash=e.hash).sealed(AnchorKey.generate()) for e in forged]
    with pytest.raises(IntegrityError, match="not sealed with this key"):
        verify_chain(forged, anchors=fake, key=key)


def test_anchors_catch_a_truncated_chain(tmp_path):
    log = AuditLog(MemoryAuditStore(), ManualClock(NOW))
    sink = AnchorFile(tmp_path / "anchors.txt")
    log.write_anchors(sink, every=3)
    for i in range(7):
        log.record("test.step", details={"i": i})
    entries = list(log.entries())
    with pytest.raises(IntegrityError, match="anchor says entry 6 existed"):
        verify_chain(entries[:5], anchors=sink)


def test_a_rolled_back_entry_gets_no_anchor(store_url):
    written = []
    with open_kit(store_url) as kit:
        kit.audit.write_anchors(written.append, every=1)
        kit.audit.record("test.kept")
        with pytest.raises(RuntimeError), kit.audit.atomic():  # noqa: PT012 - the block is the test
            kit.audit.record("test.undone")
            raise RuntimeError
        with kit.audit.atomic():
            kit.audit.record("test.later")
            assert [a.seq for a in written] == [1]  # not before the block commits
        assert [a.seq for a in written] == [1, 2]
        assert kit.audit.verify(anchors=written).anchors == 2


def test_an_anchor_on_demand(tmp_path):
    log = AuditLog(MemoryAuditStore(), ManualClock(NOW))
    with pytest.raises(ValidationError, match="no anchor sink"):
        log.write_anchor()
    key = AnchorKey.generate()
    sink = AnchorFile(tmp_path / "anchors.txt")
    log.write_anchors(sink, key=key)
    assert log.write_anchor() is None  # an empty log has no head
    log.record("test.step")
    anchor = log.write_anchor()
    assert anchor == AuditAnchor.parse(str(anchor))
    assert list(sink) == [anchor]
    assert (tmp_path / "anchors.txt").stat().st_mode & 0o777 == 0o600
    assert log.verify().anchors == 0  # anchors are checked only when given
    assert log.verify(anchors=sink).anchors == 1


def test_an_edited_anchor_file_is_an_integrity_error(tmp_path):
    path = tmp_path / "anchors.txt"
    path.write_text("1:" + "0" * 64 + "\nnot an anchor\n")
    with pytest.raises(IntegrityError, match="line 2 of the anchor file"):
        list(AnchorFile(path))
    assert list(AnchorFile(tmp_path / "missing.txt")) == []


def test_two_anchors_of_one_entry_must_agree():
    log = AuditLog(MemoryAuditStore(), ManualClock(NOW))
    log.record("test.step")
    head = log.anchor()
    other = AuditAnchor(seq=1, hash="1" * 64)
    with pytest.raises(IntegrityError, match="two anchors of entry 1 disagree"):
        log.verify(anchors=[head, other])


@pytest.mark.parametrize(
    "text",
    [None, 5, "", "5", "x:" + "0" * 64, "5:abc", "5:" + "0" * 64 + ":zz", "-1:" + "0" * 64],
)
def test_malformed_anchors_are_refused(text):
    with pytest.raises(ValidationError):
        AuditAnchor.parse(text)


def test_anchor_keys_show_no_material_and_round_trip():
    key = AnchorKey.generate()
    assert "ak1" not in repr(key)
    assert "ak1" not in str(key)
    again = AnchorKey.from_text(key.to_text())
    assert again.mac(1, "0" * 64) == key.mac(1, "0" * 64)
    for bad in (None, "ak1:abc", "xx", "ak1:" + "G" * 64):
        with pytest.raises(ValidationError):
            AnchorKey.from_text(bad)
    with pytest.raises(ValidationError):
        AnchorKey(b"short")


def test_write_anchors_refuses_bad_settings():
    log = AuditLog(MemoryAuditStore(), ManualClock(NOW))
    with pytest.raises(ValidationError):
        log.write_anchors("not callable")
    with pytest.raises(ValidationError):
        log.write_anchors(print, every=0)
    with pytest.raises(ValidationError):
        log.write_anchors(print, key=b"raw bytes")


def test_the_sealed_text_form_is_stable():
    """A known answer: anchors written by one version must verify under the next."""
    key = AnchorKey(bytes(range(32)))
    anchor = AuditAnchor(seq=7, hash="ab" * 32).sealed(key)
    message = b"avgkit.anchor.v1\n7:" + b"ab" * 32
    assert anchor.mac == hmac.new(bytes(range(32)), message, "sha256").hexdigest()
    assert str(anchor) == f"7:{'ab' * 32}:{anchor.mac}"
    assert AuditAnchor.parse(str(anchor)).seal_ok(key)


def test_a_verify_report_holds_no_personal_data(store_url):
    with open_kit(store_url) as kit:
        record_breach(kit)
        report = kit.audit.verify()
    assert PERSONAL_CONTACT not in repr(report)
    assert json.dumps(dict(report.records))


# --------------------------------------------------------------------------- consent


def give(kit, subject="cust-1042", purpose="newsletter"):
    evidence = Evidence(
        channel=Channel.WEBSHOP, notice_version="2024-05", wording_sha256=hash_wording("Yes!")
    )
    return kit.consent.give(subject, purpose, evidence)


def test_the_ledger_binds_every_event_and_verify_reconciles_them(store_url):
    with open_kit(store_url) as kit:
        given = give(kit)
        kit.consent.withdraw("cust-1042", "newsletter", given.evidence)
        assert kit.audit.verify().records["consent_event"] == 2
        # The erasure re-keys events to the subject's reference: their digests survive it.
        kit.stores.consent.forget("cust-1042", kit.audit.subject_ref("cust-1042"))
        assert kit.audit.verify().records["consent_event"] == 2
        if store_url.startswith("memory"):
            return
        url = kit.stores.url
    execute(url, "UPDATE consent_events SET kind = 'withdrawn' WHERE seq = ?", (given.seq,))
    with open_kit(url) as kit, pytest.raises(IntegrityError, match=f"consent_event {given.seq}"):
        kit.audit.verify()


def test_an_event_planted_without_the_ledger_is_bound_to_no_entry(tmp_path):
    url = f"sqlite:///{tmp_path}/avg.db"
    with open_kit(url) as kit:
        template = give(kit)
        planted = kit.stores.consent.append(attrs.evolve(template, seq=None))
        with pytest.raises(IntegrityError, match=f"consent_event {planted.seq} is bound to no"):
            kit.audit.verify()


def test_a_deleted_event_leaves_its_binding_behind(tmp_path):
    url = f"sqlite:///{tmp_path}/avg.db"
    with open_kit(url) as kit:
        first = give(kit)
        give(kit, subject="cust-7")
    execute(url, "DELETE FROM consent_events WHERE seq = ?", (first.seq,))
    with open_kit(url) as kit, pytest.raises(IntegrityError, match=f"consent_event {first.seq}"):
        kit.audit.verify()


def test_an_import_binds_its_whole_batch(store_url):
    with open_kit(store_url) as kit:
        evidence = Evidence(
            channel=Channel.IMPORT, notice_version="2024-05", wording_sha256=hash_wording("Ja")
        )
        now = kit.clock.now()
        batch = [
            ConsentEvent(subject=f"c{i}", purpose="newsletter", kind="given", at=now,
                         evidence=evidence)
            for i in range(25)
        ]  # fmt: skip
        assert kit.consent.import_events(batch) == 25
        give(kit)
        assert kit.audit.verify().records["consent_event"] == 26


def test_an_edited_consent_event_fails_verify(tmp_path):
    url = f"sqlite:///{tmp_path}/avg.db"
    with open_kit(url) as kit:
        event = give(kit)
    execute(url, "UPDATE consent_events SET kind = 'withdrawn' WHERE seq = ?", (event.seq,))
    with open_kit(url) as kit, pytest.raises(IntegrityError, match=f"consent_event {event.seq}"):
        kit.audit.verify()
