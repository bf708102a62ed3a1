"""The retention plan: a dry run over the host's data, with holds and upcoming visits."""

from datetime import UTC, datetime, timedelta, timezone
from operator import attrgetter

import attrs
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import assume, given
from hypothesis import strategies as st

from avgkit import Kit
from avgkit.errors import ValidationError
from avgkit.host import HostCapabilities, HostLastActivity, HostSubject, SubjectKind
from avgkit.host.memory import MemoryHostData
from avgkit.presets import ticketing
from avgkit.retention import (
    CONTRACT_END,
    Action,
    Hold,
    HoldReason,
    PlannedAction,
    RetentionPlanner,
    RetentionPolicy,
    RetentionRule,
)
from avgkit.retention._plan import _RuleDates
from avgkit.retention._values import trusted_action
from avgkit.subjects import subject_id
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def host():
    shop = MemoryHostData(ticketing.inventory())

    def add(sid, kind, **activity):
        shop.add_subject(HostSubject(id=sid, kind=kind, last_activity=activity))

    add("idle", SubjectKind.ACCOUNT, purchase=datetime(2022, 3, 1, tzinfo=UTC))
    add("active", SubjectKind.ACCOUNT, login=NOW - timedelta(days=3))
    add("idle-with-ticket", SubjectKind.ACCOUNT, newsletter_read=datetime(2021, 1, 1, tzinfo=UTC))
    shop.add_event("idle-with-ticket", NOW + timedelta(days=10))
    add("guest-past", SubjectKind.GUEST)
    shop.add_event("guest-past", NOW - timedelta(days=2))
    add("guest-soon", SubjectKind.GUEST)
    shop.add_event("guest-soon", NOW - timedelta(days=40))
    shop.add_event("guest-soon", NOW + timedelta(days=1))
    add("guest-no-event", SubjectKind.GUEST)
    add("relation", SubjectKind.RELATION, **{CONTRACT_END: datetime(2016, 12, 31, tzinfo=UTC)})
    add("attendee", SubjectKind.ATTENDEE)
    return shop


@pytest.fixture
def kit():
    with Kit.open(
        "memory://",
        inventory=ticketing.inventory(),
        clock=ManualClock(NOW),
        host=host(),
        retention_policy=ticketing.retention_policy(),
    ) as opened:
        yield opened


def planned(kit, **options):
    return {a.subject: a for a in kit.retention.plan(**options)}


def test_the_plan_lists_what_is_due_and_nothing_else(kit):
    plan = planned(kit)
    assert set(plan) == {"idle", "idle-with-ticket", "guest-past", "guest-soon", "relation"}
    idle = plan["idle"]
    # The policy promises a warning 30 days before deletion: none was sent, so the warning
    # is what is due (from 31 January), not the deletion (1 March).
    assert (idle.rule, idle.action, idle.due, idle.warning) == (
        "inactive_accounts",
        Action.DELETE,
        datetime(2024, 1, 31, tzinfo=UTC),
        True,
    )
    assert not idle.deferred
    assert idle.reason == (
        "no login, newsletter_read, purchase since 2022-03-01; warn before 2024-03-01"
    )
    assert plan["guest-past"].due == NOW - timedelta(days=1)
    assert plan["relation"].due == datetime(2023, 12, 31, tzinfo=UTC)


def test_an_upcoming_visit_defers_the_action_until_after_it(kit):
    plan = planned(kit)
    for sid, event in (("idle-with-ticket", 10), ("guest-soon", 1)):
        assert plan[sid].deferred
        assert plan[sid].hold is HoldReason.UPCOMING_VISIT
        assert plan[sid].deferred_until == NOW + timedelta(days=event)


def test_an_explicit_hold_defers_and_a_lapsed_one_does_not(kit):
    held = Hold(subject="idle", reason="open_request", until=NOW + timedelta(days=30))
    lapsed = Hold(subject="relation", reason="payment_dispute", until=NOW - timedelta(days=1))
    plan = planned(kit, holds=[held, lapsed])
    assert plan["idle"].hold is HoldReason.OPEN_REQUEST
    assert plan["idle"].deferred_until == NOW + timedelta(days=30)
    assert not plan["relation"].deferred


def test_the_plan_is_a_dry_run(kit):
    before = list(kit.host.subjects())
    list(kit.retention.plan())
    assert list(kit.host.subjects()) == before


