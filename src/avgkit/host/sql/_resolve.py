"""A table map checked against the live schema, as SQLAlchemy expressions (private).

:func:`resolve` reflects the tables a :class:`~avgkit.host.sql.TableMap` names and refuses,
with a :class:`~avgkit.errors.PolicyError` naming the table and column, whatever cannot
work: an unknown table or column, a field on a column of the wrong type, a link whose
columns' types differ or that contradicts a declared foreign key, a link to a column that
is not unique, a cycle in the links, a subjects key that is not unique, a column that an
erasure must empty but that cannot be NULL, a kept record whose reference to a deleted
subject the database would refuse. What it checks reads only the schema, never a row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from avgkit.errors import PolicyError, StorageError
from avgkit.host.sql._map import Person, Source, TableMap, Timestamps
from avgkit.inventory import Inventory, Treatment

# Categories whose values are text: a column holding one must be a text column.
TEXT_CATEGORIES: Final = frozenset(
    {
        "Name",
        "EmailAddress",
        "EmailAddressPersonal",
        "EmailAddressWork",
        "TelephoneNumber",
        "PhysicalAddress",
        "PostalCode",
        "City",
        "Country",
        "BankAccount",
        "IPAddress",
    }
)


def family(column_type: sa.types.TypeEngine[Any]) -> str:
    """The kind of values a column type holds: text, integer, datetime, date, ..."""
    if isinstance(column_type, SqliteInstant):
        return "datetime"
    checks: tuple[tuple[type[Any], str], ...] = (
        (sa.Boolean, "boolean"),
        (sa.Integer, "integer"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.Numeric, "number"),
        (sa.Float, "number"),
        (sa.Enum, "text"),
        (sa.String, "text"),
    )
    for kind, name in checks:
        if isinstance(column_type, kind):
            return name
    return "other"


Condition = Callable[[ColumnElement[Any]], ColumnElement[bool]]
"""Given the bound subject key, the condition selecting a table's rows of that subject."""


@attrs.frozen(kw_only=True)
class Mapped:
    """A personal column of a source: its field, who it belongs to, and what erasure does."""

    column: sa.Column[Any]
    field: str
    category: str
    person: sa.Column[Any] | None
    erased: bool
    """Set to NULL when the record is stripped (every treatment but ``keep``)."""


@attrs.frozen(kw_only=True)
class Events:
    """Where a source's rows' events start."""

    target: sa.Table
    on: ColumnElement[bool]
    starts_at: sa.Column[Any]


@attrs.frozen(kw_only=True)
class Resolved:
    """One source of the map, in expressions over the reflected tables."""

    spec: Source
    table: sa.Table
    key: sa.Column[Any]
    joined: sa.FromClause
    """The table joined along its link chain (for ``at`` and :attr:`owner`)."""
    owner: ColumnElement[Any] | None
    """The subject key a row belongs to, over :attr:`joined` (``None``: nobody's)."""
    rows_of: Condition | None
    """The table's rows of a subject, as a condition on the table alone (for UPDATE/DELETE)."""
    at: sa.Column[Any] | None
    where: ColumnElement[bool]
    mapped: tuple[Mapped, ...]
    people: tuple[tuple[Person, sa.Column[Any]], ...]
    activity: tuple[tuple[str, sa.Column[Any]], ...]
    events: Events | None
    depth: int
    """Links between the table and the subjects table (0: the subjects table itself)."""
    own: bool
    """The source is on the subjects table."""

    def owned_by_row(self) -> tuple[Mapped, ...]:
        """The columns that are the row owner's (no person named for them)."""
        return tuple(m for m in self.mapped if m.person is None)

    def of_person(self, column: sa.Column[Any]) -> tuple[Mapped, ...]:
        """The columns that are the person's named in ``column``."""
        return tuple(m for m in self.mapped if m.person is column)


@attrs.frozen(kw_only=True)
class Schema:
    """The whole map, resolved."""

    subjects: sa.Table
    key: sa.Column[Any]
    kind: sa.Column[Any] | None
    restricted: sa.Column[Any] | None
    restriction: tuple[sa.Table, sa.Column[Any]] | None
    sources: tuple[Resolved, ...]
    key_family: str
    aware: bool
    """Native timestamps: the columns store a time zone (bind aware instants)."""


def _fail(message: str) -> PolicyError:
    return PolicyError(f"table map: {message}")


