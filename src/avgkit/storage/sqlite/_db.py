"""The SQLite connection and its transactions (private).

Migrations, locks, error translation and the stores themselves are the SQL core's
(:mod:`avgkit.storage._sql`); this module only opens the file and runs transactions on it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import ClassVar, Final

from avgkit.errors import StorageError, ValidationError
from avgkit.storage._sql import SQLITE, Dialect, SqlDatabase
from avgkit.storage._sql._errors import raise_clean

__all__ = ["SYNCHRONOUS", "Database"]

SYNCHRONOUS: Final = frozenset({"full", "normal"})
"""The durability settings a SQLite store takes (``PRAGMA synchronous``, WAL mode).

``full``: every commit is synced to disk before it returns; it survives a power cut or an
OS crash. ``normal``: a crash of the process loses nothing, but a power cut or OS crash can
undo the last commits (those since the last checkpoint), consent withdrawals included.
"""

_SCHEMA_TABLE: Final = """
CREATE TABLE IF NOT EXISTS avgkit_schema (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
"""

# Failures that mean "someone stored this key first": re-read and retry. Other constraint
# failures (a CHECK, an append-only trigger) are plain storage errors.
_CONFLICTS: Final = frozenset(
    {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_ROWID"}
)


class Database(SqlDatabase):
    """One SQLite file shared by every store of a store set.

    One connection, serialised by a lock, in autocommit mode; writes run in
    ``BEGIN IMMEDIATE`` transactions so that concurrent processes queue on the file lock
    (``busy_timeout``) instead of failing half-way. ``secure_delete`` is on, so deleted
    rows (a shredded key) are overwritten in the file rather than left in a free page.
    """

    dialect: ClassVar[Dialect] = SQLITE
    driver_errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)

    def __init__(self, path: str, *, synchronous: str = "full") -> None:
        if synchronous not in SYNCHRONOUS:
            msg = f"synchronous must be one of {sorted(SYNCHRONOUS)}, got {synchronous!r}"
            raise ValidationError(msg)
        self.path = path
        self.synchronous = synchronous
        self._lock = threading.RLock()
        self._depth = 0  # transactions open on this connection: 0 none, 1 outer, >1 savepoints
        self._pending: list[Callable[[], None]] = []
        self._scrub_owed = False
        if path != ":memory:":
            try:
                _create_owner_only(Path(path))
            except OSError as exc:
                msg = (
                    f"sqlite: cannot create the folder for {Path(path).name} or the file "
                    f"({type(exc).__name__}: {exc.strerror}); check the path and its permissions"
                )
                raise_clean(StorageError(msg))
        with self.translated(f"opening {Path(path).name}"):
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        try:
            with self.translated(f"opening {Path(path).name}"):
                self._configure()
        except BaseException:
            self._conn.close()
            raise

    def _configure(self) -> None:
        self._conn.execute("PRAGMA busy_timeout = 30000")
        _enable_wal(self._conn)
        # FULL (the default) syncs the write-ahead log at every commit, so a commit that
        # returned survives a power cut; NORMAL syncs only at checkpoints (see SYNCHRONOUS).
        self._conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
        # 64 MiB of page cache (allocated only as used): bulk imports insert into
        # indexes in no particular order, and a 2 MiB default cache halves their rate.
        self._conn.execute("PRAGMA cache_size = -65536")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA secure_delete = ON")
        self._conn.execute(_SCHEMA_TABLE)

    def __repr__(self) -> str:
        return f"Database({Path(self.path).name!r})"

    def describe_error(self, exc: Exception) -> tuple[str, bool]:
        """The exception's class and SQLite error name (its message may quote stored text)."""
        name = getattr(exc, "sqlite_errorname", None)
        code = type(exc).__name__ if name is None else f"{type(exc).__name__} {name}"
        return code, name in _CONFLICTS

    def write(self, what: str) -> AbstractContextManager[sqlite3.Connection]:
        """Run the block in one immediate transaction: all of it is stored, or none.

        Inside another ``write()`` on the same thread (one store's write within a service's
        :meth:`~avgkit.storage.StoreSet.atomic` block) the block joins that transaction as a
        savepoint: it is undone alone if it raises, and committed only with the outer one.
        """
        return self._write(what, savepoint=True)

    def write_one(self, what: str) -> AbstractContextManager[sqlite3.Connection]:
        """:meth:`write` for a block that issues one writing statement: no savepoint.

        Inside another transaction the block joins it directly: a statement that fails
        undoes only itself in SQLite (the transaction goes on), so a savepoint around a
        single statement would cost two statements and change nothing.
        """
        return self._write(what, savepoint=False)

    @contextmanager
    def _write(self, what: str, *, savepoint: bool) -> Iterator[sqlite3.Connection]:
        with self._lock, self.translated(what):
            if self._depth:
                yield from self._savepoint() if savepoint else self._joined()
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._pending.clear()
                # SQLite may have rolled back by itself (disk full, I/O error); a second
                # ROLLBACK would then fail and hide the error that matters.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                self._pending.clear()
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            callbacks, self._pending = self._pending, []
        for callback in callbacks:
            callback()

    def _savepoint(self) -> Iterator[sqlite3.Connection]:
        name = f"avgkit_{self._depth}"
        self._conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        registered = len(self._pending)
        try:
            yield self._conn
        except BaseException:
            del self._pending[registered:]  # callbacks of undone work never run
            if self._conn.in_transaction:  # else SQLite already undid everything
                self._conn.execute(f"ROLLBACK TO {name}")
                self._conn.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self._conn.execute(f"RELEASE {name}")

    def _joined(self) -> Iterator[sqlite3.Connection]:
        registered = len(self._pending)
        try:
            yield self._conn
        except BaseException:
            del self._pending[registered:]  # callbacks of undone work never run
            raise

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current transaction commits (at once outside one).

        A rolled-back transaction drops its callbacks. Used for work that cannot run inside
        a transaction, such as checkpointing the WAL after a key was shredded.
        """
        with self._lock:
            if self._depth:
                if callback not in self._pending:  # one checkpoint covers every deletion
                    self._pending.append(callback)
                return
        callback()

    @contextmanager
    def read(self, what: str) -> Iterator[sqlite3.Connection]:
        """Run reads under the connection lock with errors translated."""
        with self._lock, self.translated(what):
            yield self._conn

    @property
    def scrub_owed(self) -> bool:
        """Whether a checkpoint after a deletion could not complete (see :meth:`scrub`)."""
        return self._scrub_owed

    def scrub(self) -> None:
        """Checkpoint the WAL once the write commits, so no copy of deleted rows lingers.

        The WAL still holds the deleted rows' pages; the checkpoint copies it into the main
        file, where ``secure_delete`` has overwritten them, and truncates it. It cannot run
        inside a transaction, so it waits for the outermost commit.

        Another connection reading from an older snapshot (a long report, a backup) keeps
        the checkpoint from passing it, and with it the old pages in the files. The
        checkpoint is retried for about a second; if it still cannot complete,
        :class:`~avgkit.errors.StorageError` says so once the write has committed (the rows
        are deleted, their bytes not yet overwritten), and :attr:`scrub_owed` stays set
        until a later scrub succeeds.
        """
        self.after_commit(self._checkpoint)

    def _checkpoint(self) -> None:
        with self._lock, self.translated("checkpointing after a deletion"):
            conn = self._conn
            # A short busy timeout per attempt: the default 30 s would stall the caller.
            conn.execute(f"PRAGMA busy_timeout = {_CHECKPOINT_WAIT_MS}")
            try:
                for _ in range(_CHECKPOINT_ATTEMPTS):
                    busy, frames, copied = conn.execute(
                        "PRAGMA wal_checkpoint(TRUNCATE)"
                    ).fetchone()
                    if not busy and frames == copied:
                        self._scrub_owed = False
                        return
            finally:
                conn.execute("PRAGMA busy_timeout = 30000")
            self._scrub_owed = True
        msg = (
            f"sqlite: the deleted key material in {Path(self.path).name} is gone from the "
            "database, but its bytes are not yet overwritten in the file: another connection "
            "is reading from an older snapshot, so the write-ahead log could not be "
            "checkpointed. End long-running reads (reports, backups) and call shred() "
            "again (it is idempotent) to finish the scrub"
        )
        raise StorageError(msg)

    @contextmanager
    def joined(self, conn: object) -> Iterator[None]:
        """Run every write and read of the block through the host's connection ``conn``.

        The block holds this database's lock, so other threads' avgkit work waits for it.
        Writes become savepoints of the host's transaction; callbacks waiting for a commit
        (such as the WAL checkpoint after a shredding) run at avgkit's next own commit.
        """
        if not isinstance(conn, sqlite3.Connection):
            msg = f"the SQLite adapter joins a sqlite3.Connection, got {type(conn).__name__}"
            raise ValidationError(msg)
        with self._lock:
            if self._depth:
                msg = "cannot join a host's connection inside an open avgkit transaction"
                raise ValidationError(msg)
            with self.translated("joining the host's connection"):
                rows = conn.execute("PRAGMA database_list").fetchall()
            main = next((str(row[2]) for row in rows if row[1] == "main"), "")
            if not main or not _same_file(main, self.path):
                msg = (
                    "the host's connection is to another database than avgkit's stores; "
                    f"open both on the same SQLite file ({Path(self.path).name})"
                )
                raise ValidationError(msg)
            own, self._conn, self._depth = self._conn, conn, 1
            try:
                yield
            finally:
                self._conn, self._depth = own, 0

    def close(self) -> None:
        """Close the connection."""
        with self._lock, self.translated("closing"):
            self._conn.close()


def _create_owner_only(path: Path) -> None:
    """Create the missing folders (0700) and the file (0600) before SQLite opens it.

    The file holds keys or personal data, so nobody but its owner may read it. SQLite gives
    the ``-wal`` and ``-shm`` files it makes next to it the database file's permissions,
    so creating the file owner-only covers them too. Existing folders and files are left
    as they are: they are the owner's to set.
    """
    missing: list[Path] = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            created.mkdir(mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _same_file(first: str, second: str) -> bool:
    try:
        return Path(first).resolve().samefile(Path(second).resolve())
    except OSError:
        return False


_CHECKPOINT_ATTEMPTS = 5
_CHECKPOINT_WAIT_MS = 200  # per attempt: about a second in all before the caller is told

_LOCKED: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_WAL_ATTEMPTS = 600
_WAL_PAUSE = 0.05  # seconds; 600 x 50 ms matches the 30 s busy timeout


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL, waiting while another process does the same.

    Changing the journal mode needs an exclusive lock, and SQLite does not apply the busy
    timeout to it: two processes creating the same new file at once would otherwise see
    "database is locked" straight away.
    """
    for attempt in range(_WAL_ATTEMPTS):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in _LOCKED or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(_WAL_PAUSE)
        else:
            return
