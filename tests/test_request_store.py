"""The RequestStore adapters against their contract, and what the SQL adapters add to it."""

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from avgkit.dsar import OPEN_STATUSES, DueRequest, RequestKind, RequestStatus
from avgkit.errors import ConflictError, IntegrityError
from avgkit.storage import RequestStore, open_stores
from avgkit.storage._sql import POSTGRESQL
from avgkit.storage._sql._requests import OPEN_SQL, REQUESTS, SqlRequestStore, _due_from_native
from avgkit.storage.memory import MemoryRequestStore
from avgkit.subjects import SubjectId
from avgkit.testing.conformance import Capabilities, RequestStoreContract
from avgkit.testing.conformance._requests import (
    MONTH,
    first_step,
    make_request,
    queued,
    reference,
    step,
    verified,
)

T0 = datetime(2025, 4, 7, 8, 30, 15, 123456, tzinfo=UTC)


def memory_raw_values(stores):
    """Every value the memory request store keeps, read from its dicts and lists."""
    store = stores.requests
    values = []
    for request in store._requests.values():
        values += [request.id, request.subject, *request.details.keys(), *request.details.values()]
    for transitions in store._transitions.values():
        values += [t.note for t in transitions if t.note is not None]
        values += [t.actor for t in transitions]
    values += [r.subject for r in store._restrictions]
    return [str(v) for v in values]


def sql_tables(conn, dialect):
    if dialect == "sqlite":
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    else:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    return [row[0] for row in rows]


def sql_raw_values(stores):
    """Every value of every table of the database, each as text."""
    db = stores.requests._db
    values = []
    with db.read("test") as conn:
        for table in sql_tables(conn, db.dialect.name):
            for row in conn.execute(f"SELECT * FROM {table}").fetchall():
                values += [v.decode() if isinstance(v, bytes) else str(v) for v in row]
    return values


# -- the contract on every adapter ----------------------------------------------------------


class TestMemoryRequestStore(RequestStoreContract):
    capabilities = Capabilities(persistent=False)

    def make_stores(self):
        return open_stores("memory://")

    def raw_values(self, stores):
        return memory_raw_values(stores)


class TestSqliteRequestStore(RequestStoreContract):
    def make_stores(self):
        return open_stores(f"sqlite:///{self.tmp_path}/requests-{len(self._made)}.db")

    def raw_values(self, stores):
        return sql_raw_values(stores)


class TestPostgresRequestStore(RequestStoreContract):
    due_examples = 15  # each request is a round trip to the server

    @pytest.fixture(autouse=True)
    def _avgkit_pg_schemas(self, pg_schemas):
        self._new_url = pg_schemas

    def make_stores(self):
        return open_stores(self._new_url())

    def raw_values(self, stores):
        return sql_raw_values(stores)


# -- every adapter through open_stores ------------------------------------------------------


def test_every_adapter_opens_a_request_store(store_url):
    with open_stores(store_url) as stores:
        assert isinstance(stores.requests, RequestStore)
        assert isinstance(stores.requests, MemoryRequestStore | SqlRequestStore)
        request = make_request("req_1")
        stores.requests.add(request, first_step(request))
        assert stores.requests.get("req_1") == request


def test_the_sql_adapters_migrate_the_requests_component_once(store_url):
    if store_url.startswith("memory"):
        pytest.skip("the memory adapter migrates nothing")
    with open_stores(store_url) as stores:
        assert stores.requests._db.schema_version(REQUESTS) == 1
    with open_stores(store_url) as again:
        assert again.requests._db.schema_version(REQUESTS) == 1
        assert again.requests.count() == 0


def test_the_open_condition_of_the_indexes_is_the_open_statuses():
    listed = OPEN_SQL.removeprefix("status IN (").removesuffix(")")
    assert [s.strip().strip("'") for s in listed.split(",")] == [s.value for s in OPEN_STATUSES]


# -- SQL specifics --------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/requests.db"
    return request.getfixturevalue("pg_url")


def _plan(stores, query, params):
    db = stores.requests._db
    with db.write("test") as conn:
        if db.dialect.name == "sqlite":
            rows = conn.execute(f"EXPLAIN QUERY PLAN {query}", params).fetchall()
            return " ".join(str(row[-1]) for row in rows)
        # A handful of rows would be read sequentially: make the planner show its index.
        conn.execute("SET LOCAL enable_seqscan = off")
        rows = conn.execute(f"EXPLAIN {query}", params).fetchall()
        return " ".join(str(row[0]) for row in rows)


