"""A sanitised copy of a host's database, for staging: every mapped field treated as declared."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from avgkit.clock import Clock, SystemClock
from avgkit.errors import PolicyError, StorageError, ValidationError
from avgkit.host.sql._coverage import check_coverage
from avgkit.host.sql._host import check_rows, check_wiring, describe_database
from avgkit.host.sql._map import TableMap
from avgkit.host.sql._resolve import Schema, family, resolve
from avgkit.inventory import Field, Inventory, Treatment
from avgkit.pseudonym import (
    GENERALISERS,
    Generaliser,
    KeyRing,
    Pseudonymiser,
    PseudonymKey,
    ValueKind,
)

__all__ = ["DOMAIN", "SanitiseProgress", "SanitiseReport", "key_from_secret", "sanitise"]

DOMAIN: Final = "sanitised_copy"
"""The pseudonym domain of the values a sanitised copy pseudonymises.

.. versionadded:: 0.2.0
"""

_KEY_LABEL: Final = b"avgkit.sanitise.key\x00"
_PERMUTATION_LABEL: Final = b"avgkit.sanitise.int\x00"
_SECRET_LABEL: Final = b"avgkit.sanitise.secret\x00"
_KEY_HEX: Final = 32  # 128 bits of HMAC-SHA-256 for a text key
_KEY_HEX_MIN: Final = 16  # 64 bits: below this, two subjects could share a key
_ROUNDS: Final = 8
_SECRET_MIN: Final = 32
_PROBE_PREFIX: Final = "avgkit_probe_"

Transform = Callable[[Any], Any]


@attrs.frozen(kw_only=True)
class SanitiseProgress:
    """How far a copy is: passed to ``sanitise(progress=...)`` after every batch.

    .. versionadded:: 0.2.0
    """

    table: str
    """The table being copied."""
    done: int
    """Rows copied so far, over all tables."""
    total: int
    """Rows to copy, over all tables (counted when the copy began)."""


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(value))


def _frozen_names(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted(value.items())))


@attrs.frozen(kw_only=True)
class SanitiseReport:
    """What :func:`sanitise` copied and did; names tables and columns, never a value.

    .. versionadded:: 0.2.0
    """

    rows: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    """Rows copied per table, parents first."""
    treated: Mapping[str, str] = attrs.field(converter=_frozen_names)
    """``"table.column"`` -> what was done to it: ``drop``, ``generalise``, ``pseudonymise``
    (the inventory's treatments), or ``key`` (a subject key or a reference to one, replaced
    by its keyed pseudonym). Every other column was copied as it is."""

    @property
    def total(self) -> int:
        """Rows copied over all tables."""
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        """One line per table, then one per treated column (for a command line)."""
        lines = [
            f"{table}: {count} row{'' if count == 1 else 's'}" for table, count in self.rows.items()
        ]
        lines += [f"  {column}: {how}" for column, how in self.treated.items()]
        return lines


def key_from_secret(secret: str | bytes) -> PseudonymKey:
    """The pseudonym key of a sanitised copy made from a secret of your own.

    The same secret gives the same pseudonyms in every copy (a staging database refreshed
    each night keeps its joins with yesterday's extracts); without one, :func:`sanitise`
    draws a random key per run.

    Raises:
        ValidationError: the secret is shorter than 32 characters (the message never
            repeats it).

    .. versionadded:: 0.2.0
    """
    material = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not isinstance(material, bytes) or len(material) < _SECRET_MIN:
        msg = (
            f"a sanitising secret must be at least {_SECRET_MIN} characters of random text "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
        raise ValidationError(msg)
    derived = hashlib.sha256(_SECRET_LABEL + material).digest()
    return PseudonymKey.from_bytes(derived, key_id="sanitise")


# --------------------------------------------------------------------------- checks


def _sqlite_file(bind: Engine | Connection) -> Path | None:
    url = bind.engine.url
    if url.get_backend_name() != "sqlite" or url.database in {None, "", ":memory:"}:
        return None
    return Path(str(url.database)).resolve()


def _same_file(source: Engine | Connection, target: Engine) -> bool:
    one, other = _sqlite_file(source), _sqlite_file(target)
    if one is None or other is None:
        return False
    if one == other:
        return True
    with suppress(OSError):
        return one.samefile(other)
    return False


def _sees(source: Engine | Connection, table: str) -> bool:
    """Whether the source has ``table`` (on a connection of its own: no lock is kept)."""
    if isinstance(source, Connection):
        return sa.inspect(source).has_table(table)
    with source.connect() as conn:
        return sa.inspect(conn).has_table(table)


def _refuse_same(source: Engine | Connection, target: Engine) -> None:
    """Refuse a target that is the source: the same engine, file or database."""
    msg = (
        f"the target ({describe_database(target)}) is the source database; a sanitised copy "
        "must go to another, empty database"
    )
    if source.engine is target or _same_file(source, target):
        raise ValidationError(msg)
    # Two URLs can name one database (localhost and 127.0.0.1, a link to a file, a search
    # path): a table made in the target that the source then sees proves it.
    probe = sa.Table(
        f"{_PROBE_PREFIX}{secrets.token_hex(6)}",
        sa.MetaData(),
        sa.Column("x", sa.Integer),
    )
    with target.begin() as conn:
        probe.create(conn)
    try:
        seen = _sees(source, probe.name)
    finally:
        with target.begin() as conn:
            probe.drop(conn)
    if seen:
        raise ValidationError(msg)


def _check_arguments(
    source: object, target: object, table_map: object, inventory: object, batch: object
) -> None:
    check_wiring(source, "source", table_map, inventory)
    if not isinstance(target, Engine):
        msg = f"target must be an SQLAlchemy Engine, got {type(target).__name__}"
        raise ValidationError(msg)
    check_rows(batch, "batch")


# --------------------------------------------------------------------------- transforms


def _bits(column: sa.Column[Any], dialect: str) -> int:
    if dialect == "sqlite":
        return 64  # every SQLite integer is a signed 64-bit one
    if isinstance(column.type, sa.SmallInteger):
        return 16
    if isinstance(column.type, sa.BigInteger):
        return 64
    return 32


def _permutation(secret: bytes, bits: int) -> Transform:
    """A keyed permutation of the signed ``bits``-bit integers (a Feistel network).

    A bijection whatever the round function, so two keys never become one: the copy's
    unique and primary keys hold.
    """
    half = bits // 2
    mask = (1 << half) - 1
    whole = (1 << bits) - 1
    sign = 1 << (bits - 1)

    def permute(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            msg = "an integer key column holds a value that is not an integer"
            raise PolicyError(msg)
        unsigned = value & whole
        left, right = unsigned >> half, unsigned & mask
        for step in range(_ROUNDS):
            data = right.to_bytes(8, "big") + bytes((step,))
            digest = hashlib.blake2b(data, key=secret, digest_size=8).digest()
            left, right = right, left ^ (int.from_bytes(digest, "big") & mask)
        out = (left << half) | right
        return out - (1 << bits) if out & sign else out

    return permute


def _hex_key(secret: bytes, length: int) -> Transform:
    def pseudonym(value: Any) -> Any:
        if value is None:
            return None
        digest = hmac.digest(secret, _KEY_LABEL + str(value).encode("utf-8"), "sha256")
        return digest.hex()[:length]

    return pseudonym


def _keep(value: Any) -> Any:
    return value


def _drop(_value: Any) -> Any:
    return None


@attrs.frozen
class _Choice:
    """A column's treatment on the rows of one source (``where``)."""

    where: Mapping[str, Any]
    treatment: str
    transform: Transform


@attrs.frozen
class _TablePlan:
    """What happens to each column of one table, row by row."""

    table: sa.Table
    fixed: tuple[tuple[str, Transform], ...]
    by_row: tuple[tuple[str, tuple[_Choice, ...]], ...]

    def apply(self, row: Mapping[Any, Any]) -> dict[str, Any]:
        out = dict(row)
        for name, transform in self.fixed:
            out[name] = transform(row[name])
        for name, choices in self.by_row:
            chosen = next(
                (c for c in choices if all(row[k] == v for k, v in c.where.items())),
                choices[0],
            )
            out[name] = chosen.transform(row[name])
        return out


class _Planner:
    def __init__(
        self,
        *,
        schema: Schema,
        tables: Mapping[str, sa.Table],
        inventory: Inventory,
        key: PseudonymKey,
        clock: Clock,
        generalisers: Mapping[str, Generaliser],
        dialect: str,
    ) -> None:
        self.schema = schema
        self.tables = tables
        self.inventory = inventory
        self.secret = key.material
        self.pseudonymiser = Pseudonymiser(KeyRing([key]))
        self.now = clock.now()
        self.generalisers = generalisers
        self.dialect = dialect

    def key_columns(self) -> set[tuple[str, str]]:
        """The subjects key and every column holding one, along the map and foreign keys."""
        schema = self.schema
        subjects = schema.subjects.name
        held = {(subjects, schema.key.name)}
        for source in schema.sources:
            link = source.spec.link
            if link is not None and link.table == subjects:
                held.add((source.table.name, link.column))
            held.update((source.table.name, column.name) for _, column in source.people)
        if schema.restriction is not None:
            held.add((schema.restriction[0].name, schema.restriction[1].name))
        grown = True
        while grown:  # a reference to a column holding keys holds keys too
            grown = False
            for table in self.tables.values():
                for column in table.columns:
                    pointed = {(fk.column.table.name, fk.column.name) for fk in column.foreign_keys}
                    if (table.name, column.name) not in held and pointed & held:
                        held.add((table.name, column.name))
                        grown = True
        return held

    def key_transform(self, held: set[tuple[str, str]]) -> Transform:
        columns = [self.tables[t].c[c] for t, c in sorted(held) if t in self.tables]
        kind = family(self.schema.key.type)
        if kind == "integer":
            secret = hmac.digest(self.secret, _PERMUTATION_LABEL, "sha256")
            return _permutation(secret, _bits(self.schema.key, self.dialect))
        if kind != "text":
            msg = (
                f"subjects.key: {self.schema.subjects.name}.{self.schema.key.name} is a "
                f"{kind} column; a sanitised copy pseudonymises text and integer keys only"
            )
            raise PolicyError(msg)
        lengths = [
            length
            for column in columns
            if (length := getattr(column.type, "length", None)) is not None
        ]
        length = min([_KEY_HEX, *lengths])
        if length < _KEY_HEX_MIN:
            narrow = next(
                f"{c.table.name}.{c.name}"
                for c in columns
                if getattr(c.type, "length", None) == length
            )
            msg = (
                f"{narrow} holds subject keys but only {length} characters; a key's "
                f"pseudonym needs {_KEY_HEX_MIN} or more, so widen the column"
            )
            raise PolicyError(msg)
        return _hex_key(self.secret, length)

    def field_transform(self, field: Field, column: sa.Column[Any]) -> Transform:
        where = f"{column.table.name}.{column.name}"
        treatment = field.treatment
        if treatment is Treatment.KEEP:
            return _keep
        if treatment is Treatment.DROP:
            return _drop
        if treatment is Treatment.GENERALISE:
            generalise = self.generalisers.get(field.generaliser or "")
            if generalise is None:
                msg = (
                    f"fields.{field.key}.generaliser: {field.generaliser!r} is not a known "
                    f"generaliser; known: {sorted(self.generalisers)}"
                )
                raise PolicyError(msg)
            return self._generalise(generalise, text=family(column.type) == "text")
        kind = ValueKind.for_category(field.category)
        made = len(self.pseudonymiser.pseudonym("x", domain=DOMAIN, kind=ValueKind.TEXT))
        length = getattr(column.type, "length", None)
        if length is not None and length < made:
            msg = (
                f"{where} holds field {field.key!r}, pseudonymised, but only {length} "
                f"characters; a pseudonym has {made}, so widen the column"
            )
            raise PolicyError(msg)
        return self._pseudonymise(kind)

    def _generalise(self, generalise: Generaliser, *, text: bool) -> Transform:
        now = self.now

        def transform(value: Any) -> Any:
            if value is None:
                return None
            try:
                out = generalise(value, now)
            except ValidationError:
                return None  # unreadable: nothing of it is copied
            return str(out) if text and out is not None else out

        return transform

    def _pseudonymise(self, kind: ValueKind) -> Transform:
        make = self.pseudonymiser.pseudonym

        def transform(value: Any) -> Any:
            if value is None:
                return None
            text = str(value)
            if not text.strip():
                return value  # nothing to hide in blank text
            try:
                return make(text, domain=DOMAIN, kind=kind)
            except ValidationError:
                pass
            try:  # a value the kind cannot read (a malformed address): still one pseudonym
                return make(text, domain=DOMAIN, kind=ValueKind.TEXT)
            except ValidationError:
                return None

        return transform

    def plans(self) -> tuple[list[_TablePlan], dict[str, str]]:
        held = self.key_columns()
        key = self.key_transform(held)
        choices: dict[tuple[str, str], list[_Choice]] = {}
        for source in self.schema.sources:
            for mapped in source.mapped:
                field = self.inventory.field(mapped.field)
                column = self.tables[source.table.name].c[mapped.column.name]
                choice = _Choice(
                    dict(source.spec.where),
                    str(field.treatment),
                    self.field_transform(field, column),
                )
                choices.setdefault((source.table.name, mapped.column.name), []).append(choice)
        treated: dict[str, str] = {}
        plans = []
        for table in self.tables.values():
            fixed: list[tuple[str, Transform]] = []
            by_row: list[tuple[str, tuple[_Choice, ...]]] = []
            for column in table.columns:
                where = (table.name, column.name)
                if where in held:
                    fixed.append((column.name, key))
                    treated[f"{table.name}.{column.name}"] = "key"
                    continue
                found = choices.get(where)
                if not found or all(c.transform is _keep for c in found):
                    continue
                treated[f"{table.name}.{column.name}"] = ", ".join(
                    sorted({c.treatment for c in found})
                )
                if len({c.transform for c in found}) == 1 or all(not c.where for c in found):
                    fixed.append((column.name, found[0].transform))
                else:
                    by_row.append((column.name, tuple(found)))
            plans.append(_TablePlan(table, tuple(fixed), tuple(by_row)))
        return plans, treated


# --------------------------------------------------------------------------- the copy


@contextmanager
def _reading(source: Engine | Connection) -> Iterator[Connection]:
    """One consistent read of the source: a snapshot where the database offers one."""
    if isinstance(source, Connection):
        yield source
        return
    with source.connect() as conn:
        dialect = conn.dialect.name
        if dialect in {"postgresql", "mysql", "mariadb"}:
            conn.execution_options(isolation_level="REPEATABLE READ")  # this connection's
        with conn.begin():
            if dialect == "sqlite":
                # pysqlite opens no transaction for reads: open one, so that every table
                # is read as of one moment (from the first read on).
                raw = conn.connection.driver_connection
                if not getattr(raw, "in_transaction", True):
                    conn.exec_driver_sql("BEGIN")
            yield conn


@contextmanager
def _writing(target: Engine) -> Iterator[Connection]:
    """One transaction on the target, DDL included where the database allows it."""
    with target.begin() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite runs DDL outside a transaction unless one is open: open it.
            raw = conn.connection.driver_connection
            if not getattr(raw, "in_transaction", True):
                conn.exec_driver_sql("BEGIN")
        yield conn


def _reflect(conn: Connection) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(bind=conn)
    for table in list(metadata.tables.values()):
        if table.name.startswith(_PROBE_PREFIX):
            metadata.remove(table)
            continue
        for column in table.columns:
            default = column.server_default
            text = str(getattr(default, "arg", "")) if default is not None else ""
            if "nextval(" in text:
                column.server_default = None  # the source's sequence; the copy makes its own
    return metadata


def sanitise(
    source: Engine | Connection,
    target: Engine,
    table_map: TableMap,
    inventory: Inventory,
    *,
    key: PseudonymKey | None = None,
    clock: Clock | None = None,
    generalisers: Mapping[str, Generaliser] | None = None,
    batch: int = 1000,
    replace: bool = False,
    sample: int = 100,
    progress: Callable[[SanitiseProgress], None] | None = None,
) -> SanitiseReport:
    """Copy the host's database into ``target`` with every mapped field treated as declared.

    The target's tables are made from a reflection of the source's (columns, keys,
    indexes), then every row is copied in batches, streamed (memory stays flat whatever the
    size), each column as follows:

    * a column the map maps to an inventory field gets the field's treatment: ``drop``:
      NULL; ``generalise``: the field's generaliser (a value it cannot read becomes NULL);
      ``pseudonymise``: a keyed pseudonym for :data:`DOMAIN`; ``keep``: copied. On a table
      with several sources (``where``), a row gets the treatment of its own source, and a
      column mapped on some rows of the table only is treated on every row;
    * the subjects key, and every column holding one (links to the subjects table, people
      named on rows, the restriction table, foreign keys referring to any of these), gets
      the key's keyed pseudonym: 32 hex digits for a text key (fewer when a column is
      narrower, never fewer than 16), a keyed permutation of the integers for an integer
      key. The same key gives the same pseudonym in every table, so joins still work;
    * every other column is copied as it is. That is safe only for columns that hold
      nothing personal, so the copy first runs :func:`check_coverage`, and refuses to start
      while it reports any column that looks personal but is neither mapped nor declared
      ``not_personal``.

    Pseudonyms are keyed with ``key`` (:func:`key_from_secret` makes one from a secret of
    your own, so that two copies agree), or a random key drawn for this run only. The copy
    is one transaction on the target: on any error nothing of it stays (on MariaDB/MySQL,
    whose table definitions cannot be rolled back, the tables it made are dropped).

    Args:
        source: the host's database (read only: one consistent snapshot where the
            database offers one).
        target: another database, with no tables (see ``replace``).
        table_map: where the personal data is.
        inventory: the declared fields and their treatments.
        key: the pseudonym key (default: a random one per run).
        clock: "now" for the generalisers (age bands); default the system clock.
        generalisers: extra or replacement generalisers by name.
        batch: rows read and written at a time.
        replace: drop the target's tables that the source also has, instead of refusing a
            target that holds tables.
        sample: rows the coverage check samples per column (at least 1).
        progress: called after every batch.

    Raises:
        ValidationError: the target is the source (the same engine, file or database), or
            holds tables and ``replace`` is not set, or an argument is malformed.
        PolicyError: the map does not fit the schema, the coverage check finds undeclared
            personal-looking columns (named), or a column cannot hold its pseudonyms.
        StorageError: a database failed (named by address, never its password; no value
            of a row is shown).

    .. versionadded:: 0.2.0
    """
    _check_arguments(source, target, table_map, inventory, batch)
    if not isinstance(replace, bool):
        msg = "replace must be True or False"
        raise ValidationError(msg)
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        msg = (
            "sample must be a whole number of rows, at least 1: the copy relies on sampling "
            "the undeclared columns' contents"
        )
        raise ValidationError(msg)
    if key is not None and not isinstance(key, PseudonymKey):
        msg = f"key must be a PseudonymKey (see key_from_secret), got {type(key).__name__}"
        raise ValidationError(msg)
    chosen = PseudonymKey.generate() if key is None else key
    known = {**GENERALISERS, **(generalisers or {})}
    doing = f"sanitising {describe_database(source)} into {describe_database(target)}"
    try:
        _refuse_same(source, target)
        with _reading(source) as conn:
            return _copy(
                conn,
                target,
                table_map,
                inventory,
                planner_args=(chosen, clock or SystemClock(), known),
                batch=batch,
                replace=replace,
                sample=sample,
                progress=progress,
            )
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        msg = (
            f"{doing} failed: {type(cause).__name__}; nothing of the copy was kept (check "
            "that both databases are reachable and the target accepts the source's tables)"
        )
        raise StorageError(msg) from None


def _copy(
    conn: Connection,
    target: Engine,
    table_map: TableMap,
    inventory: Inventory,
    *,
    planner_args: tuple[PseudonymKey, Clock, Mapping[str, Generaliser]],
    batch: int,
    replace: bool,
    sample: int,
    progress: Callable[[SanitiseProgress], None] | None,
) -> SanitiseReport:
    schema = resolve(conn, table_map, inventory)
    report = check_coverage(conn, table_map, inventory, sample=sample)
    if not report.ok:
        shown = ", ".join(f"{t}.{c}" for t, c in report.undeclared)
        msg = (
            f"the coverage check finds columns that look personal but are declared nowhere: "
            f"{shown}; map them to a field or list them in not_personal (with the reason) "
            "before making a sanitised copy, which copies undeclared columns as they are"
        )
        raise PolicyError(msg)
    metadata = _reflect(conn)
    tables = {table.name: table for table in metadata.sorted_tables}
    key, clock, known = planner_args
    planner = _Planner(
        schema=schema,
        tables=tables,
        inventory=inventory,
        key=key,
        clock=clock,
        generalisers=known,
        dialect=conn.dialect.name,
    )
    plans, treated = planner.plans()
    existing = set(sa.inspect(target).get_table_names())
    if existing and not replace:
        msg = (
            f"the target ({describe_database(target)}) holds {len(existing)} tables; a "
            "sanitised copy goes to an empty database (or pass replace=True / --replace to "
            "drop the tables the source also has)"
        )
        raise ValidationError(msg)
    total = sum(
        conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        for table in tables.values()
    )
    rows = _write(conn, target, metadata, plans, existing, batch, total, progress)
    return SanitiseReport(rows=rows, treated=treated)


def _write(  # noqa: PLR0917 - the pieces _copy() prepared
    conn: Connection,
    target: Engine,
    metadata: sa.MetaData,
    plans: list[_TablePlan],
    existing: set[str],
    batch: int,
    total: int,
    progress: Callable[[SanitiseProgress], None] | None,
) -> dict[str, int]:
    """Make the tables and copy the rows, in one transaction on the target."""
    rows: dict[str, int] = {}
    made: list[sa.Table] = []
    try:
        with _writing(target) as out:
            for table in reversed(metadata.sorted_tables):
                if table.name in existing:
                    table.drop(out)
            for table in metadata.sorted_tables:
                table.create(out)
                made.append(table)
            done = 0
            options = {"stream_results": True, "yield_per": batch}
            for plan in plans:
                copied = 0
                insert = sa.insert(plan.table)
                # Closed even when a batch fails: an unfinished server-side cursor (MariaDB)
                # would leave the connection unusable for the rollback.
                with conn.execute(
                    sa.select(*plan.table.columns), execution_options=options
                ) as result:
                    for part in result.mappings().partitions(batch):
                        out.execute(insert, [plan.apply(row) for row in part])
                        copied += len(part)
                        done += len(part)
                        if progress is not None:
                            progress(
                                SanitiseProgress(table=plan.table.name, done=done, total=total)
                            )
                rows[plan.table.name] = copied
    except BaseException:
        if target.dialect.name in {"mysql", "mariadb"} and made:
            # Their table definitions commit at once: drop what this copy made.
            with suppress(SQLAlchemyError), target.begin() as cleanup:
                for table in reversed(made):
                    table.drop(cleanup, checkfirst=True)
        raise
    return rows
