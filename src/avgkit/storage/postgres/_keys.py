"""The PostgreSQL key store (private; use :func:`avgkit.storage.open_stores`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from avgkit.errors import ConflictError, NotFound
from avgkit.pseudonym._keys import KeyKind, StoredKey

if TYPE_CHECKING:
    from avgkit.storage.postgres._db import Database

COMPONENT = "keys"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE keys_material (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key_id text NOT NULL UNIQUE,
        kind text NOT NULL,
        material bytea NOT NULL,
        created_at timestamptz NOT NULL,
        subject_ref text UNIQUE,
        wrapped_by text
    );
    CREATE INDEX keys_material_by_kind ON keys_material (kind, created_at, seq);
    CREATE TABLE keys_shredded (
        subject_ref text PRIMARY KEY,
        shredded_at timestamptz NOT NULL
    );
    """,
)

_COLUMNS = "key_id, kind, material, created_at, subject_ref, wrapped_by"

# One statement: the key goes in only when its subject (if any) was never shredded. A race
# between two first writers for one subject ends in the unique index, i.e. ConflictError.
_ADD = f"""
    INSERT INTO keys_material ({_COLUMNS})
    SELECT %s::text, %s::text, %s::bytea, %s::timestamptz, %s::text, %s::text
    WHERE NOT EXISTS (
        SELECT 1 FROM keys_shredded WHERE subject_ref = %s::text
    )
"""  # noqa: S608 - only the fixed column list is interpolated

# One statement: destroy the key if there is one, and record the shredding either way (the
# first time wins), so a subject erased before anything was sealed never gets a key later.
_SHRED = """
    WITH gone AS (
        DELETE FROM keys_material WHERE subject_ref = %s RETURNING 1
    ), tombstone AS (
        INSERT INTO keys_shredded (subject_ref, shredded_at)
        VALUES (%s, %s::timestamptz)
        ON CONFLICT (subject_ref) DO NOTHING
    )
    SELECT count(*) FROM gone
"""


def _key(row: tuple[Any, ...]) -> StoredKey:
    key_id, kind, material, created_at, subject_ref, wrapped_by = row
    when: datetime = created_at
    return StoredKey(
        key_id=key_id,
        kind=KeyKind(kind),
        material=bytes(material),
        created_at=when.astimezone(UTC),
        subject_ref=subject_ref,
        wrapped_by=wrapped_by,
    )


class PostgresKeyStore:
    """A :class:`~avgkit.storage.KeyStore` in the ``keys_material`` table of a schema.

    Shredding deletes the row; PostgreSQL reclaims the dead tuple at the next vacuum. Keep
    the key schema's backups (and WAL archives) short-lived: a key is only gone for good
    once no backup of the *key* store holds it.

    .. versionadded:: 0.1.0
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)

    def __repr__(self) -> str:
        return f"PostgresKeyStore({self._db!r})"

    def add(self, key: StoredKey) -> None:
        """Insert ``key``; ConflictError if its id or subject is taken or shredded."""
        with self._db.write("storing a key") as conn:
            cursor = conn.execute(
                _ADD,
                (
                    key.key_id,
                    str(key.kind),
                    key.material,
                    key.created_at,
                    key.subject_ref,
                    key.wrapped_by,
                    key.subject_ref,
                ),
            )
            if cursor.rowcount != 1:
                msg = f"the data key of subject {key.subject_ref} was shredded"
                raise ConflictError(msg)

    def get(self, key_id: str) -> StoredKey:
        """Return the key with id ``key_id`` or raise NotFound."""
        with self._db.read("reading a key") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM keys_material WHERE key_id = %s",  # noqa: S608
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
                "WHERE kind = %s AND subject_ref IS NULL ORDER BY seq",
                (str(kind),),
            ).fetchall()
        return tuple(_key(row) for row in rows)

    def for_subject(self, subject_ref: str) -> StoredKey | None:
        """Return the subject's data key, if any."""
        with self._db.read("reading a subject key") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM keys_material WHERE subject_ref = %s",  # noqa: S608
                (subject_ref,),
            ).fetchone()
        return None if row is None else _key(row)

    def shred(self, subject_ref: str, at: datetime) -> bool:
        """Delete the subject's data key (if any) and record the tombstone, in one statement."""
        with self._db.write("shredding a subject key") as conn:
            row = conn.execute(_SHRED, (subject_ref, subject_ref, at)).fetchone()
        return row is not None and row[0] == 1

    def shredded_at(self, subject_ref: str) -> datetime | None:
        """Return when the subject's key was shredded."""
        with self._db.read("reading a shredding tombstone") as conn:
            row = conn.execute(
                "SELECT shredded_at FROM keys_shredded WHERE subject_ref = %s", (subject_ref,)
            ).fetchone()
        if row is None:
            return None
        when: datetime = row[0]
        return when.astimezone(UTC)
