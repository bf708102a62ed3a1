"""Art. 12(3) deadlines: one calendar month from receipt, ending with the controller's day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from avgkit.dsar import DsarOptions, due_at
from avgkit.dsar._deadlines import end_of_day, zone
from avgkit.errors import ValidationError

AMS = zone("Europe/Amsterdam")


def local_day(instant: datetime) -> date:
    return instant.astimezone(AMS).date()


def test_31_january_is_due_at_the_end_of_29_february_in_a_leap_year():
    due = due_at(datetime(2024, 1, 31, 10, tzinfo=UTC), tz=AMS)
    assert local_day(due) == date(2024, 2, 29)
    assert due == datetime(2024, 2, 29, 22, 59, 59, 999999, tzinfo=UTC)  # 23:59:59 CET


def test_31_january_is_due_on_28_february_in_a_common_year():
    assert local_day(due_at(datetime(2025, 1, 31, 10, tzinfo=UTC), tz=AMS)) == date(2025, 2, 28)


def test_the_day_of_receipt_is_the_controllers_day_not_utcs():
    # 23:30 UTC on 14 March is 00:30 on 15 March in Amsterdam: due 15 April.
    due = due_at(datetime(2024, 3, 14, 23, 30, tzinfo=UTC), tz=AMS)
    assert local_day(due) == date(2024, 4, 15)
    # Summer time: the day ends at 21:59:59 UTC.
    assert due == datetime(2024, 4, 15, 21, 59, 59, 999999, tzinfo=UTC)


def test_a_shorter_service_level_brings_the_date_forward_never_back():
    received = datetime(2024, 2, 1, 9, tzinfo=UTC)
    assert local_day(due_at(received, tz=AMS, service_level=timedelta(days=21))) == date(
        2024, 2, 22
    )
    assert local_day(due_at(received, tz=AMS, service_level=relativedelta(weeks=4))) == date(
        2024, 2, 29
    )
    # A "service level" longer than the law allows does not extend the deadline.
    assert due_at(received, tz=AMS, service_level=relativedelta(months=2)) == due_at(
        received, tz=AMS
    )


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2090, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_the_deadline_is_the_end_of_the_same_date_next_month_or_that_months_last_day(received):
    due = due_at(received, tz=AMS)
    day = local_day(received)
    expected = day + relativedelta(months=1)
    assert local_day(due) == expected
    assert expected.day == day.day or expected.day < day.day  # clipped only when too short
    assert due == end_of_day(due, AMS)
    assert (due + timedelta(microseconds=1)).astimezone(AMS).date() == expected + timedelta(days=1)
    # At most a 31-day month plus the rest of the day of receipt, plus an hour when the
    # clocks went back in between (received 00:00 on 2 October, due 23:59 on 2 November).
    assert timedelta(days=28) <= due - received <= timedelta(days=32, hours=1)


def test_a_deadline_across_the_end_of_summer_time_ends_with_the_local_day():
    # 22:00 UTC on 1 October 2000 is midnight on 2 October in Amsterdam (summer time).
    due = due_at(datetime(2000, 10, 1, 22, tzinfo=UTC), tz=AMS)
    assert local_day(due) == date(2000, 11, 2)
    assert due == datetime(2000, 11, 2, 22, 59, 59, 999999, tzinfo=UTC)  # winter time


def test_naive_instants_and_bad_options_are_refused():
    with pytest.raises(ValidationError, match=r"naive|aware|timezone"):
        due_at(datetime(2024, 1, 31, 10), tz=AMS)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError, match="time zone 'Mars/Olympus'"):
        DsarOptions(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="positive"):
        DsarOptions(service_level=timedelta(0))
    with pytest.raises(ValidationError, match="relativedelta or a timedelta"):
        DsarOptions(service_level=21)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="callable"):
        DsarOptions(notifier="mail")  # type: ignore[arg-type]
