"""The retention plan: a dry run over the host's data listing every due action (service)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Final

import attrs

from avgkit import _validators
from avgkit.clock import Clock
from avgkit.errors import ValidationError
from avgkit.host import HostData, HostSubject
from avgkit.retention._values import (
    Action,
    Hold,
    HoldReason,
    RetentionPolicy,
    RetentionRule,
    Trigger,
)
from avgkit.subjects import SubjectId, subject_id

_MARGIN: Final = timedelta(days=4)

CONTRACT_END = "contract_end"
"""The activity type under which a host reports when a subject's contract ended."""


@attrs.frozen(kw_only=True)
class PlannedAction:
    """One rule's action for one subject: due (or deferred by a hold), with its reason.

    .. versionadded:: 0.2.0
    """

    subject: SubjectId
    rule: str
    """The key of the rule that decides."""
    action: Action
    due: datetime
    """When the rule's period ran (or runs) out."""
    reason: str
    """Why, in words, without personal data: ``no purchase, login since 2022-03-01``."""
    hold: HoldReason | None = None
    """The hold that defers the action, if any."""
    deferred_until: datetime | None = None
    """Until when the hold defers it (``None`` with a hold: until it is released)."""

    @property
    def deferred(self) -> bool:
        """Whether a hold keeps the action from being carried out now."""
        return self.hold is not None


def _day(value: datetime) -> str:
    return f"{value:%Y-%m-%d}"


class RetentionPlanner:
    """``kit.retention``: when each subject's data falls due, and the plan of due actions.

    Args:
        policy: the retention rules.
        host: the host's data.
        clock: the source of "now".

    .. versionadded:: 0.2.0
    """

    def __init__(self, policy: RetentionPolicy, host: HostData, clock: Clock) -> None:
        if not isinstance(policy, RetentionPolicy):
            msg = f"policy must be a RetentionPolicy, got {type(policy).__name__}"
            raise ValidationError(msg)
        self.policy = policy
        self._host = host
        self._clock = clock

    def __repr__(self) -> str:
        return f"RetentionPlanner(rules={[r.key for r in self.policy.rules]})"

    def _now(self, at: datetime | None) -> datetime:
        now = self._clock.now() if at is None else at
        return _validators.aware(now, "at")

    def _anchor(self, rule: RetentionRule, subject: HostSubject, at: datetime) -> datetime | None:
        if rule.trigger is Trigger.INACTIVITY:
            return subject.last_active(rule.activity_types)
        if rule.trigger is Trigger.CONTRACT_END:
            return subject.last_activity.get(CONTRACT_END)
        if rule.trigger is Trigger.EVENT_DATE:
            past = [d for d in self._host.event_dates(subject.id) if d <= at]
            return max(past, default=None)
        return None  # collection rules apply to records, not to whole subjects

    @staticmethod
    def _reason(rule: RetentionRule, anchor: datetime) -> str:
        if rule.trigger is Trigger.INACTIVITY:
            kinds = ", ".join(sorted(rule.activity_types))
            return f"no {kinds} since {_day(anchor)}"
        if rule.trigger is Trigger.CONTRACT_END:
            return f"the contract ended on {_day(anchor)}"
        return f"the last event was on {_day(anchor)}"

    def dates(
        self, subject: SubjectId | str, *, at: datetime | None = None
    ) -> tuple[PlannedAction, ...]:
        """When each rule covering ``subject`` falls due, past or future, earliest first.

        A rule whose trigger has not happened yet (no event attended) is left out. Holds
        from upcoming visits are shown; explicit holds are the plan's business.

        Raises:
            ValidationError: ``at`` is naive.
        """
        now = self._now(at)
        found = self._host.subject(subject_id(subject))
        if found is None:
            return ()
        actions = list(self._subject_actions(found, now, holds=()))
        return tuple(sorted(actions, key=lambda a: (a.due, a.rule)))

    def plan(
        self, *, at: datetime | None = None, holds: Iterable[Hold] = ()
    ) -> Iterator[PlannedAction]:
        """Stream every action due at ``at`` (now by default): a dry run that changes nothing.

        Deferred actions (an upcoming visit, a hold in ``holds``) are streamed too, marked
        :attr:`PlannedAction.deferred`, so a venue sees what waits and until when. Actions
        come rule by rule; an inactivity rule asks the host's ``inactive_since`` fast path
        (one query) where the host offers it, and walks the subjects otherwise.

        Raises:
            ValidationError: ``at`` is naive, or ``holds`` holds something else than holds.
        """
        now = self._now(at)
        by_subject: dict[SubjectId, list[Hold]] = {}
        for hold in holds:
            if not isinstance(hold, Hold):
                msg = f"holds takes Hold values, got {type(hold).__name__}"
                raise ValidationError(msg)
            if hold.active(now):
                by_subject.setdefault(hold.subject, []).append(hold)
        for rule in self.policy.rules:
            for subject in self._candidates(rule, now):
                for action in self._subject_actions(
                    subject, now, holds=by_subject.get(subject.id, ()), only=rule
                ):
                    if action.due <= now:
                        yield action

    def _candidates(self, rule: RetentionRule, now: datetime) -> Iterator[HostSubject]:
        """The subjects ``rule`` may be due for: from the host's fast path where it has one."""
        if rule.trigger is Trigger.INACTIVITY and self._host.capabilities.inactive_since:
            # One query in the host finds the idle ones; a few days' margin makes it a
            # superset whatever the calendar does, and the exact due date is checked after.
            cutoff = now - rule.period + _MARGIN
            for sid in self._host.inactive_since(rule.activity_types, before=cutoff):
                subject = self._host.subject(sid)
                if subject is not None and subject.kind in rule.applies_to:
                    yield subject
            return
        for subject in self._host.subjects():
            if subject.kind in rule.applies_to:
                yield subject

    def _subject_actions(
        self,
        subject: HostSubject,
        now: datetime,
        *,
        holds: Iterable[Hold],
        only: RetentionRule | None = None,
    ) -> Iterator[PlannedAction]:
        rules = self.policy.for_kind(subject.kind) if only is None else (only,)
        if not rules:
            return
        upcoming = self._host.event_dates(subject.id, after=now)
        explicit = list(holds)
        for rule in rules:
            anchor = self._anchor(rule, subject, now)
            if anchor is None:
                continue
            base = PlannedAction(
                subject=subject.id,
                rule=rule.key,
                action=rule.action,
                due=rule.due(anchor),
                reason=self._reason(rule, anchor),
            )
            if upcoming:
                # Seed 002: a visitor with an upcoming event keeps their data until after it.
                yield attrs.evolve(
                    base, hold=HoldReason.UPCOMING_VISIT, deferred_until=max(upcoming)
                )
            elif explicit:
                first = explicit[0]
                yield attrs.evolve(base, hold=first.reason, deferred_until=first.until)
            else:
                yield base
