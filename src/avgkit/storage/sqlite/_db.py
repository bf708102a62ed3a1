"""The SQLite connection, transactions, error translation and migrations (private)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from avgkit._validators import utc_text
from avgkit.errors import ConflictError, StorageError, ValidationError

_SCHEMA_TABLE = """
CREATE TABLE IF NOT EXISTS avgkit_schema (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
"""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def time_to_text(value: datetime) -> str:
    """Encode an aware instant as fixed-width UTC text that sorts like the instant."""
    return utc_text(value)


def text_to_time(value: str) -> datetime:
    """Decode :func:`time_to_text`'s form back to an aware UTC datetime."""
    return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn ``sqlite3`` errors raised inside the block into :class:`StorageError`."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        msg = f"sqlite: {what} conflicts with stored data ({exc})"
        raise ConflictError(msg) from exc
    except sqlite3.Error as exc:
        msg = f"sqlite: {what} failed ({type(exc).__name__}: {exc})"
        raise StorageError(msg) from exc


class Database:
    """One SQLite file shared by every store of a store set.

    One connection, serialised by a lock, in autocommit mode; writes run in
    ``BEGIN IMMEDIATE`` transactions so that concurrent processes queue on the file lock
    (``busy_timeout``) instead of failing half-way.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0  # transactions open on this connection: 0 none, 1 outer, >1 savepoints
        self._pending: list[Callable[[], None]] = []
        with translated(f"opening {Path(path).name}"):
            if path != ":memory:":
                try:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    msg = (
                        f"sqlite: cannot create the folder for {Path(path).name} "
                        f"({type(exc).__name__}: {exc.strerror})"
                    )
                    raise StorageError(msg) from exc
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._conn.execute("PRAGMA busy_timeout = 30000")
            _enable_wal(self._conn)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            # 64 MiB of page cache (allocated only as used): bulk imports insert into
            # indexes in no particular order, and a 2 MiB default cache halves their rate.
            self._conn.execute("PRAGMA cache_size = -65536")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute(_SCHEMA_TABLE)

    def __repr__(self) -> str:
        return f"Database({Path(self.path).name!r})"

    @contextmanager
    def write(self, what: str) -> Iterator[sqlite3.Connection]:
        """Run the block in one immediate transaction: all of it is stored, or none.

        Inside another ``write()`` on the same thread (one store's write within a service's
        :meth:`~avgkit.audit.AuditLog.atomic` block) the block joins that transaction as a
        savepoint: it is undone alone if it raises, and committed only with the outer one.
        """
        with self._lock, translated(what):
            if self._depth:
                yield from self._savepoint()
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

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current transaction commits (at once outside one).

        A rolled-back transaction drops its callbacks. Used for work that cannot run inside
        a transaction, such as checkpointing the WAL after a key was shredded.
        """
        with self._lock:
            if self._depth:
                self._pending.append(callback)
                return
        callback()

    @contextmanager
    def read(self, what: str) -> Iterator[sqlite3.Connection]:
        """Run reads under the connection lock with errors translated."""
        with self._lock, translated(what):
            yield self._conn

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Bring ``component``'s tables to the newest version, one transaction per step.

        ``migrations[i]`` is the script that takes the schema from version ``i`` to ``i + 1``.
        Scripts are never edited once released; a change is a new script at the end.

        Raises:
            StorageError: the file was written by a newer avgkit (its version is higher
                than the scripts known here); upgrade avgkit rather than lose data.
        """
        with self.write(f"migrating {component}") as conn:
            row = conn.execute(
                "SELECT version FROM avgkit_schema WHERE component = ?", (component,)
            ).fetchone()
            current = 0 if row is None else int(row[0])
            if current > len(migrations):
                msg = (
                    f"sqlite: the {component} tables are at schema version {current}, newer "
                    f"than this avgkit knows ({len(migrations)}); upgrade avgkit"
                )
                raise StorageError(msg)
            for version in range(current, len(migrations)):
                for statement in _statements(migrations[version]):
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO avgkit_schema (component, version) VALUES (?, ?) "
                "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, len(migrations)),
            )

    def schema_version(self, component: str) -> int:
        """Return the stored schema version of ``component`` (0 if never migrated)."""
        with self.read("reading the schema version") as conn:
            row = conn.execute(
                "SELECT version FROM avgkit_schema WHERE component = ?", (component,)
            ).fetchone()
        return 0 if row is None else int(row[0])

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
            with translated("joining the host's connection"):
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
        with self._lock, translated("closing"):
            self._conn.close()


def _same_file(first: str, second: str) -> bool:
    try:
        return Path(first).resolve().samefile(Path(second).resolve())
    except OSError:
        return False


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
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(_WAL_PAUSE)
        else:
            return


def _statements(script: str) -> list[str]:
    """Split a migration script on ``;`` line ends (scripts hold no string literals with ;).

    ``executescript`` would commit the surrounding transaction, so statements run one by one.
    Statements inside ``BEGIN ... END`` (triggers) are kept whole.
    """
    out: list[str] = []
    current: list[str] = []
    depth = 0
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        upper = stripped.upper()
        if upper.endswith("BEGIN"):
            depth += 1
        if upper.startswith("END"):
            depth -= 1
        if stripped.endswith(";") and depth == 0:
            out.append("\n".join(current))
            current = []
    if current:
        out.append("\n".join(current))
    return out