def test_a_plan_at_another_instant_sees_that_instant(kit):
    later = planned(kit, at=datetime(2026, 6, 1, tzinfo=UTC))
    assert "active" in later
    earlier = planned(kit, at=datetime(2023, 6, 1, tzinfo=UTC))
    assert "idle" not in earlier


def test_the_dates_of_one_subject_include_future_ones(kit):
    (action,) = kit.retention.dates("active")
    assert action.due == datetime(2026, 5, 29, 12, tzinfo=UTC)  # two calendar years on
    assert kit.retention.dates("guest-no-event") == ()
    assert kit.retention.dates("nobody") == ()


def test_naive_instants_and_foreign_holds_are_refused(kit):
    with pytest.raises(ValidationError, match="naive"):
        list(kit.retention.plan(at=datetime(2024, 6, 1)))  # noqa: DTZ001
    with pytest.raises(ValidationError, match="Hold values"):
        list(kit.retention.plan(holds=["idle"]))


def test_a_kit_without_a_policy_says_how_to_give_one():
    with (
        Kit.open("memory://", inventory=ticketing.inventory(), host=host()) as kit,
        pytest.raises(ValidationError, match="retention_policy="),
    ):
        _ = kit.retention
    with pytest.raises(ValidationError, match="RetentionPolicy"):
        Kit.open("memory://", inventory=ticketing.inventory(), retention_policy=["rules"])


class SlowHost(MemoryHostData):
    """A host without the fast path: the plan must walk its subjects instead."""

    @property
    def capabilities(self):
        return HostCapabilities(inactive_since=False)

    def inactive_since(self, activity_types, *, before):
        raise NotImplementedError


class CountingHost(MemoryHostData):
    walked = 0

    def subjects(self):
        CountingHost.walked += 1
        return super().subjects()


@given(
    days_ago=st.lists(st.integers(0, 3000), min_size=1, max_size=12),
    at_offset=st.integers(-400, 400),
)
def test_the_fast_path_and_the_walk_plan_alike(days_ago, at_offset):
    fast, slow = MemoryHostData(ticketing.inventory()), SlowHost(ticketing.inventory())
    for index, days in enumerate(days_ago):
        subject = HostSubject(
            id=f"c{index}", kind="account", last_activity={"login": NOW - timedelta(days=days)}
        )
        fast.add_subject(subject)
        slow.add_subject(subject)
    at = NOW + timedelta(days=at_offset)
    policy = ticketing.retention_policy()
    clock = ManualClock(NOW)
    plans = [
        sorted((a.subject, a.due) for a in RetentionPlanner(policy, h, clock).plan(at=at))
        for h in (fast, slow)
    ]
    assert plans[0] == plans[1]


def test_an_inactivity_only_policy_never_walks_a_host_with_the_fast_path():
    shop = CountingHost(ticketing.inventory())
    shop.add_subject(
        HostSubject(id="idle", kind="account", last_activity={"login": NOW.replace(year=2020)})
    )
    policy = RetentionPolicy([ticketing.retention_policy().rule("inactive_accounts")])
    plan = list(RetentionPlanner(policy, shop, ManualClock(NOW)).plan())
    assert [a.subject for a in plan] == ["idle"]
    assert CountingHost.walked == 0


# --------------------------------------------------------------------------- the fast paths
# The plan works its due dates out once per calendar day, builds its actions without running
# the converters again, and loops over a page of idle subjects inline. Each must give exactly
# what the plain arithmetic and the public constructor give.

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=11, minutes=30))]
)
PERIODS = st.builds(
    relativedelta,
    years=st.integers(0, 8),
    months=st.integers(0, 30),
    days=st.integers(0, 400),
    hours=st.integers(0, 50),
    minutes=st.integers(0, 90),
    microseconds=st.integers(0, 10**6),
)


def rule_of(period, warn_before=None):
    return RetentionRule(
        key="idle",
        applies_to="account",
        trigger="inactivity",
        activity_types={"login", "purchase"},
        period=period,
        action="delete",
        warn_before=warn_before,
    )


@given(
    period=PERIODS,
    warn=PERIODS,
    day=st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2200, 1, 1)),  # noqa: DTZ001
    times=st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30))),
    zone=ZONES,
)
def test_due_dates_worked_out_per_day_are_the_calendar_arithmetic(period, warn, day, times, zone):
    try:
        rule = rule_of(period, warn)
    except ValidationError:
        assume(False)
    dates = _RuleDates(rule)
    # Several instants of one day, and of the next (the same caches serve them all).
    for offset in [timedelta(0), *times, timedelta(0)]:
        anchor = (day + offset).replace(tzinfo=zone)
        due, warning_due, reason, warning_reason = dates.plan(anchor)
        assert (due, warning_due) == (rule.due(anchor), rule.warning_due(anchor))
        assert due.tzinfo is UTC
        assert warning_due.tzinfo is UTC
        assert reason == f"no login, purchase since {anchor:%Y-%m-%d}"
        assert warning_reason == f"{reason}; warn before {rule.due(anchor):%Y-%m-%d}"
        assert (dates.due(anchor), dates.warning_due(due)) == (due, warning_due)


