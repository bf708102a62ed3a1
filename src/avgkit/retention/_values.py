"""Retention rules, holds and policies: what is kept how long, and what defers it (values).

Pure: no I/O. Periods are calendar periods (:class:`dateutil.relativedelta.relativedelta`):
"2 years" after 29 February 2024 ends on 28 February 2026, "1 month" after 31 January ends
on the last day of February.
"""

from __future__ import annotations

import enum
import hashlib
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


def _period_text(period: relativedelta) -> str:
    return ",".join(f"{unit}={getattr(period, unit)}" for unit in _RELATIVE_UNITS)


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


def _to_sources(value: object) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        msg = f"records takes the host's record sources, got {type(value).__name__}"
        raise ValidationError(msg)
    return frozenset(_validators.key(item, "record source") for item in items)


@attrs.frozen(kw_only=True)
class RetentionRule:
    """One retention rule: to whom it applies, from when its period runs, and what then.

    Args:
        key: the rule's name (``"inactive_accounts"``), shown in plans and reports.
        applies_to: the subject kinds it covers (one or several); or else
        records: the host's record sources it covers (``{"camera_outside"}``,
            ``{"support_mail_bank_details"}``), with a collection trigger: footage and mail
            are swept record by record, whoever they belong to.
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
            period, a kind cannot have the trigger (an attendee has no contract, a subject
            no collection time), or the rule names both kinds and records, or neither.

    .. versionadded:: 0.2.0
    """

    key: str = attrs.field(validator=_check_key)
    applies_to: frozenset[SubjectKind] = attrs.field(factory=frozenset, converter=_to_kinds)
    trigger: Trigger = attrs.field(converter=_to_trigger)
    period: relativedelta = attrs.field(converter=_to_period)
    action: Action = attrs.field(converter=_to_action)
    activity_types: frozenset[str] = attrs.field(factory=frozenset, converter=_to_types)
    warn_before: relativedelta | None = attrs.field(default=None, converter=_to_optional_period)
    records: frozenset[str] = attrs.field(factory=frozenset, converter=_to_sources)

    def __attrs_post_init__(self) -> None:
        """Refuse combinations that cannot work."""
        self._check_scope()
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

    def _check_scope(self) -> None:
        if bool(self.applies_to) == bool(self.records):
            msg = (
                f"retention rule {self.key!r} must apply either to subject kinds "
                "(applies_to='account') or to the host's records (records={'camera_outside'}), "
                "not both and not neither"
            )
            raise ValidationError(msg)
        if self.records and self.trigger is not Trigger.COLLECTION:
            msg = (
                f"retention rule {self.key!r} applies to records, which only a collection "
                f"trigger can time (its trigger is {self.trigger.value!r})"
            )
            raise ValidationError(msg)
        if self.applies_to and self.trigger is Trigger.COLLECTION:
            msg = (
                f"retention rule {self.key!r}: a subject has no collection time of its own; "
                "apply a collection rule to records (records={'support_mail'})"
            )
            raise ValidationError(msg)
        if self.records and self.warn_before is not None:
            msg = f"retention rule {self.key!r} applies to records, which nobody can be warned of"
            raise ValidationError(msg)
        if self.records and self.action is Action.REVIEW:
            msg = f"retention rule {self.key!r}: records are deleted or anonymised, not reviewed"
            raise ValidationError(msg)

    def describe(self) -> str:
        """A canonical one-line description (what a policy's fingerprint is made of)."""
        parts = [
            self.key,
            ",".join(sorted(k.value for k in self.applies_to)),
            ",".join(sorted(self.records)),
            self.trigger.value,
            _period_text(self.period),
            self.action.value,
            ",".join(sorted(self.activity_types)),
            "" if self.warn_before is None else _period_text(self.warn_before),
        ]
        return "|".join(parts)

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
                shared = (first.applies_to & second.applies_to) or (first.records & second.records)
                same_case = (
                    shared
                    and first.trigger is second.trigger
                    and first.activity_types == second.activity_types
                )
                if same_case and (first.period != second.period or first.action != second.action):
                    kinds = sorted(str(kind) for kind in shared)
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

    @property
    def fingerprint(self) -> str:
        """A hash of the rules: a plan made under one policy is refused under another."""
        text = "\n".join(sorted(rule.describe() for rule in self.rules))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def for_kind(self, kind: SubjectKind | str) -> tuple[RetentionRule, ...]:
        """The rules covering subjects of ``kind``, in the policy's order."""
        wanted = SubjectKind(kind)
        return tuple(rule for rule in self.rules if wanted in rule.applies_to)


