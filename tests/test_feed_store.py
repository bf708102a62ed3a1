"""The FeedStore adapters against their contract, and what the SQL adapters add to it."""

import threading
import time

import pytest

from avgkit.errors import IntegrityError
from avgkit.storage import FeedStore, open_stores
from avgkit.storage._sql._feed import FEED, SqlFeedStore
from avgkit.storage.memory import MemoryFeedStore
from avgkit.testing.conformance import Capabilities, FeedStoreContract
from avgkit.testing.conformance._requests import notice


def memory_raw_values(stores):
    """Every value the memory feed keeps, read from its lists."""
    values = []
    for notices in stores.feed._by_recipient.values():
        for n in notices:
            values += [n.recipient, n.subject_ref, n.subject, n.purpose, *n.fields]
    values += list(stores.feed._cursors)
    return [str(v) for v in values if v is not None]


def sql_raw_values(stores):
    """Every value of the feed's tables, each as text."""
    values = []
    with stores.feed._db.read("test") as conn:
        for table in ("feed_notices", "feed_cursors"):
            for row in conn.execute(f"SELECT * FROM {table}").fetchall():
                values += [v.decode() if isinstance(v, bytes) else str(v) for v in row]
    return values


# -- the contract on every adapter ----------------------------------------------------------


class TestMemoryFeedStore(FeedStoreContract):
    capabilities = Capabilities(persistent=False)

    def make_stores(self):
        return open_stores("memory://")

    def raw_values(self, stores):
        return memory_raw_values(stores)


class TestSqliteFeedStore(FeedStoreContract):
    def make_stores(self):
        return open_stores(f"sqlite:///{self.tmp_path}/feed-{len(self._made)}.db")

    def raw_values(self, stores):
        return sql_raw_values(stores)


class TestPostgresFeedStore(FeedStoreContract):
    cursor_examples = 15  # each step is a round trip to the server

    @pytest.fixture(autouse=True)
    def _avgkit_pg_schemas(self, pg_schemas):
        self._new_url = pg_schemas

    def make_stores(self):
        return open_stores(self._new_url())

    def raw_values(self, stores):
        return sql_raw_values(stores)


# -- every adapter through open_stores ------------------------------------------------------


def test_every_adapter_opens_a_feed_store(store_url):
    with open_stores(store_url) as stores:
        assert isinstance(stores.feed, FeedStore)
        assert isinstance(stores.feed, MemoryFeedStore | SqlFeedStore)
        (stored,) = stores.feed.append([notice()])
        assert stores.feed.read("crm") == (stored,)
        if isinstance(stores.feed, SqlFeedStore):
            assert stores.feed._db.schema_version(FEED) == 1


# -- SQL specifics --------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/feed.db"
    return request.getfixturevalue("pg_url")


@pytest.mark.parametrize(
    ("column", "value"), [("kind", "rumour"), ("fields", "a,,b"), ("subject_ref", "cust-9")]
)
def test_a_notice_changed_outside_avgkit_is_an_integrity_error(sql_url, column, value):
    with open_stores(sql_url) as stores:
        stores.feed.append([notice(subject="cust-secret")])
        p = stores.feed._d.placeholder
        with stores.feed._db.write("test") as conn:
            conn.execute(f"UPDATE feed_notices SET {column} = {p}", (value,))
        with pytest.raises(IntegrityError) as caught:
            stores.feed.read("crm", after=0)
        assert "secret" not in str(caught.value)
        assert value not in str(caught.value)
        assert caught.value.__context__ is None


def test_a_large_batch_is_numbered_in_order(sql_url):
    with open_stores(sql_url) as stores:
        batch = [notice(n=n) for n in range(1, 451)]  # more than one multi-row INSERT
        stored = stores.feed.append(batch)
        assert [n.seq for n in stored] == sorted({n.seq for n in stored})
        assert [n.subject_ref for n in stored] == [n.subject_ref for n in batch]
        assert stores.feed.read("crm", limit=1_000) == stored


def test_postgres_notices_are_numbered_in_commit_order(pg_url):
    """A reader that acknowledges what it saw never misses a notice committed later.

    The first writer holds its transaction open after appending; the second one's append
    waits for it, so the second notice's number is higher and commits after the first.
    """
    first_set, second_set = open_stores(pg_url), open_stores(pg_url)
    try:
        appended = threading.Event()
        numbers = {}

        def first_writer():
            with first_set.atomic():
                (numbers["first"],) = first_set.feed.append([notice(n=1)])
                appended.set()
                time.sleep(0.4)
            numbers["first_committed"] = time.monotonic()

        writer = threading.Thread(target=first_writer)
        writer.start()
        assert appended.wait(5)
        (numbers["second"],) = second_set.feed.append([notice(n=2)])
        numbers["second_committed"] = time.monotonic()
        writer.join()
        assert numbers["second"].seq > numbers["first"].seq
        assert numbers["second_committed"] >= numbers["first_committed"]
        assert [n.seq for n in second_set.feed.read("crm")] == [
            numbers["first"].seq,
            numbers["second"].seq,
        ]
    finally:
        first_set.close()
        second_set.close()
