"""Retention rules, holds and policies: calendar periods, bad input, contradictions."""

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from avgkit.errors import PolicyError, ValidationError
from avgkit.host import SubjectKind
from avgkit.presets import ticketing
from avgkit.retention import Action, Hold, HoldReason, RetentionPolicy, RetentionRule, Trigger

ACTIVITY = {"purchase", "login", "newsletter_read"}


def inactive_accounts(**changes):
    options = {
        "key": "inactive_accounts",
        "applies_to": "account",
        "trigger": "inactivity",
        "period": relativedelta(years=2),
        "action": "delete",
        "activity_types": ACTIVITY,
    }
    options.update(changes)
    return RetentionRule(**options)


def test_two_years_after_a_leap_day_end_on_28_february():
    rule = inactive_accounts()
    assert rule.due(datetime(2024, 2, 29, 10, tzinfo=UTC)) == datetime(2026, 2, 28, 10, tzinfo=UTC)


def test_one_month_after_31_january_is_the_end_of_february():
    rule = inactive_accounts(period=relativedelta(months=1))
    assert rule.due(datetime(2024, 1, 31, tzinfo=UTC)) == datetime(2024, 2, 29, tzinfo=UTC)
    assert rule.due(datetime(2023, 1, 31, tzinfo=UTC)) == datetime(2023, 2, 28, tzinfo=UTC)


