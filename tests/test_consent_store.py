"""The ConsentStore contract against every adapter, and the SQLite specifics."""

import sqlite3
import subprocess
import sys
import textwrap
import time

import attrs
import pytest

from avgkit.storage import open_stores
from avgkit.storage.memory import MemoryConsentStore
from avgkit.storage.sqlite import SqliteConsentStore
from avgkit.storage.sqlite._consent import AUDIENCE_SQL, MIGRATIONS
from avgkit.storage.sqlite._db import Database
from avgkit.testing.conformance import Capabilities, ConsentStoreContract
from pgsupport import PostgresContract


class TestMemoryConsentStore(ConsentStoreContract):
    capabilities = Capabilities(persistent=False)

    def make_store(self):
        return MemoryConsentStore()


class TestSqliteConsentStore(ConsentStoreContract):
    def make_store(self):
        return SqliteConsentStore(Database(str(self.tmp_path / f"consent-{len(self._made)}.db")))

    def close_store(self, store):
        store._db.close()

    def reopen_store(self, store):
        store._db.close()
        return SqliteConsentStore(Database(store._db.path))


def test_open_stores_gives_every_adapter_a_consent_store(tmp_path):
    with open_stores("memory://") as stores:
        assert isinstance(stores.consent, MemoryConsentStore)
    with open_stores(f"sqlite:///{tmp_path}/avg.db") as stores:
        assert isinstance(stores.consent, SqliteConsentStore)
    conn = sqlite3.connect(tmp_path / "avg.db")
    version = conn.execute("SELECT version FROM avgkit_schema WHERE component='consent'")
    assert version.fetchone()[0] == len(MIGRATIONS)


