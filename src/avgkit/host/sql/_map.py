"""The table map: where a host's personal data lives in its SQL schema (values, no I/O).

A :class:`TableMap` says which table holds the subjects, and for every source of records
(a table, or the rows of a table that match a condition) how its rows reach a subject,
which columns hold which inventory field, which are activity instants, event dates,
fiscal records and other people named on a row. :func:`table_map_from_mapping` and
:func:`table_map_from_file` read the same from a policy file's ``host`` section, checked
against the shipped JSON Schema ``avgkit/schemas/host-map.schema.json``.

Nothing here looks at a database: :class:`~avgkit.host.sql.SqlHostData` checks the map
against the live schema when it is built.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import attrs
import jsonschema
from jsonschema.exceptions import best_match

from avgkit import _validators
from avgkit.errors import PolicyError, ValidationError
from avgkit.host._values import SubjectKind
from avgkit.inventory import _policyfile

if TYPE_CHECKING:
    import os

__all__ = [
    "SECTION",
    "EventLink",
    "Link",
    "Person",
    "Source",
    "Subjects",
    "TableMap",
    "Timestamps",
    "table_map_from_file",
    "table_map_from_mapping",
]

SECTION: Final = "host"
"""The key of the table map's section in a policy file.

.. versionadded:: 0.2.0
"""

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_IDENTIFIER_EXPECTED: Final = (
    "an SQL identifier: a letter or underscore, then letters, digits or underscores, "
    "at most 63 characters"
)
_LINK: Final = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]{0,62})\s*->\s*([A-Za-z_][A-Za-z0-9_]{0,62})"
    r"\.([A-Za-z_][A-Za-z0-9_]{0,62})\s*\Z"
)
_QUALIFIED: Final = re.compile(
    r"(?:([A-Za-z_][A-Za-z0-9_]{0,62})\.)?([A-Za-z_][A-Za-z0-9_]{0,62})\Z"
)


class Timestamps(enum.StrEnum):
    """How the host stores instants (activity, record dates, event starts).

    .. versionadded:: 0.2.0
    """

    NATIVE = "native"
    """The database's own timestamp type; a column without a time zone is read as UTC."""
    EPOCH_MICROS = "epoch_micros"
    """Integer microseconds since 1970-01-01 UTC (the reference ticket shop)."""
    EPOCH_SECONDS = "epoch_seconds"
    """Integer seconds since 1970-01-01 UTC (Unix time)."""


# --------------------------------------------------------------------------- checks


