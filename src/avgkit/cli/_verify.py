"""``avgkit audit verify`` opens the store read-only (private).

Checking a store must not change it: no file or schema created, no table migrated, no
journal mode switched, nothing written. The stores are the adapters' own, over a database
that refuses every write and checks (instead of running) each component's migrations, so a
file or schema that never held avgkit data, or one an older avgkit wrote, is reported
instead of upgraded. A PostgreSQL schema is read in ``READ ONLY`` sessions, so the server
refuses a write too.

Keys wrapped by a key-encryption key are read through it: the file ``$AVGKIT_KEK_FILE``
names holds the KEK, and the key store's own wrapping says which KEK it must be. The
verifying kit then sees the keys it needs (the subject-reference secret the consent
events' digests fold in) in the clear, in memory only.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn
from urllib.parse import quote

from avgkit.cli._common import KEK_FILE_ENV, kek_from_file
from avgkit.clock import SystemClock
from avgkit.errors import (
    ConfigurationError,
    IntegrityError,
    StorageError,
    ValidationError,
)
from avgkit.pseudonym._keys import KeyKind, StoredKey
from avgkit.pseudonym._vault import REFERENCE_SECRET_ID, KeyVault, stored_wrapping
from avgkit.storage import ConsentStore, KeyStore, StoreSet, open_stores
from avgkit.storage._sql import (
    POSTGRESQL,
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

if TYPE_CHECKING:
    from avgkit.storage.postgres._db import Database as PostgresDatabase

__all__ = ["open_read_only"]

_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


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


class _PostgresReadOnly(_ReadOnly):
    """A PostgreSQL schema opened read-only (no schema made, ``READ ONLY`` sessions)."""

    dialect: ClassVar[Dialect] = POSTGRESQL
    # The adapter's database translates its driver's errors in each read it lends.
    driver_errors: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def __repr__(self) -> str:
        return repr(self._db)

    @property
    def lock_scope(self) -> str:
        """The schema's, as the adapter's."""
        return self._db.lock_scope

    def describe_error(self, exc: Exception) -> tuple[str, bool]:
        """The adapter's description (the SQLSTATE, never the server's text)."""
        return self._db.describe_error(exc)

    def read(self, what: str) -> AbstractContextManager[Connection]:
        """A pooled connection in a ``READ ONLY`` transaction."""
        return self._db.read(what)

    def stream(
        self, what: str, query: Any, params: Sequence[Any] = (), *, batch: int = 1000
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of ``query`` through a server-side cursor (the consent store's reads)."""
        return self._db.stream(what, query, params, batch=batch)

    def close(self) -> None:
        """Close the pool."""
        self._db.close()


def _postgres(url: str) -> _PostgresReadOnly:
    # The postgres extra is optional: the command line imports its driver only for it.
    try:
        from avgkit.storage.postgres._db import Database  # noqa: PLC0415
    except ImportError as exc:
        msg = (
            f"the postgresql adapter needs a driver that is not installed ({exc.name}); "
            "install it with: pip install 'avgkit[postgres]'"
        )
        raise StorageError(msg) from None
    return _PostgresReadOnly(Database(url, read_only=True))


def _postgres_consent(db: _PostgresReadOnly) -> ConsentStore:
    from avgkit.storage.postgres._consent import PostgresConsentStore  # noqa: PLC0415

    # Its reads are the adapter's, which this database lends.
    return PostgresConsentStore(db)  # type: ignore[arg-type]


class _ReadableKeys:
    """The key store as the verifying kit reads it: unwrapped by the KEK, writing nothing.

    The vault over the real store holds the KEK, if any, and its rule (every key wrapped by
    it, or :class:`~avgkit.errors.IntegrityError`); the kit built over this store needs no
    KEK. The one key such a kit would store is the subject-reference secret, when the store
    has none with its keys: refused, saying why it is missing.
    """

    def __init__(self, store: KeyStore, vault: KeyVault, *, legacy_secret: bool) -> None:
        self._store = store
        self._vault = vault
        self._legacy_secret = legacy_secret

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r})"

    def add(self, key: StoredKey) -> None:
        """Refuse: verifying writes nothing."""
        if key.key_id != REFERENCE_SECRET_ID:
            _refuse("storing a key")
        if self._legacy_secret:
            msg = (
                "this store's subject-reference secret, which the consent records' digests "
                "need, is still where an avgkit before 0.2 kept it, beside the data: let the "
                "program that uses avgkit open the store once (it moves the secret to the "
                "keys), then verify"
            )
        else:
            msg = (
                "this store holds no subject-reference secret, which the consent records' "
                "digests need: its keys live in another database (Kit.open(..., keys_url=)), "
                "which audit verify does not open, or the secret was deleted"
            )
        raise StorageError(msg)

    def get(self, key_id: str) -> StoredKey:
        """The key with id ``key_id``, unwrapped."""
        return self._vault.unwrap(self._store.get(key_id))

    def ring(self, kind: KeyKind) -> tuple[StoredKey, ...]:
        """The keys of ``kind``, oldest first, unwrapped."""
        return self._vault.ring(kind)

    def for_subject(self, subject_ref: str) -> StoredKey | None:
        """The subject's data key, unwrapped, if it has one."""
        return self._vault.for_subject(subject_ref)

    def shred(self, subject_ref: str, at: datetime) -> bool:  # noqa: ARG002 - refused
        """Refuse: verifying writes nothing."""
        _refuse("shredding a subject key")

    def shredded_at(self, subject_ref: str) -> datetime | None:
        """When the subject's data key was shredded, or ``None``."""
        return self._store.shredded_at(subject_ref)