@given(
    anchor=st.datetimes(
        min_value=datetime(1990, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2090, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    years=st.integers(0, 10),
    months=st.integers(0, 24),
    days=st.integers(0, 400),
)
def test_a_due_date_is_always_after_its_anchor_and_monotone_in_the_period(
    anchor, years, months, days
):
    if years == months == days == 0:
        days = 1
    rule = inactive_accounts(period=relativedelta(years=years, months=months, days=days))
    longer = inactive_accounts(period=relativedelta(years=years, months=months, days=days + 1))
    assert anchor < rule.due(anchor) < longer.due(anchor)
    assert rule.due(anchor) <= anchor + timedelta(days=366 * years + 31 * months + days)


@pytest.mark.parametrize(
    "period", [relativedelta(years=-1), relativedelta(), relativedelta(day=1), timedelta(days=3)]
)
def test_a_period_that_is_not_a_positive_length_is_refused(period):
    with pytest.raises(ValidationError, match="period"):
        inactive_accounts(period=period)


def test_an_inactivity_rule_needs_activity_types_and_others_take_none():
    with pytest.raises(ValidationError, match="names no activity"):
        inactive_accounts(activity_types=())
    with pytest.raises(ValidationError, match="only an inactivity"):
        inactive_accounts(trigger=Trigger.EVENT_DATE)
    with pytest.raises(ValidationError, match="activity type"):
        inactive_accounts(activity_types={"Read The Newsletter"})


def test_a_trigger_the_kind_cannot_have_is_refused():
    with pytest.raises(ValidationError, match="no contract"):
        RetentionRule(
            key="attendees",
            applies_to="attendee",
            trigger="contract_end",
            period=relativedelta(years=7),
            action="delete",
        )


def test_unknown_kinds_triggers_and_actions_are_named():
    with pytest.raises(ValidationError, match="subject kind"):
        inactive_accounts(applies_to="customer")
    with pytest.raises(ValidationError, match="trigger"):
        inactive_accounts(trigger="idle")
    with pytest.raises(ValidationError, match="action"):
        inactive_accounts(action="shred")
    with pytest.raises(ValidationError, match="either to subject kinds"):
        inactive_accounts(applies_to=())


def test_a_warning_comes_before_the_action():
    rule = inactive_accounts(warn_before=relativedelta(days=30))
    anchor = datetime(2024, 3, 1, tzinfo=UTC)
    assert rule.warning_due(anchor) == rule.due(anchor) - relativedelta(days=30)
    assert inactive_accounts().warning_due(anchor) is None
    with pytest.raises(ValidationError, match="warns no earlier"):
        inactive_accounts(warn_before=relativedelta(years=2))


def test_a_hold_needs_a_reason_and_lapses_at_its_end():
    until = datetime(2024, 7, 1, tzinfo=UTC)
    hold = Hold(subject="cust-1", reason="upcoming_visit", until=until)
    assert hold.reason is HoldReason.UPCOMING_VISIT
    assert hold.active(until - timedelta(seconds=1))
    assert not hold.active(until)
    assert Hold(subject="cust-1", reason=HoldReason.OPEN_REQUEST).active(until)
    with pytest.raises(ValidationError, match="always says why"):
        Hold(subject="cust-1", reason="")
    with pytest.raises(ValidationError, match="naive"):
        Hold(subject="cust-1", reason="payment_dispute", until=datetime(2024, 7, 1))  # noqa: DTZ001


def test_contradicting_rules_are_refused_naming_both():
    five_years = inactive_accounts(key="five_years", period=relativedelta(years=5))
    with pytest.raises(PolicyError, match=r"'inactive_accounts' and 'five_years'"):
        RetentionPolicy((inactive_accounts(), five_years))
    anonymise = inactive_accounts(key="anonymise_them", action=Action.ANONYMISE)
    with pytest.raises(PolicyError, match="contradict"):
        RetentionPolicy([inactive_accounts(), anonymise])


def test_rules_for_different_cases_live_side_by_side():
    guests = RetentionRule(
        key="quick_registrations",
        applies_to=["guest"],
        trigger="event_date",
        period=relativedelta(days=1),
        action="delete",
    )
    logins_only = inactive_accounts(key="logins", activity_types={"login"}, action="review")
    policy = RetentionPolicy([inactive_accounts(), guests, logins_only])
    assert policy.for_kind(SubjectKind.GUEST) == (guests,)
    assert [r.key for r in policy.for_kind("account")] == ["inactive_accounts", "logins"]
    assert policy.rule("quick_registrations") is guests
    with pytest.raises(PolicyError, match="no retention rule"):
        policy.rule("camera")
    with pytest.raises(PolicyError, match="named"):
        RetentionPolicy([guests, guests])
    with pytest.raises(ValidationError, match="RetentionRule"):
        RetentionPolicy(["inactive_accounts"])


def test_the_ticketing_preset_carries_the_seeds_rules():
    from avgkit.presets import ticketing

    policy = ticketing.retention_policy()
    accounts = policy.rule("inactive_accounts")
    assert accounts.period == relativedelta(years=2)
    assert accounts.activity_types == frozenset(ACTIVITY)
    last_purchase = datetime(2024, 2, 29, tzinfo=UTC)
    assert accounts.due(last_purchase) == datetime(2026, 2, 28, tzinfo=UTC)
    assert policy.rule("quick_registrations").trigger is Trigger.EVENT_DATE
    assert policy.rule("contact_persons").period == relativedelta(years=7)
    assert ticketing.retention_policy() is policy


def test_the_ticketing_preset_holds_the_seeds_rules():
    policy = ticketing.retention_policy()
    periods = {rule.key: rule.period for rule in policy.rules}
    assert periods["camera_outside"] == relativedelta(days=7)
    assert periods["camera_inside"] == relativedelta(days=30)
    assert periods["support_mail_bank_details"] == relativedelta(months=2)
    assert periods["support_mail"] == relativedelta(years=7)
    assert periods["fiscal_records"] == relativedelta(years=7)
    assert policy.rule("fiscal_records").records == {"orders", "payments"}
    assert policy.rule("inactive_accounts").warn_before == relativedelta(days=30)
    seven = ticketing.retention_policy(inactive_after=relativedelta(years=7))
    assert seven.rule("inactive_accounts").period == relativedelta(years=7)
    assert seven.fingerprint != policy.fingerprint


def test_record_rules_refuse_what_records_cannot_have():
    with pytest.raises(ValidationError, match="collection trigger"):
        RetentionRule(
            key="mail",
            records="support_mail",
            trigger="inactivity",
            activity_types="login",
            period=relativedelta(days=1),
            action="delete",
        )
    with pytest.raises(ValidationError, match="no collection time"):
        RetentionRule(
            key="acc",
            applies_to="account",
            trigger="collection",
            period=relativedelta(days=1),
            action="delete",
        )
    with pytest.raises(ValidationError, match="not reviewed"):
        RetentionRule(
            key="mail",
            records="support_mail",
            trigger="collection",
            period=relativedelta(days=1),
            action="review",
        )
    with pytest.raises(ValidationError, match="not both"):
        RetentionRule(
            key="both",
            applies_to="account",
            records="support_mail",
            trigger="collection",
            period=relativedelta(days=1),
            action="delete",
        )


def test_two_record_rules_for_one_source_with_different_periods_contradict():
    def rule(key, days):
        return RetentionRule(
            key=key,
            records="camera_outside",
            trigger="collection",
            period=relativedelta(days=days),
            action="delete",
        )

    with pytest.raises(PolicyError, match="'a' and 'b' contradict"):
        RetentionPolicy([rule("a", 7), rule("b", 30)])


def test_the_fingerprint_ignores_rule_order_but_not_content():
    rules = ticketing.retention_policy().rules
    assert RetentionPolicy(tuple(reversed(rules))).fingerprint == RetentionPolicy(rules).fingerprint
