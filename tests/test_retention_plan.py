"""The retention plan: a dry run over the host's data, with holds and upcoming visits."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avgkit import Kit
from avgkit.errors import ValidationError
from avgkit.host import HostCapabilities, HostSubject, SubjectKind
from avgkit.host.memory import MemoryHostData
from avgkit.presets import ticketing
from avgkit.retention import (
    CONTRACT_END,
    Action,
    Hold,
    HoldReason,
    RetentionPlanner,
    RetentionPolicy,
)
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
