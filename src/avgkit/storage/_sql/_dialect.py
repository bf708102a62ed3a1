"""How one SQL database spells what the shared stores need (private).

A :class:`Dialect` is a frozen value: placeholders, column types, how instants, booleans
and text travel to and from the driver, the append-only triggers, the upsert, the locking
statements and the page size. The stores in this package are written once against it;
:data:`SQLITE` and :data:`POSTGRESQL` are the two dialects avgkit ships.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

import attrs

from avgkit._validators import utc_text

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "TIME_TEXT_LENGTH",
    "Dialect",
    "decode_text",
    "text_to_time",
    "time_to_text",
]

TIME_TEXT_LENGTH: Final = len("2025-01-01T00:00:00.000000Z")
"""The length of :func:`time_to_text`'s form: ``T`` at index 10, ``Z`` last."""


def decode_text(value: object) -> str:
    """Return a stored text value as ``str``: bytes must be valid UTF-8.

    Raises:
        UnicodeDecodeError: the bytes are not UTF-8 (the row was changed outside avgkit).
        TypeError: the value is neither text nor bytes.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    msg = f"a stored text column holds a {type(value).__name__}"
    raise TypeError(msg)


def time_to_text(value: datetime) -> str:
    """Encode an aware instant as fixed-width UTC text that sorts like the instant."""
    return utc_text(value)


def text_to_time(value: str) -> datetime:
    """Decode :func:`time_to_text`'s form back to an aware UTC datetime.

    Raises:
        ValueError: ``value`` is not in that form.
    """
    # fromisoformat() is fifty times faster than strptime() but takes other forms too: the
    # fixed shape is checked first, so a row in another form still fails to decode.
    if len(value) != TIME_TEXT_LENGTH or value[10] != "T" or value[-1] != "Z":
        msg = "a stored instant is not in avgkit's form"
        raise ValueError(msg)
    return datetime.fromisoformat(value)


def _text_instant(value: object) -> datetime:
    return text_to_time(decode_text(value))


def _native_instant(value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        msg = f"a stored instant is a {type(value).__name__}, not an aware datetime"
        raise TypeError(msg)
    # Sessions run in UTC; converting again keeps audit hashes right even if a server-side
    # setting overrides it, because the hash encodes the UTC wall time.
    return value.astimezone(UTC)


def _as_is(value: object) -> object:
    return value


def _sqlite_trigger(_component: str, table: str, message: str) -> str:
    return "\n".join(
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}\n"
        f"BEGIN\n    SELECT RAISE(ABORT, '{message}');\nEND;"
        for op in ("UPDATE", "DELETE")
    )


def _plpgsql_trigger(component: str, table: str, message: str) -> str:
    function = f"avgkit_{component}_append_only"
    return f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{message} (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""


def split_statements(script: str) -> list[str]:
    """Split a script on ``;`` line ends (scripts hold no string literals with ;).

    For drivers that run one statement per call (``executescript`` would commit the
    surrounding transaction). Statements inside ``BEGIN ... END`` (triggers) stay whole.
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


def _whole(script: str) -> list[str]:
    return [script]


