"""Driver errors never carry stored values; audit rows that no longer decode read as tamper."""

import logging
import sqlite3
from datetime import UTC, datetime

import pytest

from avgkit.audit import AuditLog
from avgkit.errors import ConflictError, IntegrityError, StorageError
from avgkit.storage import open_stores
from avgkit.storage.sqlite._db import Database
from avgkit.testing import ManualClock

T0 = datetime(2024, 5, 1, 10, tzinfo=UTC)
EMAIL = "alice@example.org"
_LOG = logging.getLogger("avgkit.test")


def _assert_clean(err: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    assert err.__cause__ is None
    assert err.__context__ is None
    with caplog.at_level(logging.ERROR):
        try:
            raise err
        except type(err):
            _LOG.exception("storage failed")
    for text in (str(err), repr(err), caplog.text):
        assert "alice" not in text
        assert "example.org" not in text


def test_a_unique_violation_names_no_stored_value(tmp_path, caplog):
    db = Database(str(tmp_path / "u.db"))
    db.migrate("demo", ("CREATE TABLE t (v TEXT UNIQUE);",))
    with db.write("storing") as conn:
        conn.execute("INSERT INTO t (v) VALUES (?)", (EMAIL,))
    with pytest.raises(ConflictError) as info, db.write("storing again") as conn:
        conn.execute("INSERT INTO t (v) VALUES (?)", (EMAIL,))
    assert "storing again" in str(info.value)
    assert "IntegrityError" in str(info.value)
    _assert_clean(info.value, caplog)
    db.close()


def test_a_value_that_is_not_utf8_is_read_back_without_quoting_it(tmp_path, caplog):
    db = Database(str(tmp_path / "b.db"))
    db.migrate("demo", ("CREATE TABLE t (v TEXT);",))
    raw = EMAIL.encode().hex() + "ff"
    with db.write("storing") as conn:
        conn.execute(f"INSERT INTO t (v) VALUES (CAST(x'{raw}' AS TEXT))")
    with pytest.raises(StorageError) as info, db.read("reading t") as conn:
        conn.execute("SELECT v FROM t").fetchall()
    assert "reading t" in str(info.value)
    _assert_clean(info.value, caplog)
    db.close()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "CAST(x'ff' AS TEXT)"),
        ("action", "CAST(x'ff' AS BLOB)"),
        ("details", "'{not json'"),
        ("details", "42"),
    ],
)
def test_an_audit_row_that_no_longer_decodes_is_tamper(tmp_path, column, value):
    path = tmp_path / "a.db"
    with open_stores(f"sqlite:///{path}") as stores:
        log = AuditLog(stores.audit, ManualClock(T0))
        log.record("a.one", subject="cust-1")
        log.record("a.two", subject="cust-2")
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER audit_entries_no_update")
    raw.execute(f"UPDATE audit_entries SET {column} = {value} WHERE seq = 2")
    raw.commit()
    raw.close()
    with open_stores(f"sqlite:///{path}") as stores:
        log = AuditLog(stores.audit, ManualClock(T0))
        with pytest.raises(IntegrityError, match=r"\b2\b") as info:
            log.verify()
    assert not isinstance(info.value, StorageError)
    assert info.value.__cause__ is None


def test_open_url_closes_the_file_when_a_migration_fails(tmp_path, monkeypatch):
    path = tmp_path / "newer.db"
    with open_stores(f"sqlite:///{path}"):
        pass
    raw = sqlite3.connect(path)
    raw.execute("UPDATE avgkit_schema SET version = 99 WHERE component = 'audit'")
    raw.commit()
    raw.close()
    closed: list[Database] = []
    real_close = Database.close

    def close(self: Database) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(Database, "close", close)
    with pytest.raises(StorageError, match="upgrade avgkit"):
        open_stores(f"sqlite:///{path}")
    assert len(closed) == 1