def test_due_by_reads_the_partial_index_of_open_requests(sql_url):
    with open_stores(sql_url) as stores:
        store = stores.requests
        d = store._d
        p = d.placeholder
        before = d.instant_in(T0)
        first, following = store._due_sql
        assert f"WHERE {OPEN_SQL} AND due_at <= {p}" in first
        assert "details" not in first
        assert "dsar_requests_due" in _plan(stores, first, (before, 10))
        assert "dsar_requests_due" in _plan(stores, following, (before, before, 1, 10))


def test_due_by_pages_lose_and_repeat_nothing(sql_url):
    with open_stores(sql_url) as stores:
        store = stores.requests
        store._d = attrs.evolve(store._d, page_size=2)
        # Ties of due_at across page boundaries, closed requests between the open ones.
        made = []
        for n in (5, 1, 4, 2, 3, 6, 7, 8, 9):
            status = RequestStatus.COMPLETED if n % 3 == 0 else RequestStatus.RECEIVED
            request = make_request(
                f"req_{n}", f"cust-{n}", received=T0 + timedelta(hours=n % 2), status=status
            )
            store.add(request, first_step(request))
            made.append(request)
        expected = queued(*sorted((r for r in made if r.open), key=lambda r: r.due_at))
        assert [r.id for r in expected] == ["req_4", "req_2", "req_8", "req_5", "req_1", "req_7"]
        assert list(store.due_by(T0 + 2 * MONTH)) == expected
        for limit in range(len(expected) + 2):
            assert list(store.due_by(T0 + 2 * MONTH, limit=limit)) == expected[:limit]


def test_due_by_pages_are_short_reads_between_which_the_store_may_be_written(sql_url):
    with open_stores(sql_url) as stores:
        store = stores.requests
        store._d = attrs.evolve(store._d, page_size=2)
        for n in range(5):
            request = make_request(f"req_{n}", received=T0 + timedelta(minutes=n))
            store.add(request, first_step(request))
        seen = []
        for entry in store.due_by(T0 + 2 * MONTH):
            seen.append(entry.id)
            request = store.get(entry.id)
            done = attrs.evolve(
                verified(request, T0 + timedelta(days=1)), status=RequestStatus.COMPLETED
            )
            store.update(done, step(done, 2), expected=RequestStatus.RECEIVED)
        assert seen == [f"req_{n}" for n in range(5)]
        assert list(store.due_by(T0 + 2 * MONTH)) == []


def _tamper(stores, statement, params):
    with stores.requests._db.write("test") as conn:
        conn.execute(statement, params)


@pytest.mark.parametrize(
    ("column", "value"),
    [("status", "lost"), ("kind", "wish"), ("details", "{not json"), ("reason", "whim")],
)
def test_a_row_changed_outside_avgkit_is_an_integrity_error_naming_no_value(sql_url, column, value):
    with open_stores(sql_url) as stores:
        request = make_request("req_1", "cust-secret", details={"email": "secret@voorbeeld.nl"})
        stores.requests.add(request, first_step(request))
        p = stores.requests._d.placeholder
        _tamper(stores, f"UPDATE dsar_requests SET {column} = {p}", (value,))
        with pytest.raises(IntegrityError) as caught:
            stores.requests.get("req_1")
        message = str(caught.value)
        assert "secret" not in message
        assert value not in message
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None
        if column == "kind":
            with pytest.raises(IntegrityError):
                list(stores.requests.due_by(T0 + MONTH))
        elif column != "status":  # a status no one knows is not an open one
            # The queue reads neither details nor reason: its entry is whole, get() refuses.
            assert [e.id for e in stores.requests.due_by(T0 + MONTH)] == ["req_1"]


def _queue_tampering(dialect):
    """(column, value) changes to the columns the deadline queue reads, per dialect."""
    changes = [
        ("id", "req 1"),
        ("kind", "wish"),
        ("extended", dialect.flag_in(True)),  # a received request cannot be extended
    ]
    if dialect.name == "sqlite":  # text columns hold anything
        changes += [
            ("due_at", "2025-05-07 08:30:15.123456Z"),  # another form of the instant
            ("due_at", "2025-05-07T08:30:15.123456+00:00"),
            ("due_at", "2025-13-07T08:30:15.123456Z"),  # the shape, but no instant
            ("due_at", 20250507),
            ("extended", 2),
            ("subject", b"\xff\x00\xfe"),  # no longer UTF-8
            ("kind", b"\xff"),
            ("id", b"req_\xff"),
        ]
    return changes


