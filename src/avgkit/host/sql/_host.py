"""``SqlHostData``: :class:`~avgkit.host.HostData` from a table map, on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from avgkit import _validators
from avgkit.errors import (
    ConfigurationError,
    NotFound,
    PolicyError,
    StorageError,
    ValidationError,
)
from avgkit.host._values import (
    HostCapabilities,
    HostErasure,
    HostRecord,
    HostSubject,
    SubjectKind,
)
from avgkit.host.sql._map import TableMap, Timestamps
from avgkit.host.sql._resolve import Mapped, Resolved, resolve
from avgkit.inventory import Inventory
from avgkit.subjects import SubjectId, subject_id

__all__ = ["SqlHostData", "describe_database"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)
_NEVER: Final = -(2**63)  # below every instant stored as an integer


def describe_database(bind: Engine | Connection) -> str:
    """Where a database is, without its password or query (for error messages).

    .. versionadded:: 0.2.0
    """
    url = bind.engine.url
    where = url.host or ""
    if url.port:
        where = f"{where}:{url.port}"
    database = url.database or ""
    if url.get_backend_name() == "sqlite":
        database = database.rsplit("/", 1)[-1] or "memory"
    return f"{url.get_backend_name()} {where}/{database}".replace(" /", " ")


def _failed(bind: Engine | Connection, doing: str, exc: BaseException) -> StorageError:
    # The driver's text may repeat a statement's bound values: only its class is named.
    cause = getattr(exc, "orig", None) or exc
    msg = (
        f"the host database ({describe_database(bind)}) failed while {doing}: "
        f"{type(cause).__name__}; check that it is reachable and its schema is the map's"
    )
    return StorageError(msg)


def _names(value: object, what: str) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or not all(isinstance(item, str) for item in items):
        msg = f"{what} takes a set of strings, got {type(value).__name__}"
        raise ValidationError(msg)
    return frozenset(items)


def check_wiring(bind: object, name: str, table_map: object, inventory: object) -> None:
    """Refuse a host database, table map or inventory of the wrong type (``name``: the bind's).

    Shared by :class:`SqlHostData` and :func:`~avgkit.host.sql.sanitise`, so both say the
    same thing about the same mistake.
    """
    if not isinstance(bind, Engine | Connection):
        msg = f"{name} must be an SQLAlchemy Engine or Connection, got {type(bind).__name__}"
        raise ValidationError(msg)
    if not isinstance(table_map, TableMap):
        msg = f"table_map must be a TableMap, got {type(table_map).__name__}"
        raise ValidationError(msg)
    if not isinstance(inventory, Inventory):
        msg = f"inventory must be an avgkit Inventory, got {type(inventory).__name__}"
        raise ValidationError(msg)


def check_rows(value: object, name: str) -> int:
    """Refuse a page or batch size ``name`` that is not a whole number of rows from 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{name} must be a whole number of rows, at least 1"
        raise ValidationError(msg)
    return value


class SqlHostData:
    """A host's SQL database as an :class:`avgkit.host.HostData`, from a :class:`TableMap`.

    Every answer is SQL on the host's own tables; nothing is copied. The map is checked
    against the live schema (reflection) here, once.

    Args:
        bind: the host's SQLAlchemy :class:`~sqlalchemy.engine.Engine` (each call takes a
            connection from its pool; an erasure commits its own transaction), or a
            :class:`~sqlalchemy.engine.Connection` (every call runs on it; an erasure is a
            savepoint inside the caller's transaction and commits nothing: the caller does).
        table_map: where the subjects and their data are.
        inventory: the declared fields; every mapped field must be one, and its treatment
            says what an erasure does with the column (``keep``: kept; every other
            treatment: set to NULL).
        page_size: rows per page of :meth:`subjects`, and per fetch of the other streams.

    Raises:
        PolicyError: the map does not fit the schema or the inventory (the message names
            the table and column).
        StorageError: the database cannot be reached (the message names its address, never
            a password).
        ValidationError: an argument of the wrong type.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        bind: Engine | Connection,
        table_map: TableMap,
        inventory: Inventory,
        *,
        page_size: int = 1000,
    ) -> None:
        check_wiring(bind, "bind", table_map, inventory)
        check_rows(page_size, "page_size")
        self._bind = bind
        self._map = table_map
        self._inventory = inventory
        self._page = page_size
        try:
            if isinstance(bind, Engine):
                with bind.connect() as conn:
                    schema = resolve(conn, table_map, inventory)
            else:
                schema = resolve(bind, table_map, inventory)
        except SQLAlchemyError as exc:
            raise _failed(bind, "reading its schema", exc) from None
        self._schema = schema
        self._subject_param = sa.bindparam("s", type_=schema.key.type)
        self._build()

    def __repr__(self) -> str:
        return (
            f"SqlHostData(database={describe_database(self._bind)!r}, "
            f"subjects={self._map.subjects.table!r}, sources={len(self._schema.sources)})"
        )

    @property
    def table_map(self) -> TableMap:
        """The map this host was built from."""
        return self._map

    # -- plumbing ------------------------------------------------------------------------

    def _encode(self, value: object, what: str) -> object:
        when = _validators.aware(value, what)
        mode = self._map.timestamps
        if mode is Timestamps.EPOCH_MICROS:
            return (when - _EPOCH) // _MICRO
        if mode is Timestamps.EPOCH_SECONDS:
            return (when - _EPOCH) // timedelta(seconds=1)
        return when if self._schema.aware else when.replace(tzinfo=None)

    def _decode(self, value: object) -> datetime | None:
        if value is None:
            return None
        mode = self._map.timestamps
        if mode is Timestamps.EPOCH_MICROS and isinstance(value, int):
            return _EPOCH + timedelta(0, 0, value)
        if mode is Timestamps.EPOCH_SECONDS and isinstance(value, int):
            return _EPOCH + timedelta(seconds=value)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        msg = "the host database holds an instant the map's timestamps setting cannot read"
        raise StorageError(msg)

    def _lookup(self, subject: object) -> object | None:
        """The subject id as the key column's value (``None``: it cannot be a key)."""
        sid = subject_id(subject)
        if self._schema.key_family == "integer":
            return int(sid) if sid.isascii() and sid.isdigit() else None
        return sid

    @contextmanager
    def _connection(self, doing: str) -> Iterator[Connection]:
        try:
            if isinstance(self._bind, Engine):
                with self._bind.connect() as conn:
                    yield conn
            else:
                yield self._bind
        except SQLAlchemyError as exc:
            raise _failed(self._bind, doing, exc) from None

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[Connection]:
        """One transaction (a savepoint on a caller's connection: part of their transaction)."""
        try:
            if isinstance(self._bind, Engine):
                with self._bind.begin() as conn:
                    yield conn
            else:
                conn = self._bind
                if conn.dialect.name == "sqlite":
                    # pysqlite opens no transaction before a SAVEPOINT, and releasing the
                    # outermost savepoint would commit: open the caller's transaction first.
                    raw = conn.connection.driver_connection
                    if not getattr(raw, "in_transaction", True):
                        conn.exec_driver_sql("BEGIN")
                with conn.begin_nested():
                    yield conn
        except SQLAlchemyError as exc:
            raise _failed(self._bind, doing, exc) from None

    def _all(self, statement: sa.Executable, params: Mapping[str, Any], doing: str) -> list[Any]:
        with self._connection(doing) as conn:
            return list(conn.execute(statement, dict(params)).all())

    def _stream(
        self, statement: sa.Executable, params: Mapping[str, Any], doing: str
    ) -> Iterator[Any]:
        with self._connection(doing) as conn:
            try:
                result = conn.execute(statement, dict(params))
                while rows := result.fetchmany(self._page):
                    yield from rows
            except SQLAlchemyError as exc:
                raise _failed(self._bind, doing, exc) from None

    # -- statements, built once ----------------------------------------------------------

    def _build(self) -> None:  # noqa: C901, PLR0912, PLR0915 - the statements, one by one
        schema = self._schema
        s = self._subject_param
        key = schema.key
        kind: ColumnElement[Any] = (
            schema.kind if schema.kind is not None else sa.literal(None, sa.String).label("kind")
        )
        self._activity: list[tuple[str, ColumnElement[Any]]] = []
        self._active_since: list[tuple[str, ColumnElement[bool]]] = []
        before: sa.BindParameter[Any] = sa.bindparam("before")
        for source in schema.sources:
            for activity_type, column in source.activity:
                assert source.owner is not None  # noqa: S101 - the resolver refused otherwise
                if source.own:
                    self._activity.append((activity_type, column))
                    self._active_since.append(
                        (activity_type, sa.and_(column.is_not(None), column >= before))
                    )
                    continue
                last = (
                    sa.select(sa.func.max(column))
                    .select_from(source.joined)
                    .where(source.owner == key, source.where)
                    .scalar_subquery()
                )
                self._activity.append((activity_type, last))
                probe = sa.exists().where(source.owner == key, column >= before, source.where)
                self._active_since.append((activity_type, probe.select_from(source.joined)))
        self._types = frozenset(kind for kind, _ in self._activity)
        self._subject_columns = [
            key,
            kind,
            *(expression.label(f"a{n}") for n, (_, expression) in enumerate(self._activity)),
        ]
        self._subject_by_key = sa.select(*self._subject_columns).where(key == s)
        page = sa.select(*self._subject_columns).order_by(key).limit(sa.bindparam("limit"))
        self._first_page = page
        self._next_page = page.where(key > sa.bindparam("after", type_=key.type))

        # The people named on rows, and those of them with no row in the subjects table.
        named = []
        self._named_kinds: dict[str, SubjectKind] = {}
        for source in schema.sources:
            for person, column in source.people:
                absent = ~sa.exists().where(key == column)
                named.append(
                    sa.select(column.label("id"), sa.literal(person.kind.value).label("kind"))
                    .where(column.is_not(None), absent)
                    .where(source.where)
                    .distinct()
                )
        self._named = sa.union(*named).subquery("named") if named else None
        self._person_probes = [
            (person.kind, sa.select(sa.literal(1)).where(column == s).limit(1))
            for source in schema.sources
            for person, column in source.people
        ]

        # records(): per source, the rows a subject holds and their own values.
        # Deepest sources first: a child's record before the row it refers to.
        self._records: list[tuple[Resolved, sa.Select[Any], tuple[Mapped, ...]]] = []
        for source in sorted(schema.sources, key=lambda source: -source.depth):
            if source.owner is None:
                continue
            values = []
            for mapped in source.mapped:
                whose = (
                    source.owner
                    if mapped.person is None
                    else sa.func.coalesce(mapped.person, source.owner)
                )
                values.append(sa.case((whose == s, mapped.column), else_=sa.null()))
            holds = sa.or_(source.owner == s, *(column == s for _, column in source.people))
            at = source.at if source.at is not None else sa.null()
            statement = (
                sa.select(source.key, at, *values)
                .select_from(source.joined)
                .where(holds, source.where)
                .order_by(source.key)
            )
            self._records.append((source, statement, source.mapped))

        # Erasure and rectification, per source.
        self._anonymise: list[sa.Update] = []
        # (statement, True: its rows count as anonymised, False: deleted, None: neither)
        self._delete: list[tuple[sa.Executable, bool | None]] = []
        ordered = sorted(
            (source for source in schema.sources if source.rows_of is not None),
            key=lambda source: -source.depth,
        )
        for source in ordered:
            self._anonymise.extend(self._strips(source))
        for source in ordered:
            if source.own:
                continue
            assert source.rows_of is not None  # noqa: S101 - filtered above
            mine = source.rows_of(s)
            if not source.spec.fiscal:
                alone = [sa.or_(column.is_(None), column == s) for _, column in source.people]
                self._delete.append(
                    (sa.delete(source.table).where(mine, source.where, *alone), False)
                )
                for strip in self._strips(source, owner_only=True):
                    self._delete.append((strip, True))
            else:
                for strip in self._strips(source):
                    self._delete.append((strip, True))
            for _, column in source.people:
                emptied = {
                    column.name: None,
                    **{m.column.name: None for m in source.mapped if m.person is column},
                }
                self._delete.append(
                    (sa.update(source.table).where(column == s, source.where).values(emptied), True)
                )
        if schema.restriction is not None:
            marks, marked = schema.restriction
            self._delete.append((sa.delete(marks).where(marked == s), None))
        self._delete.append((sa.delete(schema.subjects).where(key == s), False))

        # subjects_with(), event dates, upcoming().
        self._until: sa.BindParameter[Any] = sa.bindparam("until")
        after: sa.BindParameter[Any] = sa.bindparam("after")
        ids: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
        dates = []
        upcoming = []
        for source in schema.sources:
            events = source.events
            if events is None or source.owner is None:
                continue
            holders: list[tuple[ColumnElement[Any], sa.FromClause]] = [
                (source.owner, source.joined.join(events.target, events.on))
            ]
            holders += [
                (column, source.table.join(events.target, events.on)) for _, column in source.people
            ]
            for holder, joined in holders:
                dates.append(
                    sa.select(events.starts_at.label("starts"))
                    .select_from(joined)
                    .where(holder == s, events.starts_at > after, source.where)
                )
                upcoming.append(
                    sa.select(holder.label("s"), sa.func.max(events.starts_at).label("starts"))
                    .select_from(joined)
                    .where(holder.in_(ids), events.starts_at > after, source.where)
                    .group_by(holder)
                )
        self._event_dates = sa.union(*dates) if dates else None
        self._upcoming = sa.union_all(*upcoming) if upcoming else None

    def _strips(self, source: Resolved, *, owner_only: bool = False) -> list[sa.Update]:
        """UPDATEs emptying a subject's erasable values on ``source``'s rows that hold any."""
        s = self._subject_param
        assert source.rows_of is not None  # noqa: S101 - only called for linked sources
        mine = source.rows_of(s)
        statements = []
        own = [m for m in source.owned_by_row() if m.erased]
        if own:
            statements.append(
                sa.update(source.table)
                .where(mine, source.where, sa.or_(*(m.column.is_not(None) for m in own)))
                .values({m.column.name: None for m in own})
            )
        if owner_only:
            return statements
        for _, column in source.people:
            theirs = [m for m in source.of_person(column) if m.erased]
            if not theirs:
                continue
            statements.append(
                sa.update(source.table)
                .where(
                    sa.or_(column == s, sa.and_(column.is_(None), mine)),
                    source.where,
                    sa.or_(*(m.column.is_not(None) for m in theirs)),
                )
                .values({m.column.name: None for m in theirs})
            )
        return statements

    # -- rows to values --------------------------------------------------------------------

    def _subject(self, row: Sequence[Any]) -> HostSubject:
        kind = self._map.subjects.kind_of(row[1])
        if kind is None:
            msg = (
                f"{self._map.subjects.table}.{self._map.subjects.kind_column} holds a value "
                "the table map's kinds do not translate; add it to subjects.kinds"
            )
            raise PolicyError(msg)
        activity: dict[str, datetime] = {}
        for (activity_type, _), value in zip(self._activity, row[2:], strict=True):
            when = self._decode(value)
            if when is not None and (
                activity_type not in activity or when > activity[activity_type]
            ):
                activity[activity_type] = when
        return HostSubject(id=str(row[0]), kind=kind, last_activity=activity)

    def _record(
        self, source: Resolved, row: Sequence[Any], mapped: tuple[Mapped, ...]
    ) -> HostRecord:
        key, at, *values = row
        return HostRecord(
            source=source.spec.name,
            key=str(key),
            values={m.field: v for m, v in zip(mapped, values, strict=True) if v is not None},
            at=self._decode(at),
            fiscal=source.spec.fiscal,
        )

    # -- HostData: reading -----------------------------------------------------------------

    @property
    def capabilities(self) -> HostCapabilities:
        """Both fast paths (one statement each), and the activity types the map declares."""
        return HostCapabilities(
            inactive_since=True, last_active_before=True, activity_types=self._types
        )

    def subjects(self) -> Iterator[HostSubject]:
        """Every row of the subjects table by key, then every person named on a row only.

        A page at a time, each page its own query after the last key seen.
        """
        after: object = None
        while True:
            if after is None:
                rows = self._all(self._first_page, {"limit": self._page}, "listing subjects")
            else:
                rows = self._all(
                    self._next_page, {"limit": self._page, "after": after}, "listing subjects"
                )
            yield from map(self._subject, rows)
            if len(rows) < self._page:
                break
            after = rows[-1][0]
        if self._named is None:
            return
        named = self._named
        first = sa.select(named.c.id, named.c.kind).order_by(named.c.id).limit(self._page)
        later = first.where(named.c.id > sa.bindparam("after"))
        after = None
        while True:
            statement = first if after is None else later
            rows = self._all(statement, {"after": after}, "listing named people")
            for sid, kind in rows:
                yield HostSubject(id=str(sid), kind=kind)
            if len(rows) < self._page:
                break
            after = rows[-1][0]

    def subject(self, subject: SubjectId) -> HostSubject | None:
        """One subject with its last activity per type, or ``None``."""
        key = self._lookup(subject)
        if key is None:
            return None
        rows = self._all(self._subject_by_key, {"s": key}, "reading a subject")
        if rows:
            return self._subject(rows[0])
        for kind, probe in self._person_probes:
            if self._all(probe, {"s": key}, "reading a subject"):
                return HostSubject(id=subject_id(subject), kind=kind)
        return None

    def event_dates(
        self, subject: SubjectId, *, after: datetime | None = None
    ) -> tuple[datetime, ...]:
        """The starts of the events of the rows the subject holds (bought or named on)."""
        since = None if after is None else self._encode(after, "after")
        key = self._lookup(subject)
        if key is None or self._event_dates is None:
            return ()
        statement = self._event_dates
        if since is None:
            # No lower bound: the earliest instant the column type can compare with.
            since = self._encode(datetime(1, 1, 2, tzinfo=UTC), "after")
        rows = self._all(statement, {"s": key, "after": since}, "reading event dates")
        return tuple(sorted({when for (value,) in rows if (when := self._decode(value))}))

    def records(self, subject: SubjectId) -> Iterator[HostRecord]:
        """The subject's records, source by source; a shared row shows only their part."""
        key = self._lookup(subject)
        if key is None:
            return
        for source, statement, mapped in self._records:
            for row in self._stream(statement, {"s": key}, f"reading {source.spec.name}"):
                yield self._record(source, row, mapped)

    def subjects_with(
        self, categories: frozenset[str], *, since: datetime, until: datetime
    ) -> Iterator[SubjectId]:
        """The subjects holding a value of ``categories`` in a row made by ``until``, once each.

        One statement. The host does not remember when values were erased, so ``since``
        leaves nobody out.
        """
        wanted = _names(categories, "categories")
        self._encode(since, "since")
        end = self._encode(until, "until")
        parts = []
        for source in self._schema.sources:
            if source.owner is None:
                continue
            dated = [] if source.at is None else [source.at <= self._until]
            groups: list[tuple[ColumnElement[Any], list[Mapped]]] = [
                (source.owner, [m for m in source.owned_by_row() if m.category in wanted])
            ]
            groups += [
                (
                    sa.func.coalesce(column, source.owner),
                    [m for m in source.of_person(column) if m.category in wanted],
                )
                for _, column in source.people
            ]
            for holder, columns in groups:
                if not columns:
                    continue
                parts.append(
                    sa.select(holder.label("s"))
                    .select_from(source.joined)
                    .where(
                        holder.is_not(None),
                        source.where,
                        sa.or_(*(m.column.is_not(None) for m in columns)),
                        *dated,
                    )
                )
        if not parts:
            return
        statement = sa.union(*parts)
        for (sid,) in self._stream(statement, {"until": end}, "finding data holders"):
            yield SubjectId(str(sid))

    def collected_before(
        self, sources: frozenset[str], *, before: datetime
    ) -> Iterator[HostRecord]:
        """The dated records of ``sources`` made before ``before`` (stripped fiscal ones not)."""
        wanted = _names(sources, "sources")
        when = self._encode(before, "before")
        for source in self._schema.sources:
            if source.spec.name not in wanted or source.at is None:
                continue
            conditions = [source.at < sa.bindparam("before"), source.where]
            erasable = [m.column for m in source.mapped if m.erased]
            if source.spec.fiscal:
                if not erasable:
                    continue
                conditions.append(sa.or_(*(c.is_not(None) for c in erasable)))
            statement = (
                sa.select(source.key, source.at, *(m.column for m in source.mapped))
                .select_from(source.joined)
                .where(*conditions)
            )
            rows = self._stream(statement, {"before": when}, f"listing {source.spec.name}")
            for row in rows:
                yield self._record(source, row, source.mapped)

    def upcoming(
        self, subjects: Sequence[SubjectId], *, after: datetime
    ) -> dict[SubjectId, datetime]:
        """Each subject's last event after ``after``, for a batch: one statement."""
        when = self._encode(after, "after")
        keys = {}
        for subject in subjects:
            key = self._lookup(subject)
            if key is not None:
                keys[key] = subject_id(subject)
        if not keys or self._upcoming is None:
            return {}
        found: dict[SubjectId, datetime] = {}
        params = {"ids": list(keys), "after": when}
        for holder, starts in self._all(self._upcoming, params, "reading upcoming events"):
            at = self._decode(starts)
            sid = keys.get(holder)
            if sid is None or at is None:
                continue
            if sid not in found or at > found[sid]:
                found[sid] = at
        return found

    def _kind_filter(self, kinds: frozenset[SubjectKind] | None) -> list[ColumnElement[bool]]:
        if kinds is None:
            return []
        wanted = {_validators.member(SubjectKind, kind, "kinds") for kind in kinds}
        spec = self._map.subjects
        if spec.kind is not None:
            return [] if spec.kind in wanted else [sa.false()]
        assert self._schema.kind is not None  # noqa: S101 - a kind column when no constant
        return [self._schema.kind.in_(spec.stored_kinds(wanted))]

    def inactive_since(
        self,
        activity_types: frozenset[str],
        *,
        before: datetime,
        kinds: frozenset[SubjectKind] | None = None,
    ) -> Iterator[HostSubject]:
        """The subjects (of ``kinds``) with none of ``activity_types`` since ``before``.

        One statement: the subjects table's rows with no recent activity (a ``NOT EXISTS``
        probe per activity column), then the people named on rows only (no activity).
        """
        types = _names(activity_types, "activity_types")
        when = self._encode(before, "before")
        idle = [sa.not_(probe) for kind, probe in self._active_since if kind in types]
        parts: list[sa.Select[Any]] = [
            sa.select(*self._subject_columns).where(*self._kind_filter(kinds), *idle)
        ]
        named = self._named
        if named is not None:
            nulls = [sa.null().label(f"a{n}") for n in range(len(self._activity))]
            extra = sa.select(named.c.id, named.c.kind, *nulls)
            if kinds is not None:
                extra = extra.where(named.c.kind.in_([SubjectKind(k).value for k in kinds]))
            parts.append(extra)
        statement = sa.union_all(*parts) if len(parts) > 1 else parts[0]
        for row in self._stream(statement, {"before": when}, "finding inactive subjects"):
            yield self._subject(row)

    def last_active_before(
        self,
        activity_types: frozenset[str],
        *,
        before: datetime,
        kinds: frozenset[SubjectKind] | None = None,
    ) -> Iterator[tuple[SubjectId, SubjectKind, datetime]]:
        """``(id, kind, last)`` of the subjects (of ``kinds``) last active before ``before``.

        One statement: the ``NOT EXISTS`` probes of :meth:`inactive_since` and the latest
        instant of each activity column asked; people named on rows only never did anything,
        so they are never listed.
        """
        types = _names(activity_types, "activity_types")
        when = self._encode(before, "before")
        lasts = [expression for kind, expression in self._activity if kind in types]
        if not lasts:
            return
        idle = [sa.not_(probe) for kind, probe in self._active_since if kind in types]
        epoch = self._map.timestamps is not Timestamps.NATIVE
        if epoch and len(lasts) > 1:
            # The latest in SQL, one value per row: integers have a "never" below them all.
            greatest = sa.func.max if self._bind.dialect.name == "sqlite" else sa.func.greatest
            lasts = [greatest(*(sa.func.coalesce(last, _NEVER) for last in lasts))]
        statement = sa.select(self._schema.key, self._subject_columns[1], *lasts).where(
            *self._kind_filter(kinds), *idle
        )
        kinds_seen: dict[object, SubjectKind] = {}
        micros = self._map.timestamps is Timestamps.EPOCH_MICROS
        for sid, stored, *values in self._stream(
            statement, {"before": when}, "finding inactive subjects"
        ):
            if epoch and len(values) == 1:
                value = values[0]
                if value is None or value == _NEVER:
                    continue  # never active: nothing to count a period from
                last = _EPOCH + timedelta(0, 0, value) if micros else self._decode(value)
                if last is None:  # pragma: no cover - an integer always decodes
                    continue
            else:
                instants = [at for v in values if (at := self._decode(v)) is not None]
                if not instants:
                    continue
                last = max(instants)
            kind = kinds_seen.get(stored)
            if kind is None:
                kind = self._map.subjects.kind_of(stored)
                if kind is None:
                    msg = (
                        f"{self._map.subjects.table}.{self._map.subjects.kind_column} holds a "
                        "value the table map's kinds do not translate; add it to subjects.kinds"
                    )
                    raise PolicyError(msg)
                kinds_seen[stored] = kind
            yield SubjectId(str(sid)), kind, last

    # -- HostData: writing -----------------------------------------------------------------

    def anonymise(self, subject: SubjectId) -> HostErasure:
        """Empty the subject's erasable values everywhere, in one transaction; rows stay."""
        key = self._lookup(subject)
        if key is None:
            return HostErasure()
        with self._transaction("anonymising a subject") as conn:
            changed = sum(conn.execute(update, {"s": key}).rowcount for update in self._anonymise)
        return HostErasure(anonymised=changed)

    def delete(self, subject: SubjectId) -> HostErasure:
        """Delete the subject's rows and the subject, in one transaction.

        Fiscal rows stay without the subject's values (their amounts, dates and references
        kept); a row naming another person stays with that person's values and loses the
        subject's; a row naming the subject on someone else's record loses the name and
        the subject's values.
        """
        key = self._lookup(subject)
        if key is None:
            return HostErasure()
        anonymised = deleted = 0
        with self._transaction("deleting a subject") as conn:
            for statement, keeps in self._delete:
                count = conn.execute(statement, {"s": key}).rowcount
                if keeps is True:
                    anonymised += count
                elif keeps is False:
                    deleted += count
        return HostErasure(anonymised=anonymised, deleted=deleted)

    def rectify(self, subject: SubjectId, changes: Mapping[str, Any]) -> int:
        """Replace the subject's own values of ``changes``' fields in every row holding them.

        In one transaction; another person's value on a shared row stays. Returns the rows
        changed.

        Raises:
            ValidationError: a field the map maps to no column (named, never its value).
            PolicyError: a field the inventory does not declare.
        """
        if not isinstance(changes, Mapping):
            msg = f"changes maps field keys to new values, got {type(changes).__name__}"
            raise ValidationError(msg)
        for field in changes:
            self._inventory.field(field)
        unknown = sorted(set(changes) - self._map.fields)
        if unknown:
            msg = (
                f"the table map maps no column to field {unknown[0]!r}, so there is nothing "
                f"to rectify; it maps {sorted(self._map.fields)}"
            )
            raise ValidationError(msg)
        key = self._lookup(subject)
        if key is None:
            return 0
        s = self._subject_param
        statements = []
        for source in self._schema.sources:
            if source.rows_of is None:
                continue
            mine = source.rows_of(s)
            own = {
                m.column.name: changes[m.field] for m in source.owned_by_row() if m.field in changes
            }
            if own:
                statements.append(sa.update(source.table).where(mine, source.where).values(own))
            for _, column in source.people:
                theirs = {
                    m.column.name: changes[m.field]
                    for m in source.of_person(column)
                    if m.field in changes
                }
                if theirs:
                    statements.append(
                        sa.update(source.table)
                        .where(sa.or_(column == s, sa.and_(column.is_(None), mine)), source.where)
                        .values(theirs)
                    )
        with self._transaction("rectifying a subject") as conn:
            return sum(conn.execute(update, {"s": key}).rowcount for update in statements)

    def restrict(self, subject: SubjectId, *, restricted: bool) -> None:
        """Mark the subject's processing restricted (Art. 18), or lift the mark; idempotent.

        Raises:
            ConfigurationError: the map names neither ``restricted_column`` nor
                ``restriction_table``.
            NotFound: with ``restricted_column``, the subject has no row in the subjects
                table to mark (a person named on a ticket only).
        """
        if not isinstance(restricted, bool):
            msg = "restricted must be True or False"
            raise ValidationError(msg)
        schema = self._schema
        key = self._lookup(subject)
        if schema.restricted is None and schema.restriction is None:
            msg = (
                f"the table map says nowhere to mark restrictions; add restricted_column or "
                f"restriction_table to subjects ({self._map.subjects.table})"
            )
            raise ConfigurationError(msg)
        if key is None:
            return
        with self._transaction("restricting a subject") as conn:
            if schema.restricted is not None:
                value: object = restricted
                if not isinstance(schema.restricted.type, sa.Boolean):
                    value = int(restricted)
                changed = conn.execute(
                    sa.update(schema.subjects)
                    .where(schema.key == key)
                    .values({schema.restricted.name: value})
                ).rowcount
                if not changed:
                    msg = (
                        f"the subject has no row in {self._map.subjects.table} to mark as "
                        "restricted"
                    )
                    raise NotFound(msg)
                return
            assert schema.restriction is not None  # noqa: S101 - checked above
            marks, marked = schema.restriction
            present = conn.execute(sa.select(marked).where(marked == key)).first()
            if restricted and present is None:
                conn.execute(sa.insert(marks).values({marked.name: key}))
            elif not restricted and present is not None:
                conn.execute(sa.delete(marks).where(marked == key))

    def restricted(self, subject: SubjectId | str) -> bool:
        """Whether the subject's processing is marked restricted.

        Raises:
            ConfigurationError: the map says nowhere to mark restrictions.
        """
        schema = self._schema
        key = self._lookup(subject)
        if schema.restricted is None and schema.restriction is None:
            msg = "the table map says nowhere to mark restrictions"
            raise ConfigurationError(msg)
        if key is None:
            return False
        if schema.restricted is not None:
            statement = sa.select(schema.restricted).where(schema.key == key)
            rows = self._all(statement, {}, "reading a restriction")
            return bool(rows and rows[0][0])
        assert schema.restriction is not None  # noqa: S101 - checked above
        _, marked = schema.restriction
        return bool(self._all(sa.select(marked).where(marked == key), {}, "reading a restriction"))

    def erase_record(self, source: str, key: str, *, keep: bool = False) -> HostErasure:
        """Delete one record, or with ``keep`` (always, for a fiscal one) strip it.

        A record that is gone, or an unknown source or key, reports zero.
        """
        found = [s for s in self._schema.sources if s.spec.name == source]
        if not found or not isinstance(key, str) or not key:
            return HostErasure()
        spec = found[0]
        lookup: object = key
        if isinstance(spec.key.type, sa.Integer):
            if not (key.isascii() and key.isdigit()):
                return HostErasure()
            lookup = int(key)
        this = spec.key == lookup
        with self._transaction(f"erasing a record of {spec.spec.name}") as conn:
            if keep or spec.spec.fiscal:
                erasable = [m.column for m in spec.mapped if m.erased]
                if not erasable:
                    return HostErasure()
                statement = (
                    sa.update(spec.table)
                    .where(this, spec.where, sa.or_(*(c.is_not(None) for c in erasable)))
                    .values({c.name: None for c in erasable})
                )
                return HostErasure(anonymised=conn.execute(statement).rowcount)
            deleted = conn.execute(sa.delete(spec.table).where(this, spec.where)).rowcount
        return HostErasure(deleted=deleted)