def _column(table: sa.Table, name: str, what: str) -> sa.Column[Any]:
    if name not in table.c:
        msg = f"{what}: table {table.name!r} has no column {name!r}"
        raise _fail(msg)
    column: sa.Column[Any] = table.c[name]
    return column


def _unique(inspector: sa.Inspector, table: sa.Table, column: str) -> bool:
    if [c.name for c in table.primary_key.columns] == [column]:
        return True
    for constraint in inspector.get_unique_constraints(table.name):
        if list(constraint["column_names"]) == [column]:
            return True
    return any(
        index.get("unique") and list(index["column_names"]) == [column]
        for index in inspector.get_indexes(table.name)
    )


def _sqlite_enforces_keys(conn: Connection) -> bool:
    if conn.dialect.name != "sqlite":
        return True
    return bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())


def _sqlite_instant_text(column: Any) -> Any:
    """SQL: a SQLite instant's text in one form, ``YYYY-MM-DD HH:MM:SS.ffffff``.

    A ``T`` between date and time becomes a space; a missing fraction becomes ``.000000`` and a
    short one is padded with zeros, so that text order is time order whoever wrote it.
    """
    spaced = sa.func.replace(column, "T", " ")
    return sa.case(
        (sa.func.instr(spaced, ".") == 0, spaced + ".000000"),
        else_=sa.func.substr(spaced + "000000", 1, 26),
    )


def _instant_side(other: Any) -> Any:
    # Another instant column is brought to the one form too; a value (a bound parameter)
    # is bound by SqliteInstant, which writes that form.
    if isinstance(other, ColumnElement) and isinstance(other.type, SqliteInstant):
        return _sqlite_instant_text(other)
    return sa.type_coerce(other, SqliteInstant())