def test_sqlite_consent_events_are_append_only(tmp_path):
    with open_stores(f"sqlite:///{tmp_path}/avg.db"):
        pass
    conn = sqlite3.connect(tmp_path / "avg.db")
    conn.execute(
        "INSERT INTO consent_events (subject, purpose, kind, track, at, evidence) "
        "VALUES ('a', 'newsletter', 'given', 0, 0, 1)"
    )
    for statement in ("UPDATE consent_events SET kind = 'withdrawn'", "DELETE FROM consent_events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)


@pytest.mark.parametrize("kind", ["given", "withdrawn", "objected", "objection_lifted"])
def test_sqlite_accepts_exactly_the_four_kinds(tmp_path, kind):
    with open_stores(f"sqlite:///{tmp_path}/avg.db"):
        pass
    conn = sqlite3.connect(tmp_path / "avg.db")
    insert = (
        "INSERT INTO consent_events (subject, purpose, kind, track, at, evidence) "
        "VALUES ('a', 'newsletter', ?, 0, 0, 1)"
    )
    conn.execute(insert, (kind,))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute(insert, (kind.upper(),))
    conn.close()


def test_the_sqlite_audience_walks_the_purpose_index_without_sorting(tmp_path):
    """The audience query plan searches the covering index and never builds a temp b-tree."""
    with open_stores(f"sqlite:///{tmp_path}/avg.db"):
        pass
    conn = sqlite3.connect(tmp_path / "avg.db")
    plan = conn.execute(
        "EXPLAIN QUERY PLAN " + AUDIENCE_SQL,
        {"purpose": "newsletter", "after": "", "at": "2024", "page": 10},
    ).fetchall()
    details = " ".join(row[-1] for row in plan)
    assert "consent_events_by_purpose" in details
    assert "TEMP B-TREE" not in details
    assert "SCAN c " not in details + " "


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from avgkit import Kit
    from avgkit.clock import SystemClock
    from avgkit.consent import Channel, Evidence, hash_wording
    from avgkit.presets import ticketing

    url, worker, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    evidence = Evidence(channel=Channel.API, notice_version="v1", wording_sha256=hash_wording("x"))
    with Kit.open(url, inventory=ticketing.inventory(), clock=SystemClock()) as kit:
        for i in range(rounds):
            for subject in ("cust-1", "cust-2", "cust-3"):
                if (i + worker) % 2:
                    kit.consent.give(subject, "newsletter", evidence)
                else:
                    kit.consent.withdraw(subject, "newsletter", evidence)
    """
)


def run_writers(url: str, workers: int = 2, rounds: int = 15) -> None:
    """Run ``workers`` separate processes writing consent events for the same subjects."""
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, str(n), str(rounds)])
        for n in range(workers)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0


def check_last_event_wins(url: str, expected_events: int) -> None:
    """Nothing was lost, and each subject's state is the kind of its last event."""
    from avgkit import Kit
    from avgkit.consent import ConsentAction, ConsentStatus
    from avgkit.presets import ticketing

    with Kit.open(url, inventory=ticketing.inventory()) as kit:
        assert kit.stores.consent.count() == expected_events
        for subject in ("cust-1", "cust-2", "cust-3"):
            last = kit.consent.history(subject)[-1]
            state = kit.consent.state(subject, "newsletter")
            expected = (
                ConsentStatus.GIVEN if last.kind is ConsentAction.GIVEN else ConsentStatus.WITHDRAWN
            )
            assert state.status is expected
            assert state.consent_event == last
        assert kit.audit.verify().entries == expected_events


def test_two_processes_writing_the_same_subjects_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/avg.db"
    run_writers(url)
    check_last_event_wins(url, expected_events=2 * 15 * 3)


# --------------------------------------------------------------------------- PostgreSQL


class TestPostgresConsentStore(PostgresContract, ConsentStoreContract):
    replay_examples = 15  # each probe is a few round trips to the server

    store_class = "PostgresConsentStore"


def test_postgres_consent_events_are_append_only(pg_url):
    from avgkit.errors import StorageError

    with open_stores(pg_url) as stores:
        stores.consent.append(_event())
        db = stores.consent._db
        for statement in (
            "UPDATE consent_events SET kind = 'withdrawn'",
            "DELETE FROM consent_events",
            "TRUNCATE consent_events",
        ):
            with pytest.raises(StorageError, match="SQLSTATE 42501"), db.write("tampering") as conn:
                conn.execute(statement)
        assert stores.consent.count() == 1


def test_two_processes_writing_the_same_subjects_lose_nothing_on_postgres(pg_url):
    run_writers(pg_url)
    check_last_event_wins(pg_url, expected_events=2 * 15 * 3)


def _event():
    from datetime import UTC, datetime

    from avgkit.consent import Channel, ConsentAction, ConsentEvent, Evidence, hash_wording

    return ConsentEvent(
        subject="cust-1",
        purpose="newsletter",
        kind=ConsentAction.GIVEN,
        at=datetime(2024, 1, 1, tzinfo=UTC),
        evidence=Evidence(
            channel=Channel.API, notice_version="v1", wording_sha256=hash_wording("x")
        ),
    )


def test_the_contract_fails_an_adapter_that_imports_item_by_item(pytester):
    """The midway-failure test catches an adapter without one transaction per batch."""
    pytester.makepyfile(
        """
        from avgkit.storage.memory import MemoryConsentStore
        from avgkit.testing.conformance import Capabilities, ConsentStoreContract

        class ItemByItem(MemoryConsentStore):
            def append_many(self, events):
                for event in events:
                    self.append(event)
                return len(events)

        class TestItemByItem(ConsentStoreContract):
            capabilities = Capabilities(persistent=False)

            def make_store(self):
                return ItemByItem()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "breaks_midway")
    result.assert_outcomes(failed=1)


class RacyConsentStore(MemoryConsentStore):
    """The memory store with its lock removed and a pause between reading the counter and
    storing the event: the seq race of an adapter that forgot its lock."""

    def append(self, event):
        seq = len(self._events) + 1
        time.sleep(0.001)  # another thread reads the same counter meanwhile
        stored = attrs.evolve(event, seq=seq)
        self._events.append(stored)
        self._by_subject.setdefault(stored.subject, []).append(stored)
        return stored


class RacyContract(ConsentStoreContract):  # not Test*: run by hand below, expected to fail
    capabilities = Capabilities(persistent=False)

    def make_store(self):
        return RacyConsentStore()


def test_the_concurrency_contract_fails_a_store_that_hands_out_duplicate_seqs(tmp_path):
    contract = RacyContract()
    contract.tmp_path = tmp_path
    contract._made = []
    with pytest.raises(AssertionError, match="duplicate seqs"):
        contract.test_concurrent_threads_lose_no_event_and_share_no_sequence_number()
    (store,) = contract._made
    assert store.count() == 400  # every event was kept: counting alone cannot see the race
