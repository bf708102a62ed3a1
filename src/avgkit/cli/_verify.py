"""``avgkit audit verify`` opens the store read-only (private).

Checking a store must not change it: no file created, no table migrated, no journal mode
switched, nothing written. The stores are the adapters' own, over a database that refuses
every write and checks (instead of running) each component's migrations, so a file that
never held avgkit data, or one an older avgkit wrote, is reported instead of upgraded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import ClassVar, NoReturn
from urllib.parse import quote

from avgkit.errors import StorageError, ValidationError
from avgkit.storage import StoreSet, open_stores
from avgkit.storage._sql import (
    SQLITE,
    Dialect,
    SqlAuditStore,
    SqlBreachStore,
    SqlDatabase,
    SqlKeyStore,
)
from avgkit.storage._sql._db import Connection
from avgkit.storage.sqlite import path_from_url
from avgkit.storage.sqlite._consent import SqliteConsentStore

__all__ = ["open_read_only"]


class _ReadOnly(SqlDatabase):
    """What the two read-only databases share: no writes, migrations checked."""

    def write(self, what: str) -> AbstractContextManager[Connection]:
        """Refuse: verifying writes nothing."""
        _refuse(what)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Nothing commits here; nothing is run."""

    def scrub(self) -> None:
        """Nothing is deleted here."""

    def joined(self, conn: object) -> AbstractContextManager[None]:  # noqa: ARG002 - refused
        """Refuse: a check never joins a host's transaction."""
        _refuse("joining a host's connection")

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Check that ``component`` is at the version this avgkit writes; change nothing."""
        version = self.schema_version(component)
        if version == len(migrations):
            return
        if version == 0 and component == "audit":
            msg = f"{self!r} holds no avgkit audit log: check --store"
        elif version < len(migrations):
            msg = (
                f"the {component} tables in {self!r} were written by an older avgkit; let "
                "the program that uses avgkit open the store once (it migrates it), then verify"
            )
        else:
            msg = (
                f"the {component} tables in {self!r} were written by a newer avgkit "
                f"(schema version {version}); verify with that version"
            )
        raise StorageError(msg)


def _refuse(what: str) -> NoReturn:
    msg = f"{what}: the store is open read-only to be verified"
    raise StorageError(msg)


class _SqliteReadOnly(_ReadOnly):
    dialect: ClassVar[Dialect] = SQLITE
    driver_errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)

    def __init__(self, path: str) -> None:
        self.path = path
        name = Path(path).name
        # Without a write-ahead log the file is complete and nothing else is using it:
        # immutable, SQLite creates no -wal or -shm file beside it. With one, another
        # process may be writing: read through the log, as it is.
        immutable = "" if Path(f"{path}-wal").exists() else "&immutable=1"
        uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro{immutable}"
        with self.translated(f"opening {name} read-only"):
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            with self.translated(f"opening {name} read-only"):
                found = self._conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'avgkit_schema'"
                ).fetchone()
        except BaseException:
            self._conn.close()
            raise
        if found is None:
            self._conn.close()
            msg = f"{name} is not an avgkit store (it has no avgkit tables): check --store"
            raise StorageError(msg)

    def __repr__(self) -> str:
        return f"Database({Path(self.path).name!r})"

    def describe_error(self, exc: Exception) -> tuple[str, bool]:
        """The exception's class and SQLite error name, never its message."""
        name = getattr(exc, "sqlite_errorname", None)
        return (type(exc).__name__ if name is None else f"{type(exc).__name__} {name}"), False

    @contextmanager
    def read(self, what: str) -> Iterator[Connection]:
        """The one connection, its errors translated."""
        with self.translated(what):
            yield self._conn

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def open_read_only(url: str) -> StoreSet:
    """The stores ``audit verify`` checks, opened so that nothing can be written.

    A SQLite file is opened read-only (and, when no other process has it open, immutable,
    so not even a journal file appears beside it). Other schemes open as usual.

    Raises:
        StorageError: the file cannot be opened, is not an avgkit store, or was written by
            another avgkit version.
    """
    if not url.lower().startswith("sqlite:"):
        return open_stores(url)
    path = path_from_url(url)
    if path == ":memory:":
        msg = "a private in-memory SQLite database holds nothing to verify; check --store"
        raise ValidationError(msg)
    db = _SqliteReadOnly(path)
    try:
        return StoreSet(
            url=url,
            audit=SqlAuditStore(db),
            breaches=SqlBreachStore(db),
            # The subject-reference secret lives with the keys: the consent events' digests
            # fold in their subjects' references, so verifying needs it (read, never made).
            keys=SqlKeyStore(db),
            # Its reads are the shared core's, which speak SqlDatabase only.
            consent=SqliteConsentStore(db),  # type: ignore[arg-type]
            closer=db.close,
        )
    except BaseException:
        db.close()
        raise
