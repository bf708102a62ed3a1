"""The PostgreSQL pool, transactions, locks, error translation and migrations (private).

Everything a PostgreSQL store needs lives on :class:`Database`; the package docstring
(:mod:`avgkit.storage.postgres`) explains how a new store is built on it.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

import attrs
import psycopg
import psycopg.conninfo
import psycopg.errors
from psycopg import sql
from psycopg_pool import ConnectionPool

from avgkit.errors import ConflictError, StorageError, ValidationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from psycopg.abc import Query
    from psycopg.rows import TupleRow

    Connection = psycopg.Connection[TupleRow]
else:
    Connection = psycopg.Connection
"""The connection type :meth:`Database.write` and :meth:`Database.read` lend (tuple rows)."""

__all__ = ["Connection", "Database", "PostgresSettings", "copy_rows", "parse_url", "translated"]

SCHEMES: Final = frozenset({"postgresql", "postgres"})
"""The URL schemes the adapter accepts (``postgres://`` is libpq's alias)."""

DEFAULT_SCHEMA: Final = "avgkit"
"""The schema avgkit's tables live in when the URL names none."""

MIN_SERVER_VERSION: Final = 120000
"""PostgreSQL 12: ``hashtextextended`` (11) and ``EXECUTE FUNCTION`` triggers (11) exist."""

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_OWN_PARAMETERS: Final = ("schema", "pool_min", "pool_max", "pool_timeout")
_LIBPQ_DEFAULTS: Final = (("application_name", "avgkit"), ("connect_timeout", "10"))

# Errors that mean "someone else changed the data first; re-read and retry".
_CONFLICTS: Final = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.ExclusionViolation,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
)


@attrs.frozen(kw_only=True)
class PostgresSettings:
    """What a ``postgresql://`` URL asks for, split into libpq's part and avgkit's part.

    The ``repr`` names the server, database and schema, never the password.

    .. versionadded:: 0.1.0
    """

    conninfo: str = attrs.field(repr=False)
    """The URL handed to libpq: the original without avgkit's own query parameters."""
    secrets: tuple[str, ...] = attrs.field(repr=False, default=())
    """Strings that must never appear in a message (the password, raw and decoded)."""
    host: str | None = None
    """The server host (``None``: libpq's default, a local socket)."""
    port: str | None = None
    """The server port (``None``: libpq's default, 5432)."""
    dbname: str | None = None
    """The database name (``None``: libpq's default, the user name)."""
    schema: str = DEFAULT_SCHEMA
    """The schema holding avgkit's tables; created on first open."""
    pool_min: int = 1
    """Connections the pool keeps open while idle."""
    pool_max: int = 4
    """The most connections the pool opens at once."""
    pool_timeout: float = 30.0
    """Seconds a caller waits for a free connection before a :class:`StorageError`."""


def _bad(name: str, value: str, expected: str) -> ValidationError:
    return ValidationError(f"store URL parameter {name}={value!r} is invalid: {expected}")


def _count(name: str, value: str, minimum: int) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise _bad(name, value, f"use a whole number of at least {minimum}")
    return int(value)


