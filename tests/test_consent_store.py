"""The ConsentStore contract against every adapter, and the SQLite specifics."""

import sqlite3
import subprocess
import sys
import textwrap
import time

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------- erasure: forget()

RAW = "cust-7731-scan"  # distinctive, so that a scan finding it cannot be a coincidence
ORDER = "ord-556677-scan"
REF = "sr1:" + "0123456789abcdef" * 2
EARLIER_REF = "sr1:" + "e" * 32


def _ordered_event(subject, minutes, *, kind="given", purpose="newsletter", order_ref=ORDER):
    from datetime import UTC, datetime, timedelta

    from avgkit.consent import Channel, ConsentAction, ConsentEvent, Evidence, hash_wording

    return ConsentEvent(
        subject=subject,
        purpose=purpose,
        kind=ConsentAction(kind),
        at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        evidence=Evidence(
            channel=Channel.WEBSHOP,
            notice_version="v1",
            wording_sha256=hash_wording("x"),
            order_ref=order_ref,
        ),
    )


def _snapshot(consent):
    """Everything the store answers, seqs and order refs included (equality ignores seq)."""
    from datetime import UTC, datetime

    events = consent.events(
        since=datetime(2000, 1, 1, tzinfo=UTC), until=datetime(2100, 1, 1, tzinfo=UTC)
    )
    return [(e.seq, e.subject, e) for e in events], consent.count()


def _a_ledger_with_an_earlier_erasure(consent):
    from avgkit.subjects import SubjectId

    consent.append(_ordered_event("cust-old", 0))
    assert consent.forget(SubjectId("cust-old"), EARLIER_REF) == 1
    consent.append(_ordered_event(RAW, 1))
    consent.append(_ordered_event(RAW, 2, kind="objected", purpose="evaluation_mail"))
    consent.append(_ordered_event("cust-2", 3, order_ref="ord-other"))


class _BlockFailedError(RuntimeError):
    pass


def _then_fail(work):
    """Run ``work``, then raise as a failing service would inside its block."""
    work()
    raise _BlockFailedError


def test_a_forget_in_a_rolled_back_block_restores_the_raw_id_events_exactly(store_url):
    """Appends and forget()s in an atomic() block that raises leave the ledger as it was."""
    from avgkit.subjects import SubjectId

    with open_stores(store_url) as stores:
        consent = stores.consent
        _a_ledger_with_an_earlier_erasure(consent)
        before = _snapshot(consent)

        def block():
            consent.append(_ordered_event(RAW, 4, kind="withdrawn"))
            assert consent.forget(SubjectId(RAW), REF) == 3
            assert consent.forget(SubjectId("cust-2"), EARLIER_REF) == 1
            consent.append(_ordered_event(REF, 5, order_ref=None))
            assert list(consent.history(SubjectId(RAW))) == []

        with pytest.raises(_BlockFailedError), stores.atomic():
            _then_fail(block)
        assert _snapshot(consent) == before
        orders = [e.evidence.order_ref for e in consent.history(SubjectId(RAW))]
        assert orders == [ORDER, ORDER]
        assert len(list(consent.history(SubjectId(EARLIER_REF)))) == 1
        assert list(consent.history(SubjectId(REF))) == []
        # The store still works normally afterwards: new seqs come after every kept one.
        latest = consent.append(_ordered_event(RAW, 6))
        assert latest.seq > max(seq for seq, _, _ in before[0])
        assert consent.forget(SubjectId(RAW), REF) == 3


def test_a_failing_inner_block_undoes_only_its_own_forget(store_url):
    """Nested blocks: the inner forget() is undone, the outer block's writes are kept."""
    from avgkit.subjects import SubjectId

    with open_stores(store_url) as stores:
        consent = stores.consent
        _a_ledger_with_an_earlier_erasure(consent)
        with stores.atomic():
            assert consent.forget(SubjectId("cust-2"), EARLIER_REF) == 1
            kept = _snapshot(consent)
            with pytest.raises(_BlockFailedError), stores.atomic():
                _then_fail(lambda: consent.forget(SubjectId(RAW), REF))
            assert _snapshot(consent) == kept
        assert _snapshot(consent) == kept
        assert len(list(consent.history(SubjectId(EARLIER_REF)))) == 2
        assert len(list(consent.history(SubjectId(RAW)))) == 2