def _vault(store: KeyStore, kek_file: str | None) -> KeyVault:
    """A vault over ``store`` with the KEK in ``kek_file`` if its keys are wrapped, checked.

    Raises:
        ConfigurationError: the keys are wrapped and no KEK file was given, or a KEK file
            was given for keys that are not wrapped.
        NotFound: the KEK file does not exist.
        ValidationError: it does not hold a KEK.
        IntegrityError: the KEK does not unwrap the keys (it is not the store's KEK, or
            the stored material was altered), or some keys are stored unwrapped.
    """
    wrapped = sorted(w for w in stored_wrapping(store) if w is not None)
    if not wrapped and kek_file is not None:
        msg = (
            f"{KEK_FILE_ENV} names a KEK file, but this store's keys are not wrapped by a "
            f"KEK; unset {KEK_FILE_ENV} to verify it"
        )
        raise ConfigurationError(msg)
    if wrapped and kek_file is None:
        msg = (
            f"this store's keys are wrapped by KEK {wrapped[0]!r}, which verifying needs (the "
            f"subject references are kept with the keys): set {KEK_FILE_ENV} to the path of "
            "a file holding that KEK, readable by you only (never the key itself on the "
            "command line)"
        )
        raise ConfigurationError(msg)
    kek = None if kek_file is None else kek_from_file(kek_file, key_id=wrapped[0])
    vault = KeyVault(store, kek, SystemClock())  # the clock dates keys made: none are
    try:
        vault.check()
    except IntegrityError as exc:
        msg = f"the KEK in {kek_file} does not open this store's keys: {exc}"
        raise IntegrityError(msg) from None
    return vault


def _readable_keys(store: KeyStore, audit: SqlAuditStore, kek_file: str | None) -> KeyStore:
    # The subject-reference secret lives with the keys: the consent events' digests fold in
    # their subjects' references, so verifying needs it (read, never made).
    return _ReadableKeys(
        store,
        _vault(store, kek_file),
        legacy_secret=audit.stored_reference_secret() is not None,
    )


def open_read_only(url: str, *, kek_file: str | None = None) -> StoreSet:
    """The stores ``audit verify`` checks, opened so that nothing can be written.

    A SQLite file is opened read-only (and, when no other process has it open, immutable,
    so not even a journal file appears beside it); a PostgreSQL schema in ``READ ONLY``
    sessions, neither it nor a table created. Other schemes open as usual.

    Args:
        url: the store URL.
        kek_file: the file holding the key-encryption key of a store whose keys are
            wrapped; by default the one ``$AVGKIT_KEK_FILE`` names.

    Raises:
        StorageError: the store cannot be opened, is not an avgkit store, or was written by
            another avgkit version.
        ConfigurationError: its keys are wrapped and no KEK file was given (or one was
            given for keys that are not wrapped).
        NotFound: the KEK file does not exist.
        ValidationError: the URL is malformed, or the KEK file holds no KEK.
        IntegrityError: the KEK does not open the keys.
    """
    if kek_file is None:
        kek_file = os.environ.get(KEK_FILE_ENV) or None
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        path = path_from_url(url)
        if path == ":memory:":
            msg = "a private in-memory SQLite database holds nothing to verify; check --store"
            raise ValidationError(msg)
        db: _ReadOnly = _SqliteReadOnly(path)
        consent: Callable[[Any], ConsentStore] = SqliteConsentStore
    elif scheme in _POSTGRES_SCHEMES:
        db = _postgres(url)
        consent = _postgres_consent
    else:
        return open_stores(url)
    try:
        audit = SqlAuditStore(db)  # first: a store without an audit log is no avgkit store
        breaches = SqlBreachStore(db)
        return StoreSet(
            url=url,
            audit=audit,
            breaches=breaches,
            keys=_readable_keys(SqlKeyStore(db), audit, kek_file),
            # Its reads are the shared core's, which speak SqlDatabase only.
            consent=consent(db),
            closer=db.close,
        )
    except BaseException:
        db.close()
        raise
