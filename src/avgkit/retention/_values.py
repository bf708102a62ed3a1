"""Retention rules, holds and policies: what is kept how long, and what defers it (values).

Pure: no I/O. Periods are calendar periods (:class:`dateutil.relativedelta.relativedelta`):
"2 years" after 29 February 2024 ends on 28 February 2026, "1 month" after 31 January ends
on the last day of February.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import attrs
from dateutil.relativedelta import relativedelta

from avgkit import _validators
from avgkit.errors import PolicyError, ValidationError
from avgkit.host._values import SubjectKind
from avgkit.subjects import SubjectId, subject_id

MAX_HOLD_REASON: Final = 500
_RELATIVE_UNITS: Final = ("years", "months", "days", "hours", "minutes", "seconds", "microseconds")
_ABSOLUTE_UNITS: Final = ("year", "month", "day", "weekday", "hour", "minute", "second")


class Trigger(enum.StrEnum):
    """From which instant a rule's period runs.

    .. versionadded:: 0.2.0
    """

    INACTIVITY = "inactivity"
    """The subject's last activity of the rule's activity types (purchase, login, ...)."""
    EVENT_DATE = "event_date"
    """The date of the last event the subject held a ticket for (quick registrations)."""
    COLLECTION = "collection"
    """When the data was collected (camera footage, support mail)."""
    CONTRACT_END = "contract_end"
    """When the contract with the subject ended (business relations, contact persons)."""


class Action(enum.StrEnum):
    """What happens when a rule's period has run.

    .. versionadded:: 0.2.0
    """

    DELETE = "delete"
    """Erase the subject (fiscal records are anonymised, not deleted)."""
    ANONYMISE = "anonymise"
    """Keep the records without anything that identifies the subject."""
    REVIEW = "review"
    """Flag for a person to decide."""


class HoldReason(enum.StrEnum):
    """Why a subject's data must be kept past its retention date for now.

    .. versionadded:: 0.2.0
    """

    UPCOMING_VISIT = "upcoming_visit"
    """The subject holds a ticket for an event still to come: kept until after the visit."""
    PAYMENT_DISPUTE = "payment_dispute"
    """A chargeback or dispute is open."""
    FISCAL_RETENTION = "fiscal_retention"
    """Invoice data kept for the tax term (7 years, AWR art. 52), anonymised otherwise."""
    OPEN_REQUEST = "open_request"
    """An access or erasure request about the subject is open (Art. 15, 17)."""


def check_period(value: object, what: str) -> relativedelta:
    """Return ``value`` if it is a positive calendar period, else raise ValidationError."""
    if not isinstance(value, relativedelta):
        msg = (
            f"{what} must be a dateutil relativedelta such as relativedelta(years=2), got "
            f"{type(value).__name__}"
        )
        raise ValidationError(msg)
    if any(getattr(value, unit) is not None for unit in _ABSOLUTE_UNITS):
        msg = f"{what} must be a length of time (years=, months=, days=), not a fixed date part"
        raise ValidationError(msg)
    amounts = [getattr(value, unit) for unit in _RELATIVE_UNITS]
    if any(amount < 0 for amount in amounts) or not any(amount > 0 for amount in amounts):
        msg = f"{what} must be positive, e.g. relativedelta(years=2); got {value!r}"
        raise ValidationError(msg)
    return value


def _to_period(value: object) -> relativedelta:
    return check_period(value, "a retention period")


def _to_optional_period(value: object) -> relativedelta | None:
    return None if value is None else check_period(value, "a warning period")


def _to_kinds(value: object) -> frozenset[SubjectKind]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        msg = f"applies_to takes subject kinds, got {type(value).__name__}"
        raise ValidationError(msg)
    kinds = set()
    for item in items:
        try:
            kinds.add(SubjectKind(item))
        except ValueError:
            allowed = [k.value for k in SubjectKind]
            msg = f"subject kind {_validators.shown(item)} is not one of {allowed}"
            raise ValidationError(msg) from None
    return frozenset(kinds)


def _to_types(value: object) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        msg = f"activity_types takes activity type keys, got {type(value).__name__}"
        raise ValidationError(msg)
    return frozenset(_validators.key(item, "activity type") for item in items)


def _to_trigger(value: object) -> Trigger:
    return _validators.member(Trigger, value, "trigger")


def _to_action(value: object) -> Action:
    return _validators.member(Action, value, "action")


def _check_key(_instance: object, _attribute: object, value: str) -> None:
    _validators.key(value, "retention rule")


@attrs.frozen(kw_only=True)
class RetentionRule:
    """One retention rule: to whom it applies, from when its period runs, and what then.

    Args:
        key: the rule's name (``"inactive_accounts"``), shown in plans and reports.
        applies_to: the subject kinds it covers (one or several).
        trigger: the instant its period runs from.
        period: how long after the trigger the data may stay (a calendar period).
        action: what is done when the period has run.
        activity_types: with ``Trigger.INACTIVITY``, the activities that count (at least
            one: ``{"purchase", "login", "newsletter_read"}``); empty for other triggers.
        warn_before: optional: warn the subject this long before the action (a host
            callback sends the mail); new activity in between starts the period again.

    Raises:
        ValidationError: a period is not positive, an activity type is missing for an
            inactivity rule or given for another trigger, the warning is not shorter than the
            period, or a kind cannot have the trigger (an attendee has no contract).

    .. versionadded:: 0.2.0
    """

    key: str = attrs.field(validator=_check_key)
    applies_to: frozenset[SubjectKind] = attrs.field(converter=_to_kinds)
    trigger: Trigger = attrs.field(converter=_to_trigger)
    period: relativedelta = attrs.field(converter=_to_period)
    action: Action = attrs.field(converter=_to_action)
    activity_types: frozenset[str] = attrs.field(factory=frozenset, converter=_to_types)
    warn_before: relativedelta | None = attrs.field(default=None, converter=_to_optional_period)

    def __attrs_post_init__(self) -> None:
        """Refuse combinations that cannot work."""
        if not self.applies_to:
            msg = f"retention rule {self.key!r} applies to no subject kind; name at least one"
            raise ValidationError(msg)
        if self.trigger is Trigger.INACTIVITY and not self.activity_types:
            msg = (
                f"retention rule {self.key!r} is triggered by inactivity but names no activity "
                "types; say which count, e.g. activity_types={'purchase', 'login'}"
            )
            raise ValidationError(msg)
        if self.trigger is not Trigger.INACTIVITY and self.activity_types:
            msg = (
                f"retention rule {self.key!r} names activity types, which only an inactivity "
                f"trigger uses (its trigger is {self.trigger.value!r})"
            )
            raise ValidationError(msg)
        if self.trigger is Trigger.CONTRACT_END and SubjectKind.ATTENDEE in self.applies_to:
            msg = (
                f"retention rule {self.key!r}: an attendee named on someone else's order has "
                "no contract of their own to end; use trigger 'event_date' for attendees"
            )
            raise ValidationError(msg)
        if self.warn_before is not None:
            anchor = datetime(2000, 1, 1, tzinfo=UTC)  # only to compare the two lengths
            if anchor + self.warn_before >= anchor + self.period:
                msg = (
                    f"retention rule {self.key!r} warns no earlier than it acts; "
                    "shorten warn_before"
                )
                raise ValidationError(msg)

    def due(self, anchor: datetime) -> datetime:
        """When the action falls due for data whose trigger instant is ``anchor`` (aware)."""
        return _validators.aware(anchor, "anchor") + self.period

    def warning_due(self, anchor: datetime) -> datetime | None:
        """When the warning falls due, or ``None`` for a rule without one."""
        if self.warn_before is None:
            return None
        return self.due(anchor) - self.warn_before


def _to_reason(value: object) -> HoldReason:
    try:
        return HoldReason(str(value))
    except ValueError:
        msg = (
            f"hold reason {_validators.shown(value)} is not one of "
            f"{[r.value for r in HoldReason]}; a hold always says why it is there"
        )
        raise ValidationError(msg) from None


def _to_until(value: object) -> datetime | None:
    return None if value is None else _validators.aware(value, "until")


@attrs.frozen(kw_only=True)
class Hold:
    """Keeps one subject's data past its retention date, for a reason, until a time or release.

    .. versionadded:: 0.2.0
    """

    subject: SubjectId = attrs.field(converter=subject_id)
    reason: HoldReason = attrs.field(converter=_to_reason)
    until: datetime | None = attrs.field(default=None, converter=_to_until)
    """When the hold lapses by itself (``None``: until it is released)."""

    def active(self, at: datetime) -> bool:
        """Whether the hold still holds at ``at``."""
        return self.until is None or _validators.aware(at, "at") < self.until


def _to_rules(value: object) -> tuple[RetentionRule, ...]:
    if not isinstance(value, Iterable) or isinstance(value, str | bytes):
        msg = "a retention policy takes an iterable of RetentionRule values"
        raise ValidationError(msg)
    rules = tuple(value)
    for rule in rules:
        if not isinstance(rule, RetentionRule):
            msg = f"a retention policy holds RetentionRule values, got {type(rule).__name__}"
            raise ValidationError(msg)
    return rules


@attrs.frozen
class RetentionPolicy:
    """A set of retention rules, free of contradictions.

    Two rules contradict each other when they cover the same subject kind with the same
    trigger (and, for inactivity, the same activity types) but differ in period or action:
    which one would decide?

    Raises:
        PolicyError: two rules share a key, or contradict each other (both are named).

    .. versionadded:: 0.2.0
    """

    rules: tuple[RetentionRule, ...] = attrs.field(converter=_to_rules)

    def __attrs_post_init__(self) -> None:
        """Refuse duplicate keys and contradicting rules."""
        seen: dict[str, RetentionRule] = {}
        for rule in self.rules:
            if rule.key in seen:
                msg = f"two retention rules are named {rule.key!r}; give each its own key"
                raise PolicyError(msg)
            seen[rule.key] = rule
        for index, first in enumerate(self.rules):
            for second in self.rules[index + 1 :]:
                shared = first.applies_to & second.applies_to
                same_case = (
                    shared
                    and first.trigger is second.trigger
                    and first.activity_types == second.activity_types
                )
                if same_case and (first.period != second.period or first.action != second.action):
                    kinds = sorted(kind.value for kind in shared)
                    msg = (
                        f"retention rules {first.key!r} and {second.key!r} contradict each other "
                        f"for {kinds} on trigger {first.trigger.value!r}: they differ in period "
                        "or action; keep one"
                    )
                    raise PolicyError(msg)

    def rule(self, key: str) -> RetentionRule:
        """The rule named ``key``.

        Raises:
            PolicyError: no rule has that key.
        """
        for rule in self.rules:
            if rule.key == key:
                return rule
        msg = f"no retention rule {key!r}; the policy has {sorted(r.key for r in self.rules)}"
        raise PolicyError(msg)

    def for_kind(self, kind: SubjectKind | str) -> tuple[RetentionRule, ...]:
        """The rules covering subjects of ``kind``, in the policy's order."""
        wanted = SubjectKind(kind)
        return tuple(rule for rule in self.rules if wanted in rule.applies_to)