def _values_holding(values, needles):
    found = set()
    for value in values:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if isinstance(text, str):
            found |= {needle for needle in needles if needle in text}
    return found


def _sqlite_scan(path, needles):
    """Every value of every table in the SQLite file that holds one of ``needles``."""
    conn = sqlite3.connect(path)
    try:
        tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert "consent_events" in tables
        found = {}
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            hits = _values_holding([v for row in rows for v in row], needles)
            if hits:
                found[table] = hits
        return found
    finally:
        conn.close()


def _postgres_scan(server_url, schema, needles):
    """Every column of every table in ``schema`` (from information_schema) holding a needle."""
    import psycopg
    from psycopg import sql

    found = {}
    with psycopg.connect(server_url) as conn:
        columns = conn.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns AS c "
            "JOIN information_schema.tables AS t USING (table_schema, table_name) "
            "WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE'",
            (schema,),
        ).fetchall()
        assert any(table == "consent_events" for table, _, _ in columns)
        for table, column, data_type in columns:
            # Bytes are searched as bytes; every other type through its text form.
            test = (
                "position(convert_to(%s, 'UTF8') in {col}) > 0"
                if data_type == "bytea"
                else "position(%s in {col}::text) > 0"
            )
            for needle in needles:
                query = sql.SQL("SELECT count(*) FROM {tbl} WHERE " + test).format(
                    tbl=sql.Identifier(schema, table), col=sql.Identifier(column)
                )
                (n,) = conn.execute(query, (needle,)).fetchone()
                if n:
                    found.setdefault(table, set()).add(needle)
    return found


def _erase_through_a_kit(url):
    """Consent given through the services (audit entries too), then re-keyed; the reference."""
    from avgkit import Kit
    from avgkit.consent import Channel, Evidence, hash_wording
    from avgkit.presets import ticketing
    from avgkit.subjects import SubjectId

    evidence = Evidence(
        channel=Channel.WEBSHOP,
        notice_version="v1",
        wording_sha256=hash_wording("x"),
        order_ref=ORDER,
    )
    with Kit.open(url, inventory=ticketing.inventory()) as kit:
        kit.consent.give(RAW, "newsletter", evidence)
        kit.consent.withdraw(RAW, "newsletter", evidence)
        kit.consent.give("cust-2", "newsletter", evidence)
        reference = kit.audit.subject_ref(RAW)
        yield kit
        assert kit.stores.consent.forget(SubjectId(RAW), reference) == 2
        # The recipients' notices named the subject too; an erasure forgets them alike.
        assert kit.stores.feed.forget_subject(SubjectId(RAW), reference) == 4
        assert [e.subject for e in kit.consent.history(reference)] == [reference] * 2
        assert list(kit.consent.history(RAW)) == []
        yield kit


def test_after_forget_no_sqlite_table_holds_the_raw_id_or_the_order_ref(tmp_path):
    """A scan of every value of every table of the file finds neither (it did before)."""
    path = tmp_path / "avg.db"
    steps = _erase_through_a_kit(f"sqlite:///{path}")
    next(steps)
    assert _sqlite_scan(path, {RAW, ORDER}) == {
        "consent_events": {RAW, ORDER},
        "feed_notices": {RAW},
    }
    next(steps)
    steps.close()
    # cust-2's order ref is the same string: only the erased subject's rows lost it.
    assert _sqlite_scan(path, {RAW}) == {}
    conn = sqlite3.connect(path)
    refs = conn.execute("SELECT count(*) FROM consent_events WHERE order_ref IS NOT NULL")
    assert refs.fetchone()[0] == 1
    conn.close()


def test_after_forget_the_sqlite_files_hold_no_copy_of_the_raw_id(tmp_path):
    """The WAL is checkpointed and freed space zeroed: not even a stale page keeps the id.

    Checked while the store is still open (closing checkpoints the WAL anyway).
    """
    path = tmp_path / "avg.db"
    steps = _erase_through_a_kit(f"sqlite:///{path}")
    next(steps)
    assert any(RAW.encode() in file.read_bytes() for file in tmp_path.iterdir())
    next(steps)
    for file in tmp_path.iterdir():
        assert RAW.encode() not in file.read_bytes(), file.name
    steps.close()