def test_a_rule_without_a_warning_plans_none():
    dates = _RuleDates(rule_of(relativedelta(years=2)))
    for anchor in (NOW, NOW.astimezone(timezone(timedelta(hours=2)))):
        due, warning_due, _, _ = dates.plan(anchor)
        assert (due, warning_due) == (datetime(2026, 6, 1, 12, tzinfo=UTC), None)


def test_a_naive_anchor_from_a_host_is_still_refused():
    with pytest.raises(ValidationError, match="anchor"):
        _RuleDates(rule_of(relativedelta(years=2))).plan(datetime(2024, 1, 1))  # noqa: DTZ001


@given(
    fields=st.fixed_dictionaries(
        {
            "subject": st.text(
                st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1
            ).map(subject_id),
            "rule": st.just("inactive_accounts"),
            "action": st.sampled_from(Action),
            "due": st.datetimes(max_value=datetime(8999, 12, 31), timezones=st.just(UTC)),  # noqa: DTZ001
            "reason": st.text(min_size=1),
            "anchor": st.datetimes(timezones=ZONES),
            "warning": st.booleans(),
            "hold": st.none() | st.sampled_from(HoldReason),
            "deferred_until": st.none() | st.datetimes(timezones=ZONES),
        }
    )
)
def test_a_trusted_action_is_the_action_the_class_builds(fields):
    trusted, built = trusted_action(**fields), PlannedAction(**fields)
    assert trusted == built
    assert attrs.asdict(trusted, recurse=False) == attrs.asdict(built, recurse=False)
    assert repr(trusted) == repr(built)
    assert trusted.item == built.item
    assert hash(trusted) == hash(built)


