"""The record anonymiser and the k-anonymity check (private; see avgkit.pseudonym)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from avgkit import _validators
from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory import Inventory, Treatment
from avgkit.pseudonym import _generalise
from avgkit.pseudonym._pseudo import PSEUDONYM_VERSION, Pseudonymiser, ValueKind

if TYPE_CHECKING:
    from avgkit.clock import Clock
    from avgkit.pseudonym._generalise import Generaliser

__all__ = ["KAnonymityReport", "KGroup", "RecordAnonymiser", "k_anonymity"]

_PSEUDONYM_HEAD = PSEUDONYM_VERSION + "."


def _shown_key(key: object) -> str:
    """A field key for an error message: shown only when it looks like a key, never data."""
    if isinstance(key, str) and _validators.KEY_PATTERN.match(key):
        return repr(key)
    return f"<a {type(key).__name__} key that is not a snake-case name>"


class RecordAnonymiser:
    """Applies each field's declared treatment to a record, in one call.

    Driven by the inventory: ``drop`` removes the field, ``generalise`` replaces it with the
    named generaliser's output, ``pseudonymise`` with a keyed pseudonym for ``domain``, and
    ``keep`` keeps it. A field the inventory does not declare is refused, never passed
    through silently; fields that are not personal data (an order number, a total) are
    named in ``passthrough``. Anonymising is idempotent: an anonymised record comes back
    unchanged. ``None`` values stay ``None`` (except in dropped fields).

    A value that already is a pseudonym (``ps1.…``) is kept only if it was made for this
    domain and field kind under the current key; any other pseudonym (another domain's,
    an older key's) is refused, since passing it through would link extracts meant to be
    unlinkable or mix key generations. Anonymise such records from the raw record.

    Note that a pseudonymised record is still personal data under the GDPR (Recital 26):
    only a record without pseudonymised fields can be anonymous.

    Args:
        inventory: the declared fields and their treatments.
        clock: the source of "now" (age bands are counted at it).
        pseudonymiser: makes the pseudonyms; required when a field says ``pseudonymise``.
        domain: the pseudonym domain (e.g. ``"audience_analysis"``); required with a
            pseudonymiser.
        generalisers: extra or replacement generalisers by name.
        passthrough: keys of non-personal fields the record may hold, kept as they are.

    Raises:
        PolicyError: a field names a generaliser that does not exist, a field needs a
            pseudonymiser and none was given, or a passthrough key is a declared field.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        inventory: Inventory,
        *,
        clock: Clock,
        pseudonymiser: Pseudonymiser | None = None,
        domain: str | None = None,
        generalisers: Mapping[str, Generaliser] | None = None,
        passthrough: Iterable[str] = (),
    ) -> None:
        if not isinstance(inventory, Inventory):
            msg = f"inventory must be an avgkit Inventory, got {type(inventory).__name__}"
            raise ValidationError(msg)
        available = {**_generalise.GENERALISERS, **(generalisers or {})}
        self._passthrough = frozenset(_validators.key(k, "passthrough field") for k in passthrough)
        self._plan: dict[str, tuple[Treatment, Any]] = {}
        for field in inventory.fields:
            if field.key in self._passthrough:
                msg = (
                    f"field {field.key!r} is declared in the inventory, so it cannot also be "
                    "passthrough; remove it from passthrough"
                )
                raise PolicyError(msg)
            how: Any = None
            if field.treatment is Treatment.GENERALISE:
                how = available.get(field.generaliser or "")
                if how is None:
                    msg = (
                        f"fields.{field.key}.generaliser: {field.generaliser!r} is not a known "
                        f"generaliser; known: {sorted(available)}. Pass your own in "
                        "generalisers={name: function}"
                    )
                    raise PolicyError(msg)
            elif field.treatment is Treatment.PSEUDONYMISE:
                if pseudonymiser is None or domain is None:
                    msg = (
                        f"field {field.key!r} is to be pseudonymised, so the anonymiser needs a "
                        "pseudonymiser and a domain (kit.pseudonyms.anonymiser(domain=...) "
                        "provides both)"
                    )
                    raise PolicyError(msg)
                how = ValueKind.for_category(field.category)
            self._plan[field.key] = (field.treatment, how)
        self._domain = None if domain is None else _validators.key(domain, "pseudonym domain")
        self._pseudonymiser = pseudonymiser
        self._clock = clock

    def __repr__(self) -> str:
        return f"RecordAnonymiser(fields={len(self._plan)}, domain={self._domain!r})"

    def anonymise(self, record: Mapping[str, object]) -> dict[str, object]:
        """Return a new record with every field treated as the inventory declares.

        The input is not changed. On any error nothing is returned.

        Raises:
            PolicyError: the record holds a field the inventory does not declare (the
                message names the key, never the value).
            ValidationError: a value cannot be generalised or pseudonymised, or is a
                pseudonym made for another domain or under an older key (the message names
                the field, never the value).
        """
        if not isinstance(record, Mapping):
            msg = f"a record must be a mapping of field keys to values, got {type(record).__name__}"
            raise ValidationError(msg)
        unknown = [k for k in record if k not in self._plan and k not in self._passthrough]
        if unknown:
            shown = ", ".join(_shown_key(k) for k in unknown)
            msg = (
                f"the record holds field(s) the inventory does not declare: {shown}. Declare "
                "them as inventory fields (with a treatment), or name non-personal fields in "
                "passthrough=; avgkit never passes undeclared data through"
            )
            raise PolicyError(msg)
        now = self._clock.now()
        out: dict[str, object] = {}
        for key, value in record.items():
            if key in self._passthrough:
                out[key] = value
                continue
            treatment, how = self._plan[key]
            if treatment is Treatment.DROP:
                continue
            if value is None or treatment is Treatment.KEEP:
                out[key] = value
                continue
            try:
                out[key] = (
                    how(value, now)
                    if treatment is Treatment.GENERALISE
                    else self._pseudonym(value, how)
                )
            except ValidationError as exc:
                msg = f"field {key!r} ({treatment}): {exc}"
                raise ValidationError(msg) from None
        return out

    def _pseudonym(self, value: object, kind: ValueKind) -> str:
        assert self._pseudonymiser is not None  # noqa: S101 - checked in __init__
        assert self._domain is not None  # noqa: S101
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.startswith(_PSEUDONYM_HEAD):
            if self._pseudonymiser.made_here(value, domain=self._domain, kind=kind):
                return value  # this anonymiser's own output: idempotence
            # Passing it through would leak another domain's join key into this extract, or
            # keep an old key's pseudonym next to new ones; it cannot be translated without
            # the value, so the only right answer is to start from the raw record.
            msg = (
                f"holds a pseudonym that was not made for domain {self._domain!r} under the "
                "current key (it was made for another domain or kind, under an older key or "
                "elsewhere, or was altered); anonymise from the raw record instead"
            )
            raise ValidationError(msg)
        return self._pseudonymiser.pseudonym(value, domain=self._domain, kind=kind)  # type: ignore[arg-type]

    def anonymise_many(
        self, records: Iterable[Mapping[str, object]]
    ) -> Iterable[dict[str, object]]:
        """Anonymise records one by one, lazily (memory stays flat for any number)."""
        return (self.anonymise(record) for record in records)