def test_after_forget_no_postgres_column_holds_the_raw_id_or_the_order_ref(pg_server, pg_url):
    """A scan of every column of every table of the schema finds neither (it did before)."""
    from avgkit.storage.postgres import parse_url

    schema = parse_url(pg_url).schema
    steps = _erase_through_a_kit(pg_url)
    next(steps)
    assert _postgres_scan(pg_server, schema, {RAW, ORDER}) == {
        "consent_events": {RAW, ORDER},
        "feed_notices": {RAW},
    }
    next(steps)
    steps.close()
    assert _postgres_scan(pg_server, schema, {RAW}) == {}
    with psycopg_connect(pg_server) as conn:
        (refs,) = conn.execute(
            f'SELECT count(*) FROM "{schema}".consent_events WHERE order_ref IS NOT NULL'
        ).fetchone()
    assert refs == 1


def psycopg_connect(url):
    import psycopg

    return psycopg.connect(url)


# The append-only triggers, by direct SQL: only the re-keying passes.

_REFUSED_UPDATES = (
    "UPDATE consent_events SET kind = 'withdrawn'",
    "UPDATE consent_events SET at = at + 1",
    "UPDATE consent_events SET subject = 'cust-2'",
    "UPDATE consent_events SET subject = 'cust-2', order_ref = NULL",
    f"UPDATE consent_events SET subject = '{REF.upper()}', order_ref = NULL",
    f"UPDATE consent_events SET subject = '{REF[:-1]}', order_ref = NULL",
    f"UPDATE consent_events SET subject = '{REF}x', order_ref = NULL",
    f"UPDATE consent_events SET subject = '{REF}'",
    f"UPDATE consent_events SET subject = '{REF}', order_ref = NULL, kind = 'withdrawn'",
    f"UPDATE consent_events SET subject = '{REF}', order_ref = NULL, purpose = 'x'",
    f"UPDATE consent_events SET subject = '{REF}', order_ref = NULL, expires_at = at + 1",
    "DELETE FROM consent_events",
)
_REKEY = f"UPDATE consent_events SET subject = '{REF}', order_ref = NULL"
# The columns of migration 3 are covered by the re-key trigger too.
_REFUSED_NEW_COLUMNS = tuple(
    f"UPDATE consent_events SET subject = '{REF}', order_ref = NULL, {change}"
    for change in ("presentation = 'pre_ticked'", "requested_at = 1", "confirmed_via = 'api'")
)
_REREKEY = f"UPDATE consent_events SET subject = '{EARLIER_REF}', order_ref = NULL"


_SHA = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"  # of "x"


def _sqlite_row(path):
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO consent_purposes (purpose) VALUES ('newsletter')")
    conn.execute(
        "INSERT INTO consent_evidence (id, channel, notice_version, wording_sha256, actor, "
        f"staff_key) VALUES (1, 'api', 'v1', '{_SHA}', 'subject', '')"
    )
    conn.execute(
        "INSERT INTO consent_events (subject, purpose, kind, track, at, evidence, order_ref) "
        "VALUES ('cust-1', 'newsletter', 'given', 0, 0, 1, 'ord-1')"
    )
    conn.commit()
    return conn


def _sqlite_row_values(conn):
    return conn.execute("SELECT * FROM consent_events").fetchall()


def _check_sqlite_trigger(conn):
    before = _sqlite_row_values(conn)
    for statement in (*_REFUSED_UPDATES, *_REFUSED_NEW_COLUMNS):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    assert _sqlite_row_values(conn) == before
    conn.execute(_REKEY)
    conn.commit()
    ((seq, subject, *rest),) = _sqlite_row_values(conn)
    assert (subject, rest[5]) == (REF, None)
    assert (seq, *rest[:5], *rest[6:]) == (before[0][0], *before[0][2:7], *before[0][8:])
    for statement in (_REREKEY, "UPDATE consent_events SET kind = 'withdrawn'"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)


def test_the_sqlite_trigger_lets_only_the_rekeying_through(tmp_path):
    """UPDATEs of other columns, to a non-reference, from a reference, and DELETEs: refused."""
    with open_stores(f"sqlite:///{tmp_path}/avg.db"):
        pass
    conn = _sqlite_row(tmp_path / "avg.db")
    _check_sqlite_trigger(conn)
    conn.close()


