"""The key store, written once for every SQL dialect (private)."""

from __future__ import annotations

from datetime import datetime

from avgkit.errors import ConflictError, NotFound
from avgkit.pseudonym._keys import KeyKind, StoredKey
from avgkit.storage._sql._codecs import KEY_COLUMNS, select_list, stored_key, stored_key_values
from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._dialect import Dialect

__all__ = ["COMPONENT", "SqlKeyStore", "migrations"]

COMPONENT = "keys"


def migrations(d: Dialect) -> tuple[str, ...]:
    """The key component's scripts in dialect ``d`` (never edited once released)."""
    return (
        f"""
        CREATE TABLE keys_material (
            seq {d.identity},
            key_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            material {d.blob} NOT NULL,
            created_at {d.instant} NOT NULL,
            subject_ref TEXT UNIQUE,
            wrapped_by TEXT
        );
        CREATE INDEX keys_material_by_kind ON keys_material (kind, created_at, seq);
        CREATE TABLE keys_shredded (
            subject_ref TEXT PRIMARY KEY,
            shredded_at {d.instant} NOT NULL
        );
        """,
    )


class SqlKeyStore:
    """A :class:`~avgkit.storage.KeyStore` in the ``keys_material`` table.

    Shredding deletes the row and asks the database to scrub it (SQLite overwrites the
    freed page and checkpoints its write-ahead log, and raises
    :class:`~avgkit.errors.StorageError` after the commit when a reader's snapshot keeps
    the checkpoint from completing: calling :meth:`shred` again finishes it; PostgreSQL
    reclaims the dead tuple at the next vacuum). Keep the key store's backups (and WAL
    archives) short-lived: a key is only gone for good once no backup of the *key* store
    holds it.

    .. versionadded:: 0.1.0
    """

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        d = self._dialect = db.dialect
        db.migrate(COMPONENT, migrations(d))
        p = d.placeholder
        self._select = f"SELECT {select_list(d, KEY_COLUMNS)} FROM keys_material"  # noqa: S608
        # One statement: the key goes in only when its subject (if any) was never shredded.
        # Two first writers for one subject end in the unique index, i.e. ConflictError.
        # Under READ COMMITTED that alone is not enough: a shred() whose DELETE runs before
        # the key's INSERT commits sees no key, and its tombstone cannot stop an INSERT that
        # already looked. Both therefore take the subject's lock first (PostgreSQL; SQLite's
        # writes hold the whole file), so the later one sees what the earlier committed.
        typed = ("TEXT", "TEXT", d.blob, d.instant, "TEXT", "TEXT")
        self._add = (
            f"INSERT INTO keys_material ({', '.join(KEY_COLUMNS)}) "  # noqa: S608 - fixed names
            f"SELECT {', '.join(d.typed(t) for t in typed)} "
            f"WHERE NOT EXISTS (SELECT 1 FROM keys_shredded WHERE subject_ref = {p})"
        )
        self._tombstone = d.insert_ignore(
            "keys_shredded", ("subject_ref", "shredded_at"), "subject_ref"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def add(self, key: StoredKey) -> None:
        """Insert ``key``; ConflictError if its id or subject is taken or shredded."""
        with self._db.write("storing a key") as conn:
            if key.subject_ref is not None:
                self._db.lock(conn, _subject_lock(key.subject_ref))
            values = (*stored_key_values(key, self._dialect), key.subject_ref)
            if conn.execute(self._add, values).rowcount != 1:
                msg = f"the data key of subject {key.subject_ref} was shredded"
                raise ConflictError(msg)

    def get(self, key_id: str) -> StoredKey:
        """Return the key with id ``key_id`` or raise NotFound."""
        with self._db.read("reading a key") as conn:
            row = conn.execute(
                f"{self._select} WHERE key_id = {self._dialect.placeholder}", (key_id,)
            ).fetchone()
        if row is None:
            msg = f"no key with id {key_id!r} is stored (never made, or shredded)"
            raise NotFound(msg)
        return stored_key(row, self._dialect)

    def ring(self, kind: KeyKind) -> tuple[StoredKey, ...]:
        """Return the keys of ``kind`` in the order they were added (by ``seq``)."""
        with self._db.read("reading a key ring") as conn:
            rows = conn.execute(
                f"{self._select} WHERE kind = {self._dialect.placeholder} "
                "AND subject_ref IS NULL ORDER BY seq",
                (str(kind),),
            ).fetchall()
        return tuple(stored_key(row, self._dialect) for row in rows)

    def for_subject(self, subject_ref: str) -> StoredKey | None:
        """Return the subject's data key, if any."""
        with self._db.read("reading a subject key") as conn:
            row = conn.execute(
                f"{self._select} WHERE subject_ref = {self._dialect.placeholder}", (subject_ref,)
            ).fetchone()
        return None if row is None else stored_key(row, self._dialect)

    def shred(self, subject_ref: str, at: datetime) -> bool:
        """Delete the subject's data key (if any) and record the tombstone, in one transaction.

        The tombstone is written even when there is no key, so the subject never gets one
        afterwards; the first shredding's time is kept.
        """
        d = self._dialect
        with self._db.write("shredding a subject key") as conn:
            self._db.lock(conn, _subject_lock(subject_ref))
            deleted = conn.execute(
                f"DELETE FROM keys_material WHERE subject_ref = {d.placeholder}",  # noqa: S608
                (subject_ref,),
            ).rowcount
            conn.execute(self._tombstone, (subject_ref, d.instant_in(at)))
            if deleted or self._db.scrub_owed:  # a retry finishes an earlier scrub
                self._db.scrub()
        return bool(deleted)

    def wrappings(self) -> frozenset[str | None]:
        """The ids of the KEKs wrapping stored keys, ``None`` for keys in the clear.

        Subject keys included, which :meth:`ring` never lists (see
        :class:`avgkit.pseudonym._vault.WrappingReport`).
        """
        with self._db.read("reading how the keys are wrapped") as conn:
            rows = conn.execute("SELECT DISTINCT wrapped_by FROM keys_material").fetchall()
        return frozenset(row[0] for row in rows)

    def shredded_at(self, subject_ref: str) -> datetime | None:
        """Return when the subject's key was shredded."""
        d = self._dialect
        with self._db.read("reading a shredding tombstone") as conn:
            row = conn.execute(
                f"SELECT {d.column('shredded_at')} FROM keys_shredded "  # noqa: S608
                f"WHERE subject_ref = {d.placeholder}",
                (subject_ref,),
            ).fetchone()
        return None if row is None else d.instant_out(row[0])


def _subject_lock(subject_ref: str) -> str:
    """The lock name serialising key creation and shredding of one subject."""
    return f"subject-key\x1f{subject_ref}"
