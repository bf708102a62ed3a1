"""The KeyStore contract against every adapter shipped with avgkit."""

import sqlite3

from avgkit.storage import open_stores
from avgkit.storage.memory import MemoryKeyStore
from avgkit.storage.sqlite import SqliteKeyStore
from avgkit.storage.sqlite._db import Database
from avgkit.testing.conformance import Capabilities, KeyStoreContract
from pgsupport import PostgresContract


class TestMemoryKeyStore(KeyStoreContract):
    capabilities = Capabilities(persistent=False)

    def make_store(self):
        return MemoryKeyStore()

    def raw_material(self, store):
        return [key.material for key in store._keys.values()]


class TestSqliteKeyStore(KeyStoreContract):
    def make_store(self):
        return SqliteKeyStore(Database(str(self.tmp_path / f"keys-{id(self)}.db")))

    def close_store(self, store):
        store._db.close()

    def reopen_store(self, store):
        store._db.close()
        return SqliteKeyStore(Database(store._db.path))

    def raw_material(self, store):
        with store._db.read("test") as conn:
            return [bytes(row[0]) for row in conn.execute("SELECT material FROM keys_material")]


class TestPostgresKeyStore(PostgresContract, KeyStoreContract):
    store_class = "SqlKeyStore"

    def raw_material(self, store):
        with store._db.read("test") as conn:
            return [bytes(row[0]) for row in conn.execute("SELECT material FROM keys_material")]


def test_every_builtin_store_set_has_a_key_store(tmp_path):
    with open_stores("memory://") as stores:
        assert isinstance(stores.keys, MemoryKeyStore)
    with open_stores(f"sqlite:///{tmp_path}/avg.db") as stores:
        assert isinstance(stores.keys, SqliteKeyStore)


def test_the_sqlite_key_store_overwrites_shredded_material_in_the_file(tmp_path):
    from datetime import UTC, datetime

    from avgkit.pseudonym._keys import KeyKind, StoredKey

    path = tmp_path / "keys.db"
    store = SqliteKeyStore(Database(str(path)))
    secret = b"\x5a\xa5\x3c\xc3" * 8
    store.add(
        StoredKey(
            key_id="s1",
            kind=KeyKind.SUBJECT,
            material=secret,
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
            subject_ref="sr1:x",
        )
    )
    store.shred("sr1:x", datetime(2024, 1, 2, tzinfo=UTC))
    store._db.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert secret not in raw
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM keys_shredded").fetchone() == (1,)
    conn.close()


def test_a_reader_holding_a_snapshot_keeps_shredded_bytes_and_shred_says_so(tmp_path):
    """The checkpoint's result counts: no claim of a scrub that a reader prevented."""
    from datetime import UTC, datetime

    import pytest

    from avgkit import Kit
    from avgkit.errors import ShreddedKeyError, StorageError
    from avgkit.presets import ticketing
    from avgkit.testing import ManualClock

    path = tmp_path / "avg.db"
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=UTC))
    with Kit.open(f"sqlite:///{path}", inventory=ticketing.inventory(), clock=clock) as kit:
        blob = kit.pseudonyms.seal("cust-1", b"iban", purpose="ticket_sale")
        ref = kit.audit.subject_ref("cust-1")
        material = kit.stores.keys.for_subject(ref).material
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM keys_material").fetchone()  # holds a snapshot
        with pytest.raises(StorageError, match=r"not yet overwritten.*call shred\(\) again"):
            kit.pseudonyms.shred("cust-1")
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert material in raw  # what the error says: the bytes are still in the files
        with pytest.raises(ShreddedKeyError):  # while the key itself is gone
            kit.pseudonyms.open("cust-1", blob, purpose="ticket_sale")
        reader.execute("COMMIT")
        reader.close()
        assert kit.pseudonyms.shred("cust-1") is False  # nothing left to destroy...
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert material not in raw  # ...but the retry finished the scrub
        assert kit.stores.keys._db.scrub_owed is False