def test_an_sqlite_file_made_by_the_old_migrations_gets_the_new_trigger(tmp_path):
    """A file at consent schema version 1 refuses the re-keying; reopened, it is upgraded."""
    from avgkit.subjects import SubjectId

    path = str(tmp_path / "avg.db")
    db = Database(path)
    db.migrate("consent", MIGRATIONS[:1])
    assert db.schema_version("consent") == 1
    db.close()
    conn = _sqlite_row(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(_REKEY)
    conn.close()
    store = SqliteConsentStore(Database(path))
    assert store._db.schema_version("consent") == len(MIGRATIONS) == 3
    conn = sqlite3.connect(path)
    triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    assert sorted(n for (n,) in triggers if n.startswith("consent_events")) == [
        "consent_events_no_delete",
        "consent_events_no_update",
    ]
    _check_sqlite_trigger(conn)  # re-keys the row by hand, as forget() would
    conn.close()
    assert [e.subject for e in store.history(SubjectId(REF))] == [REF]
    store._db.close()


def _postgres_row(db):
    with db.write("inserting a test row") as conn:
        conn.execute(
            "INSERT INTO consent_events (subject, purpose, kind, track, at, channel, "
            "notice_version, wording_sha256, actor, order_ref) VALUES ('cust-1', 'newsletter', "
            f"'given', 0, '2024-01-01T00:00Z', 'api', 'v1', '{_SHA}', 'subject', 'ord-1')"
        )


def _postgres_rows(db):
    with db.read("reading test rows") as conn:
        return conn.execute("SELECT * FROM consent_events").fetchall()


def _check_postgres_trigger(db):
    from avgkit.errors import StorageError

    postgres_only = (
        "UPDATE consent_events SET at = at + interval '1 microsecond'",
        f"UPDATE consent_events SET subject = '{REF}', order_ref = NULL, expires_at = at",
        f"UPDATE consent_events SET subject = '{REF}', order_ref = NULL, staff_key = 'x'",
        "TRUNCATE consent_events",
    )
    refused = [s for s in _REFUSED_UPDATES if "at + 1" not in s] + list(postgres_only)
    before = _postgres_rows(db)
    for statement in refused:
        with pytest.raises(StorageError, match="SQLSTATE 42501"), db.write("tampering") as conn:
            conn.execute(statement)
    assert _postgres_rows(db) == before
    with db.write("re-keying by hand") as conn:
        conn.execute(_REKEY)
    (after,) = _postgres_rows(db)
    columns = [c.name for c in _postgres_columns(db)]
    changed = {c for c, old, new in zip(columns, before[0], after, strict=True) if old != new}
    assert changed == {"subject", "order_ref"}
    assert after[columns.index("subject")] == REF
    assert after[columns.index("order_ref")] is None
    for statement in (_REREKEY, "UPDATE consent_events SET kind = 'withdrawn'"):
        with pytest.raises(StorageError, match="SQLSTATE 42501"), db.write("tampering") as conn:
            conn.execute(statement)


def _postgres_columns(db):
    with db.read("reading the columns") as conn:
        cursor = conn.execute("SELECT * FROM consent_events LIMIT 0")
        return cursor.description


def test_the_postgres_trigger_lets_only_the_rekeying_through(pg_url):
    """UPDATEs of other columns, to a non-reference, from a reference, DELETE and TRUNCATE:
    refused; the re-keying changes exactly subject and order_ref."""
    with open_stores(pg_url) as stores:
        db = stores.consent._db
        _postgres_row(db)
        _check_postgres_trigger(db)


def test_a_postgres_schema_made_by_the_old_migrations_gets_the_new_trigger(pg_url):
    """A schema at consent version 1 refuses the re-keying; reopened, it is upgraded."""
    from avgkit.errors import StorageError
    from avgkit.storage.postgres import PostgresConsentStore
    from avgkit.storage.postgres._consent import MIGRATIONS as PG_MIGRATIONS
    from avgkit.storage.postgres._db import Database as PgDatabase
    from avgkit.subjects import SubjectId

    db = PgDatabase(pg_url)
    db.migrate("consent", PG_MIGRATIONS[:1])
    assert db.schema_version("consent") == 1
    _postgres_row(db)
    with pytest.raises(StorageError, match="SQLSTATE 42501"), db.write("re-keying") as conn:
        conn.execute(_REKEY)
    db.close()
    store = PostgresConsentStore(PgDatabase(pg_url))
    try:
        assert store._db.schema_version("consent") == len(PG_MIGRATIONS) == 3
        assert store.forget(SubjectId("cust-1"), REF) == 1
        (event,) = store.history(SubjectId(REF))
        assert event.evidence.order_ref is None
        tampering = store._db.write("tampering")
        with pytest.raises(StorageError, match="SQLSTATE 42501"), tampering as conn:
            conn.execute("DELETE FROM consent_events")
    finally:
        store._db.close()


def test_a_refused_rekeying_error_quotes_no_stored_value(tmp_path, pg_url):
    """The trigger's refusal reaches callers as a StorageError naming no value, no cause."""
    from avgkit.errors import StorageError

    for url in (f"sqlite:///{tmp_path}/avg.db", pg_url):
        with open_stores(url) as stores:
            stores.consent.append(_ordered_event(RAW, 0))
            db = stores.consent._db
            p = db.dialect.placeholder
            with pytest.raises(StorageError) as caught, db.write("re-keying") as conn:
                conn.execute(
                    f"UPDATE consent_events SET subject = {p} WHERE subject = {p}",
                    ("cust-2", RAW),
                )
            error = caught.value
            assert error.__cause__ is None
            assert error.__context__ is None
            for needle in (RAW, ORDER, "cust-2"):
                assert needle not in str(error)


# --------------------------------------------------------------------------- the audience scan

_KINDS = ("given", "withdrawn", "objected", "objection_lifted")


def _histories(draw_kinds, subjects):
    """Events of ``subjects`` for the newsletter, each history a list of (kind, minutes)."""
    events = []
    for n, history in enumerate(draw_kinds):
        for kind, minutes in history:
            events.append(_ordered_event(subjects[n], minutes, kind=kind, order_ref=None))
    return events


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    histories=st.lists(
        st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 4)), max_size=6),
        min_size=1,
        max_size=8,
    ),
    page=st.integers(1, 5),
    minutes=st.integers(0, 5),
)
def test_the_sqlite_audience_scan_answers_as_the_reference_whatever_its_page(
    tmp_path_factory, monkeypatch, histories, page, minutes
):
    """Pages cut anywhere (inside a subject, a subject filling pages alone): same answer."""
    from datetime import UTC, datetime, timedelta

    from avgkit.storage.sqlite import _consent

    monkeypatch.setattr(_consent, "_SCAN_PAGE", page)
    events = _histories(histories, [f"s{n}" for n in range(len(histories))])
    path = tmp_path_factory.mktemp("scan") / "c.db"
    reference, store = MemoryConsentStore(), SqliteConsentStore(Database(str(path)))
    try:
        for each in (reference, store):
            if events:
                each.append_many(events)
        at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
        assert sorted(store.audience("newsletter", at)) == sorted(
            reference.audience("newsletter", at)
        )
    finally:
        store._db.close()