class SqliteInstant(sa.types.TypeDecorator[datetime]):
    """A native SQLite instant column, read and compared whatever text form the host wrote.

    SQLite keeps a timestamp as text and compares text. Writers differ: SQLAlchemy writes
    ``2024-01-01 10:00:00.000000``, Django and the ``sqlite3`` adapters
    ``2024-01-01 10:00:00`` (no fraction when it is zero), other tools an ISO ``T``; compared
    as text, one instant is "less than" itself and a boundary moves. Comparisons with this
    type bring the column's text to one form first (:func:`_sqlite_instant_text`) and bind
    the instant in that form; values are read back from any ISO 8601 text.
    """

    impl = sa.String
    cache_ok = True

    class comparator_factory(sa.String.Comparator[str]):  # noqa: N801 - SQLAlchemy's name
        """Compare the column's text brought to one form, not the text as written."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            """``column <op> other`` on the normalised text, ``other`` bound in that form."""
            return op(_sqlite_instant_text(self.expr), *map(_instant_side, other), **kwargs)

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> str | None:  # noqa: ARG002
        """An instant as SQLite text in the one form: ``YYYY-MM-DD HH:MM:SS.ffffff``."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")

    def process_result_value(self, value: object, dialect: sa.Dialect) -> datetime | None:  # noqa: ARG002
        """Read what the host stored (ISO 8601 text, a space or a ``T`` between)."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            msg = "the host database holds text in an instant column that is not an ISO 8601 time"
            raise StorageError(msg) from None


class _Resolver:
    def __init__(self, conn: Connection, table_map: TableMap, inventory: Inventory) -> None:
        self.conn = conn
        self.map = table_map
        self.inventory = inventory
        self.inspector = sa.inspect(conn)
        self.metadata = sa.MetaData()
        self.known = set(self.inspector.get_table_names())
        self.tables: dict[str, sa.Table] = {}
        self.enforced = _sqlite_enforces_keys(conn)

    def table(self, name: str, what: str) -> sa.Table:
        if name not in self.tables:
            if name not in self.known:
                msg = f"{what}: the database has no table {name!r}"
                raise _fail(msg)
            table = sa.Table(name, self.metadata, autoload_with=self.conn)
            if self.map.timestamps is Timestamps.NATIVE and self.conn.dialect.name == "sqlite":
                # Before any statement or alias copies the column: compared as instants.
                for column in table.columns:
                    if family(column.type) == "datetime":
                        column.type = SqliteInstant()
            self.tables[name] = table
        return self.tables[name]

    def instant(self, column: sa.Column[Any], what: str) -> None:
        wanted = "datetime" if self.map.timestamps is Timestamps.NATIVE else "integer"
        if family(column.type) != wanted:
            msg = (
                f"{what}: {column.table.name}.{column.name} is a {family(column.type)} column, "
                f"but timestamps = {str(self.map.timestamps)!r} stores instants in {wanted} "
                "columns; fix the column or the map's timestamps"
            )
            raise _fail(msg)

    def check_link(self, table: sa.Table, column: sa.Column[Any], target: sa.Column[Any]) -> None:
        where = f"{table.name}.{column.name}"
        parent: sa.Table = target.table
        if family(column.type) != family(target.type):
            msg = (
                f"link {where} -> {parent.name}.{target.name}: a {family(column.type)} column "
                f"cannot hold the key of a {family(target.type)} column"
            )
            raise _fail(msg)
        if not _unique(self.inspector, parent, target.name):
            msg = (
                f"link {where} -> {parent.name}.{target.name}: {parent.name}.{target.name} is "
                "neither a primary key nor unique, so a row could reach several"
            )
            raise _fail(msg)
        keys = list(column.foreign_keys)
        table_keys = [fk for c in table.columns for fk in c.foreign_keys]
        if table_keys and not keys:
            msg = (
                f"link {where} -> {parent.name}.{target.name}: {table.name} declares foreign "
                f"keys, but none on {column.name}; declare it (or check the link)"
            )
            raise _fail(msg)
        if keys and not any(fk.references(parent) and fk.column is target for fk in keys):
            pointed = ", ".join(f"{fk.target_fullname}" for fk in keys)
            msg = (
                f"link {where} -> {parent.name}.{target.name}: the column's foreign key points "
                f"at {pointed} instead"
            )
            raise _fail(msg)

    def link_of(self, table: str) -> Source | None:
        """The link declared for rows of ``table`` (every source on it must agree)."""
        links = {str(s.link) for s in self.map.sources if s.table == table and s.link}
        if len(links) > 1:
            msg = f"the sources on table {table!r} declare different links: {sorted(links)}"
            raise _fail(msg)
        for source in self.map.sources:
            if source.table == table and source.link is not None:
                return source
        return None

    def resolve(self) -> Schema:  # noqa: C901, PLR0912 - one check after another
        spec = self.map.subjects
        subjects = self.table(spec.table, "subjects")
        key = _column(subjects, spec.key, "subjects.key")
        if not _unique(self.inspector, subjects, spec.key):
            msg = (
                f"subjects.key: {spec.table}.{spec.key} is neither the primary key nor unique; "
                "a subject key must name one row"
            )
            raise _fail(msg)
        kind = None
        if spec.kind_column is not None:
            kind = _column(subjects, spec.kind_column, "subjects.kind_column")
            if family(kind.type) != "text":
                msg = f"subjects.kind_column: {spec.table}.{kind.name} is not a text column"
                raise _fail(msg)
        restricted = None
        if spec.restricted_column is not None:
            restricted = _column(subjects, spec.restricted_column, "subjects.restricted_column")
            if family(restricted.type) not in {"boolean", "integer"}:
                msg = (
                    f"subjects.restricted_column: {spec.table}.{restricted.name} must be a "
                    "boolean or integer column"
                )
                raise _fail(msg)
        restriction = None
        if spec.restriction is not None:
            table_name, column_name = spec.restriction
            marks = self.table(table_name, "subjects.restriction_table")
            marked = _column(marks, column_name, "subjects.restriction_table")
            if family(marked.type) != family(key.type):
                msg = (
                    f"subjects.restriction_table: {table_name}.{column_name} cannot hold "
                    f"{spec.table}.{spec.key}'s keys (a {family(key.type)} column)"
                )
                raise _fail(msg)
            if not _unique(self.inspector, marks, column_name):
                msg = f"subjects.restriction_table: {table_name}.{column_name} must be unique"
                raise _fail(msg)
            restriction = (marks, marked)
        resolved = tuple(self.source(source, subjects, key) for source in self.map.sources)
        by_table: dict[str, list[Resolved]] = {}
        for item in resolved:
            by_table.setdefault(item.table.name, []).append(item)
        for item in resolved:
            self.check_kept(item, by_table, subjects, key)
        aware = True
        if self.map.timestamps is Timestamps.NATIVE:
            instants = [
                column
                for item in resolved
                for column in (
                    item.at,
                    *(c for _, c in item.activity),
                    None if item.events is None else item.events.starts_at,
                )
                if column is not None
            ]
            zones = {bool(getattr(c.type, "timezone", False)) for c in instants}
            if len(zones) > 1:
                msg = (
                    "timestamps: some instant columns store a time zone and some do not; "
                    "native timestamps need one kind"
                )
                raise _fail(msg)
            aware = zones == {True}
        for name in self.map.not_personal:
            table_name, _, column_name = name.partition(".")
            _column(self.table(table_name, f"not_personal[{name!r}]"), column_name, name)
        return Schema(
            subjects=subjects,
            key=key,
            kind=kind,
            restricted=restricted,
            restriction=restriction,
            sources=resolved,
            key_family=family(key.type),
            aware=aware,
        )

    def source(  # noqa: C901, PLR0912, PLR0915 - the checks of one source, in order
        self, source: Source, subjects: sa.Table, subject_key: sa.Column[Any]
    ) -> Resolved:
        what = f"sources.{source.name}"
        table = self.table(source.table, what)
        own = table is subjects
        if own and source.link is not None:
            msg = f"{what}: the subjects table's own rows need no link; remove it"
            raise _fail(msg)
        if source.key is not None:
            key = _column(table, source.key, f"{what}.key")
        else:
            primary = list(table.primary_key.columns)
            if len(primary) != 1:
                msg = f"{what}.key: table {table.name!r} has no single-column primary key; name one"
                raise _fail(msg)
            key = primary[0]
        joined: sa.FromClause = table
        chain: list[sa.Table] = [table]
        owner: ColumnElement[Any] | None = subject_key if own else None
        rows_of: Condition | None = (lambda s: subject_key == s) if own else None
        depth = 0
        link_source: Source | None = source if source.link is not None else None
        current = table
        conditions: list[tuple[sa.Column[Any], sa.Column[Any]]] = []
        while link_source is not None and link_source.link is not None:
            link = link_source.link
            column = _column(current, link.column, f"{what}.link")
            depth += 1
            if link.table == subjects.name:
                target = _column(subjects, link.target, f"{what}.link")
                if target is not subject_key:
                    msg = (
                        f"{what}.link: {current.name}.{link.column} points at "
                        f"{subjects.name}.{link.target}, which is not the subjects key "
                        f"{subjects.name}.{subject_key.name}"
                    )
                    raise _fail(msg)
                self.check_link(current, column, target)
                owner = column
                conditions.append((column, target))
                break
            parent = self.table(link.table, f"{what}.link")
            if parent in chain:
                names = " -> ".join([t.name for t in chain] + [parent.name])
                msg = f"{what}.link: the links run in a cycle ({names})"
                raise _fail(msg)
            target = _column(parent, link.target, f"{what}.link")
            self.check_link(current, column, target)
            joined = joined.join(parent, target == column)
            chain.append(parent)
            conditions.append((column, target))
            current = parent
            link_source = self.link_of(parent.name)
            if link_source is None:
                msg = (
                    f"{what}.link: no source says how rows of {parent.name!r} reach a subject; "
                    f"add a source on {parent.name!r} with its link"
                )
                raise _fail(msg)
        if conditions:
            rows_of = _rows_of(conditions)
        at = None
        if source.at is not None:
            table_name, _, column_name = source.at.rpartition(".")
            holder = table
            if table_name:
                found = [t for t in chain if t.name == table_name]
                if not found:
                    msg = f"{what}.at: {table_name!r} is not on the source's link chain"
                    raise _fail(msg)
                holder = found[0]
            at = _column(holder, column_name, f"{what}.at")
            self.instant(at, f"{what}.at")
        where: ColumnElement[bool] = sa.true()
        parts = [
            _column(table, name, f"{what}.where") == value for name, value in source.where.items()
        ]
        if parts:
            where = sa.and_(*parts)
        people = []
        for person in source.people:
            column = _column(table, person.column, f"{what}.people")
            if family(column.type) != family(subject_key.type):
                msg = (
                    f"{what}.people: {table.name}.{column.name} cannot hold a subject key "
                    f"(a {family(subject_key.type)} column)"
                )
                raise _fail(msg)
            self.nullable(column, f"{what}.people")
            people.append((person, column))
        mapped = []
        seen: set[str] = set()
        for name, field_key in source.columns.items():
            column = _column(table, name, f"{what}.columns")
            field = self.inventory.field(field_key)  # PolicyError: not declared
            if field_key in seen:
                msg = f"{what}.columns: field {field_key!r} is mapped to two columns"
                raise _fail(msg)
            seen.add(field_key)
            if field.category in TEXT_CATEGORIES and family(column.type) != "text":
                msg = (
                    f"{what}.columns: field {field_key!r} holds text ({field.category}) but "
                    f"{table.name}.{name} is a {family(column.type)} column"
                )
                raise _fail(msg)
            owner_person = source.person_of(name)
            holder_column = None
            if owner_person is not None:
                holder_column = next(c for p, c in people if p is owner_person)
            erased = field.treatment is not Treatment.KEEP
            if erased:
                self.nullable(column, f"{what}.columns")
            mapped.append(
                Mapped(
                    column=column,
                    field=field_key,
                    category=field.category,
                    person=holder_column,
                    erased=erased,
                )
            )
        if mapped and owner is None:
            msg = (
                f"{what}: personal columns on a source without a link; add a link so its "
                "rows reach a subject"
            )
            raise _fail(msg)
        activity = []
        for name, kind in source.activity.items():
            if owner is None:
                msg = f"{what}.activity: activity of nobody; add a link"
                raise _fail(msg)
            column = _column(table, name, f"{what}.activity")
            self.instant(column, f"{what}.activity")
            activity.append((kind, column))
        events = None
        if source.events is not None:
            link = source.events.link
            column = _column(table, link.column, f"{what}.events")
            target_table = self.table(link.table, f"{what}.events")
            target = _column(target_table, link.target, f"{what}.events")
            self.check_link(table, column, target)
            starts = _column(target_table, source.events.starts_at, f"{what}.events")
            self.instant(starts, f"{what}.events.starts_at")
            events = Events(target=target_table, on=target == column, starts_at=starts)
        return Resolved(
            spec=source,
            table=table,
            key=key,
            joined=joined,
            owner=owner,
            rows_of=rows_of,
            at=at,
            where=where,
            mapped=tuple(mapped),
            people=tuple(people),
            activity=tuple(activity),
            events=events,
            depth=depth,
            own=own,
        )

    @staticmethod
    def nullable(column: sa.Column[Any], what: str) -> None:
        if not column.nullable:
            msg = (
                f"{what}: {column.table.name}.{column.name} is NOT NULL, but an erasure "
                "must empty it; allow NULL or map the field with treatment 'keep'"
            )
            raise _fail(msg)

    def check_kept(
        self,
        item: Resolved,
        by_table: dict[str, list[Resolved]],
        subjects: sa.Table,
        key: sa.Column[Any],
    ) -> None:
        """A kept row must not hang off a deleted one, nor block the subject's deletion."""
        kept = item.spec.fiscal or bool(item.people)
        if not kept or item.own:
            return
        link = item.spec.link
        if link is None:
            return
        if link.table != subjects.name:
            parents = by_table.get(link.table, [])
            deleted = [p for p in parents if not p.spec.fiscal and not p.own]
            if item.spec.fiscal and deleted:
                msg = (
                    f"sources.{item.spec.name}: a fiscal record hangs off "
                    f"{link.table!r}, whose rows an erasure deletes; mark "
                    f"sources.{deleted[0].spec.name} fiscal too"
                )
                raise _fail(msg)
            return
        if not self.enforced:
            return
        column = item.table.c[link.column]
        for fk in column.foreign_keys:
            if fk.references(subjects) and (fk.ondelete or "").upper() != "SET NULL":
                msg = (
                    f"sources.{item.spec.name}: {item.table.name}.{column.name} references "
                    f"{subjects.name}.{key.name} with a foreign key the database enforces, so "
                    "deleting a subject whose records are kept would fail; declare it "
                    "ON DELETE SET NULL"
                )
                raise _fail(msg)


def _rows_of(conditions: Iterable[tuple[sa.Column[Any], sa.Column[Any]]]) -> Condition:
    """``column IN (SELECT target FROM parent WHERE ...)`` down the chain to the subject."""
    steps = list(conditions)

    def condition(subject: ColumnElement[Any]) -> ColumnElement[bool]:
        column, _ = steps[-1]
        expression: ColumnElement[bool] = column == subject
        for column, target in reversed(steps[:-1]):
            parent: sa.Table = target.table
            expression = column.in_(sa.select(target).select_from(parent).where(expression))
        return expression

    return condition


def resolve(conn: Connection, table_map: TableMap, inventory: Inventory) -> Schema:
    """Reflect the tables of ``table_map`` on ``conn`` and check the map against them.

    Raises:
        PolicyError: the map does not fit the schema (named table and column).
    """
    return _Resolver(conn, table_map, inventory).resolve()


def reflect_all(conn: Connection) -> dict[str, sa.Table]:
    """Every table of the connection's schema, reflected (for the coverage check)."""
    metadata = sa.MetaData()
    metadata.reflect(bind=conn)
    return dict(metadata.tables)
