"""The PostgreSQL adapter, on a real server (see tests/pgsupport.py for how it is found)."""

import logging
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from avgkit.audit import GENESIS_HASH, AuditEntry, AuditLog
from avgkit.errors import ConflictError, IntegrityError, StorageError, ValidationError
from avgkit.storage import open_stores
from avgkit.storage._sql import POSTGRESQL, SqlAuditStore
from avgkit.storage._sql._audit import migrations
from avgkit.storage.postgres import parse_url
from avgkit.storage.postgres._db import Database, copy_rows
from avgkit.testing import ManualClock
from avgkit.testing.conformance import AuditStoreContract
from pgsupport import PostgresContract

psycopg = pytest.importorskip("psycopg")


DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"

T0 = datetime(2024, 5, 17, 20, 15, 42, 654321, tzinfo=UTC)


def _child(script: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(script)]


def _spawn(script: str, *args: str, **options) -> subprocess.Popen:
    """Start this interpreter on a script the test wrote (separate processes, real races)."""
    return subprocess.Popen([*_child(script), *args], **options)


# -- the conformance contract ------------------------------------------------------------


class TestPostgresAuditStore(PostgresContract, AuditStoreContract):
    store_class = "SqlAuditStore"

    def tamper(self, store, seq, action):
        with store._db.write("tampering in a test") as conn:
            conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
            conn.execute("UPDATE audit_entries SET action = %s WHERE seq = %s", (action, seq))


# -- opening, schemas, sessions ----------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_stores_opens_postgres_for_both_schemes(pg_url, scheme):
    url = scheme + pg_url[pg_url.index("://") :]
    with open_stores(url) as stores:
        assert isinstance(stores.audit, SqlAuditStore)
        log = AuditLog(stores.audit, ManualClock(T0))
        log.record("test.opened", subject="visitor-1")
        assert log.verify().entries == 1


def test_connections_run_in_the_schema_and_in_utc(pg_schemas, monkeypatch):
    # The session's own TimeZone is overridden, so instants come back in UTC whatever
    # the server or the environment's libpq options say (a URL's options= is refused).
    monkeypatch.setenv("PGOPTIONS", "-c TimeZone=Asia/Tokyo")
    url = pg_schemas()
    db = Database(url)
    try:
        with db.read("inspecting the session") as conn:
            row = conn.execute("SELECT current_setting('search_path'), current_setting('TimeZone')")
            assert row.fetchone() == (f'"{db.schema}"', "UTC")
        store = SqlAuditStore(db)
        entry = AuditEntry.seal(
            seq=1,
            at=T0,
            action="test.tz",
            actor="system",
            subject_ref=None,
            details={"text": "naïve ✓ \x00 end", "big": 2**63 - 1, "neg": -1},
            prev_hash=GENESIS_HASH,
        )
        store.append(lambda _head: entry)
        (back,) = store.entries()
        assert back == entry
        assert back.at.utcoffset() == timedelta(0)
        assert back.expected_hash() == entry.hash
    finally:
        db.close()


def test_schemas_in_one_database_do_not_see_each_other(pg_schemas):
    with open_stores(pg_schemas()) as a, open_stores(pg_schemas()) as b:
        log_a = AuditLog(a.audit, ManualClock(T0))
        log_b = AuditLog(b.audit, ManualClock(T0))
        for i in range(3):
            log_a.record("venue.a", details={"i": i})
        log_b.record("venue.b")
        assert a.audit.count() == 3
        assert b.audit.count() == 1
        assert [e.action for e in b.audit.entries()] == ["venue.b"]
        assert a.audit.reference_secret(lambda: b"a" * 32) != b.audit.reference_secret(
            lambda: b"b" * 32
        )
        assert log_a.verify().entries == 3
        assert log_b.verify().entries == 1


def test_pool_sizes_come_from_the_url(pg_schemas):
    db = Database(pg_schemas(pool_min=2, pool_max=3))
    try:
        assert (db._pool.min_size, db._pool.max_size) == (2, 3)
        assert db._pool.get_stats()["pool_size"] == 2
    finally:
        db.close()


