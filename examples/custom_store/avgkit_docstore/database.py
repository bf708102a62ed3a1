"""The docstore's SQLite file: one connection, one lock, the schema, and transactions.

Every store of a set shares one :class:`DocStoreDatabase`. It holds one connection in
autocommit mode (``isolation_level=None``) and opens transactions itself:
:meth:`DocStoreDatabase.atomic` begins one (``BEGIN IMMEDIATE``, which takes SQLite's write
lock at once, so two processes writing the same file queue instead of failing half-way) or,
inside an open one, a savepoint. A re-entrant lock serialises the threads sharing the
connection; a thread inside a block holds it until the block ends, so other threads never
see a block half done.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final, NoReturn

from avgkit.errors import StorageError

__all__ = ["OPEN_STATUS_SQL", "SCHEMA_VERSION", "DocStoreDatabase", "Params", "Row"]

Params = Sequence[object]
"""The parameters of one statement, bound in order (never formatted into the SQL)."""
Row = tuple[object, ...]
"""One row as sqlite3 returns it."""

OPEN_STATUS_SQL: Final = "status IN ('received', 'verified', 'in_progress', 'extended')"
"""The open requests, as the partial index and the queries that use it both spell it."""

# Each migration is a list of statements, run in one transaction; its number is its place.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE requests (
            number INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            status TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            verified_at INTEGER,
            extended INTEGER NOT NULL,
            duplicate_of TEXT,
            details TEXT,
            reason TEXT
        )""",
        "CREATE INDEX requests_by_subject ON requests (subject, received_at, number)",
        f"CREATE INDEX requests_due ON requests (due_at, number) WHERE {OPEN_STATUS_SQL}",
        """CREATE TABLE transitions (
            request_id TEXT NOT NULL REFERENCES requests (id),
            seq INTEGER NOT NULL,
            status TEXT NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT,
            note TEXT,
            PRIMARY KEY (request_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE restrictions (
            number INTEGER PRIMARY KEY AUTOINCREMENT,
            subject TEXT NOT NULL,
            request_id TEXT NOT NULL REFERENCES requests (id),
            started_at INTEGER NOT NULL,
            lifted_at INTEGER
        )""",
        # At most one restriction of a subject in force, enforced by the file itself.
        """CREATE UNIQUE INDEX restrictions_in_force ON restrictions (subject)
            WHERE lifted_at IS NULL""",
        """CREATE TABLE notices (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject_ref TEXT NOT NULL,
            subject TEXT,
            purpose TEXT,
            at INTEGER NOT NULL,
            fields TEXT NOT NULL
        )""",
        "CREATE INDEX notices_by_recipient ON notices (recipient, seq)",
        "CREATE INDEX notices_by_subject ON notices (subject) WHERE subject IS NOT NULL",
        "CREATE TABLE cursors (recipient TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID",
    ),
    # 2: retention (holds, warnings, staged plans) and erasures (the log, the suppression
    # list, the erasure notices). A released migration is never edited: a change is a new one.
    (
        """CREATE TABLE holds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subject TEXT NOT NULL,
            reason TEXT NOT NULL,
            until INTEGER,
            placed_at INTEGER NOT NULL,
            released_at INTEGER
        )""",
        "CREATE INDEX holds_by_subject ON holds (subject)",
        # A warning is tied to the trigger instant it was sent for: new activity moves the
        # instant, so an old warning no longer counts.
        """CREATE TABLE warnings (
            subject TEXT NOT NULL,
            rule TEXT NOT NULL,
            anchor INTEGER NOT NULL,
            warned_at INTEGER NOT NULL,
            PRIMARY KEY (rule, subject, anchor)
        ) WITHOUT ROWID""",
        "CREATE INDEX warnings_by_subject ON warnings (subject)",
        """CREATE TABLE plans (
            plan_id TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            planned_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
        # item (rule, warning or action, target: it names the subject) keeps one action per
        # target while a plan is staged, and is cleared when the staging commits.
        """CREATE TABLE actions (
            plan_id TEXT NOT NULL REFERENCES plans (plan_id),
            number INTEGER NOT NULL,
            item TEXT,
            subject TEXT,
            rule TEXT NOT NULL,
            action TEXT NOT NULL,
            due INTEGER NOT NULL,
            reason TEXT NOT NULL,
            hold TEXT,
            deferred_until INTEGER,
            warning INTEGER NOT NULL,
            source TEXT,
            record_key TEXT,
            anchor INTEGER,
            claimed_by TEXT,
            claimed_at INTEGER,
            finished_at INTEGER,
            outcome TEXT,
            PRIMARY KEY (plan_id, number),
            UNIQUE (plan_id, item)
        ) WITHOUT ROWID""",
        "CREATE INDEX actions_open ON actions (plan_id, number) WHERE finished_at IS NULL",
        "CREATE INDEX actions_by_subject ON actions (subject) WHERE subject IS NOT NULL",
        """CREATE TABLE erasures (
            subject_ref TEXT PRIMARY KEY,
            started_at INTEGER NOT NULL,
            cause TEXT NOT NULL,
            completed_at INTEGER
        ) WITHOUT ROWID""",
        "CREATE INDEX erasures_by_start ON erasures (started_at, subject_ref)",
        """CREATE TABLE suppressions (
            pseudonym TEXT PRIMARY KEY,
            subject_ref TEXT NOT NULL REFERENCES erasures (subject_ref)
        ) WITHOUT ROWID""",
        """CREATE TABLE erasure_notices (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient TEXT NOT NULL,
            subject_ref TEXT NOT NULL REFERENCES erasures (subject_ref),
            at INTEGER NOT NULL
        )""",
    ),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this code writes; a file of a newer version is refused."""


def _failed(operation: str, exc: sqlite3.Error) -> NoReturn:
    # Only the driver's error class and code: its text could quote a statement's values.
    code = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    msg = f"docstore: {operation} failed ({code})"
    if code == "SQLITE_BUSY":
        msg += "; another process held the file's write lock for too long, try again"
    raise StorageError(msg) from None


class DocStoreDatabase:
    """One docstore file, shared by the stores of a set.

    Args:
        path: the SQLite file (created, with its schema, if it does not exist).
        timeout: how many seconds a writer waits for another process's write lock.

    Raises:
        StorageError: the file cannot be opened, or was written by a newer version of the
            docstore; nothing is left open.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            _failed("opening the file", exc)
        self._conn = conn
        try:
            # Overwrite deleted and changed content with zeros, so that an erased subject's
            # id does not linger in the file's free pages.
            self.execute("PRAGMA secure_delete = ON")
            self.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"DocStoreDatabase({state}, schema={SCHEMA_VERSION})"

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        with self.atomic():
            self.execute("CREATE TABLE IF NOT EXISTS docstore_schema (version INTEGER NOT NULL)")
            row = self.one("SELECT max(version) FROM docstore_schema")
            found = row[0] if row is not None and isinstance(row[0], int) else 0
            if found > SCHEMA_VERSION:
                msg = (
                    f"docstore: the file has schema version {found}, newer than this "
                    f"version of avgkit-docstore knows ({SCHEMA_VERSION}); upgrade it"
                )
                raise StorageError(msg)
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version - 1]:
                    self.execute(statement)
                self.execute("INSERT INTO docstore_schema (version) VALUES (?)", (version,))

    # ------------------------------------------------------------------ transactions

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            msg = "docstore: this store set is closed; open it again with open_stores(url)"
            raise StorageError(msg)
        return self._conn

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A block whose writes commit together, or (on any exception) not at all.

        Nested blocks are savepoints: an inner block that raises undoes only its own writes.
        """
        with self._lock:
            conn = self._connection()
            depth = self._depth
            savepoint = f"docstore_{depth}"
            self._run(conn, "BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {savepoint}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                self._undo(conn, depth, savepoint)
                raise
            self._depth -= 1
            try:
                conn.execute("COMMIT" if depth == 0 else f"RELEASE {savepoint}")
            except sqlite3.Error as exc:
                self._undo(conn, depth, savepoint)
                _failed("committing", exc)

    @staticmethod
    def _run(conn: sqlite3.Connection, statement: str) -> None:
        try:
            conn.execute(statement)
        except sqlite3.Error as exc:
            _failed("beginning a transaction", exc)

    @staticmethod
    def _undo(conn: sqlite3.Connection, depth: int, savepoint: str) -> None:
        try:
            if depth == 0:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
        except sqlite3.Error as exc:  # the original exception is the one to report
            _failed("rolling back", exc)

    # ------------------------------------------------------------------ statements

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        with self._lock:
            try:
                return self._connection().execute(sql, params).rowcount
            except sqlite3.Error as exc:
                _failed("a statement", exc)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement for each parameter row (call it inside :meth:`atomic`)."""
        with self._lock:
            try:
                self._connection().executemany(sql, rows)
            except sqlite3.Error as exc:
                _failed("a batch statement", exc)

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query; return its rows."""
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                _failed("a query", exc)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """Run one query; return its first row, or ``None``."""
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def dump(self) -> list[str]:
        """Every value stored in every docstore table, as text (for erasure checks).

        Read around the stores, straight from the tables: with it a test proves that an
        erased subject's id is gone from the file, not only from the stores' answers.
        """
        with self._lock:
            tables = self.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            values: list[str] = []
            for (table,) in tables:
                quoted = '"' + str(table).replace('"', '""') + '"'
                # The table names come from the file's own catalogue, quoted as identifiers.
                rows = self.query(f"SELECT * FROM {quoted}")  # noqa: S608
                values.extend(str(v) for row in rows for v in row if v is not None)
            return values

    def close(self) -> None:
        """Close the connection; closing again does nothing."""
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()
