from datetime import UTC, datetime, timedelta, timezone

import pytest

from avgkit.clock import Clock, SystemClock
from avgkit.errors import ValidationError
from avgkit.testing import ManualClock


def test_system_clock_is_aware_utc():
    now = SystemClock().now()
    assert now.tzinfo is UTC


def test_both_clocks_satisfy_the_protocol():
    assert isinstance(SystemClock(), Clock)
    assert isinstance(ManualClock(), Clock)


def test_manual_clock_refuses_a_naive_start():
    with pytest.raises(ValidationError, match="naive"):
        ManualClock(datetime(2024, 1, 1))  # noqa: DTZ001


def test_manual_clock_normalises_to_utc():
    clock = ManualClock(datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=1))))
    assert clock.now() == datetime(2024, 1, 1, 11, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_advance_by_calendar_months_clamps_to_month_end():
    clock = ManualClock(datetime(2024, 1, 31, tzinfo=UTC))
    assert clock.advance(months=1) == datetime(2024, 2, 29, tzinfo=UTC)


def test_advance_by_timedelta():
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(hours=36))
    assert clock.now() == datetime(2024, 1, 2, 12, tzinfo=UTC)


def test_advance_refuses_going_back_and_ambiguous_arguments():
    clock = ManualClock()
    with pytest.raises(ValidationError, match="forward"):
        clock.advance(days=-1)
    with pytest.raises(ValidationError):
        clock.advance(timedelta(1), days=1)
    with pytest.raises(ValidationError):
        clock.advance()


def test_set_accepts_earlier_aware_instants_and_refuses_naive():
    clock = ManualClock()
    clock.set(datetime(2020, 1, 1, tzinfo=UTC))
    assert clock.now().year == 2020
    with pytest.raises(ValidationError):
        clock.set(datetime(2020, 1, 1))  # noqa: DTZ001
