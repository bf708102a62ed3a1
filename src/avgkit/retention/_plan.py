"""The retention plan: a dry run over the host's data listing every due action (service)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

import attrs

from avgkit import _validators
from avgkit.clock import Clock
from avgkit.errors import PolicyError, ValidationError
from avgkit.host import HostData, HostLastActivity, HostSubject, SubjectKind
from avgkit.retention._execute import Executor, WarnCallback
from avgkit.retention._values import (
    Hold,
    HoldReason,
    PlannedAction,
    RetentionPolicy,
    RetentionRule,
    Trigger,
    trusted_action,
)
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from dateutil.relativedelta import relativedelta

    from avgkit.audit import AuditLog
    from avgkit.erasure import Erasure
    from avgkit.host import HostErasure
    from avgkit.retention._execute import ExecutionSummary, Progress
    from avgkit.storage import RetentionStore

_MARGIN: Final = timedelta(days=4)
_PAGE: Final = 500


@attrs.frozen
class _Known:
    """What a page of the plan fetched in one query each, for its subjects."""

    upcoming: Mapping[SubjectId, datetime]
    warned: Mapping[tuple[SubjectId, datetime], datetime]


CONTRACT_END = "contract_end"
"""The activity type under which a host reports when a subject's contract ended."""


def _day(value: datetime) -> str:
    return f"{value:%Y-%m-%d}"


_CACHED_DAYS: Final = 20_000  # ~55 years of distinct days per cache, then it starts over


def _shift(steps: dict[date, timedelta], period: relativedelta, value: datetime) -> datetime:
    """``value + period``, from the step its calendar day takes (computed once per day).

    A calendar period moves a date by whole years, months and days (the day clamped to the
    month's end) and then adds its hours, minutes and seconds; the time of day plays no
    part in the first step. So ``value + period - value`` is the same for every instant of
    one day (in one time zone): it is computed at the day's midnight once, and added. Exact,
    not an approximation: ``tests/test_retention_plan.py`` compares it with relativedelta.
    """
    day = value.date()
    step = steps.get(day)
    if step is None:
        if len(steps) >= _CACHED_DAYS:
            steps.clear()
        midnight = datetime.combine(day, time(), value.tzinfo)
        step = steps[day] = (midnight + period) - midnight
    return value + step


_ONE_DAY: Final = timedelta(days=1)

# A day's entry: the step to the due date, the step from there back to the warning (None:
# the rule does not warn), the reason, and the reason of the warning.
_DayEntry = tuple[timedelta, timedelta | None, str, str]
_UNEVEN: Final[_DayEntry] = (timedelta(0), None, "", "")  # a period with a part of a day