class Outcome(enum.StrEnum):
    """What became of one planned action when it was carried out.

    .. versionadded:: 0.2.0
    """

    ERASED = "erased"
    """The subject was erased (or anonymised) through the host and in avgkit."""
    RECORD_REMOVED = "record_removed"
    """A record (footage, a mail) was deleted or stripped."""
    FLAGGED = "flagged"
    """Flagged for review: a person decides."""
    WARNED = "warned"
    """The subject was warned; the action waits out the grace period."""
    DEFERRED = "deferred"
    """A hold came up after planning: nothing was done."""
    SKIPPED = "skipped"
    """No longer due when its turn came (new activity, gone from the host already)."""


def _to_due(value: object) -> datetime:
    return _validators.aware(value, "due")


def _to_optional_subject(value: object) -> SubjectId | None:
    return None if value is None else subject_id(value)


@attrs.frozen(kw_only=True)
class PlannedAction:
    """One rule's action for one subject or one record: due (or deferred by a hold).

    A subject rule's action names ``subject``; a record rule's names ``source`` and
    ``record_key`` instead.

    .. versionadded:: 0.2.0
    """

    subject: SubjectId | None = attrs.field(default=None, converter=_to_optional_subject)
    rule: str
    """The key of the rule that decides."""
    action: Action = attrs.field(converter=_to_action)
    due: datetime = attrs.field(converter=_to_due)
    """When the rule's period ran (or runs) out."""
    reason: str
    """Why, in words, without personal data: ``no purchase, login since 2022-03-01``."""
    hold: HoldReason | None = None
    """The hold that defers the action, if any."""
    deferred_until: datetime | None = None
    """Until when the hold defers it (``None`` with a hold: until it is released)."""
    warning: bool = False
    """This is the warning that goes before the action, not the action itself."""
    source: str | None = None
    """For a record rule: the host's record source."""
    record_key: str | None = attrs.field(default=None, repr=False)
    """For a record rule: the record's key in its source."""
    anchor: datetime | None = None
    """The trigger instant the due date was computed from (a warning is tied to it)."""

    def __attrs_post_init__(self) -> None:
        """Refuse an action that names neither a subject nor a record, or both."""
        if (self.subject is None) == (self.source is None or self.record_key is None):
            msg = "a planned action names either a subject or a record (source and record_key)"
            raise ValidationError(msg)

    @property
    def deferred(self) -> bool:
        """Whether a hold keeps the action from being carried out now."""
        return self.hold is not None

    @property
    def item(self) -> str:
        """The action's key within a plan (what executors claim): rule and target."""
        target = (
            f"s:{self.subject}"
            if self.subject is not None
            else f"r:{self.source}:{self.record_key}"
        )
        return f"{self.rule}|{'warn' if self.warning else 'act'}|{target}"


_set = object.__setattr__


def trusted_action(
    *,
    subject: SubjectId,
    rule: str,
    action: Action,
    due: datetime,
    reason: str,
    anchor: datetime,
    warning: bool,
    hold: HoldReason | None,
    deferred_until: datetime | None,
) -> PlannedAction:
    """A subject's :class:`PlannedAction` from values the planner has checked already.

    Internal (not exported): the planner builds one per due subject, from a
    :class:`~avgkit.host.HostSubject`'s id (validated when the subject was made), its rule's
    key and :class:`Action`, and a ``due`` it computed itself from an aware anchor (so
    already in UTC); running the converters again on each of them would only repeat those
    checks. Equal, field for field, to ``PlannedAction(...)`` with the same arguments
    (``tests/test_retention_plan.py`` holds it to that). Anything built from values not
    checked so must go through the class.
    """
    made: PlannedAction = object.__new__(PlannedAction)
    _set(made, "subject", subject)
    _set(made, "rule", rule)
    _set(made, "action", action)
    _set(made, "due", due)
    _set(made, "reason", reason)
    _set(made, "hold", hold)
    _set(made, "deferred_until", deferred_until)
    _set(made, "warning", warning)
    _set(made, "source", None)
    _set(made, "record_key", None)
    _set(made, "anchor", anchor)
    return made


@attrs.frozen(kw_only=True)
class ClaimedAction:
    """A staged action an executor has claimed from a stored plan.

    .. versionadded:: 0.2.0
    """

    plan_id: str
    number: int
    """The action's number within its plan."""
    action: PlannedAction


@attrs.frozen(kw_only=True)
class StoredHold:
    """A hold as the store keeps it: with its number, when it was placed and released.

    .. versionadded:: 0.2.0
    """

    id: int
    hold: Hold
    placed_at: datetime
    released_at: datetime | None = None
