"""The PostgreSQL URL, pool, transactions and streaming (private).

Migrations, locks, error translation and the shared stores are the SQL core's
(:mod:`avgkit.storage._sql`); this module connects, lends pooled connections and streams.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

import attrs
import psycopg
import psycopg.conninfo
import psycopg.errors
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from avgkit._suggest import hint
from avgkit._validators import encodable
from avgkit.errors import StorageError, ValidationError
from avgkit.storage._sql import POSTGRESQL, Dialect, SqlDatabase

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from psycopg.abc import Query
    from psycopg.rows import TupleRow

    Connection = psycopg.Connection[TupleRow]
else:
    Connection = psycopg.Connection
"""The connection type :meth:`Database.write` and :meth:`Database.read` lend (tuple rows)."""

__all__ = [
    "LIBPQ_PARAMETERS",
    "Connection",
    "Database",
    "PostgresSettings",
    "copy_rows",
    "parse_url",
]

SCHEMES: Final = frozenset({"postgresql", "postgres"})
"""The URL schemes the adapter accepts (``postgres://`` is libpq's alias)."""

DEFAULT_SCHEMA: Final = "avgkit"
"""The schema avgkit's tables live in when the URL names none."""

MIN_SERVER_VERSION: Final = 120000
"""PostgreSQL 12: ``hashtextextended`` (11) and ``EXECUTE FUNCTION`` triggers (11) exist."""

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_OWN_PARAMETERS: Final = ("schema", "pool_min", "pool_max", "pool_timeout")
LIBPQ_PARAMETERS: Final = frozenset(
    {
        "application_name",
        "channel_binding",
        "connect_timeout",
        "fallback_application_name",
        "gssencmode",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "load_balance_hosts",
        "password",
        "require_auth",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcertmode",
        "sslcompression",
        "sslcrl",
        "sslcrldir",
        "sslkey",
        "sslmode",
        "sslnegotiation",
        "sslpassword",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
        "user",
    }
)
"""The libpq connection parameters a store URL may carry in its query: credentials, TLS,
time-outs, keep-alives, names. Anything else is refused, so that a URL assembled from a
tenant's name cannot smuggle in another server, session settings or a file to read."""

# Parameters refused on purpose, with what to do instead.
_REFUSED: Final = {
    "host": "give the server in the URL itself: postgresql://user@host:5432/db (a socket "
    "folder percent-encoded: postgresql://user@%2Fvar%2Frun%2Fpostgresql/db)",
    "hostaddr": "give the server in the URL itself: postgresql://user@192.0.2.10:5432/db",
    "port": "give the port in the URL itself: postgresql://user@host:5432/db",
    "dbname": "give the database in the URL's path: postgresql://user@host/dbname",
    "options": "it sets server settings for every session (it could switch off avgkit's "
    "append-only triggers); avgkit sets what it needs itself, and ?schema= chooses the schema",
    "service": "it reads connection settings from a service file; put them in the URL",
    "servicefile": "it names a file to read connection settings from; put them in the URL",
    "passfile": "it names a file to read passwords from; put the password in the URL or "
    "let libpq find ~/.pgpass itself",
    "replication": "avgkit's stores do not run over a replication connection",
    "client_encoding": "avgkit always talks UTF-8 to the server",
}
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
    (default 4) and ``pool_timeout`` (seconds, default 30). Of libpq's parameters only those
    in :data:`LIBPQ_PARAMETERS` are passed on (``sslmode``, ``application_name``,
    ``connect_timeout``, ...); the server, port and database belong in the URL itself, and
    ``options``, ``service`` and the like are refused, so that a URL built from a tenant's
    name cannot redirect avgkit or change its sessions.

    Raises:
        ValidationError: the URL is not a PostgreSQL URL, or a parameter is unknown,
            refused, repeated or out of range; the message names the parameter (with the
            nearest known one, if it looks misspelt), never the password.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Only the libpq parameters in :data:`LIBPQ_PARAMETERS` are accepted.
    """
    if not isinstance(url, str):
        msg = f"a PostgreSQL store URL is text, got {type(url).__name__}"
        raise ValidationError(msg)
    encodable(url, "the PostgreSQL store URL")
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
        elif name in LIBPQ_PARAMETERS:
            passed.append((name, value))
        else:
            raise _unaccepted(name)
    names = {name for name, _ in passed}
    # Let DBAs see avgkit in pg_stat_activity, and fail fast on a dead host.
    passed.extend((k, v) for k, v in _LIBPQ_DEFAULTS if k not in names)
    return own, passed, secrets


def _unaccepted(name: str) -> ValidationError:
    shown = name if len(name) <= 40 and name.isprintable() else f"{name[:40]!r}..."  # noqa: PLR2004
    reason = _REFUSED.get(name)
    if reason is not None:
        return ValidationError(f"store URL parameter {shown!r} is not accepted: {reason}")
    known = (*_OWN_PARAMETERS, *LIBPQ_PARAMETERS)
    msg = (
        f"store URL parameter {shown!r} is unknown{hint(name, known)}; avgkit's own are "
        f"{list(_OWN_PARAMETERS)}, and of libpq's it accepts {sorted(LIBPQ_PARAMETERS)}"
    )
    return ValidationError(msg)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


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


class Database(SqlDatabase):
    """One PostgreSQL schema, reached through a connection pool, shared by a store set.

    Opening it connects once to check the server, creates the schema and the
    ``avgkit_schema`` version table if missing (under an advisory lock, so concurrent
    openers do not race), then opens a :class:`psycopg_pool.ConnectionPool` whose
    connections all run with ``search_path`` set to the schema and ``TimeZone`` to UTC.

    Args:
        url: ``postgresql://user@host:port/db?schema=name&pool_min=1&pool_max=4``
            (see :func:`parse_url`).
        read_only: open the schema to read it only, changing nothing: it is not created,
            no table is made, every session is ``READ ONLY`` (so the server refuses any
            write) and :meth:`write` and :meth:`joined` refuse. A schema that does not
            exist or holds no ``avgkit_schema`` table is refused.

    Raises:
        ValidationError: the URL is malformed.
        StorageError: the server cannot be reached, is older than PostgreSQL 12, or
            refuses to create the schema; with ``read_only``, the schema holds no avgkit
            store.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``read_only``.
    """

    dialect: ClassVar[Dialect] = POSTGRESQL
    driver_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error,)

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.settings = parse_url(url)
        self.schema = self.settings.schema
        self.read_only = read_only
        self._local = threading.local()  # the connection of this thread's open write()
        if read_only:
            self._look()
        else:
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

    def describe_error(self, exc: Exception) -> tuple[str, bool]:
        """The SQLSTATE (the class name when there is none: a connection or pool failure).

        Never the server's text: its DETAIL line quotes row values (a unique key, a failing
        row), and even the primary message can quote a rejected value.
        """
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate:
            return f"SQLSTATE {sqlstate}", isinstance(exc, _CONFLICTS)
        if isinstance(exc, PoolTimeout):
            hint = "no free connection within pool_timeout; raise pool_max or pool_timeout"
        elif isinstance(exc, psycopg.OperationalError):
            hint = "check the URL's host, port and credentials and that the server is up"
        else:
            return type(exc).__name__, False
        return f"{type(exc).__name__}: {hint}", False

    @property
    def lock_scope(self) -> str:
        """The schema: advisory locks are per database, so venues sharing one never clash."""
        return self.schema

    def scrub(self) -> None:
        """Nothing to do here: the next vacuum reclaims the deleted row's dead tuple.

        Until then, and in backups and WAL archives, the bytes remain: keep the key store's
        retention of those short.
        """

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
            self.lock(conn, "bootstrap")
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

    def _look(self) -> None:
        """Check, changing nothing, that the server is new enough and the schema an avgkit one."""
        with (
            self.translated(f"connecting to schema {self.schema!r} read-only"),
            psycopg.connect(self.settings.conninfo) as conn,
        ):
            conn.read_only = True
            if conn.info.server_version < MIN_SERVER_VERSION:
                msg = (
                    f"postgresql: the server is version {conn.info.server_version}; avgkit "
                    "needs PostgreSQL 12 or newer"
                )
                raise StorageError(msg)
            (table,) = conn.execute(
                "SELECT to_regclass(%s)", (f'"{self.schema}".avgkit_schema',)
            ).fetchone() or (None,)
        if table is None:
            msg = (
                f"postgresql: schema {self.schema!r} holds no avgkit store (no avgkit tables, "
                "or no such schema); check the URL's ?schema= (nothing was created)"
            )
            raise StorageError(msg)

    def _configure(self, conn: Connection) -> None:
        conn.execute(
            "SELECT set_config('search_path', %s, false), set_config('TimeZone', 'UTC', false)",
            (f'"{self.schema}"',),
        )
        if self.read_only:  # the server refuses writes in every transaction of the session
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        conn.commit()

    def _reset(self, conn: Connection) -> None:
        # psycopg begins each transaction READ WRITE when read_only is False, whatever the
        # session's default: a read-only database keeps every transaction READ ONLY.
        conn.read_only = self.read_only

    def _refuse(self, what: str) -> StorageError:
        return StorageError(f"{what}: schema {self.schema!r} is open read-only")

    @contextmanager
    def write(self, what: str) -> Iterator[Connection]:
        """Lend a pooled connection for one transaction: committed if the block succeeds.

        An exception in the block rolls everything back. ``what`` names the operation in
        error messages ("appending to the audit log"). Inside another ``write()`` on the
        same thread (a store's write within a service's
        :meth:`~avgkit.audit.AuditLog.atomic` block) the block joins that transaction on the
        same connection as a savepoint, committed only with the outer one.

        Raises:
            StorageError: the database was opened ``read_only``.
        """
        if self.read_only:
            raise self._refuse(what)
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

    @contextmanager
    def joined(self, conn: object) -> Iterator[None]:
        """Run this thread's avgkit work of the block on the host's connection ``conn``.

        The block is a savepoint of the host's transaction (psycopg nests ``transaction()``
        blocks); avgkit's schema and UTC are set for the block only (``set_config(...,
        true)``), and the host's settings are put back before the block ends. Callbacks
        waiting for a commit run when the block ends.
        """
        if self.read_only:
            raise self._refuse("joining the host's transaction")
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
