"""The RetentionStore and ErasureStore adapters against their contracts, and SQL specifics."""

import threading
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from avgkit.erasure._values import ErasureEntry
from avgkit.retention._values import Hold, HoldReason, Outcome
from avgkit.storage import open_stores
from avgkit.storage._sql._retention import SqlErasureStore, SqlRetentionStore
from avgkit.storage.memory import MemoryErasureStore, MemoryRetentionStore
from avgkit.storage.sqlite._db import Database
from avgkit.testing.conformance import (
    Capabilities,
    ErasureStoreContract,
    RetentionStoreContract,
)
from avgkit.testing.conformance._retention import reference, subject_action

T0 = datetime(2025, 4, 7, 8, 30, 15, 123456, tzinfo=UTC)


def _memory_raw_values(store):
    values = []
    for staged in store._actions.values():
        action = staged.action
        values += [action.item, action.subject, action.source, action.record_key, action.reason]
    values += [stored.hold.subject for stored in store._holds.values()]
    values += [subject for subject, _rule, _anchor in store._warnings]
    return [str(v) for v in values if v is not None]


def _sql_raw_values(store):
    values = []
    with store._db.read("test") as conn:
        for table in ("retention_actions", "retention_holds", "retention_warnings"):
            for row in conn.execute(f"SELECT * FROM {table}").fetchall():
                values += [v.decode() if isinstance(v, bytes) else str(v) for v in row]
    return values


# -- memory ---------------------------------------------------------------------------------


class TestMemoryRetentionStore(RetentionStoreContract):
    capabilities = Capabilities(persistent=False)

    def make_store(self):
        return MemoryRetentionStore()

    def raw_values(self, store):
        return _memory_raw_values(store)


class TestMemoryErasureStore(ErasureStoreContract):
    capabilities = Capabilities(persistent=False)

    def make_store(self):
        return MemoryErasureStore()


# -- SQLite (a file per store) --------------------------------------------------------------


class SqliteStores:
    store_class: type

    def make_store(self):
        return self.store_class(Database(str(self.tmp_path / f"retention-{id(self)}.db")))

    def close_store(self, store):
        store._db.close()

    def reopen_store(self, store):
        store._db.close()
        return self.store_class(Database(store._db.path))


class TestSqliteRetentionStore(SqliteStores, RetentionStoreContract):
    store_class = SqlRetentionStore

    def raw_values(self, store):
        return _sql_raw_values(store)


class TestSqliteErasureStore(SqliteStores, ErasureStoreContract):
    store_class = SqlErasureStore


# -- PostgreSQL (tests/pgsupport.py finds the server; each store in a fresh schema) ---------


class PostgresStores:
    store_class: type

    @pytest.fixture(autouse=True)
    def _avgkit_pg_schemas(self, pg_schemas):
        self._new_url = pg_schemas
        self._urls = {}

    def _open(self, url):
        from avgkit.storage.postgres._db import Database as PostgresDatabase

        store = self.store_class(PostgresDatabase(url))
        self._urls[id(store)] = url
        return store

    def make_store(self):
        return self._open(self._new_url())

    def close_store(self, store):
        store._db.close()

    def reopen_store(self, store):
        store._db.close()
        return self._open(self._urls[id(store)])


class TestPostgresRetentionStore(PostgresStores, RetentionStoreContract):
    store_class = SqlRetentionStore
    claim_examples = 15  # each step is a round trip to the server

    def raw_values(self, store):
        return _sql_raw_values(store)


class TestPostgresErasureStore(PostgresStores, ErasureStoreContract):
    store_class = SqlErasureStore
    log_examples = 12


# -- every adapter through open_stores ------------------------------------------------------