def test_waiting_longer_than_pool_timeout_is_a_storage_error(pg_schemas):
    db = Database(pg_schemas(pool_min=1, pool_max=1, pool_timeout=0.3))
    holding, release = threading.Event(), threading.Event()

    def hold():
        with db.write("holding the only connection"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with (
            pytest.raises(StorageError, match="waiting for a second") as info,
            db.read("waiting for a second"),
        ):
            pass
        assert time.monotonic() - started < 5
        assert "PoolTimeout" in str(info.value)
        assert info.value.__cause__ is None
    finally:
        release.set()
        holder.join()
    try:
        with db.read("after the wait"):
            pass
    finally:
        db.close()


def test_reads_and_writes_inside_a_write_join_it_on_one_connection(pg_schemas):
    """Nested blocks on one thread share the outer transaction (even with pool_max=1)."""
    db = Database(pg_schemas(pool_min=1, pool_max=1, pool_timeout=2))
    try:
        db.migrate("nesting", ("CREATE TABLE nesting_rows (a integer)",))
        with db.write("outer") as conn:
            conn.execute("INSERT INTO nesting_rows VALUES (1)")
            with db.write("inner") as inner:
                assert inner is conn
                inner.execute("INSERT INTO nesting_rows VALUES (2)")
            with db.read("reading own rows") as reader:
                assert reader.execute("SELECT count(*) FROM nesting_rows").fetchone() == (2,)

        def fail_after_nested_writes():
            with db.write("outer that fails") as conn:
                conn.execute("INSERT INTO nesting_rows VALUES (3)")
                with db.write("inner") as inner:
                    inner.execute("INSERT INTO nesting_rows VALUES (4)")
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail_after_nested_writes()
        with db.read("count") as conn:
            assert conn.execute("SELECT count(*) FROM nesting_rows").fetchone() == (2,)
    finally:
        db.close()


def test_after_commit_runs_once_the_outer_write_commits_and_never_after_a_rollback(pg_url):
    db = Database(pg_url)
    ran = []
    try:
        db.after_commit(lambda: ran.append("outside"))
        with db.write("outer"):
            db.after_commit(lambda: ran.append("committed"))
            assert ran == ["outside"]

        def roll_back():
            with db.write("rolled back"):
                db.after_commit(lambda: ran.append("rolled back"))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            roll_back()
        assert ran == ["outside", "committed"]
    finally:
        db.close()


# -- append-only and tampering -----------------------------------------------------------


def test_sql_updates_deletes_and_truncates_of_audit_rows_are_refused(pg_url):
    with open_stores(pg_url) as stores:
        AuditLog(stores.audit, ManualClock(T0)).record("a.b")
        db = stores.audit._db
        for statement in (
            "UPDATE audit_entries SET action = 'x.y'",
            "DELETE FROM audit_entries",
            "TRUNCATE audit_entries",
        ):
            with (
                pytest.raises(StorageError, match="SQLSTATE 42501") as info,
                db.write("changing history") as conn,
            ):
                conn.execute(statement)
            assert not isinstance(info.value, ConflictError)
        assert stores.audit.count() == 1


def test_a_deleted_middle_row_is_named_by_verify(pg_url):
    with open_stores(pg_url) as stores:
        log = AuditLog(stores.audit, ManualClock(T0))
        for i in range(5):
            log.record("a.b", details={"i": i})
        with stores.audit._db.write("tampering in a test") as conn:
            conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
            conn.execute("DELETE FROM audit_entries WHERE seq = 3")
    with open_stores(pg_url) as stores, pytest.raises(IntegrityError, match="entry 3"):
        AuditLog(stores.audit, ManualClock(T0)).verify()


# -- concurrency with real processes -----------------------------------------------------


def test_three_processes_appending_at_once_keep_one_valid_chain(pg_url):
    """Separate processes share the log; the chain stays whole and nothing is lost."""
    script = f"""
        import sys
        from avgkit.audit import AuditLog
        from avgkit.clock import SystemClock
        from avgkit.storage import open_stores
        with open_stores({pg_url!r}) as stores:
            log = AuditLog(stores.audit, SystemClock())
            for i in range(80):
                log.record("proc.step", details={{"proc": int(sys.argv[1]), "i": i}})
        """
    procs = [_spawn(script, str(n)) for n in range(3)]
    assert [p.wait(timeout=180) for p in procs] == [0, 0, 0]
    with open_stores(pg_url) as stores:
        log = AuditLog(stores.audit, ManualClock(T0))
        assert log.verify().entries == 240
        seen = {(e.details["proc"], e.details["i"]) for e in log.entries()}
        assert seen == {(p, i) for p in range(3) for i in range(80)}


def test_processes_opening_a_new_schema_at_once_migrate_it_once(pg_url):
    """Concurrent first opens: one creates the schema and runs each script, the rest wait."""
    script = f"""
        from avgkit.storage.postgres._db import Database
        db = Database({pg_url!r})
        db.migrate("race", (
            "CREATE TABLE race (n int); SELECT pg_sleep(0.3); INSERT INTO race VALUES (1);",
        ))
        db.close()
        """
    procs = [_spawn(script) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    db = Database(pg_url)
    try:
        with db.read("counting") as conn:
            assert conn.execute("SELECT count(*) FROM race").fetchone() == (1,)
        assert db.schema_version("race") == 1
    finally:
        db.close()


# -- migrations --------------------------------------------------------------------------


def test_the_audit_schema_version_is_recorded(pg_url):
    with open_stores(pg_url) as stores:
        assert stores.audit._db.schema_version("audit") == len(migrations(POSTGRESQL))


def test_migrations_are_applied_once(pg_url):
    db = Database(pg_url)
    try:
        steps = (
            "CREATE TABLE t1 (a int);",
            # Several statements and a function body with semicolons in one script.
            """
            CREATE TABLE t2 (b int);
            CREATE FUNCTION t2_double(x int) RETURNS int LANGUAGE plpgsql AS $$
            BEGIN
                RETURN x * 2;
            END;
            $$;
            """,
        )
        db.migrate("demo", steps[:1])
        assert db.schema_version("demo") == 1
        db.migrate("demo", steps)  # only the second script runs; the first would fail again
        db.migrate("demo", steps)
        assert db.schema_version("demo") == 2
        with db.read("calling") as conn:
            assert conn.execute("SELECT t2_double(21)").fetchone() == (42,)
    finally:
        db.close()


def test_a_failing_migration_leaves_the_old_version_and_no_tables(pg_url):
    db = Database(pg_url)
    try:
        db.migrate("demo", ("CREATE TABLE t1 (a int);",))
        with pytest.raises(StorageError, match="migrating demo"):
            db.migrate(
                "demo",
                ("CREATE TABLE t1 (a int);", "CREATE TABLE t2 (a int); CREATE TABLE t1 (b int);"),
            )
        assert db.schema_version("demo") == 1
        with db.read("looking for t2") as conn:
            assert conn.execute("SELECT to_regclass('t2')").fetchone() == (None,)
    finally:
        db.close()


def test_a_database_from_a_newer_avgkit_is_refused(pg_url):
    db = Database(pg_url)
    try:
        db.migrate("demo", ("CREATE TABLE t1 (a int);", "CREATE TABLE t2 (a int);"))
        with pytest.raises(StorageError, match="upgrade avgkit"):
            db.migrate("demo", ("CREATE TABLE t1 (a int);",))
        assert db.schema_version("demo") == 2
    finally:
        db.close()


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:Sup3r-s3cret@127.0.0.1:1/test?connect_timeout=2",
        "postgresql://postgres:Sup3r%40s3cret@127.0.0.1:1/test?connect_timeout=2",
        "postgresql://postgres@127.0.0.1:1/test?password=Sup3r-s3cret&connect_timeout=2",
    ],
)
def test_an_unreachable_server_is_a_storage_error_without_the_password(url, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StorageError) as info:
        open_stores(url)
    assert not isinstance(info.value, psycopg.Error)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert "connecting" in str(info.value)
    for text in (str(info.value), repr(info.value), caplog.text):
        assert "s3cret" not in text


