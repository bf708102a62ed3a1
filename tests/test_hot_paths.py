"""The consent hot paths' shortcuts keep every guarantee they shortcut.

A give() on SQLite inserts the event alone once its purpose and evidence rows are known,
runs single statements without savepoints, reads the audit head as its anchor and seals
contents checked once. Each shortcut is pinned here by what would break without its guard.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from avgkit import Evidence, Kit
from avgkit.errors import IntegrityError, StorageError
from avgkit.presets import ticketing
from avgkit.storage.sqlite import Database, url_for
from avgkit.testing import ManualClock

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
EVIDENCE = Evidence.from_wording(
    "Ja, stuur mij de nieuwsbrief.", channel="webshop", notice_version="2025-01"
)
OTHER = Evidence.from_wording(
    "Houd mij op de hoogte.", channel="box_office", notice_version="2025-01"
)


class BoomError(Exception):
    """Raised inside a block to roll it back."""


def open_kit(path: Path, clock: ManualClock) -> Kit:
    return Kit.open(url_for(path), inventory=ticketing.inventory(), clock=clock)


def statements(kit: Kit, run: object) -> list[str]:
    """The SQL statements ``run()`` issues on the kit's SQLite connection."""
    conn: sqlite3.Connection = kit.stores.audit._db._conn  # type: ignore[attr-defined]
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        run()  # type: ignore[operator]
    finally:
        conn.set_trace_callback(None)
    return seen


def test_a_known_purpose_and_evidence_cost_one_insert_and_no_savepoint(tmp_path):
    clock = ManualClock(T0)
    with open_kit(tmp_path / "avg.db", clock) as kit:
        kit.consent.give("visitor-1", "newsletter", EVIDENCE)
        clock.advance(timedelta(seconds=1))
        seen = statements(kit, lambda: kit.consent.give("visitor-2", "newsletter", EVIDENCE))
    verbs = [s.split()[0] + (" " + s.split()[2] if s.startswith("INSERT") else "") for s in seen]
    assert verbs == [
        "BEGIN",
        "INSERT consent_events",
        "SAVEPOINT",  # the audit entry and its binding, together
        "SELECT",
        "INSERT audit_entries",
        "INSERT audit_bindings",
        "RELEASE",
        "INSERT feed_notices",
        "COMMIT",
    ]


def test_a_rolled_back_give_teaches_the_store_no_evidence_row(tmp_path):
    """The evidence row of an undone give is gone: the next give must insert it again."""
    clock = ManualClock(T0)
    with open_kit(tmp_path / "avg.db", clock) as kit:

        def undone() -> None:
            with kit.stores.atomic():
                kit.consent.give("visitor-1", "newsletter", OTHER)
                raise BoomError

        with pytest.raises(BoomError):
            undone()
        clock.advance(timedelta(seconds=1))
        kit.consent.give("visitor-1", "newsletter", OTHER)
        (event,) = kit.consent.history("visitor-1")
        assert event.evidence == OTHER
        assert kit.audit.verify().entries == 1


def test_a_failed_single_statement_undoes_itself_alone(tmp_path):
    """Without a savepoint, a refused statement leaves the outer transaction going on."""
    db = Database(str(tmp_path / "plain.db"))
    try:
        ran: list[str] = []
        with db.write("outer") as conn:
            conn.execute("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            conn.execute("INSERT INTO t VALUES (1)")

            def duplicate() -> None:
                with db.write_one("inner") as inner:
                    db.after_commit(lambda: ran.append("undone"))
                    inner.execute("INSERT INTO t VALUES (1)")  # a duplicate key

            with pytest.raises(StorageError):
                duplicate()
            db.after_commit(lambda: ran.append("kept"))
            conn.execute("INSERT INTO t VALUES (2)")
        with db.read("checking") as conn:
            assert conn.execute("SELECT v FROM t ORDER BY v").fetchall() == [(1,), (2,)]
        assert ran == ["kept"]
    finally:
        db.close()


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_a_head_whose_hash_was_mangled_is_tampering_and_nothing_is_appended(tmp_path):
    clock = ManualClock(T0)
    path = tmp_path / "avg.db"
    with open_kit(path, clock) as kit:
        kit.consent.give("visitor-1", "newsletter", EVIDENCE)
    _tamper(
        path,
        "DROP TRIGGER audit_entries_no_update",
        "UPDATE audit_entries SET hash = 'not a hash' WHERE seq = 1",
    )
    with open_kit(path, clock) as kit:
        clock.advance(timedelta(seconds=1))
        with pytest.raises(IntegrityError, match="entry 1") as raised:
            kit.consent.give("visitor-2", "newsletter", EVIDENCE)
        assert raised.value.__context__ is None
        assert kit.stores.consent.count() == 1
        assert kit.stores.audit.count() == 1


def test_a_consent_row_that_no_longer_decodes_is_tampering_named_by_its_seq(tmp_path):
    clock = ManualClock(T0)
    path = tmp_path / "avg.db"
    with open_kit(path, clock) as kit:
        kit.consent.give("visitor-1", "newsletter", EVIDENCE)
    _tamper(
        path,
        "DROP TRIGGER consent_evidence_no_update",
        "UPDATE consent_evidence SET channel = 'secret_channel'",
    )
    with open_kit(path, clock) as kit:
        for read in (
            lambda: kit.may_process("visitor-1", "newsletter"),
            lambda: list(kit.consent.history("visitor-1")),
        ):
            with pytest.raises(IntegrityError, match="consent event 1 is malformed") as raised:
                read()
            assert "secret" not in str(raised.value)
            assert raised.value.__context__ is None
            assert raised.value.__cause__ is None


def test_evidence_decoded_once_is_shared_and_a_changed_row_is_decoded_again(tmp_path):
    clock = ManualClock(T0)
    path = tmp_path / "avg.db"
    with open_kit(path, clock) as kit:
        for n in range(3):
            clock.advance(timedelta(seconds=1))
            kit.consent.give(f"visitor-{n}", "newsletter", EVIDENCE)
        events = [next(iter(kit.consent.history(f"visitor-{n}"))) for n in range(3)]
        assert all(event.evidence == EVIDENCE for event in events)
        assert events[0].evidence is events[2].evidence  # decoded once
        # Tampered behind the warm kit's back: the new columns are decoded (and refused).
        _tamper(
            path,
            "DROP TRIGGER consent_evidence_no_update",
            "UPDATE consent_evidence SET channel = 'secret_channel'",
        )
        with pytest.raises(IntegrityError, match="malformed"):
            list(kit.consent.history("visitor-1"))
