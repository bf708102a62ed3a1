"""The connection interface the shared stores run on, and the one migration runner (private).

Each adapter's ``Database`` subclasses :class:`SqlDatabase`: it supplies connection
handling (:meth:`~SqlDatabase.write`, :meth:`~SqlDatabase.read`,
:meth:`~SqlDatabase.after_commit`, :meth:`~SqlDatabase.close`) and names its driver's
errors; everything written once (migrations, locks, error translation, the store set's
unit of work) lives here.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar, Protocol

from avgkit.errors import StorageError
from avgkit.storage._sql._dialect import Dialect
from avgkit.storage._sql._errors import driver_error, raise_clean

__all__ = ["Connection", "Cursor", "SqlDatabase"]

_SCHEMA = "avgkit_schema"


class Cursor(Protocol):
    """What the shared stores read from a statement's result."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an ``INSERT``, ``UPDATE`` or ``DELETE``."""
        ...

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        ...

    def fetchall(self) -> Sequence[Any]:
        """The remaining rows."""
        ...


class Connection(Protocol):
    """The part of a DB-API connection the shared stores use (sqlite3 and psycopg have it)."""

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> Cursor:
        """Run one statement with positional parameters."""
        ...


class SqlDatabase(abc.ABC):
    """One database shared by every store of a store set, as the shared stores see it."""

    dialect: ClassVar[Dialect]
    """How this database spells SQL."""
    driver_errors: ClassVar[tuple[type[Exception], ...]]
    """The driver's exception classes, translated by :meth:`translated`."""

    @abc.abstractmethod
    def write(self, what: str) -> AbstractContextManager[Connection]:
        """Lend the connection for one transaction, committed when the block ends.

        Inside another ``write()`` on the same thread the block joins that transaction as a
        savepoint. ``what`` names the operation in error messages.
        """

    def write_one(self, what: str) -> AbstractContextManager[Connection]:
        """:meth:`write` for a block that issues exactly one writing statement.

        A database whose failed statement undoes only itself inside a transaction (SQLite)
        needs no savepoint for such a block; by default it is :meth:`write`.
        """
        return self.write(what)

    @abc.abstractmethod
    def read(self, what: str) -> AbstractContextManager[Connection]:
        """Lend the connection for reads (the open write's, inside one)."""

    @abc.abstractmethod
    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current write commits (at once outside one)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection(s)."""

    @abc.abstractmethod
    def describe_error(self, exc: Exception) -> tuple[str, bool]:
        """The code naming a driver exception (no driver text), and whether it is a conflict."""

    @property
    def lock_scope(self) -> str:
        """What lock names are prefixed with, so that databases sharing a server never clash."""
        return ""

    @contextmanager
    def translated(self, what: str) -> Iterator[None]:
        """Turn driver errors raised in the block into :class:`~avgkit.errors.StorageError`.

        The message names ``what`` and the driver's code only, and the driver's exception is
        neither ``__cause__`` nor ``__context__``: its text can quote stored values.
        """
        try:
            yield
        except self.driver_errors as exc:
            code, conflict = self.describe_error(exc)
        else:
            return
        raise_clean(driver_error(self.dialect.name, what, code, conflict=conflict))

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction for every write of the store set on this thread in the block."""
        with self.write("recording a change with its audit entry"):
            yield

    @abc.abstractmethod
    def joined(self, conn: object) -> AbstractContextManager[None]:
        """A block in which this thread's avgkit work runs inside the host's connection.

        See :meth:`avgkit.storage.StoreSet.joined`.
        """

    @abc.abstractmethod
    def scrub(self) -> None:
        """Make rows deleted in the current write unrecoverable from the files once it commits.

        Called inside the write that deleted secret material (a shredded key).
        """

    @property
    def scrub_owed(self) -> bool:
        """Whether an earlier :meth:`scrub` could not finish, so the next one must run."""
        return False

    def lock(self, conn: Connection, key: str) -> None:
        """Wait for the transaction-level lock ``key`` (held until ``conn``'s transaction ends)."""
        if self.dialect.lock_sql is not None:
            conn.execute(self.dialect.lock_sql, (self._lock_name(key),))

    def try_lock(self, conn: Connection, key: str) -> bool:
        """Take the transaction-level lock ``key`` if no one holds it; ``False`` when busy.

        Two keys may hash alike, so ``False`` means "busy, come back later", never "done".
        Without lock statements every write already holds the database, so it is ``True``.
        """
        if self.dialect.try_lock_sql is None:
            return True
        row = conn.execute(self.dialect.try_lock_sql, (self._lock_name(key),)).fetchone()
        return bool(row and row[0])

    def _lock_name(self, key: str) -> str:
        return f"avgkit\x1f{self.lock_scope}\x1f{key}"

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Bring ``component``'s tables to the newest version in one transaction.

        ``migrations[i]`` is the script (plain SQL, several statements allowed, no
        parameters) that takes the schema from version ``i`` to ``i + 1``. Scripts are
        never edited once released; a change is a new script at the end. The migration lock
        serialises processes opening the store at once, so each script runs exactly once,
        and a failing script leaves the previous version in place.

        Raises:
            StorageError: a script failed, or the tables were written by a newer avgkit
                (their version is higher than the scripts known here): upgrade avgkit
                rather than lose data.
        """
        d = self.dialect
        with self.write(f"migrating {component}") as conn:
            self.lock(conn, "migrate")
            current = self._version(conn, component)
            if current > len(migrations):
                msg = (
                    f"{d.name}: the {component} tables in {self!r} are at schema version "
                    f"{current}, newer than this avgkit knows ({len(migrations)}); "
                    "upgrade avgkit"
                )
                raise StorageError(msg)
            if current == len(migrations):
                return
            for script in migrations[current:]:
                for statement in d.statements(script):
                    conn.execute(statement)
            conn.execute(
                d.upsert(_SCHEMA, ("component", "version"), "component"),
                (component, len(migrations)),
            )

    def schema_version(self, component: str) -> int:
        """Return the stored schema version of ``component`` (0 if never migrated)."""
        with self.read("reading the schema version") as conn:
            return self._version(conn, component)

    def _version(self, conn: Connection, component: str) -> int:
        row = conn.execute(
            f"SELECT version FROM {_SCHEMA} WHERE component = {self.dialect.placeholder}",  # noqa: S608
            (component,),
        ).fetchone()
        return 0 if row is None else int(row[0])