def test_a_subject_with_more_events_than_a_page_is_decided_on_all_of_them(tmp_path):
    """Its rows are read whole; the subjects around it are neither lost nor repeated."""
    from datetime import UTC, datetime, timedelta

    from avgkit.storage.sqlite._consent import _SCAN_PAGE

    store = SqliteConsentStore(Database(str(tmp_path / "c.db")))
    try:
        busy = [
            _ordered_event("b-busy", n, kind="given" if n % 2 else "withdrawn", order_ref=None)
            for n in range(_SCAN_PAGE + 2)  # ends with a "given": live
        ]
        store.append_many(
            [
                _ordered_event("a-first", 0, order_ref=None),
                *busy,
                _ordered_event("c-last", 0, order_ref=None),
            ]
        )
        at = datetime(2025, 1, 1, tzinfo=UTC)
        assert list(store.audience("newsletter", at)) == ["a-first", "b-busy", "c-last"]
        store.append(_ordered_event("b-busy", _SCAN_PAGE + 5, kind="withdrawn", order_ref=None))
        assert list(store.audience("newsletter", at)) == ["a-first", "c-last"]
        earlier = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=2)
        assert list(store.audience("newsletter", earlier)) == ["a-first", "c-last"]
    finally:
        store._db.close()


def test_the_sqlite_current_wording_audience_walks_the_purpose_index_without_sorting(tmp_path):
    """Its scan reads the index in order; the table only for a live given's evidence."""
    from avgkit.storage.sqlite._consent import CURRENT_AUDIENCE_SQL

    with open_stores(f"sqlite:///{tmp_path}/avg.db"):
        pass
    conn = sqlite3.connect(tmp_path / "avg.db")
    plan = conn.execute(
        "EXPLAIN QUERY PLAN " + CURRENT_AUDIENCE_SQL,
        {"purpose": "newsletter", "after": "", "at": 0, "page": 10},
    ).fetchall()
    (scan,) = [row[-1] for row in plan if "consent_events " in row[-1] + " "]
    assert "USING INDEX consent_events_by_purpose (purpose=? AND subject>?)" in scan
    assert not any("TEMP B-TREE FOR ORDER BY" in row[-1] for row in plan)


