"""avgkit's writes can join the host's own transaction: an order and its consent, or neither."""

import sqlite3
from datetime import UTC, datetime

import pytest

from avgkit import Evidence, Kit, ValidationError
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
EVIDENCE = Evidence.from_wording("Ja!", channel="webshop", notice_version="2024-05")
ORDERS = "CREATE TABLE IF NOT EXISTS shop_orders (code TEXT PRIMARY KEY, buyer TEXT NOT NULL)"


@pytest.fixture
def sqlite_shop(tmp_path):
    path = tmp_path / "shop.db"
    with Kit.open(
        f"sqlite:///{path}", inventory=ticketing.inventory(), clock=ManualClock(NOW)
    ) as kit:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(ORDERS)
        yield kit, conn
        conn.close()


def orders(conn):
    return [row[0] for row in conn.execute("SELECT code FROM shop_orders")]


def test_a_rolled_back_sqlite_order_takes_its_consent_with_it(sqlite_shop):
    kit, conn = sqlite_shop
    conn.execute("BEGIN")
    conn.execute("INSERT INTO shop_orders VALUES ('ord-1', 'cust-1')")
    with kit.stores.joined(conn):
        kit.consent.give("cust-1", "newsletter", EVIDENCE)
        assert kit.may_process("cust-1", "newsletter")  # the block reads its own writes
    conn.execute("ROLLBACK")
    assert orders(conn) == []
    assert kit.consent.history("cust-1") == ()
    assert len(kit.audit) == 0
    kit.audit.verify()


def test_a_committed_sqlite_order_keeps_its_consent(sqlite_shop):
    kit, conn = sqlite_shop
    conn.execute("BEGIN")
    conn.execute("INSERT INTO shop_orders VALUES ('ord-2', 'cust-2')")
    with kit.stores.joined(conn):
        kit.consent.give("cust-2", "newsletter", EVIDENCE)
    conn.execute("COMMIT")
    assert orders(conn) == ["ord-2"]
    assert kit.may_process("cust-2", "newsletter")
    assert kit.audit.verify().entries == 1


def test_an_avgkit_error_undoes_only_avgkits_part(sqlite_shop):
    kit, conn = sqlite_shop
    conn.execute("BEGIN")
    conn.execute("INSERT INTO shop_orders VALUES ('ord-3', 'cust-3')")
    with kit.stores.joined(conn), pytest.raises(ValidationError):
        kit.consent.give("cust-3", "newsletter", EVIDENCE, age=-1)
    conn.execute("COMMIT")
    assert orders(conn) == ["ord-3"]
    assert kit.consent.history("cust-3") == ()


def test_a_connection_to_another_file_is_refused(sqlite_shop, tmp_path):
    kit, _ = sqlite_shop
    other = sqlite3.connect(tmp_path / "other.db")
    try:
        with pytest.raises(ValidationError, match="same SQLite file"), kit.stores.joined(other):
            pass
    finally:
        other.close()


def test_the_memory_adapter_says_it_cannot_join():
    with (
        Kit.open("memory://", inventory=ticketing.inventory()) as kit,
        pytest.raises(ValidationError, match="cannot join"),
        kit.stores.joined(object()),
    ):
        pass


@pytest.fixture
def pg_shop(pg_url):
    import psycopg

    from avgkit.storage.postgres import parse_url

    with Kit.open(pg_url, inventory=ticketing.inventory(), clock=ManualClock(NOW)) as kit:
        settings = parse_url(pg_url)
        with psycopg.connect(settings.conninfo) as conn:
            schema = settings.schema
            conn.execute(f'CREATE TABLE "{schema}".shop_orders (code text PRIMARY KEY)')
            conn.commit()
            yield kit, conn, schema


def test_a_rolled_back_postgres_order_takes_its_consent_with_it(pg_shop):
    kit, conn, schema = pg_shop
    with conn.transaction(force_rollback=True):
        conn.execute(f"INSERT INTO \"{schema}\".shop_orders VALUES ('ord-1')")
        path_before = conn.execute("SHOW search_path").fetchone()
        with kit.stores.joined(conn):
            kit.consent.give("cust-1", "newsletter", EVIDENCE)
            assert kit.may_process("cust-1", "newsletter")
        assert conn.execute("SHOW search_path").fetchone() == path_before  # host's settings back
    assert conn.execute(f'SELECT count(*) FROM "{schema}".shop_orders').fetchone() == (0,)
    assert kit.consent.history("cust-1") == ()
    assert len(kit.audit) == 0


def test_a_committed_postgres_order_keeps_its_consent(pg_shop):
    kit, conn, schema = pg_shop
    with conn.transaction():
        conn.execute(f"INSERT INTO \"{schema}\".shop_orders VALUES ('ord-2')")
        with kit.stores.joined(conn):
            kit.consent.give("cust-2", "newsletter", EVIDENCE)
    assert kit.may_process("cust-2", "newsletter")
    assert kit.audit.verify().entries == 1