def test_driver_errors_in_a_block_become_storage_errors_naming_the_operation(pg_url):
    db = Database(pg_url)
    try:
        with (
            pytest.raises(StorageError, match="probing a table") as info,
            db.write("probing a table") as conn,
        ):
            conn.execute("SELECT * FROM no_such_table")
        assert "SQLSTATE 42P01" in str(info.value)
        assert info.value.__cause__ is None
        with pytest.raises(StorageError, match="25006"), db.read("writing in a read") as conn:
            conn.execute("CREATE TABLE sneaky (a int)")
    finally:
        db.close()


def test_unique_violations_are_conflicts_without_the_row_values(pg_url, caplog):
    db = Database(pg_url)
    try:
        db.migrate("demo", ("CREATE TABLE people (email text PRIMARY KEY);",))
        with db.write("adding") as conn:
            conn.execute("INSERT INTO people VALUES ('visitor@example.org')")
        with pytest.raises(ConflictError) as info, db.write("adding again") as conn:
            conn.execute("INSERT INTO people VALUES ('visitor@example.org')")
        assert "SQLSTATE 23505" in str(info.value)
        err = info.value
        assert err.__cause__ is None
        assert err.__context__ is None
        with caplog.at_level(logging.ERROR):
            try:
                raise err
            except ConflictError:
                logging.getLogger("avgkit.test").exception("storage failed")
        for text in (str(err), repr(err), caplog.text):
            assert "visitor" not in text
            assert "example.org" not in text
    finally:
        db.close()