@attrs.frozen(kw_only=True)
class Dialect:
    """What differs between SQL databases, as far as the shared stores are concerned."""

    name: str
    """Starts every error message (``"sqlite"``, ``"postgresql"``)."""
    placeholder: str
    """The driver's parameter marker (``?`` or ``%s``)."""
    typed_placeholder: str
    """A parameter whose type the server must be told (``{}`` is the type name)."""
    big_integer: str
    """The type of a 64-bit sequence number (SQLite: the rowid alias ``INTEGER``)."""
    identity: str
    """An auto-numbered primary key column, numbered in insertion order."""
    instant: str
    """The type instants are stored in."""
    blob: str
    """The type of raw bytes."""
    boolean: str
    """The type of a flag; values are :attr:`true` and :attr:`false`."""
    true: str
    """The SQL literal of a set flag."""
    false: str
    """The SQL literal of an unset flag."""
    text_out: str
    """How a text or instant column is selected (``{}`` is the column) so that bytes that
    are no longer valid text reach the row codecs instead of failing inside the driver."""
    instant_in: Callable[[datetime], object]
    """An aware instant as the driver takes it."""
    instant_out: Callable[[object], datetime]
    """A stored instant (selected through :attr:`text_out`) back as an aware UTC datetime."""
    flag_in: Callable[[bool], object]
    """A flag as the driver takes it."""
    append_only: Callable[[str, str, str], str]
    """DDL making ``table`` (of ``component``) refuse changes with ``message``."""
    ignore_clause: str = "ON CONFLICT ({key}) DO NOTHING"
    """Ends an ``INSERT`` that does nothing when the unique ``{key}`` is taken."""
    update_clause: str = "ON CONFLICT ({key}) DO UPDATE SET {changes}"
    """Ends an ``INSERT`` that overwrites the row whose unique ``{key}`` is taken."""
    excluded: str = "excluded.{}"
    """The refused row's value of column ``{}`` inside :attr:`update_clause`."""
    statements: Callable[[str], Sequence[str]]
    """A migration script as the statements to execute, one per driver call."""
    lock_sql: str | None
    """Waits for a transaction-level lock named by its one parameter; ``None`` when every
    write transaction already holds the whole database's write lock."""
    try_lock_sql: str | None
    """Takes that lock if free, returning one boolean column."""
    page_size: int = 1000
    """Rows per keyset page of the shared stores."""
    skip_locked: str = ""
    """Ends a ``SELECT`` whose rows a concurrent transaction may be claiming: lock the rows
    taken, skip those locked (empty where a write holds the whole database)."""

    def params(self, count: int) -> str:
        """``count`` placeholders, comma-separated."""
        return ", ".join([self.placeholder] * count)

    def insert_ignore(self, table: str, columns: Sequence[str], key: str) -> str:
        """An ``INSERT`` of one row that does nothing when ``key`` is taken."""
        return f"{self._insert(table, columns)} {self.ignore_clause.format(key=key)}"

    def upsert(self, table: str, columns: Sequence[str], key: str) -> str:
        """An ``INSERT`` of one row that overwrites the other columns when ``key`` is taken."""
        changes = ", ".join(f"{c} = {self.excluded.format(c)}" for c in columns if c != key)
        return (
            f"{self._insert(table, columns)} {self.update_clause.format(key=key, changes=changes)}"
        )

    def _insert(self, table: str, columns: Sequence[str]) -> str:
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.params(len(columns))})"  # noqa: S608 - fixed names and placeholders only

    def typed(self, type_name: str) -> str:
        """A placeholder whose type the server is told (``%s::timestamptz``)."""
        return self.typed_placeholder.format(type_name)

    def column(self, name: str) -> str:
        """``name`` as the shared stores select it (see :attr:`text_out`)."""
        return self.text_out.format(name)


SQLITE: Final = Dialect(
    name="sqlite",
    placeholder="?",
    typed_placeholder="?",
    big_integer="INTEGER",
    identity="INTEGER PRIMARY KEY AUTOINCREMENT",
    instant="TEXT",
    blob="BLOB",
    boolean="INTEGER",
    true="1",
    false="0",
    # The standard library decodes TEXT inside fetchone() and fails there, quoting the
    # bytes; as a BLOB the value reaches decode_text, which names only the row.
    text_out="CAST({} AS BLOB)",
    instant_in=time_to_text,
    instant_out=_text_instant,
    flag_in=int,
    append_only=_sqlite_trigger,
    statements=split_statements,
    lock_sql=None,  # BEGIN IMMEDIATE takes the file's write lock
    try_lock_sql=None,
)
"""The standard library's :mod:`sqlite3`: instants as fixed-width UTC text."""

POSTGRESQL: Final = Dialect(
    name="postgresql",
    placeholder="%s",
    typed_placeholder="%s::{}",
    big_integer="bigint",
    identity="bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    instant="timestamptz",
    blob="bytea",
    boolean="boolean",
    true="TRUE",
    false="FALSE",
    text_out="{}",
    instant_in=_as_is,  # psycopg adapts aware datetimes itself
    instant_out=_native_instant,
    flag_in=bool,
    append_only=_plpgsql_trigger,
    statements=_whole,  # one execute() runs a whole script, $$ bodies included
    lock_sql="SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
    skip_locked="FOR UPDATE SKIP LOCKED",
    try_lock_sql="SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
)
"""psycopg 3: ``timestamptz``, ``bytea``, ``boolean``, advisory locks."""
