"""What the host tells avgkit about its subjects: kinds, activity, records (values, no I/O)."""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

from avgkit import _validators
from avgkit.errors import ValidationError
from avgkit.subjects import SubjectId, subject_id


class SubjectKind(enum.StrEnum):
    """What kind of data subject the host holds.

    .. versionadded:: 0.2.0
    """

    ACCOUNT = "account"
    """A visitor with an account (login, order history, settings)."""
    GUEST = "guest"
    """A quick registration at the box office or a guest checkout: no manageable account."""
    RELATION = "relation"
    """A business relation in the CRM: press, donors, education, a contact person."""
    ATTENDEE = "attendee"
    """A person named on a ticket of someone else's order."""


_KINDS: Final = {kind.value: kind for kind in SubjectKind}


def _to_kind(value: object) -> SubjectKind:
    # A host builds one subject per row it reads: the common case (a kind's value, or the
    # member) is a lookup; anything else gets the full check and its message.
    found = _KINDS.get(value) if isinstance(value, str) else None
    return _validators.member(SubjectKind, value, "subject kind") if found is None else found


@functools.lru_cache(maxsize=256)
def _activity_type(value: str) -> str:
    # A host reports the same few activity types on every subject: each is checked once.
    return _validators.key(value, "activity type")


def _to_activity(value: object) -> Mapping[str, datetime]:
    if not isinstance(value, Mapping):
        msg = (
            "last_activity maps activity types ('purchase', 'login', 'newsletter_read') to "
            f"aware datetimes, got {type(value).__name__}"
        )
        raise ValidationError(msg)
    checked = {}
    for kind, at in value.items():
        key = _activity_type(kind) if type(kind) is str else _validators.key(kind, "activity type")
        # An instant in UTC already is what the check would return (itself).
        checked[key] = (
            at
            if type(at) is datetime and at.tzinfo is UTC
            else _validators.aware(at, f"last_activity[{kind!r}]")
        )
    return MappingProxyType(checked)


@attrs.frozen(kw_only=True)
class HostSubject:
    """One subject as the host reports it: its kind and its last activity per type.

    Args:
        id: the host's stable key for the subject.
        kind: what kind of subject it is.
        last_activity: the last instant of each activity type the host records for it
            (``{"purchase": ..., "login": ..., "newsletter_read": ...}``); a type the subject
            never did is left out.

    .. versionadded:: 0.2.0
    """

    id: SubjectId = attrs.field(converter=subject_id)
    kind: SubjectKind = attrs.field(converter=_to_kind)
    last_activity: Mapping[str, datetime] = attrs.field(
        factory=dict, converter=_to_activity, eq=False
    )

    def last_active(self, activity_types: frozenset[str] | None = None) -> datetime | None:
        """The latest instant of any of ``activity_types`` (all types by default), or ``None``."""
        instants = [
            at
            for kind, at in self.last_activity.items()
            if activity_types is None or kind in activity_types
        ]
        return max(instants, default=None)


def _to_values(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"a record's values map inventory field keys to values, got {type(value).__name__}"
        raise ValidationError(msg)
    return MappingProxyType({_validators.key(k, "record field"): v for k, v in value.items()})


def _check_source(_instance: object, _attribute: object, value: str) -> None:
    _validators.key(value, "record source")


def _check_record_key(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not value:
        msg = "a record's key must be a non-empty string (its key in the host, an order code)"
        raise ValidationError(msg)


def _to_optional_at(value: object) -> datetime | None:
    return None if value is None else _validators.aware(value, "record at")


@attrs.frozen(kw_only=True)
class HostRecord:
    """One of a subject's records in the host (an account row, an order, a ticket).

    Its ``values`` hold personal data and never appear in ``repr``.

    Args:
        source: where it lives in the host (a table or collection name, as a key).
        key: the record's own key in ``source`` (an order code): for the export.
        values: the record's personal values, by inventory field key.
        at: when the record was made or its data collected (for a breach's period).
        fiscal: the record is kept for a legal retention term (an invoice, a payment):
            an erasure anonymises it instead of deleting it.

    .. versionadded:: 0.2.0
    """

    source: str = attrs.field(validator=_check_source)
    key: str = attrs.field(repr=False, validator=_check_record_key)
    values: Mapping[str, Any] = attrs.field(converter=_to_values, repr=False)
    at: datetime | None = attrs.field(default=None, converter=_to_optional_at)
    fiscal: bool = False

    def texts(self) -> frozenset[str]:
        """Every text value of the record (what a scan for leftovers compares against)."""
        return frozenset(v for v in self.values.values() if isinstance(v, str) and v)


def _to_type_set(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


@attrs.frozen(kw_only=True)
class HostCapabilities:
    """Optional fast paths a :class:`~avgkit.host.HostData` offers.

    Without one, avgkit still works, only slower (it walks :meth:`HostData.subjects`).

    .. versionadded:: 0.2.0
    """

    inactive_since: bool = False
    """:meth:`~avgkit.host.HostData.inactive_since` answers in one query."""
    last_active_before: bool = False
    """The host also implements :class:`~avgkit.host.HostLastActivity`: the idle subjects'
    ids and last activity as plain rows, in one query. The plan then builds no
    :class:`HostSubject` per idle subject; without it, it reads :meth:`inactive_since`."""
    activity_types: frozenset[str] | None = attrs.field(default=None, converter=_to_type_set)
    """The activity types the host records (``None``: not said). A retention rule counting
    a type the host never records is refused: its subjects would all look idle."""


@attrs.frozen(kw_only=True)
class HostErasure:
    """What the host did when erasing one subject: how many records it anonymised and deleted.

    .. versionadded:: 0.2.0
    """

    anonymised: int = 0
    """Records kept without the subject's personal data (orders, payments, invoices)."""
    deleted: int = 0
    """Records removed."""
