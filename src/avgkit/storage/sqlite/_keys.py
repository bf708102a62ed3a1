"""The SQLite key store (private; use :func:`avgkit.storage.open_stores`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avgkit.errors import ConflictError, NotFound
from avgkit.pseudonym._keys import KeyKind, StoredKey
from avgkit.storage.sqlite._db import text_to_time, time_to_text

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.storage.sqlite._db import Database

COMPONENT = "keys"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE keys_material (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        material BLOB NOT NULL,
        created_at TEXT NOT NULL,
        subject_ref TEXT UNIQUE,
        wrapped_by TEXT
    );
    CREATE INDEX keys_material_by_kind ON keys_material (kind, created_at, seq);
    CREATE TABLE keys_shredded (
        subject_ref TEXT PRIMARY KEY,
        shredded_at TEXT NOT NULL
    );
    """,
)

_COLUMNS = "key_id, kind, material, created_at, subject_ref, wrapped_by"


def _key(row: tuple[str, str, bytes, str, str | None, str | None]) -> StoredKey:
    key_id, kind, material, created_at, subject_ref, wrapped_by = row
    return StoredKey(
        key_id=key_id,
        kind=KeyKind(kind),
        material=bytes(material),
        created_at=text_to_time(created_at),
        subject_ref=subject_ref,
        wrapped_by=wrapped_by,
    )


class SqliteKeyStore:
    """A :class:`~avgkit.storage.KeyStore` in the ``keys_material`` table.

    The connection runs with ``secure_delete`` on, so a shredded key's bytes are overwritten
    in the file rather than left in a free page, and shredding checkpoints the write-ahead
    log so no copy of the page lingers there either.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)
        with db.read("enabling secure_delete") as conn:
            conn.execute("PRAGMA secure_delete = ON")

    def __repr__(self) -> str:
        return f"SqliteKeyStore({self._db!r})"

    def add(self, key: StoredKey) -> None:
        """Insert ``key``; ConflictError if its id or subject is taken or shredded."""
        with self._db.write("storing a key") as conn:
            if key.subject_ref is not None:
                shredded = conn.execute(
                    "SELECT 1 FROM keys_shredded WHERE subject_ref = ?", (key.subject_ref,)
                ).fetchone()
                if shredded is not None:
                    msg = f"the data key of subject {key.subject_ref} was shredded"
                    raise ConflictError(msg)
            conn.execute(
                f"INSERT INTO keys_material ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    key.key_id,
                    str(key.kind),
                    key.material,
                    time_to_text(key.created_at),
                    key.subject_ref,
                    key.wrapped_by,
                ),
            )

    def get(self, key_id: str) -> StoredKey:
        """Return the key with id ``key_id`` or raise NotFound."""
        with self._db.read("reading a key") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM keys_material WHERE key_id = ?",  # noqa: S608
                (key_id,),
            ).fetchone()
        if row is None:
            msg = f"no key with id {key_id!r} is stored (never made, or shredded)"
            raise NotFound(msg)
        return _key(row)

    def ring(self, kind: KeyKind) -> tuple[StoredKey, ...]:
        """Return the keys of ``kind`` in the order they were added (by ``seq``)."""
        with self._db.read("reading a key ring") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM keys_material "  # noqa: S608
                "WHERE kind = ? AND subject_ref IS NULL ORDER BY seq",
                (str(kind),),
            ).fetchall()
        return tuple(_key(row) for row in rows)

    def for_subject(self, subject_ref: str) -> StoredKey | None:
        """Return the subject's data key, if any."""
        with self._db.read("reading a subject key") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM keys_material WHERE subject_ref = ?",  # noqa: S608
                (subject_ref,),
            ).fetchone()
        return None if row is None else _key(row)

    def shred(self, subject_ref: str, at: datetime) -> bool:
        """Delete the subject's data key (if any) and record the tombstone, in one transaction.

        The tombstone is written even when there is no key, so the subject never gets one
        afterwards; the first shredding's time is kept.
        """
        with self._db.write("shredding a subject key") as conn:
            deleted = conn.execute(
                "DELETE FROM keys_material WHERE subject_ref = ?", (subject_ref,)
            ).rowcount
            conn.execute(
                "INSERT OR IGNORE INTO keys_shredded (subject_ref, shredded_at) VALUES (?, ?)",
                (subject_ref, time_to_text(at)),
            )
        if deleted:
            self._db.after_commit(self._checkpoint)
        return bool(deleted)

    def _checkpoint(self) -> None:
        # Copy the WAL (which still holds the shredded key's bytes) into the main file,
        # where secure_delete has overwritten them, and truncate it. It cannot run inside a
        # transaction, so a shred within a larger one checkpoints after that commits.
        with self._db.read("checkpointing after shredding") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def shredded_at(self, subject_ref: str) -> datetime | None:
        """Return when the subject's key was shredded."""
        with self._db.read("reading a shredding tombstone") as conn:
            row = conn.execute(
                "SELECT shredded_at FROM keys_shredded WHERE subject_ref = ?", (subject_ref,)
            ).fetchone()
        return None if row is None else text_to_time(row[0])