class _RuleDates:
    """One rule's due dates and day texts, each worked out once per calendar day.

    A plan meets the same few thousand days in hundreds of thousands of anchors; the
    calendar arithmetic and the date formatting are done per day, the rest is an addition.
    """

    __slots__ = ("_back", "_days", "_forward", "_texts", "kinds", "rule", "warn_back")

    def __init__(self, rule: RetentionRule) -> None:
        self.rule = rule
        self.kinds = ", ".join(sorted(rule.activity_types))
        """The rule's activity types as its reasons name them."""
        self.warn_back = None if rule.warn_before is None else -rule.warn_before
        self._forward: dict[date, timedelta] = {}
        self._back: dict[date, timedelta] = {}
        self._texts: dict[date, str] = {}
        self._days: dict[date, _DayEntry] = {}

    def plan(self, anchor: datetime) -> tuple[datetime, datetime | None, str, str]:
        """For ``anchor``: the due date, the warning's (``None``: no warning), both reasons.

        What :meth:`due`, :meth:`warning_due` and :meth:`reason` give, and the reason of the
        warning (``"...; warn before <due>"``). A period of whole days (years, months, days)
        takes every instant of a day to the same due day, so for a UTC anchor all but two
        additions come from the day's entry.
        """
        if anchor.tzinfo is UTC:
            entry = self._days.get(anchor.date()) or self._day_entry(anchor.date())
            if entry is not _UNEVEN:
                forward, back, reason, warned = entry
                due = anchor + forward
                return due, None if back is None else due + back, reason, warned
        due = self.due(anchor)
        reason = self.reason(anchor)
        warning_due = None if self.warn_back is None else self.warning_due(due)
        return due, warning_due, reason, f"{reason}; warn before {self.day(due)}"

    def _day_entry(self, day: date) -> _DayEntry:
        if len(self._days) >= _CACHED_DAYS:
            self._days.clear()
        midnight = datetime.combine(day, time(), UTC)
        due = midnight + self.rule.period
        forward = due - midnight
        if forward % _ONE_DAY:
            entry = _UNEVEN
        else:
            back = None if self.warn_back is None else (due + self.warn_back) - due
            reason = self.reason(midnight)
            entry = (forward, back, reason, f"{reason}; warn before {_day(due)}")
        self._days[day] = entry
        return entry

    def due(self, anchor: datetime) -> datetime:
        """``rule.due(anchor)``: the anchor in UTC plus the rule's period."""
        if anchor.tzinfo is not UTC:
            anchor = _validators.aware(anchor, "anchor")
        return _shift(self._forward, self.rule.period, anchor)

    def warning_due(self, due: datetime) -> datetime:
        """``due - rule.warn_before`` (``due`` in UTC, from :meth:`due`; a rule that warns)."""
        if self.warn_back is None:  # pragma: no cover - callers ask only rules that warn
            return due
        return _shift(self._back, self.warn_back, due)

    def day(self, value: datetime) -> str:
        """``value``'s date as ``YYYY-MM-DD`` (its own time zone's)."""
        day = value.date()
        text = self._texts.get(day)
        if text is None:
            if len(self._texts) >= _CACHED_DAYS:
                self._texts.clear()
            text = self._texts[day] = _day(value)
        return text

    def reason(self, anchor: datetime) -> str:
        """Why the rule acts, in words (no personal data)."""
        trigger = self.rule.trigger
        if trigger is Trigger.INACTIVITY:
            return f"no {self.kinds} since {self.day(anchor)}"
        if trigger is Trigger.CONTRACT_END:
            return f"the contract ended on {self.day(anchor)}"
        if trigger is Trigger.COLLECTION:
            return f"collected on {self.day(anchor)}"
        return f"the last event was on {self.day(anchor)}"


# An idle subject as the page loop reads it: id, kind and last activity of the rule's types.
_Idle = tuple[SubjectId, SubjectKind, datetime | None]


def _checked_rows(rows: Iterable[Any]) -> Iterator[_Idle]:
    """The rows of :meth:`HostLastActivity.last_active_before`, each checked as it comes."""
    for row in rows:
        try:
            sid, kind, last = row  # a host's row: checked right here
        except (TypeError, ValueError):
            msg = (
                "HostLastActivity.last_active_before must yield (subject id, kind, last "
                f"activity) tuples, got a {type(row).__name__}"
            )
            raise ValidationError(msg) from None
        yield (
            subject_id(sid),
            kind if type(kind) is SubjectKind else _validators.member(SubjectKind, kind, "kind"),
            last
            if type(last) is datetime and last.tzinfo is UTC
            else _validators.aware(last, "a subject's last activity"),
        )


_NOT_HELD: Final[tuple[HoldReason | None, datetime | None]] = (None, None)


def _hold_of(
    holds: Iterable[Hold], last_upcoming: datetime | None, now: datetime
) -> tuple[HoldReason | None, datetime | None]:
    """What defers a subject's actions, and until when: an upcoming visit, else a hold."""
    if last_upcoming is not None:
        # A visitor with an upcoming event keeps their data until after it (as venues promise).
        return HoldReason.UPCOMING_VISIT, last_upcoming
    explicit = [h for h in holds if h.reason is not HoldReason.FISCAL_RETENTION]
    if not explicit:
        return _NOT_HELD
    first = next((h for h in explicit if h.until is None), None) or max(
        explicit, key=lambda h: h.until or now
    )
    return first.reason, first.until


class RetentionPlan:
    """A dry run of the retention policy at one instant: iterate it to stream the actions.

    Each iteration asks the host afresh and changes nothing. Due actions come first per
    rule; deferred ones (a hold, an upcoming visit) are listed too, marked
    :attr:`PlannedAction.deferred`. :meth:`RetentionPlanner.execute` carries out the due
    ones; the plan's :attr:`id` is the same for the same policy and instant, so running the
    same plan again (after a crash, or from a second executor) resumes it.

    .. versionadded:: 0.2.0
    """

    def __init__(self, planner: RetentionPlanner, at: datetime, holds: tuple[Hold, ...]) -> None:
        self.at = at
        """The instant the plan is made for."""
        self.fingerprint = planner.policy.fingerprint
        """The fingerprint of the policy it was made under."""
        self.id = hashlib.sha256(f"{self.fingerprint}|{at.isoformat()}".encode()).hexdigest()[:32]
        """Names the plan in the store: the same for the same policy and instant."""
        self._planner = planner
        self._holds = holds

    def __repr__(self) -> str:
        return f"RetentionPlan(id={self.id!r}, at={self.at.isoformat()!r})"

    def __iter__(self) -> Iterator[PlannedAction]:
        return self._planner.actions(self.at, self._holds)

    def due(self) -> Iterator[PlannedAction]:
        """Stream only the actions to carry out now (not deferred)."""
        return (action for action in self if not action.deferred)