@pytest.mark.parametrize(
    ("column", "value"),
    [("details", "'{not json'"), ("details", "'42'"), ("action", "''")],
)
def test_an_audit_row_that_no_longer_decodes_is_tamper(pg_url, column, value):
    with open_stores(pg_url) as stores:
        log = AuditLog(stores.audit, ManualClock(T0))
        log.record("a.one", subject="cust-1")
        log.record("a.two", subject="cust-2")
        schema = stores.audit._db.schema
    with psycopg.connect(parse_url(pg_url).conninfo, autocommit=True) as raw:
        raw.execute(f'SET search_path = "{schema}"')
        raw.execute("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        raw.execute(f"UPDATE audit_entries SET {column} = {value} WHERE seq = 2")
    with open_stores(pg_url) as stores:
        log = AuditLog(stores.audit, ManualClock(T0))
        with pytest.raises(IntegrityError, match=r"\b2\b") as info:
            log.verify()
    assert not isinstance(info.value, StorageError)
    assert info.value.__cause__ is None


def test_reprs_hide_the_password(pg_url):
    url = pg_url.replace("postgres@", "postgres:Sup3r-s3cret@")
    with open_stores(url) as stores:
        db = stores.audit._db
        for text in (repr(stores), repr(stores.audit), repr(db), repr(db.settings)):
            assert "s3cret" not in text
        assert db.schema in repr(db)


def test_a_missing_driver_says_how_to_install_it():
    script = """
        import sys
        sys.modules["psycopg"] = None  # makes `import psycopg` fail as if not installed
        sys.modules["psycopg_pool"] = None
        from avgkit.errors import StorageError
        from avgkit.storage import open_stores
        try:
            open_stores("postgresql://postgres@127.0.0.1:5432/test")
        except StorageError as exc:
            print(exc)
        """
    out = subprocess.run(_child(script), capture_output=True, text=True, check=True)
    assert "pip install 'avgkit[postgres]'" in out.stdout


# -- URLs --------------------------------------------------------------------------------


def test_url_settings_are_parsed_and_the_rest_goes_to_libpq():
    s = parse_url(
        "postgres://app:pw@db.example:6432/tickets"
        "?schema=venue_a&pool_min=0&pool_max=8&pool_timeout=2.5&sslmode=disable"
    )
    assert (s.host, s.port, s.dbname, s.schema) == ("db.example", "6432", "tickets", "venue_a")
    assert (s.pool_min, s.pool_max, s.pool_timeout) == (0, 8, 2.5)
    assert s.conninfo.startswith("postgresql://app:pw@db.example:6432/tickets?")
    assert "sslmode=disable" in s.conninfo
    assert "application_name=avgkit" in s.conninfo
    for own in ("schema", "pool_", "venue_a"):
        assert own not in s.conninfo
    assert "pw" not in repr(s)


def test_url_defaults():
    s = parse_url("postgresql://postgres@127.0.0.1/test")
    assert (s.schema, s.pool_min, s.pool_max, s.pool_timeout) == ("avgkit", 1, 4, 30.0)
    assert "connect_timeout=10" in s.conninfo
    assert parse_url("postgresql://h/d?pool_min=6").pool_max == 6
    assert "application_name=mine" in parse_url("postgresql://h/d?application_name=mine").conninfo


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("schema=Venue", "schema"),
        ("schema=venue-a", "schema"),
        ("schema=pg_venue", "schema"),
        ("schema=" + "a" * 64, "schema"),
        ("schema=", "schema"),
        ("schema=venue%0A", "schema"),
        ("pool_max=%C2%B2", "pool_max"),
        ("schema=a&schema=b", "schema"),
        ("pool_min=-1", "pool_min"),
        ("pool_min=two", "pool_min"),
        ("pool_max=0", "pool_max"),
        ("pool_min=5&pool_max=2", "pool_max"),
        ("pool_timeout=0", "pool_timeout"),
        ("pool_timeout=nan", "pool_timeout"),
        ("pool_timeout=soon", "pool_timeout"),
        ("pool_size=3", "pool_size"),
    ],
)
def test_bad_url_parameters_are_refused_naming_the_parameter(query, named):
    with pytest.raises(ValidationError, match=named) as info:
        parse_url(f"postgresql://u:topsecretpw@h/db?{query}")
    assert "topsecretpw" not in str(info.value)


