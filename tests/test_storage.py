import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given

from avgkit.audit import AuditLog
from avgkit.errors import IntegrityError, StorageError, ValidationError
from avgkit.storage import StoreSet, open_stores, register_scheme
from avgkit.storage._sql import SQLITE
from avgkit.storage._sql._audit import migrations
from avgkit.storage._sql._dialect import text_to_time, time_to_text
from avgkit.storage.memory import MemoryAuditStore
from avgkit.storage.sqlite import SqliteAuditStore, path_from_url, url_for
from avgkit.storage.sqlite._db import Database
from avgkit.testing import ManualClock
from avgkit.testing.conformance import AuditStoreContract, Capabilities
from avgkit.testing.strategies import aware_datetimes


class TestMemoryAuditStore(AuditStoreContract):
    capabilities = Capabilities(persistent=False)

    def make_store(self):
        return MemoryAuditStore()

    def tamper(self, store, seq, action):
        import attrs

        store._entries[seq - 1] = attrs.evolve(store._entries[seq - 1], action=action)


class TestSqliteAuditStore(AuditStoreContract):
    def make_store(self):
        return SqliteAuditStore(Database(str(self.tmp_path / f"audit-{id(self)}.db")))

    def close_store(self, store):
        store._db.close()

    def reopen_store(self, store):
        store._db.close()
        return SqliteAuditStore(Database(store._db.path))

    def tamper(self, store, seq, action):
        conn = store._db._conn
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("UPDATE audit_entries SET action = ? WHERE seq = ?", (action, seq))


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///avg.db", "avg.db"),
        ("sqlite:///data/avg.db", "data/avg.db"),
        ("sqlite:////srv/avg.db", "/srv/avg.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls_name_relative_and_absolute_files(url, path):
    assert path_from_url(url) == path


@pytest.mark.parametrize(
    "url", ["sqlite://avg.db", "sqlite:///", "postgres-ish", "", "memory://x", "nosuch://x"]
)
def test_bad_store_urls_are_refused_with_the_accepted_forms(url):
    with pytest.raises(ValidationError):
        open_stores(url)


def test_open_stores_opens_memory_and_sqlite(tmp_path):
    with open_stores("memory://") as stores:
        assert isinstance(stores.audit, MemoryAuditStore)
    with open_stores(f"sqlite:///{tmp_path}/avg.db") as stores:
        assert isinstance(stores.audit, SqliteAuditStore)
    assert (tmp_path / "avg.db").exists()


def test_a_registered_scheme_is_used_by_open_stores():
    made = []

    def opener(url):
        made.append(url)
        return StoreSet(url=url, audit=MemoryAuditStore())

    register_scheme("test-scheme", opener)
    open_stores("test-scheme://anything").close()
    assert made == ["test-scheme://anything"]
    with pytest.raises(ValidationError):
        register_scheme("bad scheme!", opener)


def test_the_store_set_repr_hides_the_url():
    stores = StoreSet(url="postgresql://u:hunter2@db/x", audit=MemoryAuditStore())
    assert "hunter2" not in repr(stores)


def test_sqlite_uses_wal_and_records_the_schema_version(tmp_path):
    with open_stores(f"sqlite:///{tmp_path}/avg.db"):
        pass
    conn = sqlite3.connect(tmp_path / "avg.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = conn.execute("SELECT version FROM avgkit_schema WHERE component='audit'")
    assert version.fetchone()[0] == len(migrations(SQLITE))
    conn.close()


def test_migrations_are_applied_once(tmp_path):
    db = Database(str(tmp_path / "m.db"))
    steps = ("CREATE TABLE t1 (a INTEGER);", "CREATE TABLE t2 (b INTEGER);")
    db.migrate("demo", steps[:1])
    assert db.schema_version("demo") == 1
    db.migrate("demo", steps)  # only the second script runs; the first would fail again
    db.migrate("demo", steps)
    assert db.schema_version("demo") == 2
    db.close()


def test_a_failing_migration_leaves_the_old_version(tmp_path):
    db = Database(str(tmp_path / "m.db"))
    db.migrate("demo", ("CREATE TABLE t1 (a INTEGER);",))
    with pytest.raises(StorageError, match="migrating demo"):
        db.migrate("demo", ("CREATE TABLE t1 (a INTEGER);", "CREATE TABLE t1 (b INTEGER);"))
    assert db.schema_version("demo") == 1
    db.close()


def test_a_database_from_a_newer_avgkit_is_refused(tmp_path):
    db = Database(str(tmp_path / "m.db"))
    db.migrate("demo", ("CREATE TABLE t1 (a INTEGER);", "CREATE TABLE t2 (a INTEGER);"))
    with pytest.raises(StorageError, match="upgrade avgkit"):
        db.migrate("demo", ("CREATE TABLE t1 (a INTEGER);",))
    db.close()


def test_driver_errors_become_storage_errors(tmp_path):
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StorageError) as info:
        open_stores(f"sqlite:///{tmp_path}/dir.db")
    assert not isinstance(info.value, sqlite3.Error)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_sql_updates_and_deletes_of_audit_rows_are_refused(tmp_path):
    with open_stores(f"sqlite:///{tmp_path}/avg.db") as stores:
        AuditLog(stores.audit, ManualClock()).record("a.b")
    conn = sqlite3.connect(tmp_path / "avg.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_entries SET action = 'x.y'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_entries")
    conn.close()


def test_a_deleted_middle_row_is_named_by_verify(tmp_path):
    url = f"sqlite:///{tmp_path}/avg.db"
    with open_stores(url) as stores:
        log = AuditLog(stores.audit, ManualClock())
        for i in range(5):
            log.record("a.b", details={"i": i})
    conn = sqlite3.connect(tmp_path / "avg.db")
    conn.execute("DROP TRIGGER audit_entries_no_delete")
    conn.execute("DELETE FROM audit_entries WHERE seq = 3")
    conn.commit()
    conn.close()
    with open_stores(url) as stores, pytest.raises(IntegrityError, match="entry 3"):
        AuditLog(stores.audit, ManualClock()).verify()


def test_two_processes_appending_at_once_keep_one_valid_chain(tmp_path):
    """Separate processes share the file; the chain stays whole and nothing is lost."""
    url = f"sqlite:///{tmp_path}/shared.db"
    script = textwrap.dedent(
        f"""
        from avgkit.audit import AuditLog
        from avgkit.clock import SystemClock
        from avgkit.storage import open_stores
        with open_stores({url!r}) as stores:
            log = AuditLog(stores.audit, SystemClock())
            for i in range(100):
                log.record("proc.step", details={{"i": i}})
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with open_stores(url) as stores:
        assert AuditLog(stores.audit, ManualClock()).verify().entries == 200


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
    ],
)
def test_stored_instants_are_fixed_width_and_round_trip(when):
    text = time_to_text(when)
    assert len(text) == len("2024-01-01T00:00:00.000000Z")
    assert text_to_time(text) == when


WIDE = {"min_value": datetime(1, 1, 2), "max_value": datetime(9999, 1, 1)}  # noqa: DTZ001


@given(aware_datetimes(**WIDE), aware_datetimes(**WIDE))
def test_stored_instants_sort_as_text_like_in_time(a, b):
    assert (time_to_text(a) < time_to_text(b)) == (a < b)


def test_processes_creating_the_same_new_file_at_once_all_succeed(tmp_path):
    """Opening a fresh file from several processes at once migrates it exactly once."""
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from avgkit.storage import open_stores
        go = Path(sys.argv[2])
        while not go.exists():  # a start barrier: every process opens at the same moment
            time.sleep(0.001)
        with open_stores(sys.argv[1]) as stores:
            stores.audit.count()
        """
    )
    for round_ in range(4):
        url = f"sqlite:///{tmp_path}/fresh-{round_}.db"
        go = tmp_path / f"go-{round_}"
        procs = [subprocess.Popen([sys.executable, "-c", script, url, str(go)]) for _ in range(6)]
        time.sleep(1.5)  # let every interpreter start and reach the barrier
        go.touch()
        assert [p.wait(timeout=120) for p in procs] == [0] * 6
        conn = sqlite3.connect(tmp_path / f"fresh-{round_}.db")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()


def test_opening_waits_for_another_connection_switching_the_journal(tmp_path):
    """A file locked by another connection is waited for (busy timeout), not refused."""
    path = tmp_path / "busy.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("CREATE TABLE host_table (a INTEGER)")
    timer = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        db = Database(str(path))
        db.close()
    finally:
        timer.join()
        other.close()


def test_a_contract_fails_an_adapter_claiming_persistence_it_cannot_show(pytester):
    """An adapter keeping persistent=True must implement reopen_store(); skipping would let
    an adapter that loses everything on restart pass."""
    pytester.makepyfile(
        """
        from avgkit.storage.memory import MemoryAuditStore
        from avgkit.testing.conformance import AuditStoreContract

        class TestForgetfulStore(AuditStoreContract):
            def make_store(self):
                return MemoryAuditStore()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "survives_reopening")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*does not implement reopen_store*"])


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://[",
        "postgresql://[::1",
        "sqlite:///%00x.db",
        "sqlite:///x.db?mode=ro",
        "sqlite:///x.db#frag",
    ],
)
def test_malformed_urls_are_validation_errors(url):
    with pytest.raises(ValidationError):
        open_stores(url)


def test_a_folder_that_cannot_be_made_is_a_storage_error():
    with pytest.raises(StorageError, match="cannot create the folder"):
        open_stores("sqlite:////dev/null/x.db")


def test_url_for_round_trips_awkward_file_names(tmp_path):
    for name in ("venue#2.db", "a%41.db", "what?.db", "spaces and ü.db"):
        path = tmp_path / name
        assert path_from_url(url_for(path)) == str(path)
    assert url_for("avg.db") == "sqlite:///avg.db"


@pytest.mark.parametrize(
    ("column", "value"), [("details", "{oops"), ("at", "2024-01-01 12:00:00"), ("actor", "x y")]
)
def test_a_mangled_stored_row_is_an_integrity_error_naming_it(tmp_path, column, value):
    url = f"sqlite:///{tmp_path}/avg.db"
    with open_stores(url) as stores:
        log = AuditLog(stores.audit, ManualClock())
        for i in range(4):
            log.record("a.b", details={"i": i})
    conn = sqlite3.connect(tmp_path / "avg.db")
    conn.execute("DROP TRIGGER audit_entries_no_update")
    conn.execute(f"UPDATE audit_entries SET {column} = ? WHERE seq = 3", (value,))
    conn.commit()
    conn.close()
    with (
        open_stores(url) as stores,
        pytest.raises(IntegrityError, match="entry 3: it is malformed"),
    ):
        AuditLog(stores.audit, ManualClock()).verify()