def _identifier(value: object, what: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        msg = f"{what} must be {_IDENTIFIER_EXPECTED}; got {_validators.shown(value)}"
        raise ValidationError(msg)
    return value


def _v_identifier(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        _validators.fail(instance, attribute, f"must be {_IDENTIFIER_EXPECTED}")


def _v_optional_identifier(
    instance: object, attribute: attrs.Attribute[Any], value: object
) -> None:
    if value is not None:
        _v_identifier(instance, attribute, value)


def _v_qualified(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, str) or not _QUALIFIED.match(value)):
        _validators.fail(instance, attribute, "must be a column ('created_at') or 'table.column'")


def _to_identifiers(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        msg = f"expected a list of column names, got {type(value).__name__}"
        raise ValidationError(msg)
    return tuple(_identifier(item, "a column name") for item in value)


def _to_column_map(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        msg = f"columns map column names to inventory field keys, got {type(value).__name__}"
        raise ValidationError(msg)
    return MappingProxyType(
        {
            _identifier(column, "a column name"): _validators.key(field, "a field key")
            for column, field in value.items()
        }
    )


def _to_activity_map(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        msg = f"activity maps column names to activity types, got {type(value).__name__}"
        raise ValidationError(msg)
    return MappingProxyType(
        {
            _identifier(column, "a column name"): _validators.key(kind, "an activity type")
            for column, kind in value.items()
        }
    )


_SCALAR: Final = (str, int, bool)


def _to_where(value: object) -> Mapping[str, str | int | bool]:
    if not isinstance(value, Mapping):
        msg = f"where maps column names to the value they must hold, got {type(value).__name__}"
        raise ValidationError(msg)
    checked: dict[str, str | int | bool] = {}
    for column, wanted in value.items():
        name = _identifier(column, "a where column")
        if not isinstance(wanted, _SCALAR):
            msg = f"where.{name} must be a string, a whole number or a boolean"
            raise ValidationError(msg)
        checked[name] = wanted
    return MappingProxyType(checked)


def _to_required_link(value: object) -> Link:
    return value if isinstance(value, Link) else Link.parse(value)


def _to_source_name(value: object) -> str:
    return _validators.key(value, "a source name")


def _to_timestamps(value: object) -> Timestamps:
    return _validators.member(Timestamps, value, "timestamps")


def _to_kind(value: object) -> SubjectKind:
    return _validators.member(SubjectKind, value, "a subject kind")


def _to_optional_kind(value: object) -> SubjectKind | None:
    return None if value is None else _to_kind(value)


def _to_kinds(value: object) -> Mapping[str, SubjectKind]:
    if not isinstance(value, Mapping):
        msg = f"kinds map a kind column's values to subject kinds, got {type(value).__name__}"
        raise ValidationError(msg)
    out: dict[str, SubjectKind] = {}
    for stored, kind in value.items():
        if not isinstance(stored, str) or not stored:
            msg = "kinds: the stored values must be non-empty strings"
            raise ValidationError(msg)
        out[stored] = _to_kind(kind)
    return MappingProxyType(out)


def _to_link(value: object) -> Link | None:
    if value is None or isinstance(value, Link):
        return value
    return Link.parse(value)


def _to_event_link(value: object) -> EventLink | None:
    if value is None or isinstance(value, EventLink):
        return value
    if isinstance(value, Mapping):
        return EventLink(link=value.get("link"), starts_at=str(value.get("starts_at")))
    msg = f"events takes an EventLink or {{link, starts_at}}, got {type(value).__name__}"
    raise ValidationError(msg)


def _to_people(value: object) -> tuple[Person, ...]:
    if isinstance(value, str | Mapping) or not isinstance(value, Iterable):
        msg = f"people takes a list of Person values, got {type(value).__name__}"
        raise ValidationError(msg)
    return tuple(
        item if isinstance(item, Person) else Person(**_mapping(item, "a person")) for item in value
    )


def _mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"{what} must be a table of settings, got {type(value).__name__}"
        raise ValidationError(msg)
    return {str(k): v for k, v in value.items()}


# --------------------------------------------------------------------------- values


@attrs.frozen(kw_only=True)
class Link:
    """A column of a source's table holding the key of a row in another table.

    Written ``"order_id -> orders.id"``: the ticket's ``order_id`` is the ``id`` of an
    order. A chain of links ends at the subjects table's key (``orders.buyer_id ->
    visitors.id``).

    .. versionadded:: 0.2.0
    """

    column: str = attrs.field(validator=_v_identifier)
    table: str = attrs.field(validator=_v_identifier)
    target: str = attrs.field(validator=_v_identifier)
    """The column of :attr:`table` the link points at (its key)."""

    @classmethod
    def parse(cls, text: object) -> Link:
        """Read ``"column -> table.column"``.

        Raises:
            ValidationError: the text is not of that form.
        """
        found = _LINK.match(text) if isinstance(text, str) else None
        if found is None:
            msg = "a link is written 'column -> table.column', e.g. 'order_id -> orders.id'"
            raise ValidationError(msg)
        return cls(column=found[1], table=found[2], target=found[3])

    def __str__(self) -> str:
        return f"{self.column} -> {self.table}.{self.target}"


@attrs.frozen(kw_only=True)
class EventLink:
    """Where the event a row is for starts: ``performance_id -> performances.id``, ``starts_at``.

    .. versionadded:: 0.2.0
    """

    link: Link = attrs.field(converter=_to_required_link)
    starts_at: str = attrs.field(validator=_v_identifier)
    """The column of the link's table holding the start of the event."""


@attrs.frozen(kw_only=True)
class Person:
    """A column naming another person on a row, and the columns that are that person's.

    An attendee on a buyer's ticket: ``Person(column="attendee_id", columns=("attendee_name",
    "attendee_email"))``. A row whose person column is empty holds the row owner's values in
    those columns (a personalised ticket); the named person is a subject of :attr:`kind`
    even without a row in the subjects table.

    .. versionadded:: 0.2.0
    """

    column: str = attrs.field(validator=_v_identifier)
    columns: tuple[str, ...] = attrs.field(converter=_to_identifiers)
    kind: SubjectKind = attrs.field(default=SubjectKind.ATTENDEE, converter=_to_kind)

    @columns.validator
    def _check_columns(self, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
        if len(set(value)) != len(value):
            _validators.fail(self, attribute, "lists a column twice")


@attrs.frozen(kw_only=True)
class Subjects:
    """The table holding the subjects: its key, and how a row's kind is read.

    Args:
        table: the table (``"visitors"``).
        key: its key column, primary or unique (``"id"``).
        kind_column: a column holding the kind (``"kind"``); its values are read through
            ``kinds`` (by default, a :class:`~avgkit.host.SubjectKind` value as stored).
        kinds: stored value -> kind, when the host stores its own words (``{"B2B":
            "relation"}``).
        kind: the one kind of every row, when there is no kind column.
        restricted_column: a boolean or integer column of the table marking restricted
            processing (Art. 18), for :meth:`~avgkit.host.sql.SqlHostData.restrict`.
        restriction_table: or a table listing the restricted subjects, as
            ``"restrictions.visitor_id"`` (its column unique).

    .. versionadded:: 0.2.0
    """

    table: str = attrs.field(validator=_v_identifier)
    key: str = attrs.field(validator=_v_identifier)
    kind_column: str | None = attrs.field(default=None, validator=_v_optional_identifier)
    kinds: Mapping[str, SubjectKind] = attrs.field(
        factory=dict, converter=_to_kinds, hash=False, repr=False
    )
    kind: SubjectKind | None = attrs.field(default=None, converter=_to_optional_kind)
    restricted_column: str | None = attrs.field(default=None, validator=_v_optional_identifier)
    restriction_table: str | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        """Exactly one way of reading kinds; at most one way of marking restrictions."""
        if (self.kind_column is None) == (self.kind is None):
            msg = (
                f"subjects ({self.table}): give either kind_column (a column holding the kind) "
                "or kind (one kind for every row), not both or neither"
            )
            raise ValidationError(msg)
        if self.kinds and self.kind_column is None:
            msg = f"subjects ({self.table}): kinds translates a kind_column's values; add one"
            raise ValidationError(msg)
        if self.restricted_column is not None and self.restriction_table is not None:
            msg = (
                f"subjects ({self.table}): mark restrictions in restricted_column or in "
                "restriction_table, not both"
            )
            raise ValidationError(msg)
        if self.restriction_table is not None:
            found = _QUALIFIED.match(self.restriction_table)
            if found is None or found[1] is None:
                msg = (
                    f"subjects ({self.table}).restriction_table must be 'table.column', "
                    "e.g. 'restrictions.visitor_id'"
                )
                raise ValidationError(msg)

    def kind_of(self, stored: object) -> SubjectKind | None:
        """The kind a stored value of :attr:`kind_column` stands for (``None``: unknown)."""
        if self.kind is not None:
            return self.kind
        if self.kinds:
            return self.kinds.get(stored) if isinstance(stored, str) else None
        if not isinstance(stored, str):
            return None
        try:
            return SubjectKind(stored)
        except ValueError:
            return None

    def stored_kinds(self, kinds: Iterable[SubjectKind]) -> list[str]:
        """The stored values of :attr:`kind_column` meaning one of ``kinds``."""
        wanted = set(kinds)
        if self.kinds:
            return sorted(stored for stored, kind in self.kinds.items() if kind in wanted)
        return sorted(kind.value for kind in wanted)

    @property
    def restriction(self) -> tuple[str, str] | None:
        """``(table, column)`` of :attr:`restriction_table`, or ``None``."""
        if self.restriction_table is None:
            return None
        table, _, column = self.restriction_table.partition(".")
        return table, column


@attrs.frozen(kw_only=True)
class Source:
    """One source of records: a table (or its rows matching ``where``) and what it holds.

    Args:
        name: the source's name in :attr:`avgkit.host.HostRecord.source` and in record
            rules (``"support_mail"``); a lower snake-case key.
        table: the table (default: ``name``).
        key: the column whose value keys a record (default: the single primary key column).
        link: how a row reaches its subject, for every table but the subjects table's own
            (``"buyer_id -> visitors.id"``, or through another source's table:
            ``"order_id -> orders.id"``). ``None`` on another table: records of nobody
            (camera footage), swept by record rules only.
        at: when the row was made: a column, or ``"table.column"`` of a table on the link
            chain (``"orders.created_at"`` for a ticket).
        columns: column -> inventory field key, for the personal columns.
        activity: column -> activity type (``{"at": "login"}``): the subject's activity.
        events: for rows that are tickets: where their event's start is read.
        people: columns naming another person on the row, and the columns that are theirs.
        fiscal: records kept for a legal term: an erasure strips them, keeping the row.
        where: column -> value: only the rows holding these values are this source's (two
            sources on one table: mail with and without bank details).

    .. versionadded:: 0.2.0
    """

    name: str = attrs.field(converter=_to_source_name)
    table: str = attrs.field(
        default=attrs.Factory(lambda self: self.name, takes_self=True),
        validator=_v_identifier,
    )
    key: str | None = attrs.field(default=None, validator=_v_optional_identifier)
    link: Link | None = attrs.field(default=None, converter=_to_link)
    at: str | None = attrs.field(default=None, validator=_v_qualified)
    columns: Mapping[str, str] = attrs.field(
        factory=dict, converter=_to_column_map, hash=False, repr=False
    )
    activity: Mapping[str, str] = attrs.field(
        factory=dict, converter=_to_activity_map, hash=False, repr=False
    )
    events: EventLink | None = attrs.field(default=None, converter=_to_event_link)
    people: tuple[Person, ...] = attrs.field(default=(), converter=_to_people)
    fiscal: bool = attrs.field(default=False, validator=_validators.v_bool)
    where: Mapping[str, str | int | bool] = attrs.field(
        factory=dict, converter=_to_where, hash=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        """A person's columns must be mapped columns of the source."""
        for person in self.people:
            missing = [c for c in person.columns if c not in self.columns]
            if missing:
                msg = (
                    f"sources.{self.name}.people: {person.column} owns {missing[0]!r}, which "
                    "is not in the source's columns; map it to a field there"
                )
                raise ValidationError(msg)
        owned = [c for person in self.people for c in person.columns]
        if len(set(owned)) != len(owned):
            msg = f"sources.{self.name}.people: a column belongs to two people"
            raise ValidationError(msg)

    def person_of(self, column: str) -> Person | None:
        """The person who owns ``column`` on this source's rows (``None``: the row's owner)."""
        for person in self.people:
            if column in person.columns:
                return person
        return None


def _to_sources(value: object) -> tuple[Source, ...]:
    if isinstance(value, Mapping):
        return tuple(
            item if isinstance(item, Source) else Source(name=name, **_mapping(item, name))
            for name, item in value.items()
        )
    if isinstance(value, str) or not isinstance(value, Iterable):
        msg = f"sources takes a list of Source values, got {type(value).__name__}"
        raise ValidationError(msg)
    items = tuple(value)
    if not all(isinstance(item, Source) for item in items):
        msg = "sources takes Source values (or a table of them keyed by name)"
        raise ValidationError(msg)
    return items


def _to_not_personal(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        msg = "not_personal maps 'table.column' to the reason it holds nothing personal"
        raise ValidationError(msg)
    out: dict[str, str] = {}
    for column, reason in value.items():
        found = _QUALIFIED.match(column) if isinstance(column, str) else None
        if found is None or found[1] is None:
            msg = "not_personal: keys are 'table.column', e.g. 'events.title'"
            raise ValidationError(msg)
        out[column] = _validators.text(reason, f"not_personal[{column!r}]", max_length=500)
    return MappingProxyType(out)


@attrs.frozen(kw_only=True)
class TableMap:
    """Where a host keeps its subjects and their personal data, table by table.

    Args:
        subjects: the subjects table.
        sources: the sources of records, each named once; the subjects table's own source
            (its personal columns, its activity) has no link.
        timestamps: how instants are stored.
        not_personal: ``"table.column"`` -> why it is not personal data, for the coverage
            check (:func:`~avgkit.host.sql.check_coverage`).

    Raises:
        ValidationError: a value is malformed, two sources share a name.

    .. versionadded:: 0.2.0
    """

    subjects: Subjects = attrs.field(validator=_validators.v_instance(Subjects, "a Subjects"))
    sources: tuple[Source, ...] = attrs.field(converter=_to_sources)
    timestamps: Timestamps = attrs.field(
        default=Timestamps.NATIVE,
        converter=_to_timestamps,
    )
    not_personal: Mapping[str, str] = attrs.field(
        factory=dict, converter=_to_not_personal, hash=False
    )

    def __attrs_post_init__(self) -> None:
        """Each source named once."""
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                msg = f"sources: {source.name!r} is declared twice; give each source a name"
                raise ValidationError(msg)
            seen.add(source.name)

    def source(self, name: str) -> Source:
        """The source called ``name``.

        Raises:
            PolicyError: there is none.
        """
        for source in self.sources:
            if source.name == name:
                return source
        msg = f"the table map has no source {name!r}; it has {[s.name for s in self.sources]}"
        raise PolicyError(msg)

    @property
    def fields(self) -> frozenset[str]:
        """Every inventory field key a column is mapped to."""
        return frozenset(field for source in self.sources for field in source.columns.values())


# --------------------------------------------------------------------------- policy files


@cache
def schema() -> dict[str, Any]:
    """The shipped JSON Schema of a policy file's ``host`` section.

    .. versionadded:: 0.2.0
    """
    text = resources.files("avgkit").joinpath("schemas/host-map.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def table_map_from_mapping(data: object) -> TableMap:
    """Build the table map of a parsed policy file (its ``host`` section).

    The rest of the mapping (the inventory, the retention rules) is not looked at::

        [host]
        timestamps = "epoch_micros"

        [host.subjects]
        table = "visitors"
        key = "id"
        kind_column = "kind"

        [host.sources.orders]
        link = "buyer_id -> visitors.id"
        key = "code"
        at = "created_at"
        fiscal = true
        columns = { billing_name = "name", billing_email = "email" }
        activity = { created_at = "purchase" }

    Raises:
        PolicyError: the mapping has no ``host`` section.
        ValidationError: the section does not match the shipped JSON Schema, or holds a value
            no map can have; the message names the dotted path (``host.sources.orders.link``)
            and never repeats a value from the file.

    .. versionadded:: 0.2.0
    """
    if not isinstance(data, Mapping):
        msg = "(top level): expected a table (an object)"
        raise ValidationError(msg)
    if SECTION not in data:
        msg = f"the policy file has no {SECTION} section; add [{SECTION}] with the table map"
        raise PolicyError(msg)
    section = _policyfile._normalise(data[SECTION], (SECTION,), 1)  # noqa: SLF001
    error = best_match(_validator().iter_errors(section))
    if error is not None:
        raise ValidationError(_policyfile._describe(error, (SECTION,)))  # noqa: SLF001
    if not isinstance(section, dict):  # pragma: no cover - the schema requires a table
        msg = f"{SECTION}: expected a table"
        raise ValidationError(msg)
    return _build(section)


def _build(section: dict[str, Any]) -> TableMap:
    path = f"{SECTION}.subjects"
    try:
        subjects = Subjects(**section["subjects"])
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc}") from None
    sources = []
    for name, entry in section["sources"].items():
        where = f"{SECTION}.sources.{name}"
        values = dict(entry)
        if "people" in values:
            values["people"] = [Person(**person) for person in values["people"]]
        try:
            sources.append(Source(name=name, **values))
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None
    try:
        return TableMap(
            subjects=subjects,
            sources=tuple(sources),
            timestamps=section.get("timestamps", "native"),
            not_personal=section.get("not_personal", {}),
        )
    except ValidationError as exc:
        raise ValidationError(f"{SECTION}: {exc}") from None


def table_map_from_file(path: str | os.PathLike[str]) -> TableMap:
    """Read the table map from a ``.toml`` or ``.json`` policy file's ``host`` section.

    Raises:
        PolicyError: the file has no ``host`` section.
        ValidationError: the file cannot be read or parsed, or the section is malformed
            (the message names the file and the dotted path, never a value).

    .. versionadded:: 0.2.0
    """
    document = _policyfile.document_from_file(path)
    try:
        return table_map_from_mapping(document)
    except (ValidationError, PolicyError) as exc:
        msg = f"{Path(path).name}: {exc}"
        raise type(exc)(msg) from None