@pytest.mark.parametrize(
    ("tenant", "named"),
    [
        ("venue&options=-csession_replication_role%3Dreplica", "options"),
        ("venue&host=evil.example", "host"),
        ("venue&hostaddr=192.0.2.66", "hostaddr"),
        ("venue&port=6543", "port"),
        ("venue&dbname=other", "dbname"),
        ("venue&service=prod", "service"),
        ("venue&passfile=/etc/shadow", "passfile"),
        ("venue&replication=database", "replication"),
    ],
)
def test_a_url_built_from_a_tenant_name_cannot_smuggle_libpq_parameters(tenant, named):
    """Only the documented parameters pass: no other server, no session settings, no files."""
    with pytest.raises(ValidationError, match=f"'{named}' is not accepted") as info:
        parse_url(f"postgresql://app:topsecretpw@db.example/tickets?schema={tenant}")
    assert "topsecretpw" not in str(info.value)


def test_an_unknown_parameter_is_refused_with_the_nearest_known_one():
    with pytest.raises(ValidationError, match=r"'sslmdoe' is unknown \(did you mean 'sslmode'"):
        parse_url("postgresql://h/d?sslmdoe=require")
    with pytest.raises(ValidationError, match=r"'frobnicate' is unknown; avgkit's own"):
        parse_url("postgresql://h/d?frobnicate=1")
    with pytest.raises(ValidationError, match="pool_max"):
        parse_url("postgresql://h/d?pool_mx=3")


def test_the_documented_libpq_parameters_still_pass():
    s = parse_url(
        "postgresql://h/d?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=3"
        "&target_session_attrs=read-write&keepalives_idle=30&user=app&password=pw"
    )
    for part in ("sslmode=verify-full", "connect_timeout=3", "target_session_attrs=read-write"):
        assert part in s.conninfo
    socket = parse_url("postgresql://app@%2Fvar%2Frun%2Fpostgresql/tickets")
    assert socket.host == "/var/run/postgresql"


@pytest.mark.parametrize("url", ["mysql://h/db", "postgresql+psycopg://h/db", "sqlite:///x"])
def test_other_schemes_are_not_postgres_urls(url):
    with pytest.raises(ValidationError, match="postgresql://"):
        parse_url(url)


# -- helpers for later stores: streaming, COPY, locks -------------------------------------


