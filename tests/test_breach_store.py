"""The BreachStore adapters against their conformance contract, and SQLite specifics."""

import sqlite3

import pytest

from avgkit.errors import StorageError
from avgkit.storage import open_stores
from avgkit.storage._sql import SQLITE
from avgkit.storage._sql._breaches import migrations
from avgkit.storage.memory import MemoryBreachStore
from avgkit.storage.sqlite import SqliteBreachStore
from avgkit.storage.sqlite._db import Database
from avgkit.testing.conformance import BreachStoreContract, Capabilities
from avgkit.testing.conformance._breaches import make_breach, next_version
from pgsupport import PostgresContract


class TestMemoryBreachStore(BreachStoreContract):
    capabilities = Capabilities(persistent=False)

    def make_store(self):
        return MemoryBreachStore()


class TestSqliteBreachStore(BreachStoreContract):
    def make_store(self):
        return SqliteBreachStore(Database(str(self.tmp_path / f"breaches-{id(self)}.db")))

    def close_store(self, store):
        store._db.close()

    def reopen_store(self, store):
        store._db.close()
        return SqliteBreachStore(Database(store._db.path))


def test_open_stores_gives_each_adapter_its_breach_store(tmp_path):
    with open_stores("memory://") as stores:
        assert isinstance(stores.breaches, MemoryBreachStore)
    with open_stores(f"sqlite:///{tmp_path}/avg.db") as stores:
        assert isinstance(stores.breaches, SqliteBreachStore)


def test_sqlite_records_the_breach_schema_version(tmp_path):
    db = Database(str(tmp_path / "b.db"))
    SqliteBreachStore(db)
    assert db.schema_version("breaches") == len(migrations(SQLITE))
    db.close()


def test_sqlite_breach_versions_cannot_be_rewritten_through_sql(tmp_path):
    db = Database(str(tmp_path / "b.db"))
    store = SqliteBreachStore(db)
    store.put(make_breach("br_sealed"))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db._conn.execute("UPDATE breach_versions SET data = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db._conn.execute("DELETE FROM breach_versions")
    db.close()


def test_a_failing_sqlite_put_stores_neither_table(tmp_path):
    db = Database(str(tmp_path / "b.db"))
    store = SqliteBreachStore(db)
    v1 = make_breach("br_half")
    store.put(v1)
    # Break the history table so the second statement of put() fails after the first ran.
    db._conn.execute("DROP TRIGGER breach_versions_no_update")
    db._conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON breach_versions BEGIN "
        "SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(StorageError):
        store.put(next_version(v1))
    assert store.get("br_half") == v1
    db.close()


def test_the_sqlite_overdue_query_runs_on_the_pending_index(tmp_path):
    db = Database(str(tmp_path / "b.db"))
    SqliteBreachStore(db)
    plan = db._conn.execute(
        "EXPLAIN QUERY PLAN SELECT authority_due, breach_id, data FROM breaches "
        "WHERE authority_pending = 1 AND authority_due < ? ORDER BY authority_due, breach_id",
        ("2030-01-01T00:00:00.000000Z",),
    ).fetchall()
    assert any("breaches_pending" in row[-1] for row in plan)
    db.close()


# -- PostgreSQL (tests/pgsupport.py finds the server, or skips with instructions) --------


class TestPostgresBreachStore(PostgresContract, BreachStoreContract):
    store_class = "SqlBreachStore"


def test_open_stores_gives_postgres_its_breach_store(pg_url):
    from avgkit.storage.postgres import PostgresBreachStore

    with open_stores(pg_url) as stores:
        assert isinstance(stores.breaches, PostgresBreachStore)
        stores.breaches.put(make_breach("br_pg"))
        assert stores.breaches.get("br_pg").version == 1


# -- the benchmark stays runnable ---------------------------------------------------------


def test_the_overdue_benchmark_runs_at_a_small_size(capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).parents[1] / "benchmarks" / "breach_overdue.py"
    namespace = runpy.run_path(str(script))
    assert namespace["main"](["--breaches", "60", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "overdue breaches: 6" in out
    assert "ratio SQL / Python filter" in out