class RetentionPlanner:
    """``kit.retention``: when each subject's data falls due, the plan, and its execution.

    Args:
        policy: the retention rules.
        host: the host's data.
        clock: the source of "now".
        store: where holds, warnings and staged plans are kept (``kit.stores.retention``);
            without one, the planner knows only the holds it is given, and no warning as
            sent, and cannot execute.
        erasure: ``kit.erasure``, which carries out delete and anonymise actions.
        audit: the audit log executions are recorded in.

    Raises:
        PolicyError: a rule counts an activity type the host says it does not record.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        policy: RetentionPolicy,
        host: HostData,
        clock: Clock,
        *,
        store: RetentionStore | None = None,
        erasure: Erasure | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        if not isinstance(policy, RetentionPolicy):
            msg = f"policy must be a RetentionPolicy, got {type(policy).__name__}"
            raise ValidationError(msg)
        known = host.capabilities.activity_types
        if known is not None:
            for rule in policy.rules:
                unknown = sorted(rule.activity_types - known)
                if unknown:
                    msg = (
                        f"retention rule {rule.key!r} counts activity types {unknown} that the "
                        f"host does not record (it records {sorted(known)}); a subject would "
                        "look idle while active: fix the rule or the host"
                    )
                    raise PolicyError(msg)
        self.policy = policy
        self._dates = {rule.key: _RuleDates(rule) for rule in policy.rules}
        self._host = host
        self._clock = clock
        self._store = store
        self._erasure = erasure
        self._audit = audit

    def __repr__(self) -> str:
        return f"RetentionPlanner(rules={[r.key for r in self.policy.rules]})"

    def _now(self, at: datetime | None) -> datetime:
        now = self._clock.now() if at is None else at
        return _validators.aware(now, "at")

    # ------------------------------------------------------------------ holds

    @property
    def store(self) -> RetentionStore:
        """The retention store (holds, warnings, staged plans).

        Raises:
            ValidationError: the planner was made without one.
        """
        if self._store is None:
            msg = (
                "this retention planner has no store for holds and plans; use kit.retention "
                "on a kit whose store set keeps them"
            )
            raise ValidationError(msg)
        return self._store

    # ------------------------------------------------------------------ one subject

    def _anchor(self, rule: RetentionRule, subject: HostSubject, at: datetime) -> datetime | None:
        if rule.trigger is Trigger.INACTIVITY:
            return subject.last_active(rule.activity_types)
        if rule.trigger is Trigger.CONTRACT_END:
            return subject.last_activity.get(CONTRACT_END)
        if rule.trigger is Trigger.EVENT_DATE:
            past = [d for d in self._host.event_dates(subject.id) if d <= at]
            return max(past, default=None)
        return None  # collection rules apply to records, not to whole subjects

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
        actions = list(self._subject_actions(found, now, holds=(), warnings=False))
        return tuple(sorted(actions, key=lambda a: (a.due, a.rule)))

    def _subject_actions(
        self,
        subject: HostSubject,
        now: datetime,
        *,
        holds: Iterable[Hold],
        only: RetentionRule | None = None,
        warnings: bool = True,
        known: _Known | None = None,
    ) -> Iterator[PlannedAction]:
        """The actions of ``subject``'s rules at ``now``, each built once.

        ``known`` carries what a batch already fetched (the subject's last upcoming event,
        the warnings sent); without it the host and the store are asked.
        """
        rules = self.policy.for_kind(subject.kind) if only is None else (only,)
        if not rules:
            return
        if known is None:
            upcoming = self._host.event_dates(subject.id, after=now)
            last_upcoming = max(upcoming) if upcoming else None
        else:
            last_upcoming = known.upcoming.get(subject.id)
        held = _hold_of(holds, last_upcoming, now)
        for rule in rules:
            anchor = self._anchor(rule, subject, now)
            if anchor is None:
                continue
            yield self._action(rule, subject.id, anchor, now, held, warnings=warnings, known=known)

    def _action(
        self,
        rule: RetentionRule,
        subject: SubjectId,
        anchor: datetime,
        now: datetime,
        held: tuple[HoldReason | None, datetime | None],
        *,
        warnings: bool = True,
        known: _Known | None = None,
    ) -> PlannedAction:
        """``rule``'s action for one subject (its id from a :class:`HostSubject`).

        ``held`` is what defers the subject's actions (:func:`_hold_of`).
        """
        due, warning_due, reason, warning_reason = self._dates[rule.key].plan(anchor)
        warning = False
        if warnings and warning_due is not None and rule.warn_before is not None:
            # Nobody is deleted without the warning the policy promises: the action
            # falls due warn_before after the warning was sent, at the earliest.
            warned = None
            if warning_due <= now:
                warned = self._warned(subject, rule, anchor, known)
            if warned is None:
                warning, reason, due = True, warning_reason, warning_due
            else:
                due = _validators.aware(max(due, warned + rule.warn_before), "due")
        return trusted_action(
            subject=subject,
            rule=rule.key,
            action=rule.action,
            due=due,
            reason=reason,
            anchor=anchor,
            warning=warning,
            hold=held[0],
            deferred_until=held[1],
        )

    def _warned(
        self, subject: SubjectId, rule: RetentionRule, anchor: datetime, known: _Known | None
    ) -> datetime | None:
        if known is not None:
            return known.warned.get((subject, anchor))
        if self._store is None:
            return None
        return self._store.warned_at(subject, rule.key, anchor)

    # ------------------------------------------------------------------ the plan

    def plan(self, *, at: datetime | None = None, holds: Iterable[Hold] = ()) -> RetentionPlan:
        """The plan at ``at`` (now by default): a dry run that changes nothing.

        Iterate it to stream the actions. Holds placed with :meth:`hold` count, and so do
        those passed in ``holds``. An inactivity rule asks the host's ``inactive_since``
        fast path (one query) where the host offers it, and walks the subjects otherwise.
        A rule with a warning first plans the warning; its action comes once the warning
        was sent and its period has run.

        Raises:
            ValidationError: ``at`` is naive, or ``holds`` holds something else than holds.
        """
        now = self._now(at)
        given = []
        for hold in holds:
            if not isinstance(hold, Hold):
                msg = f"holds takes Hold values, got {type(hold).__name__}"
                raise ValidationError(msg)
            given.append(hold)
        return RetentionPlan(self, now, tuple(given))

    def actions(self, now: datetime, holds: tuple[Hold, ...]) -> Iterator[PlannedAction]:
        """Stream the plan's actions at ``now`` (what iterating a :class:`RetentionPlan` does)."""
        by_subject: dict[SubjectId, list[Hold]] = {}
        stored = () if self._store is None else (h.hold for h in self._store.active_holds(now))
        for hold in (*holds, *stored):
            if hold.active(now):
                by_subject.setdefault(hold.subject, []).append(hold)
        for rule in self.policy.rules:
            if rule.records:
                yield from self._record_actions(rule, now)
                continue
            capabilities = self._host.capabilities
            if rule.trigger is Trigger.INACTIVITY and (
                capabilities.inactive_since or capabilities.last_active_before
            ):
                yield from self._idle_actions(rule, now, by_subject)
                continue
            for subject in self._host.subjects():
                if subject.kind not in rule.applies_to:
                    continue
                for action in self._subject_actions(
                    subject, now, holds=by_subject.get(subject.id, ()), only=rule
                ):
                    if action.due <= now:
                        yield action

    def _record_actions(self, rule: RetentionRule, now: datetime) -> Iterator[PlannedAction]:
        cutoff = now - rule.period + _MARGIN
        for record in self._host.collected_before(rule.records, before=cutoff):
            if record.at is None or rule.due(record.at) > now:
                continue
            yield PlannedAction(
                rule=rule.key,
                action=rule.action,
                due=rule.due(record.at),
                reason=self._dates[rule.key].reason(record.at),
                source=record.source,
                record_key=record.key,
                anchor=record.at,
            )

    def _idle_actions(
        self, rule: RetentionRule, now: datetime, holds: Mapping[SubjectId, list[Hold]]
    ) -> Iterator[PlannedAction]:
        """An inactivity rule through the host's fast path, a page of subjects at a time.

        One query in the host finds the idle subjects of the rule's kinds (as rows where
        the host offers :class:`HostLastActivity`, else as subjects); per page, one query
        for their upcoming events and one for the warnings sent. A few days' margin makes
        the query a superset whatever the calendar does; the exact due date is checked
        after. A warning falls due before the action, so the window opens that much earlier.

        Raises:
            ValidationError: the host declares ``last_active_before`` without implementing
                :class:`HostLastActivity`, or its rows are not what that promises.
        """
        cutoff = now - rule.period + _MARGIN
        if rule.warn_before is not None:
            cutoff = cutoff + rule.warn_before + _MARGIN
        types = rule.activity_types
        stream: Iterator[_Idle]
        if self._host.capabilities.last_active_before:
            if not isinstance(self._host, HostLastActivity):
                msg = (
                    f"the host ({type(self._host).__name__}) declares the capability "
                    "last_active_before but has no last_active_before() method; implement "
                    "avgkit.host.HostLastActivity or leave the capability off"
                )
                raise ValidationError(msg)
            stream = _checked_rows(
                self._host.last_active_before(types, before=cutoff, kinds=rule.applies_to)
            )
        else:
            stream = (
                (subject.id, subject.kind, subject.last_active(types))
                for subject in self._host.inactive_since(
                    types, before=cutoff, kinds=rule.applies_to
                )
            )
        applies_to = rule.applies_to
        action = self._action
        while page := list(islice(stream, _PAGE)):
            ids = [sid for sid, _, _ in page]
            warned = (
                self._store.warnings_for(rule.key, ids)
                if self._store is not None and rule.warn_before is not None
                else {}
            )
            known = _Known(upcoming=self._host.upcoming(ids, after=now), warned=warned)
            upcoming = known.upcoming
            # What _subject_actions(subject, now, only=rule, known=known) yields, without
            # its generator per subject: this loop runs once per idle subject.
            for sid, kind, anchor in page:
                if anchor is None or kind not in applies_to:
                    continue
                last_upcoming = upcoming.get(sid)
                held = holds.get(sid)
                deferred = (
                    _NOT_HELD
                    if last_upcoming is None and not held
                    else _hold_of(held or (), last_upcoming, now)
                )
                planned = action(rule, sid, anchor, now, deferred, known=known)
                if planned.due <= now:
                    yield planned

    # ------------------------------------------------------------------ for the executor

    def host_subject(self, subject: SubjectId) -> HostSubject | None:
        """The subject as the host reports it now (``None``: gone)."""
        return self._host.subject(subject)

    def subject_action(
        self, subject: HostSubject, rule_key: str, now: datetime
    ) -> PlannedAction | None:
        """What ``rule_key`` plans for ``subject`` at ``now``, with stored holds and warnings."""
        rule = self.policy.rule(rule_key)
        holds = (
            () if self._store is None else [h.hold for h in self._store.holds_for(subject.id, now)]
        )
        return next(iter(self._subject_actions(subject, now, holds=holds, only=rule)), None)

    def erase_record(self, source: str, key: str, *, keep: bool) -> HostErasure:
        """Delete (or with ``keep`` strip) one host record."""
        return self._host.erase_record(source, key, keep=keep)

    def execute(
        self,
        plan: RetentionPlan | str,
        *,
        progress: Callable[[Progress], None] | None = None,
        warn: WarnCallback | None = None,
        executor: str | None = None,
        batch: int = 50,
        lease: timedelta = timedelta(minutes=15),
    ) -> ExecutionSummary:
        """Carry out a plan's due actions through the host, each subject atomically.

        The plan is staged in avgkit's store first (once: a second call, or a second
        executor, finds it staged). Executors then claim actions ``batch`` at a time, so
        several processes or machines can work through one plan on PostgreSQL without two
        taking the same subject; a claim older than ``lease`` counts as abandoned (its
        executor died) and is taken over. Before acting, each action is checked again
        against the host and the holds: a subject active since the plan was made, or held,
        is left alone. Deletion and anonymisation go through :meth:`kit.erasure.erase()
        <avgkit.erasure.Erasure.erase>`; review actions are flagged in the audit log;
        warnings call ``warn`` and start the grace period. Every step is idempotent, so
        running the same plan again, after a crash half-way, converges to the same end
        state and never counts an action twice.

        Args:
            plan: a plan from :meth:`plan`, or the id of one staged before (another
                executor's).
            progress: called after each action with a :class:`Progress`.
            warn: called to warn a subject before a rule with ``warn_before`` acts (send
                the e-mail); required when such a warning is due.
            executor: this executor's name in claims (default: host, process, random).
            batch: actions claimed at a time.
            lease: how long a claim is honoured before another executor takes it over.

        Returns:
            The plan's summary, over all executors.

        Raises:
            PolicyError: the plan was made under another policy than this planner's.
            NotFound: ``plan`` is an id no plan was staged under.
            ValidationError: a warning is due and ``warn`` is not given; a bad ``batch``
                or ``lease``.
        """
        from_plan = self._executor(warn)
        plan_id = from_plan.stage(plan)
        return from_plan.run(
            plan_id, executor=executor, batch=batch, lease=lease, progress=progress
        )

    def stage(self, plan: RetentionPlan) -> str:
        """Stage a plan for executors without carrying anything out; returns its id.

        Raises:
            PolicyError: the plan was made under another policy.
        """
        return self._executor(None).stage(plan)

    def _executor(self, warn: WarnCallback | None) -> Executor:
        if self._erasure is None or self._audit is None:
            msg = (
                "this retention planner cannot execute: it has no erasure service; use "
                "kit.retention on a kit opened with host= and retention_policy="
            )
            raise ValidationError(msg)
        return Executor(
            self, self.store, self._erasure, self._audit, now=self._clock.now, warn=warn
        )

    # ------------------------------------------------------------------ leftovers

    def leftovers(
        self, *, at: datetime | None = None, grace: timedelta = timedelta(days=7)
    ) -> tuple[Leftover, ...]:
        """What is past its retention date by more than ``grace`` and was not swept.

        Counted per rule and, for event-date rules, per event date: a venue sees the
        clean-ups it forgot (the quick registrations of a performance months ago). Deferred
        actions are not leftovers: a hold keeps them on purpose.

        Raises:
            ValidationError: ``at`` is naive or ``grace`` negative.
        """
        now = self._now(at)
        if not isinstance(grace, timedelta) or grace < timedelta(0):
            msg = "grace must be a non-negative timedelta, e.g. timedelta(days=7)"
            raise ValidationError(msg)
        counts: dict[tuple[str, str | None], list[datetime]] = {}
        triggers = {rule.key: rule.trigger for rule in self.policy.rules}
        for action in self.plan(at=now).due():
            if action.warning or action.due > now - grace:
                continue
            event = None
            if triggers[action.rule] is Trigger.EVENT_DATE and action.anchor is not None:
                event = _day(action.anchor)
            counts.setdefault((action.rule, event), []).append(action.due)
        return tuple(
            Leftover(rule=rule, event=event, count=len(dues), oldest_due=min(dues))
            for (rule, event), dues in sorted(
                counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
            )
        )

    # ------------------------------------------------------------------ execution

    def hold(
        self,
        subject: SubjectId | str,
        reason: HoldReason | str,
        *,
        until: datetime | None = None,
        at: datetime | None = None,
    ) -> int:
        """Place a hold on the subject's data; returns its number (for :meth:`release`).

        Raises:
            ValidationError: no reason or an unknown one, a naive ``until``, or an
                ``until`` that is not after now.
        """
        now = self._now(at)
        hold = Hold(subject=subject, reason=reason, until=until)
        if hold.until is not None and hold.until <= now:
            msg = "a hold's until must lie after now; a hold that has lapsed holds nothing"
            raise ValidationError(msg)
        return self.store.place_hold(hold, now).id

    def release(self, hold_id: int, *, at: datetime | None = None) -> None:
        """Release a hold: the deferred action runs in the next plan.

        Raises:
            NotFound: no hold has that number.
        """
        self.store.release_hold(hold_id, self._now(at))

    def holds(self, subject: SubjectId | str, *, at: datetime | None = None) -> tuple[Hold, ...]:
        """The subject's holds in force at ``at`` (now)."""
        return tuple(h.hold for h in self.store.holds_for(subject_id(subject), self._now(at)))


@attrs.frozen(kw_only=True)
class Leftover:
    """Data past its retention date that was not swept (:meth:`RetentionPlanner.leftovers`).

    .. versionadded:: 0.2.0
    """

    rule: str
    event: str | None
    """For an event-date rule, the event's date (``2024-03-01``); else ``None``."""
    count: int
    oldest_due: datetime


__all__ = ["CONTRACT_END", "Leftover", "RetentionPlan", "RetentionPlanner", "WarnCallback"]