# --------------------------------------------------------------------------- bound imports


def _sqlite_store(tmp_path):
    return SqliteConsentStore(Database(str(tmp_path / "c.db")))


def _pg_store(pg_url):
    from avgkit.storage.postgres import PostgresConsentStore
    from avgkit.storage.postgres._db import Database as PgDatabase

    return PostgresConsentStore(PgDatabase(pg_url))


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request, tmp_path):
    """A fresh SQL consent store of each adapter (PostgreSQL: a new schema)."""
    if request.param == "sqlite":
        store = _sqlite_store(tmp_path)
    else:
        store = _pg_store(request.getfixturevalue("pg_url"))
    yield store
    store._db.close()


def test_appended_gives_an_imported_batch_back_without_decoding_its_rows(sql_store, monkeypatch):
    """Right after append_many, appended() is the batch with the seqs its rows got."""
    from avgkit.storage._sql import SqlConsentStore

    store = sql_store
    store.append(_ordered_event("before", 0))
    batch = [_ordered_event(f"s{n}", n, kind=_KINDS[n % 4]) for n in range(7)]
    with store._db.write("importing"):
        assert store.append_many(batch) == 7
        monkeypatch.setattr(type(store), "_event", _no_decoding)
        fast = store.appended(7)
        monkeypatch.undo()
        decoded = SqlConsentStore.appended(store, 7)
    assert fast == decoded == batch  # equality leaves out the seq: compare it too
    assert [e.seq for e in fast] == [e.seq for e in decoded]
    assert [e.seq for e in fast] == sorted({e.seq for e in fast})


def _no_decoding(_self, _row):
    raise AssertionError("a row was decoded")


def test_appended_reads_the_rows_back_for_another_count_or_after_the_commit(sql_store):
    """Only the batch just written, in its unit of work, is given back as written."""
    store = sql_store
    batch = [_ordered_event(f"s{n}", n) for n in range(3)]
    with store._db.write("importing"):
        store.append_many(batch)
        assert store.appended(2) == batch[1:]  # another count: read back
        assert store.appended(3) == batch  # the batch was given once: read back
    store.append_many(batch)
    assert store._written.batch is None  # dropped at the commit: memory does not grow
    assert [e.subject for e in store.appended(3)] == ["s0", "s1", "s2"]
    with store._db.write("importing"):
        store.append_many(batch)
        store.append(_ordered_event("single", 9))
        assert [e.subject for e in store.appended(3)] == ["s1", "s2", "single"]


# --------------------------------------------------------------------------- PostgreSQL plans


def _reltuples(store):
    with store._db.read("reading the statistics") as conn:
        (tuples,) = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'consent_events'::regclass"
        ).fetchone()
    return tuples


def _many(count, offset=0):
    return [
        _ordered_event(f"s{n:06d}", n % 50, order_ref=None) for n in range(offset, offset + count)
    ]


