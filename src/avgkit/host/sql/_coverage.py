"""Coverage: every column that looks personal is mapped or declared not personal."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from avgkit.errors import ValidationError
from avgkit.host.sql._host import _failed
from avgkit.host.sql._map import TableMap
from avgkit.host.sql._resolve import family, reflect_all, resolve
from avgkit.inventory import Inventory

__all__ = ["DETECTORS", "CoverageFinding", "CoverageReport", "check_coverage", "name_phrases"]

# Parts of a column name (split at underscores) that suggest personal data.
_NAME_PARTS: Final = {
    "email": "email",
    "mail": "email",
    "phone": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "iban": "iban",
    "bank": "iban",
    "postcode": "postcode",
    "zip": "postcode",
    "zipcode": "postcode",
    "postal": "postcode",
    "name": "name",
    "firstname": "name",
    "lastname": "name",
    "surname": "name",
    "birth": "birth",
    "birthdate": "birth",
    "birthday": "birth",
    "dob": "birth",
    "address": "address",
    "street": "address",
    "ip": "ip",
    "bsn": "national_id",
    "ssn": "national_id",
    "passport": "national_id",
}
# Words that, inside a longer name part ("emailaddress"), suggest the same.
_NAME_WORDS: Final = ("email", "phone", "iban", "postcode", "birth", "address", "surname")

_EMAIL: Final = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}")
_PHONE: Final = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9][0-9 ()-]{7,16}[0-9]|(?<!\w)0[1-9][0-9 -]{7,11}[0-9]"
)
_IBAN: Final = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b")
_POSTCODE_NL: Final = re.compile(r"\b[1-9][0-9]{3} ?[A-Z]{2}\b")

# A word of a name: letters, with inner hyphens and apostrophes ("Jan-Willem", "D'Hondt").
_WORD: Final = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
# Lower-case words inside Dutch, Flemish, German, French and other names ("Anna de Vries").
_PARTICLES: Final = frozenset(
    {"van", "de", "der", "den", "het", "ter", "ten", "te", "op", "in", "von", "zu", "le", "la",
     "du", "da", "di", "del", "della", "dos", "das", "el", "al", "bin", "ibn", "'t"}
)  # fmt: skip
_NAME_WORDS_MAX: Final = 5
_CANDIDATES_MAX: Final = 5000  # name-shaped phrases looked up per column, at most


def _iban(text: str) -> bool:
    for found in _IBAN.finditer(text):
        compact = found.group().replace(" ", "")
        moved = compact[4:] + compact[:4]
        digits = "".join(str(int(c, 36)) for c in moved)
        if int(digits) % 97 == 1:
            return True
    return False


DETECTORS: Final[dict[str, Callable[[str], bool]]] = {
    "email": lambda text: _EMAIL.search(text) is not None,
    "phone": lambda text: _PHONE.search(text) is not None,
    "iban": _iban,
    "postcode": lambda text: _POSTCODE_NL.search(text) is not None,
}
"""The content detectors by name: e-mail addresses, phone numbers, IBANs (checksum
verified), Dutch postcodes. Names are found differently: :func:`check_coverage` looks up the
name-shaped phrases of the sampled values in the columns the map declares to hold names.