def test_open_stores_gives_every_adapter_both_stores(tmp_path, pg_url):
    from avgkit.storage.postgres import open_url

    urls = ["memory://", f"sqlite:///{tmp_path}/avg.db", pg_url]
    for url in urls:
        with open_stores(url) as stores:
            assert stores.retention is not None
            assert stores.erasures is not None
            hold = stores.retention.place_hold(
                Hold(subject="cust-1", reason=HoldReason.OPEN_REQUEST), T0
            )
            assert stores.retention.holds_for("cust-1", T0) == (hold,)
            entry = ErasureEntry(subject_ref=reference(1), started_at=T0, cause="request")
            assert stores.erasures.begin(entry, suppressions=[], recipients=["crm"])
            assert stores.erasures.get(reference(1)) == entry
    with open_stores("memory://") as stores:
        assert isinstance(stores.retention, MemoryRetentionStore)
        assert isinstance(stores.erasures, MemoryErasureStore)
    with open_url(pg_url) as stores:
        assert isinstance(stores.retention, SqlRetentionStore)


# -- SQL keyset pages (a tiny page size makes every page boundary show) ---------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_stores(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/pages.db"
    else:
        url = request.getfixturevalue("pg_url")
    stores = open_stores(url)
    for store in (stores.retention, stores.erasures):
        store._d = attrs.evolve(store._d, page_size=2)
    yield stores
    stores.close()


def test_sql_pages_lose_and_repeat_nothing(sql_stores):
    retention, erasures = sql_stores.retention, sql_stores.erasures
    holds = [
        retention.place_hold(Hold(subject=f"cust-{n}", reason=HoldReason.OPEN_REQUEST), T0)
        for n in range(7)
    ]
    retention.release_hold(holds[2].id, T0)
    expected = [h for n, h in enumerate(holds) if n != 2]
    assert list(retention.active_holds(T0)) == expected
    # Ties in started_at across page boundaries.
    for n in (5, 1, 4, 2, 3, 6, 7):
        entry = ErasureEntry(
            subject_ref=reference(n), started_at=T0 + timedelta(hours=n % 2), cause="request"
        )
        erasures.begin(entry, suppressions=[], recipients=["crm"])
    order = [e.subject_ref for e in erasures.entries()]
    assert order == [reference(n) for n in (2, 4, 6, 1, 3, 5, 7)]
    notices = list(erasures.notices())
    assert len(notices) == 7
    assert len({n.seq for n in notices}) == 7
    assert list(erasures.notices(after=notices[2].seq)) == notices[3:]


# -- PostgreSQL: executors on separate connections (SKIP LOCKED) ----------------------------


def test_postgres_executors_on_two_connections_never_share_an_action(pg_url):
    total, threads_count, batch = 200, 4, 7
    sets = [open_stores(pg_url), open_stores(pg_url)]
    try:
        first = sets[0].retention
        staged = first.stage(
            "plan-pg", "0" * 32, T0, (subject_action(f"cust-{n:03d}") for n in range(total))
        )
        assert staged == total
        barrier = threading.Barrier(threads_count)
        lock = threading.Lock()
        handed: list[int] = []
        finished: list[int] = []
        errors: list[BaseException] = []

        def execute(index: int) -> None:
            store = sets[index % 2].retention
            name = f"exec_{index}"
            try:
                barrier.wait()
                while claimed := store.claim(
                    "plan-pg", name, T0, limit=batch, stale_before=T0 - timedelta(days=1)
                ):
                    assert len(claimed) <= batch
                    for item in claimed:
                        done = store.finish(
                            "plan-pg", item.number, Outcome.SKIPPED, T0, subject_ref=None
                        )
                        with lock:
                            handed.append(item.number)
                            if done:
                                finished.append(item.number)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        workers = [threading.Thread(target=execute, args=(n,)) for n in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        assert len(handed) == total, "an action was handed to two executors"
        assert sorted(finished) == sorted(set(handed))
        assert len(set(finished)) == total
        assert sum(first.outcomes("plan-pg").values()) == total
        assert sets[1].retention.unfinished("plan-pg") == 0
    finally:
        for stores in sets:
            stores.close()