def _seconds(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise _bad(name, value, "use a positive number of seconds, e.g. 30")
    return number


def parse_url(url: str) -> PostgresSettings:
    """Split a ``postgresql://user@host:port/db?schema=name`` URL into its settings.

    avgkit reads ``schema`` (default ``avgkit``), ``pool_min`` (default 1), ``pool_max``
    (default 4) and ``pool_timeout`` (seconds, default 30); every other query parameter is
    passed to libpq (``sslmode``, ``application_name``, ``connect_timeout``, ...).

    Raises:
        ValidationError: the URL is not a PostgreSQL URL, or a parameter is unknown,
            repeated or out of range; the message names the parameter, never the password.

    .. versionadded:: 0.1.0
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        msg = "the PostgreSQL URL is malformed: check the host, the brackets and the port"
        raise ValidationError(msg) from None
    if parts.scheme.lower() not in SCHEMES:
        msg = "a PostgreSQL store URL looks like 'postgresql://user@host:5432/db?schema=venue'"
        raise ValidationError(msg)
    own, passed, secrets = _split_query(parts.query)
    secrets += tuple(s for s in {parts.password or "", unquote(parts.password or "")} if s)
    conninfo = urlunsplit(
        ("postgresql", parts.netloc, parts.path, urlencode(passed, quote_via=quote), "")
    )
    try:
        libpq = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        # libpq names the offending parameter ('invalid URI query parameter: "foo"').
        detail = _scrub(str(exc), secrets)
        msg = (
            f"the PostgreSQL store URL is invalid ({detail}); avgkit's own parameters are "
            f"{list(_OWN_PARAMETERS)}, the rest must be libpq connection parameters"
        )
        raise ValidationError(msg) from None
    schema = own.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA_NAME.fullmatch(schema) or schema.startswith("pg_"):
        raise _bad(
            "schema",
            schema,
            "use lower case letters, digits and '_', starting with a letter or '_', "
            "at most 63 characters, not starting with 'pg_'",
        )
    pool_min = _count("pool_min", own.get("pool_min", "1"), 0)
    pool_max = _count("pool_max", own.get("pool_max", str(max(pool_min, 4))), 1)
    if pool_max < pool_min:
        raise _bad("pool_max", str(pool_max), f"it must be at least pool_min ({pool_min})")
    pool_timeout = _seconds("pool_timeout", own.get("pool_timeout", "30"))

    def text(name: str) -> str | None:
        value = libpq.get(name)
        return None if value is None else str(value)

    return PostgresSettings(
        conninfo=conninfo,
        secrets=secrets,
        host=text("host"),
        port=text("port"),
        dbname=text("dbname"),
        schema=schema,
        pool_min=pool_min,
        pool_max=pool_max,
        pool_timeout=pool_timeout,
    )


def _split_query(
    query: str,
) -> tuple[dict[str, str], list[tuple[str, str]], tuple[str, ...]]:
    """Return avgkit's parameters, libpq's parameters (with defaults) and a query password."""
    own: dict[str, str] = {}
    passed: list[tuple[str, str]] = []
    secrets: tuple[str, ...] = ()
    # Decoded as libpq decodes URI parameters: percent escapes only ('+' stays '+').
    pairs = (pair.partition("=") for pair in query.split("&") if pair)
    for name, value in ((unquote(n), unquote(v)) for n, _, v in pairs):
        if name in own or any(name == seen for seen, _ in passed):
            msg = f"store URL parameter {name!r} is given more than once; give it once"
            raise ValidationError(msg)
        if name == "password":
            secrets = (value,)
        if name in _OWN_PARAMETERS:
            own[name] = value
        else:
            passed.append((name, value))
    names = {name for name, _ in passed}
    # Let DBAs see avgkit in pg_stat_activity, and fail fast on a dead host.
    passed.extend((k, v) for k, v in _LIBPQ_DEFAULTS if k not in names)
    return own, passed, secrets


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _describe(exc: psycopg.Error, secrets: Iterable[str]) -> str:
    # Only the primary message: the server's DETAIL line may quote row values (a unique
    # key, a failing row), which could be personal data.
    primary = exc.diag.message_primary if exc.sqlstate else None
    text = primary or (str(exc).strip().splitlines() or [""])[0] or "no message"
    state = f"{exc.sqlstate} " if exc.sqlstate else ""
    return _scrub(f"{state}{type(exc).__name__}: {text}", secrets)


@contextmanager
def translated(what: str, secrets: Iterable[str] = ()) -> Iterator[None]:
    """Turn psycopg errors raised inside the block into avgkit's storage errors.

    Unique, exclusion, serialization and deadlock failures become
    :class:`~avgkit.errors.ConflictError` (re-read and retry); every other driver error a
    :class:`~avgkit.errors.StorageError`. The driver's exception is chained as
    ``__cause__``; ``secrets`` are masked in the message.

    .. versionadded:: 0.1.0
    """
    try:
        yield
    except _CONFLICTS as exc:
        msg = f"postgresql: {what} conflicts with stored data ({_describe(exc, secrets)})"
        raise ConflictError(msg) from exc
    except psycopg.Error as exc:
        msg = f"postgresql: {what} failed ({_describe(exc, secrets)})"
        raise StorageError(msg) from exc


def copy_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    types: Sequence[str] | None = None,
) -> int:
    """Bulk-insert ``rows`` into ``table`` with ``COPY ... FROM STDIN``; return the count.

    Call it inside :meth:`Database.write` so the rows are stored with the rest of the
    transaction or not at all. ``rows`` is consumed lazily (a generator keeps memory flat).
    With ``types`` (PostgreSQL type names, one per column, e.g. ``["text", "timestamptz"]``)
    the binary COPY format is used, which is faster and needs no text escaping.

    .. versionadded:: 0.1.0
    """
    statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.SQL(" (FORMAT BINARY)" if types is not None else ""),
    )
    count = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        if types is not None:
            copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


_STREAM_NAMES = itertools.count(1)  # unique server-side cursor names in this process


class Database:
    """One PostgreSQL schema, reached through a connection pool, shared by a store set.

    Opening it connects once to check the server, creates the schema and the
    ``avgkit_schema`` version table if missing (under an advisory lock, so concurrent
    openers do not race), then opens a :class:`psycopg_pool.ConnectionPool` whose
    connections all run with ``search_path`` set to the schema and ``TimeZone`` to UTC.

    Args:
        url: ``postgresql://user@host:port/db?schema=name&pool_min=1&pool_max=4``
            (see :func:`parse_url`).

    Raises:
        ValidationError: the URL is malformed.
        StorageError: the server cannot be reached, is older than PostgreSQL 12, or
            refuses to create the schema.

    .. versionadded:: 0.1.0
    """

    def __init__(self, url: str) -> None:
        self.settings = parse_url(url)
        self.schema = self.settings.schema
        self._secrets = self.settings.secrets
        self._local = threading.local()  # the connection of this thread's open write()
        self._bootstrap()
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            self.settings.conninfo,
            min_size=self.settings.pool_min,
            max_size=self.settings.pool_max,
            timeout=self.settings.pool_timeout,
            open=False,
            configure=self._configure,
            check=ConnectionPool.check_connection,
            reset=self._reset,
            name=f"avgkit:{self.schema}",
        )
        try:
            with self.translated("opening the connection pool"):
                self._pool.open(wait=True, timeout=self.settings.pool_timeout)
        except BaseException:
            self._pool.close()
            raise

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"Database(host={s.host!r}, port={s.port!r}, dbname={s.dbname!r}, schema={s.schema!r})"
        )

    @contextmanager
    def translated(self, what: str) -> Iterator[None]:
        """:func:`translated`, masking this database's password."""
        with translated(what, self._secrets):
            yield

    def _lock_name(self, key: str) -> str:
        # Advisory locks are per database, not per schema: prefix the schema so venues
        # sharing a database never wait for each other.
        return f"avgkit\x1f{self.schema}\x1f{key}"

    def _bootstrap(self) -> None:
        schema = sql.Identifier(self.schema)
        with (
            self.translated(f"connecting to schema {self.schema!r}"),
            psycopg.connect(self.settings.conninfo) as conn,
        ):
            if conn.info.server_version < MIN_SERVER_VERSION:
                msg = (
                    f"postgresql: the server is version {conn.info.server_version}; avgkit "
                    "needs PostgreSQL 12 or newer"
                )
                raise StorageError(msg)
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (self._lock_name("bootstrap"),),
            )
            # Look before creating: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on
            # the database even when the schema exists, which a locked-down role may lack.
            found = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
            (table,) = conn.execute(
                "SELECT to_regclass(%s)", (f'"{self.schema}".avgkit_schema',)
            ).fetchone() or (None,)
            if table is None:
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE {}.avgkit_schema ("
                        " component text PRIMARY KEY,"
                        " version integer NOT NULL CHECK (version >= 0))"
                    ).format(schema)
                )

    def _configure(self, conn: Connection) -> None:
        conn.execute(
            "SELECT set_config('search_path', %s, false), set_config('TimeZone', 'UTC', false)",
            (f'"{self.schema}"',),
        )
        conn.commit()

    @staticmethod
    def _reset(conn: Connection) -> None:
        conn.read_only = False

    @contextmanager
    def write(self, what: str) -> Iterator[Connection]:
        """Lend a pooled connection for one transaction: committed if the block succeeds.

        An exception in the block rolls everything back. ``what`` names the operation in
        error messages ("appending to the audit log"). Inside another ``write()`` on the
        same thread (a store's write within a service's
        :meth:`~avgkit.audit.AuditLog.atomic` block) the block joins that transaction on the
        same connection as a savepoint, committed only with the outer one.
        """
        outer: Connection | None = getattr(self._local, "conn", None)
        if outer is not None:
            pending: list[Callable[[], None]] = self._local.pending
            registered = len(pending)
            try:
                with self.translated(what), outer.transaction():
                    yield outer
            except BaseException:
                del pending[registered:]  # callbacks of undone work never run
                raise
            return
        callbacks: list[Callable[[], None]] = []
        # An explicit transaction block, so that nested blocks become savepoints (psycopg
        # only nests a transaction() inside another one, not inside an implicit one).
        with self.translated(what), self._pool.connection() as conn, conn.transaction():
            self._local.conn = conn
            self._local.pending = callbacks
            try:
                yield conn
            finally:
                self._local.conn = None
                self._local.pending = None
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current ``write()`` commits (at once outside one).

        A rolled-back transaction drops its callbacks.
        """
        pending: list[Callable[[], None]] | None = getattr(self._local, "pending", None)
        if pending is None:
            callback()
        else:
            pending.append(callback)

    @contextmanager
    def read(self, what: str) -> Iterator[Connection]:
        """Lend a pooled connection for one ``READ ONLY`` transaction.

        Each statement sees what was committed before it started (PostgreSQL's default
        READ COMMITTED isolation); writing in the block raises :class:`StorageError`.
        """
        outer: Connection | None = getattr(self._local, "conn", None)
        if outer is not None:  # inside this thread's write(): read its own uncommitted rows
            with self.translated(what):
                yield outer
            return
        with self.translated(what), self._pool.connection() as conn:
            conn.read_only = True
            yield conn

    def stream(
        self,
        what: str,
        query: Query,
        params: Sequence[Any] = (),
        *,
        batch: int = 1000,
    ) -> Iterator[tuple[Any, ...]]:
        """Yield the rows of ``query`` through a server-side cursor, ``batch`` at a time.

        Memory stays bounded by ``batch`` rows however many the query returns: this is how
        set-based queries (a consent audience, retention candidates) reach Python. The
        iterator holds one pooled connection and one read-only transaction until it is
        exhausted or closed; close an abandoned one (``contextlib.closing``) rather than
        leave it to the garbage collector, and do not write through the same
        :class:`Database` while consuming it when ``pool_max`` is 1.
        """
        # A fresh cursor name each time: two streams may be open in one transaction (inside
        # a write(), reads share its connection).
        name = f"avgkit_stream_{next(_STREAM_NAMES)}"
        with self.read(what) as conn, conn.cursor(name=name) as cursor:
            cursor.itersize = batch
            cursor.execute(query, params)
            yield from cursor

    def lock(self, conn: Connection, key: str) -> None:
        """Wait for the transaction-level advisory lock ``key``.

        It is held until the transaction on ``conn`` (a :meth:`write` or :meth:`read`
        block) ends; keys are namespaced by the schema.
        """
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (self._lock_name(key),)
        )

    def try_lock(self, conn: Connection, key: str) -> bool:
        """Take the transaction-level advisory lock ``key`` if no one holds it.

        Returns ``True`` when this transaction now holds it (until it commits or rolls
        back), ``False`` at once when another transaction does. Keys are namespaced by the
        schema. Two different keys may hash alike; then one waits for the other needlessly,
        so treat ``False`` as "busy, come back later", never as "done".
        """
        row = conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
            (self._lock_name(key),),
        ).fetchone()
        return bool(row and row[0])

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Bring ``component``'s tables to the newest version in one transaction.

        ``migrations[i]`` is the SQL script (several statements allowed, no parameters)
        that takes the schema from version ``i`` to ``i + 1``. Scripts are never edited
        once released; a change is a new script at the end. A transaction-level advisory
        lock serialises processes opening the store at once, so each script runs exactly
        once, and PostgreSQL's transactional DDL means a failing script leaves the previous
        version intact.

        Raises:
            StorageError: a script failed, or the schema was written by a newer avgkit (its
                version is higher than the scripts known here): upgrade avgkit rather than
                lose data.
        """
        with self.write(f"migrating {component}") as conn:
            self.lock(conn, "migrate")
            row = conn.execute(
                "SELECT version FROM avgkit_schema WHERE component = %s", (component,)
            ).fetchone()
            current = 0 if row is None else int(row[0])
            if current > len(migrations):
                msg = (
                    f"postgresql: the {component} tables in schema {self.schema!r} are at "
                    f"schema version {current}, newer than this avgkit knows "
                    f"({len(migrations)}); upgrade avgkit"
                )
                raise StorageError(msg)
            if current == len(migrations):
                return
            for script in migrations[current:]:
                conn.execute(script)
            conn.execute(
                "INSERT INTO avgkit_schema (component, version) VALUES (%s, %s) "
                "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, len(migrations)),
            )

    def schema_version(self, component: str) -> int:
        """Return the stored schema version of ``component`` (0 if never migrated)."""
        with self.read("reading the schema version") as conn:
            row = conn.execute(
                "SELECT version FROM avgkit_schema WHERE component = %s", (component,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    @contextmanager
    def joined(self, conn: object) -> Iterator[None]:
        """Run this thread's avgkit work of the block on the host's connection ``conn``.

        The block is a savepoint of the host's transaction (psycopg nests ``transaction()``
        blocks); avgkit's schema and UTC are set for the block only (``set_config(...,
        true)``), and the host's settings are put back before the block ends. Callbacks
        waiting for a commit run when the block ends.
        """
        if not isinstance(conn, psycopg.Connection):
            msg = f"the PostgreSQL adapter joins a psycopg Connection, got {type(conn).__name__}"
            raise ValidationError(msg)
        if getattr(self._local, "conn", None) is not None:
            msg = "cannot join a host's connection inside an open avgkit transaction"
            raise ValidationError(msg)
        if conn.info.dbname != self.settings.dbname:
            msg = (
                "the host's connection is to another database than avgkit's stores; open "
                f"both on database {self.settings.dbname!r}"
            )
            raise ValidationError(msg)
        callbacks: list[Callable[[], None]] = []
        with self.translated("joining the host's transaction"), conn.transaction():
            previous = conn.execute(
                "SELECT current_setting('search_path'), current_setting('TimeZone')"
            ).fetchone()
            conn.execute(
                "SELECT set_config('search_path', %s, true), set_config('TimeZone', 'UTC', true)",
                (f'"{self.schema}"',),
            )
            self._local.conn = conn
            self._local.pending = callbacks
            try:
                yield
            finally:
                self._local.conn = None
                self._local.pending = None
                if (
                    previous is not None
                    and not conn.closed
                    and conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
                ):
                    conn.execute(
                        "SELECT set_config('search_path', %s, true), "
                        "set_config('TimeZone', %s, true)",
                        previous,
                    )
        for callback in callbacks:
            callback()

    def close(self) -> None:
        """Close the pool and every connection in it."""
        with self.translated("closing the connection pool"):
            self._pool.close()