def test_stream_yields_every_row_in_bounded_memory(pg_url):
    db = Database(pg_url)
    try:
        query = "SELECT g, repeat('x', 100) FROM generate_series(1, %s) g ORDER BY g"
        tracemalloc.start()
        try:
            total = count = 0
            for n, text in db.stream("streaming", query, (200_000,), batch=500):
                total += n
                count += len(text) == 100
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert (count, total) == (200_000, 200_000 * 200_001 // 2)
        # Fetching everything at once would hold 200,000 rows (tens of MB) in Python.
        assert peak < 5_000_000, peak
    finally:
        db.close()


def test_an_abandoned_stream_gives_its_connection_back(pg_schemas):
    db = Database(pg_schemas(pool_max=1, pool_timeout=2))
    try:
        with closing(db.stream("streaming", "SELECT generate_series(1, 10000)")) as rows:
            assert next(rows) == (1,)
        with db.read("after the stream") as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        db.close()


def test_stream_errors_are_storage_errors(pg_url):
    db = Database(pg_url)
    try:
        with pytest.raises(StorageError, match="streaming nothing"):
            list(db.stream("streaming nothing", "SELECT * FROM no_such_table"))
    finally:
        db.close()


@pytest.mark.parametrize("types", [None, ["text", "timestamptz", "int4"]])
def test_copy_rows_bulk_inserts_inside_a_transaction(pg_url, types):
    db = Database(pg_url)
    try:
        db.migrate("demo", ("CREATE TABLE ev (subject text, at timestamptz, n int);",))
        rows = ((f"s{i}", T0 + timedelta(seconds=i), i) for i in range(5000))
        with db.write("importing") as conn:
            assert copy_rows(conn, "ev", ["subject", "at", "n"], rows, types=types) == 5000

        def import_then_fail():
            with db.write("importing more") as conn:
                copy_rows(conn, "ev", ["subject", "at", "n"], [("x", T0, 1)], types=types)
                raise RuntimeError("stop")  # rolls the COPY back

        with pytest.raises(RuntimeError, match="stop"):
            import_then_fail()
        with db.read("checking") as conn:
            got = conn.execute("SELECT count(*), sum(n), max(at) FROM ev").fetchone()
        assert got == (5000, sum(range(5000)), T0 + timedelta(seconds=4999))
        with pytest.raises(StorageError, match="importing bad"), db.write("importing bad") as conn:
            copy_rows(conn, "ev", ["subject", "at", "n"], [("x", "not a time", 1)])
    finally:
        db.close()


def test_try_lock_is_held_by_one_transaction_at_a_time(pg_url, pg_schemas):
    one, two, elsewhere = Database(pg_url), Database(pg_url), Database(pg_schemas())
    try:
        with one.write("first worker") as c1:
            assert one.try_lock(c1, "retention:sr1:abc")
            with two.write("second worker") as c2:
                assert not two.try_lock(c2, "retention:sr1:abc")
                assert two.try_lock(c2, "retention:sr1:def")
            with elsewhere.write("another venue") as c3:
                assert elsewhere.try_lock(c3, "retention:sr1:abc")
        with two.write("second worker, later") as c2:
            assert two.try_lock(c2, "retention:sr1:abc")
    finally:
        for db in (one, two, elsewhere):
            db.close()


def test_a_lock_held_by_another_process_cannot_be_taken(pg_url):
    script = f"""
        import sys
        from avgkit.storage.postgres._db import Database
        db = Database({pg_url!r})
        with db.write("holding") as conn:
            assert db.try_lock(conn, "retention:sr1:abc")
            print("held", flush=True)
            sys.stdin.readline()
        db.close()
        """
    db = Database(pg_url)
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    try:
        with _spawn(script, **pipes) as child:
            try:
                assert child.stdout.readline().strip() == "held"
                with db.write("taking") as conn:
                    assert not db.try_lock(conn, "retention:sr1:abc")
                child.stdin.write("release\n")
                child.stdin.flush()
                assert child.wait(timeout=60) == 0
            finally:
                child.kill()
        with db.write("taking again") as conn:
            assert db.try_lock(conn, "retention:sr1:abc")
    finally:
        db.close()


def test_workers_following_the_locking_design_handle_each_subject_once(pg_url):
    """The retention executor's pattern: lock, re-read, act, commit; pass again if busy."""
    db = Database(pg_url)
    db.migrate("demo", ("CREATE TABLE done (subject int NOT NULL, worker int NOT NULL);",))
    script = f"""
        import sys
        from avgkit.storage.postgres._db import Database
        db = Database({pg_url!r})
        worker = int(sys.argv[1])
        left = set(range(60))
        while left:
            for subject in sorted(left):
                with db.write("erasing") as conn:
                    if not db.try_lock(conn, f"retention:{{subject}}"):
                        continue  # busy: come back on the next pass
                    row = conn.execute("SELECT 1 FROM done WHERE subject = %s", (subject,))
                    if row.fetchone() is None:
                        conn.execute("SELECT pg_sleep(0.002)")  # the host's erasure
                        conn.execute("INSERT INTO done VALUES (%s, %s)", (subject, worker))
                    left.discard(subject)
        db.close()
        """
    procs = [_spawn(script, str(n)) for n in range(3)]
    try:
        assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
        with db.read("checking") as conn:
            rows = conn.execute("SELECT subject, count(*) FROM done GROUP BY subject").fetchall()
        assert sorted(rows) == [(s, 1) for s in range(60)]
    finally:
        db.close()


# -- the test fixtures' own rules --------------------------------------------------------


def test_without_a_server_the_tests_skip_and_say_how_to_enable_them():
    from pgsupport import resolve_server

    with pytest.raises(pytest.skip.Exception) as info:
        resolve_server({}, check=lambda _url: "no server")
    assert f"AVGKIT_TEST_POSTGRES_URL={DEFAULT_URL}" in str(info.value)


@pytest.mark.parametrize(
    "environ",
    [
        {"AVGKIT_REQUIRE_POSTGRES": "1"},
        {"AVGKIT_REQUIRE_POSTGRES": "1", "AVGKIT_TEST_POSTGRES_URL": DEFAULT_URL},
        {"AVGKIT_TEST_POSTGRES_URL": "postgresql://u@elsewhere/db"},
    ],
)
def test_when_postgres_is_required_or_named_a_missing_server_fails(environ):
    from pgsupport import resolve_server

    with pytest.raises(pytest.fail.Exception):
        resolve_server(environ, check=lambda _url: "no server")


def test_a_server_that_answers_is_used():
    from pgsupport import resolve_server, with_params

    env = {"AVGKIT_TEST_POSTGRES_URL": "postgresql://u@h/d"}
    assert resolve_server(env, check=lambda _url: None) == "postgresql://u@h/d"
    assert with_params("postgresql://u@h/d?a=1", schema="s") == "postgresql://u@h/d?a=1&schema=s"


def test_callbacks_of_a_rolled_back_savepoint_never_run(pg_url):
    db = Database(pg_url)
    ran = []

    def undone():
        with db.write("inner"):
            db.after_commit(lambda: ran.append("undone"))
            raise RuntimeError

    try:
        with db.write("outer"):
            db.after_commit(lambda: ran.append("kept"))
            with pytest.raises(RuntimeError):
                undone()
        assert ran == ["kept"]
    finally:
        db.close()


def test_two_streams_can_be_open_in_one_write(pg_schemas):
    db = Database(pg_schemas(pool_min=1, pool_max=1))
    try:
        with db.write("two streams"):
            first = db.stream("first", "SELECT generate_series(1, 3)")
            second = db.stream("second", "SELECT generate_series(4, 6)")
            pairs = list(zip(first, second, strict=True))
        assert pairs == [((1,), (4,)), ((2,), (5,)), ((3,), (6,))]
    finally:
        db.close()


def test_open_url_closes_the_pool_when_a_migration_fails(pg_url, monkeypatch):
    with open_stores(pg_url) as stores:
        schema = stores.audit._db.schema
    with psycopg.connect(parse_url(pg_url).conninfo, autocommit=True) as raw:
        raw.execute(
            f'UPDATE "{schema}".avgkit_schema SET version = 99 WHERE component = %s', ("audit",)
        )
    closed: list[Database] = []
    real_close = Database.close

    def close(self: Database) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(Database, "close", close)
    with pytest.raises(StorageError, match="upgrade avgkit"):
        open_stores(pg_url)
    assert len(closed) == 1