@pytest.mark.parametrize("change", range(11))
def test_the_queue_refuses_a_row_changed_outside_avgkit_naming_no_value(sql_url, change):
    with open_stores(sql_url) as stores:
        store = stores.requests
        d = store._d
        changes = _queue_tampering(d)
        if change >= len(changes):
            pytest.skip("a typed column cannot hold that")
        column, value = changes[change]
        request = make_request("req_1", "cust-secret", received=T0)
        store.add(request, first_step(request))
        p = d.placeholder
        cast = f"CAST({p} AS TEXT)" if isinstance(value, bytes) else p
        if column == "id":  # the transitions name the id: a copy is added under another
            others = "kind, subject, received_at, due_at, status, updated_at, extended"
            copy = f"SELECT {cast}, {others} FROM dsar_requests"
            _tamper(stores, f"INSERT INTO dsar_requests (id, {others}) {copy}", (value,))
        else:
            _tamper(stores, f"UPDATE dsar_requests SET {column} = {cast}", (value,))
        with pytest.raises(IntegrityError) as caught:
            list(store.due_by(datetime(2100, 1, 1, tzinfo=UTC)))
        message = str(caught.value)
        assert "secret" not in message
        if isinstance(value, str):
            assert value not in message
        assert f"request number {2 if column == 'id' else 1} is malformed" in message
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None


def test_the_queue_reads_instants_in_a_zone_the_session_did_not_ask_for():
    # A driver handing over instants in another zone (a server overriding the session's
    # TimeZone) still gives UTC entries equal to the request's.
    cest = timezone(timedelta(hours=2))
    request = make_request("req_1", received=T0)
    row = (1, "req_1", "access", "cust-1", request.due_at.astimezone(cest), "received", False)
    [entry] = _due_from_native([row], POSTGRESQL.instant_out)
    assert entry == DueRequest.of(request)
    assert entry.due_at.tzinfo is UTC


def test_undecodable_bytes_in_a_row_are_an_integrity_error(tmp_path):
    url = f"sqlite:///{tmp_path}/requests.db"
    with open_stores(url) as stores:
        request = make_request("req_1")
        stores.requests.add(request, first_step(request))
    conn = sqlite3.connect(tmp_path / "requests.db")
    conn.execute("UPDATE dsar_requests SET subject = CAST(X'ff00fe' AS TEXT)")
    conn.commit()
    conn.close()
    with open_stores(url) as stores:
        with pytest.raises(IntegrityError) as caught:
            stores.requests.get("req_1")
        assert caught.value.__context__ is None


def test_after_an_erasure_no_table_holds_the_raw_id(sql_url):
    with open_stores(sql_url) as stores:
        requests = stores.requests
        request = make_request(
            "req_1", "cust-gone", RequestKind.RECTIFICATION, details={"email": "cust-gone@x.nl"}
        )
        requests.add(request, first_step(request, note="cust-gone phoned"))
        requests.restrict(SubjectId("cust-gone"), "req_1", T0)
        assert any("cust-gone" in v for v in sql_raw_values(stores))
        assert requests.forget_subject(SubjectId("cust-gone"), reference(1)) == 3
        assert [v for v in sql_raw_values(stores) if "cust-gone" in v] == []


def test_postgres_writers_on_two_connections_cannot_both_update(pg_url):
    sets = [open_stores(pg_url), open_stores(pg_url)]
    try:
        request = make_request("req_1")
        sets[0].requests.add(request, first_step(request))
        barrier = threading.Barrier(2)
        outcomes = []
        lock = threading.Lock()

        def act(index):
            new = verified(request, T0 + timedelta(minutes=index + 1))
            barrier.wait()
            try:
                sets[index].requests.update(
                    new, step(new, 2, actor=f"staff:desk_{index}"), expected=request.status
                )
                result = "won"
            except ConflictError:
                result = "lost"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=act, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["lost", "won"]
        assert [t.seq for t in sets[1].requests.transitions("req_1")] == [1, 2]
    finally:
        for stores in sets:
            stores.close()


def test_postgres_the_second_writer_waits_for_the_first_and_then_conflicts(pg_url):
    sets = [open_stores(pg_url), open_stores(pg_url)]
    try:
        request = make_request("req_1", status=RequestStatus.IN_PROGRESS)
        sets[0].requests.add(request, first_step(request))
        inside = threading.Event()
        errors = []

        def hold_the_row():
            noted = attrs.evolve(request, updated_at=T0 + timedelta(hours=1))
            with sets[0].atomic():
                sets[0].requests.update(noted, step(noted, 2), expected=request.status)
                inside.set()
                threading.Event().wait(0.3)

        first = threading.Thread(target=hold_the_row)
        first.start()
        inside.wait(5)
        later = attrs.evolve(request, updated_at=T0 + timedelta(hours=2))
        try:
            # Same status, same number: it waits for the row, then finds number 2 taken.
            sets[1].requests.update(later, step(later, 2), expected=request.status)
        except ConflictError as exc:
            errors.append(exc)
        first.join()
        assert len(errors) == 1
        assert sets[1].requests.get("req_1").updated_at == T0 + timedelta(hours=1)
    finally:
        for stores in sets:
            stores.close()