@attrs.frozen(kw_only=True)
class KGroup:
    """One combination of quasi-identifier values and how many rows share it.

    Its repr shows only the size: the values are personal data and stay out of logs.

    .. versionadded:: 0.1.0
    """

    values: tuple[object, ...] = attrs.field(repr=False)
    """The (generalised) quasi-identifier values, in the order they were asked for."""
    size: int
    """How many rows have exactly these values."""


@attrs.frozen(kw_only=True)
class KAnonymityReport:
    """The result of :func:`k_anonymity`.

    Its repr shows the field keys and counts, never a quasi-identifier value.

    .. versionadded:: 0.1.0
    """

    quasi_identifiers: tuple[str, ...]
    """The fields that were combined."""
    k: int
    """The group size asked for."""
    rows: int
    """How many rows the extract has."""
    groups: int
    """How many distinct combinations occur."""
    smallest: int | None
    """The size of the smallest group (``None`` for an empty extract): the extract's k."""
    below: tuple[KGroup, ...] = attrs.field(repr=lambda below: f"<{len(below)} groups>")
    """The groups smaller than ``k``, smallest first: suppress or generalise them further."""

    @property
    def satisfied(self) -> bool:
        """Whether every group has at least ``k`` rows."""
        return not self.below

    @property
    def rows_at_risk(self) -> int:
        """How many rows are in groups smaller than ``k``."""
        return sum(group.size for group in self.below)


def k_anonymity(
    rows: Iterable[Mapping[str, object]], quasi_identifiers: Sequence[str], *, k: int
) -> KAnonymityReport:
    """Check an analysis extract for k-anonymity over the chosen quasi-identifiers.

    Rows are streamed once; memory grows with the number of distinct groups, not rows.
    Run it on the *generalised* extract (e.g. the anonymiser's output): a group of raw
    values says more than its size.

    Args:
        rows: the extract, each row a mapping holding at least the quasi-identifiers.
        quasi_identifiers: the field keys whose combination could single someone out
            (e.g. ``("postcode", "birth_date")``).
        k: the smallest acceptable group size (at least 2).

    Raises:
        ValidationError: ``k`` is below 2, no quasi-identifiers are named, or a row is not
            a mapping, lacks one of them or holds an unhashable value (the message names the
            key and row number, never the value).

    .. versionadded:: 0.1.0
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:  # noqa: PLR2004
        msg = "k must be a whole number of at least 2 (k = 1 is true of any extract)"
        raise ValidationError(msg)
    if isinstance(quasi_identifiers, str):
        msg = "quasi_identifiers must be a list or tuple of field keys, not one string"
        raise ValidationError(msg)
    keys = tuple(_validators.key(q, "quasi-identifier") for q in quasi_identifiers)
    if not keys:
        msg = "name at least one quasi-identifier to group the extract by"
        raise ValidationError(msg)
    counts: Counter[tuple[object, ...]] = Counter()
    total = 0
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            msg = (
                f"row {number} is a {type(row).__name__}, not a mapping of field keys to "
                "values (a dict per row, e.g. the anonymiser's output)"
            )
            raise ValidationError(msg)
        try:
            combination = tuple(row[q] for q in keys)
        except KeyError as exc:
            msg = f"row {number} has no quasi-identifier {_shown_key(exc.args[0])}"
            raise ValidationError(msg) from None
        try:
            counts[combination] += 1
        except TypeError:
            msg = f"row {number} holds an unhashable quasi-identifier value (a list or dict?)"
            raise ValidationError(msg) from None
        total += 1
    below = sorted(
        (KGroup(values=values, size=size) for values, size in counts.items() if size < k),
        key=lambda group: (group.size, repr(group.values)),
    )
    return KAnonymityReport(
        quasi_identifiers=keys,
        k=k,
        rows=total,
        groups=len(counts),
        smallest=min(counts.values()) if counts else None,
        below=tuple(below),
    )