def test_a_large_postgres_import_leaves_the_table_analysed(pg_url):
    """A batch large beside the table is analysed with it; a small one is not."""
    from avgkit.storage.postgres._consent import ANALYZE_BATCH

    store = _pg_store(pg_url)
    try:
        store.append_many(_many(ANALYZE_BATCH - 1))
        assert _reltuples(store) < 0  # never analysed: too small to matter
        store.append_many(_many(ANALYZE_BATCH, offset=ANALYZE_BATCH))
        assert _reltuples(store) == 2 * ANALYZE_BATCH - 1
        store.append_many(_many(9 * ANALYZE_BATCH, offset=3 * ANALYZE_BATCH))
        assert _reltuples(store) == 11 * ANALYZE_BATCH - 1
        store.append_many(_many(ANALYZE_BATCH, offset=20 * ANALYZE_BATCH))  # under a tenth
        assert _reltuples(store) == 11 * ANALYZE_BATCH - 1
    finally:
        store._db.close()


def test_a_postgres_audience_is_planned_without_nested_loops_and_leaves_the_setting(pg_url):
    """Never analysed, the table is guessed tiny: a nested loop would rescan per subject.

    Run inside the host's transaction, whose statement_timeout such a plan would exceed
    many times over; the host's own setting is back once the audience is read.
    """
    from datetime import UTC, datetime

    import psycopg

    from avgkit.storage.postgres._consent import ANALYZE_BATCH

    store = _pg_store(pg_url)
    subjects = 12_000
    try:
        step = (ANALYZE_BATCH - 1) // 2  # small batches (two events a subject): no ANALYZE
        for start in range(0, subjects, step):
            count = min(step, subjects - start)
            store.append_many(
                [
                    _ordered_event(f"s{n:06d}", 0, order_ref=None)
                    for n in range(start, start + count)
                ]
                + [
                    _ordered_event(f"s{n:06d}", 1, kind="objection_lifted", order_ref=None)
                    for n in range(start, start + count)
                ]
            )
        assert _reltuples(store) < 0
        at = datetime(2025, 1, 1, tzinfo=UTC)
        with psycopg.connect(pg_url.split("?")[0]) as host:
            host.execute("SET statement_timeout = '5s'")
            with store._db.joined(host):
                for query in (store.audience, store.current_audience):
                    assert len(list(query("newsletter", at))) == subjects
            (setting,) = host.execute("SHOW enable_nestloop").fetchone()
            assert setting == "on"
    finally:
        store._db.close()


def test_a_postgres_audience_read_in_a_unit_of_work_lets_writes_through_between_rows(pg_url):
    """Inside a transaction the audience comes through a cursor: writes may interleave."""
    from datetime import UTC, datetime

    store = _pg_store(pg_url)
    try:
        store.append_many(_many(30))
        at = datetime(2025, 1, 1, tzinfo=UTC)
        with store._db.write("a unit of work"):
            seen = []
            for subject in store.audience("newsletter", at):
                seen.append(subject)
                store.append(_ordered_event(subject, 60, kind="withdrawn", order_ref=None))
        assert len(seen) == 30
        assert list(store.audience("newsletter", at)) == []
    finally:
        store._db.close()


def test_a_postgres_import_by_a_role_that_does_not_own_the_table_leaves_it_unanalysed(
    pg_server, pg_url
):
    """Only the owner may analyse: another role's large import just stores its rows."""
    import secrets

    import psycopg
    from psycopg import sql

    from avgkit.storage.postgres._consent import ANALYZE_BATCH
    from pgsupport import with_params

    _pg_store(pg_url)._db.close()  # the owner creates the tables
    schema = dict(p.split("=") for p in pg_url.split("?", 1)[1].split("&"))["schema"]
    role = f"avgkit_test_writer_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            for grant in (
                "GRANT USAGE ON SCHEMA {schema} TO {role}",
                # UPDATE: the import's table lock needs it (as the erasure's re-keying does).
                "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {role}",
                "GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            ):
                admin.execute(
                    sql.SQL(grant).format(schema=sql.Identifier(schema), role=sql.Identifier(role))
                )
            parts = pg_server.split("://", 1)[1].split("@", 1)
            as_role = with_params(f"postgresql://{role}@{parts[-1]}", schema=schema)
            store = _pg_store(as_role)
            notices = []
            try:
                with store._db.write("importing") as conn:
                    conn.add_notice_handler(notices.append)
                    assert store.append_many(_many(ANALYZE_BATCH)) == ANALYZE_BATCH
                    conn.remove_notice_handler(notices.append)
                assert store.count() == ANALYZE_BATCH
                assert _reltuples(store) < 0
                assert [n.severity for n in notices] == []  # no warning of a refused ANALYZE
            finally:
                store._db.close()
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