.. versionadded:: 0.2.0
"""


def name_phrases(text: str) -> set[str]:
    """The phrases of ``text`` shaped like a person's name, lower-cased.

    Two to five words, the first and the last capitalised, those between capitalised or
    particles (``"Anna de Vries"``, ``"Jan-Willem van der Berg"``). Most are not names
    ("Jazz in de Oosterpoort"): the coverage check keeps only those that the host's own
    name columns hold.
    """
    words = _WORD.findall(text)
    found: set[str] = set()
    for start, first in enumerate(words):
        if not first[0].isupper():
            continue
        for end in range(start + 1, min(start + _NAME_WORDS_MAX, len(words))):
            word = words[end]
            if word[0].isupper():
                found.add(" ".join(words[start : end + 1]).lower())
            elif word.lower() not in _PARTICLES:
                break
    return found


@attrs.frozen(kw_only=True)
class CoverageFinding:
    """A column that looks personal and is neither mapped nor declared not personal.

    Never holds a value of the column: only where it is and what gave it away.

    .. versionadded:: 0.2.0
    """

    table: str
    column: str
    detector: str
    """``"name:email"`` (the column's name), or ``"content:iban"`` (sampled values)."""
    matched: int = 0
    """How many of the sampled values the content detector matched (0 for a name)."""
    sampled: int = 0
    """How many non-empty values were sampled."""

    def __str__(self) -> str:
        if self.detector.startswith("content:"):
            return (
                f"{self.table}.{self.column}: {self.detector} matched {self.matched} of "
                f"{self.sampled} sampled values"
            )
        return f"{self.table}.{self.column}: {self.detector}"


@attrs.frozen(kw_only=True)
class CoverageReport:
    """What :func:`check_coverage` found.

    .. versionadded:: 0.2.0
    """

    findings: tuple[CoverageFinding, ...]
    """The undeclared columns that look personal, one finding per detector, sorted."""
    mapped: int
    """The columns the map maps to an inventory field."""
    checked: int
    """The columns looked at (every column of every table)."""

    @property
    def undeclared(self) -> tuple[tuple[str, str], ...]:
        """``(table, column)`` of each undeclared column that looks personal, once each."""
        return tuple(dict.fromkeys((f.table, f.column) for f in self.findings))

    @property
    def coverage(self) -> float:
        """Mapped personal columns over all personal-looking ones (1.0: nothing undeclared)."""
        total = self.mapped + len(self.undeclared)
        return 1.0 if total == 0 else self.mapped / total

    @property
    def ok(self) -> bool:
        """Nothing personal undeclared."""
        return not self.findings

    def lines(self) -> list[str]:
        """One line per finding, for a command line (never a value)."""
        return [str(finding) for finding in self.findings]


def _name_detector(column: str) -> str | None:
    parts = column.lower().split("_")
    for part in parts:
        if part in _NAME_PARTS:
            return _NAME_PARTS[part]
    for part in parts:
        for word in _NAME_WORDS:
            if word in part:
                return _NAME_PARTS.get(word, word)
    return None


def check_coverage(
    bind: Engine | Connection,
    table_map: TableMap,
    inventory: Inventory,
    *,
    sample: int = 100,
) -> CoverageReport:
    """Compare the host's schema with the table map: what looks personal but is undeclared?

    Every column of every table is looked at, except those the map declares: mapped to a
    field, naming a person, the subjects' key and kind, the links, the instants, and the
    columns listed in ``not_personal`` (with a reason). A column is reported when its name
    suggests personal data (email, phone, iban, postcode, name, birth, address, ip ...), and
    a text column also when a sample of its values holds e-mail addresses, phone numbers,
    IBANs, Dutch postcodes, or names that the host's own name columns (those the map maps
    to a field of category ``Name``) hold. The report names table, column, detector and
    counts only.

    The map is first checked as :class:`SqlHostData` does (a :class:`PolicyError` if it does
    not fit). ``avgkit host check`` calls this.

    Args:
        bind: the host's Engine or Connection (read only).
        table_map: the map.
        inventory: the declared fields.
        sample: how many non-empty values of each text column to sample (0: names only).

    Raises:
        PolicyError: the map does not fit the schema.
        StorageError: the database cannot be read.
        ValidationError: ``sample`` is not a whole number >= 0.

    .. versionadded:: 0.2.0
    """
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        msg = "sample must be a whole number of rows, 0 or more"
        raise ValidationError(msg)
    try:
        if isinstance(bind, Engine):
            with bind.connect() as conn:
                return _check(conn, table_map, inventory, sample)
        return _check(bind, table_map, inventory, sample)
    except SQLAlchemyError as exc:
        raise _failed(bind, "checking coverage", exc) from None


def _declared(
    conn: Connection, table_map: TableMap, inventory: Inventory
) -> tuple[set[Any], int, list[sa.Column[Any]]]:
    schema = resolve(conn, table_map, inventory)
    names = [
        m.column
        for source in schema.sources
        for m in source.mapped
        if m.category == "Name" and family(m.column.type) == "text"
    ]
    declared: set[tuple[str, str]] = {(schema.subjects.name, schema.key.name)}
    if schema.kind is not None:
        declared.add((schema.subjects.name, schema.kind.name))
    if schema.restricted is not None:
        declared.add((schema.subjects.name, schema.restricted.name))
    if schema.restriction is not None:
        declared.add((schema.restriction[0].name, schema.restriction[1].name))
    mapped: set[tuple[str, str]] = set()
    for source in schema.sources:
        name = source.table.name
        mapped.update((name, m.column.name) for m in source.mapped)
        declared.update((name, column.name) for _, column in source.people)
        declared.update((name, column.name) for _, column in source.activity)
        declared.add((name, source.key.name))
        if source.spec.link is not None:
            declared.add((name, source.spec.link.column))
        if source.at is not None:
            declared.add((source.at.table.name, source.at.name))
        if source.spec.events is not None:
            declared.add((name, source.spec.events.link.column))
        declared.update((name, column) for column in source.spec.where)
    for qualified in table_map.not_personal:
        table, _, column = qualified.partition(".")
        declared.add((table, column))
    return declared | mapped, len(mapped), list(dict.fromkeys(names))


def _check(
    conn: Connection, table_map: TableMap, inventory: Inventory, sample: int
) -> CoverageReport:
    declared, mapped, names = _declared(conn, table_map, inventory)
    findings: list[CoverageFinding] = []
    checked = 0
    for name, table in sorted(reflect_all(conn).items()):
        for column in table.columns:
            checked += 1
            if (name, column.name) in declared:
                continue
            by_name = _name_detector(column.name)
            if by_name is not None:
                findings.append(
                    CoverageFinding(table=name, column=column.name, detector=f"name:{by_name}")
                )
            if sample == 0 or family(column.type) != "text":
                continue
            statement = sa.select(column).where(column.is_not(None)).limit(sample)
            values = [v for (v,) in conn.execute(statement) if isinstance(v, str) and v]
            counts = {
                detector: sum(1 for value in values if matches(value))
                for detector, matches in DETECTORS.items()
            }
            counts["name"] = _known_names(conn, names, values)
            findings.extend(
                CoverageFinding(
                    table=name,
                    column=column.name,
                    detector=f"content:{detector}",
                    matched=count,
                    sampled=len(values),
                )
                for detector, count in counts.items()
                if count
            )
    return CoverageReport(findings=tuple(findings), mapped=mapped, checked=checked)


def _known_names(conn: Connection, names: list[sa.Column[Any]], values: list[str]) -> int:
    """How many of ``values`` hold a name that one of the map's name columns holds.

    The name-shaped phrases of the sample are looked up in each name column, one
    statement per column (compared lower-cased, so a case-insensitive collation agrees).
    """
    if not names or not values:
        return 0
    phrases = [name_phrases(value) for value in values]
    candidates = sorted(set().union(*phrases))[:_CANDIDATES_MAX]
    if not candidates:
        return 0
    known: set[str] = set()
    for column in names:
        statement = sa.select(sa.func.lower(column)).where(sa.func.lower(column).in_(candidates))
        known.update(str(found) for (found,) in conn.execute(statement.distinct()))
    return sum(1 for found in phrases if found & known)