INSTANTS = st.datetimes(
    min_value=datetime(2015, 1, 1),  # noqa: DTZ001
    max_value=datetime(2025, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
SUBJECTS = st.lists(
    st.fixed_dictionaries(
        {
            "activity": st.dictionaries(
                st.sampled_from(["login", "purchase", "newsletter_read"]), INSTANTS, max_size=3
            ),
            "kind": st.sampled_from(["account", "account", "guest"]),
            "events": st.lists(INSTANTS, max_size=2),
            "hold": st.none() | st.tuples(st.sampled_from(HoldReason), st.none() | INSTANTS),
            "warned": st.none() | st.timedeltas(timedelta(0), timedelta(days=60)),
        }
    ),
    max_size=25,
)


def expected_actions(rule, subjects, holds, warned, at):
    """What the plan must list for an inactivity rule, by the rule's plain arithmetic."""
    kinds = ", ".join(sorted(rule.activity_types))
    for subject, events in subjects:
        anchor = subject.last_active(rule.activity_types)
        if subject.kind not in rule.applies_to or anchor is None:
            continue
        due, reason, warning = rule.due(anchor), f"no {kinds} since {anchor:%Y-%m-%d}", False
        if rule.warn_before is not None:
            sent = warned.get(subject.id) if rule.warning_due(anchor) <= at else None
            if sent is None:
                warning, reason = True, f"{reason}; warn before {due:%Y-%m-%d}"
                due = rule.warning_due(anchor)
            else:
                due = max(due, sent + rule.warn_before)
        hold = until = None
        later = [e for e in events if e > at]
        mine = [h for h in holds.get(subject.id, ()) if h.reason is not HoldReason.FISCAL_RETENTION]
        if later:
            hold, until = HoldReason.UPCOMING_VISIT, max(later)
        elif mine:
            endless = [h for h in mine if h.until is None]
            first = endless[0] if endless else max(mine, key=lambda h: h.until)
            hold, until = first.reason, first.until
        if due <= at:
            yield PlannedAction(
                subject=subject.id,
                rule=rule.key,
                action=rule.action,
                due=due,
                reason=reason,
                anchor=anchor,
                warning=warning,
                hold=hold,
                deferred_until=until,
            )


class SubjectsOnlyHost(MemoryHostData):
    """A host with inactive_since but not the rows of HostLastActivity."""

    @property
    def capabilities(self):
        return HostCapabilities(inactive_since=True)

    def last_active_before(self, *_args, **_kwargs):
        raise AssertionError("not declared, so never asked")


@pytest.mark.parametrize("host_type", [MemoryHostData, SubjectsOnlyHost, SlowHost])
@given(subjects=SUBJECTS, at=INSTANTS, warn=st.booleans())
def test_the_paged_plan_lists_exactly_what_the_rule_says(host_type, subjects, at, warn):
    rule = rule_of(relativedelta(years=2), relativedelta(days=30) if warn else None)
    shop = host_type(ticketing.inventory())
    made, holds, warned, given_holds = [], {}, {}, []
    with Kit.open(
        "memory://",
        inventory=ticketing.inventory(),
        clock=ManualClock(at),
        host=shop,
        retention_policy=RetentionPolicy([rule]),
    ) as kit:
        for number, spec in enumerate(subjects):
            subject = HostSubject(
                id=f"c{number}", kind=spec["kind"], last_activity=spec["activity"]
            )
            shop.add_subject(subject)
            for event in spec["events"]:
                shop.add_event(subject.id, event)
            made.append((subject, spec["events"]))
            if spec["hold"] is not None:
                reason, until = spec["hold"]
                hold = Hold(subject=subject.id, reason=reason, until=until)
                given_holds.append(hold)  # lapsed ones too: the plan leaves those out
                if hold.active(at):
                    holds.setdefault(subject.id, []).append(hold)
            anchor = subject.last_active(rule.activity_types)
            if spec["warned"] is not None and anchor is not None and warn:
                sent = rule.warning_due(anchor) + spec["warned"]
                kit.retention.store.record_warning(subject.id, rule.key, anchor, sent)
                warned[subject.id] = sent
        plan = list(kit.retention.plan(at=at, holds=given_holds))
    want = list(expected_actions(rule, made, holds, warned, at))
    key = attrgetter("subject")
    assert sorted(plan, key=key) == sorted(want, key=key)
    for action in plan:
        assert attrs.asdict(action, recurse=False) == attrs.asdict(
            next(w for w in want if w.subject == action.subject), recurse=False
        )


class RowsHost(MemoryHostData):
    """Answers last_active_before with the rows it is given."""

    rows = ()

    def last_active_before(self, *_args, **_kwargs):
        return iter(self.rows)


OLD = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c1", "tuples"),
        (("c1", "account"), "tuples"),
        (("c\n1", "account", OLD), "control characters"),
        ((7, "account", OLD), "subject id"),
        (("c1", "customer", OLD), "kind"),
        (("c1", "account", OLD.replace(tzinfo=None)), "naive"),
        (("c1", "account", "2020-01-01"), "last activity"),
    ],
)
def test_rows_a_host_gets_wrong_stop_the_plan_with_the_reason(row, message):
    shop = RowsHost(ticketing.inventory())
    shop.rows = [("c0", SubjectKind.ACCOUNT, OLD), row]
    planner = RetentionPlanner(ticketing.retention_policy(), shop, ManualClock(NOW))
    with pytest.raises(ValidationError, match=message):
        list(planner.plan())


def test_rows_in_another_time_zone_or_with_the_kinds_value_plan_as_subjects_do():
    cet = timezone(timedelta(hours=1))
    shop = RowsHost(ticketing.inventory())
    shop.rows = [("c0", "account", OLD.astimezone(cet)), ("g0", "guest", OLD)]
    planner = RetentionPlanner(ticketing.retention_policy(), shop, ManualClock(NOW))
    (action,) = planner.plan()  # the guest is no account: the rule leaves it out
    assert (action.subject, action.anchor, action.anchor.tzinfo) == ("c0", OLD, UTC)
    assert action.reason.startswith("no login, newsletter_read, purchase since 2020-01-01")


class DeclaresRowsItHasNot(MemoryHostData):
    """Declares the rows fast path, but has no such method."""

    last_active_before = None

    @property
    def capabilities(self):
        return HostCapabilities(last_active_before=True)


def test_a_host_declaring_rows_it_cannot_give_is_told_so():
    shop = DeclaresRowsItHasNot(ticketing.inventory())
    assert not isinstance(shop, HostLastActivity)
    planner = RetentionPlanner(ticketing.retention_policy(), shop, ManualClock(NOW))
    with pytest.raises(ValidationError, match="HostLastActivity"):
        list(planner.plan())
