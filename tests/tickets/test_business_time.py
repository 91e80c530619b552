import datetime as dt
import zoneinfo

import pytest

from tickets.business_time import (
    Calendar,
    add_business_minutes,
    business_minutes_between,
    is_business_time,
    parse_weekly_hours,
)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NINE_TO_FIVE = {str(day): [["09:00", "17:00"]] for day in range(5)}


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def office() -> Calendar:
    return Calendar.build(timezone="Europe/Berlin", weekly_hours=NINE_TO_FIVE)


def test_minutes_within_one_working_day(office):
    assert add_business_minutes(berlin(2026, 3, 2, 10, 0), 90, office) == berlin(2026, 3, 2, 11, 30)


def test_minutes_carry_over_to_the_next_morning(office):
    # 16:30 Monday + 60 min -> 30 min on Monday, 30 on Tuesday morning
    assert add_business_minutes(berlin(2026, 3, 2, 16, 30), 60, office) == berlin(2026, 3, 3, 9, 30)


def test_a_start_outside_hours_begins_at_the_next_opening(office):
    assert add_business_minutes(berlin(2026, 3, 2, 7, 0), 30, office) == berlin(2026, 3, 2, 9, 30)
    assert add_business_minutes(berlin(2026, 3, 2, 20, 0), 30, office) == berlin(2026, 3, 3, 9, 30)


def test_the_weekend_is_skipped(office):
    # Friday 16:00 + 2 h -> Monday 10:00
    assert add_business_minutes(berlin(2026, 3, 6, 16, 0), 120, office) == berlin(2026, 3, 9, 10, 0)
    assert business_minutes_between(berlin(2026, 3, 6, 16, 0), berlin(2026, 3, 9, 10, 0), office) == 120


def test_holidays_are_skipped():
    calendar = Calendar.build(
        timezone="Europe/Berlin", weekly_hours=NINE_TO_FIVE, holidays=[dt.date(2026, 4, 3), dt.date(2026, 4, 6)]
    )
    # Thursday 16:00 + 2 h: Good Friday and Easter Monday are holidays -> Tuesday 10:00
    assert add_business_minutes(berlin(2026, 4, 2, 16, 0), 120, calendar) == berlin(2026, 4, 7, 10, 0)
    assert business_minutes_between(berlin(2026, 4, 2, 16, 0), berlin(2026, 4, 7, 10, 0), calendar) == 120


def test_dst_spring_forward_keeps_local_opening_hours(office):
    # Europe/Berlin goes from UTC+1 to UTC+2 on Sunday 2026-03-29; Friday 16:00 + 2 h is Monday 10:00 local
    start = berlin(2026, 3, 27, 16, 0)
    due = add_business_minutes(start, 120, office)
    assert due == berlin(2026, 3, 30, 10, 0)
    assert due.astimezone(dt.UTC) == dt.datetime(2026, 3, 30, 8, 0, tzinfo=dt.UTC)


def test_a_round_the_clock_day_over_dst_is_23_hours_long():
    calendar = Calendar.build(timezone="Europe/Berlin", weekly_hours={str(d): [["00:00", "24:00"]] for d in range(7)})
    day_start, next_day = berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0)
    assert business_minutes_between(day_start, next_day, calendar) == 23 * 60
    autumn = business_minutes_between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0), calendar)
    assert autumn == 25 * 60


def test_between_is_the_inverse_of_add(office):
    start = berlin(2026, 3, 4, 11, 17)
    for minutes in (1, 59, 480, 481, 2000, 10_000):
        assert business_minutes_between(start, add_business_minutes(start, minutes, office), office) == minutes


def test_negative_minutes_go_back(office):
    assert add_business_minutes(berlin(2026, 3, 9, 10, 0), -120, office) == berlin(2026, 3, 6, 16, 0)
    assert business_minutes_between(berlin(2026, 3, 9, 10, 0), berlin(2026, 3, 6, 16, 0), office) == -120


def test_split_shifts_and_overnight_hours():
    calendar = Calendar.build(
        timezone="UTC", weekly_hours={"0": [["08:00", "12:00"], ["13:00", "17:00"]], "1": [["22:00", "24:00"]]}
    )
    monday = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)
    assert add_business_minutes(monday, 120, calendar) == dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
    assert add_business_minutes(monday, 6 * 60, calendar) == dt.datetime(2026, 3, 3, 23, 0, tzinfo=dt.UTC)
    assert add_business_minutes(monday, 8 * 60, calendar) == dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)


def test_no_calendar_is_wall_time():
    start = dt.datetime(2026, 3, 7, 23, 0, tzinfo=dt.UTC)
    assert add_business_minutes(start, 90, None) == start + dt.timedelta(minutes=90)
    assert business_minutes_between(start, start + dt.timedelta(hours=2), None) == 120


def test_is_business_time(office):
    assert is_business_time(berlin(2026, 3, 2, 9, 0), office)
    assert not is_business_time(berlin(2026, 3, 2, 17, 0), office)
    assert not is_business_time(berlin(2026, 3, 7, 12, 0), office)


@pytest.mark.parametrize(
    "weekly",
    [{"7": [["09:00", "17:00"]]}, {"0": [["17:00", "09:00"]]}, {"0": [["09:00", "12:00"], ["11:00", "13:00"]]},
     {"0": [["9am", "5pm"]]}, {"0": [["24:30", "25:00"]]}],
)  # fmt: skip
def test_invalid_weekly_hours_are_refused(weekly):
    with pytest.raises(ValueError):  # noqa: PT011
        parse_weekly_hours(weekly)


def test_a_calendar_without_hours_cannot_add():
    calendar = Calendar.build(timezone="UTC", weekly_hours={})
    with pytest.raises(ValueError, match="no working time"):
        add_business_minutes(dt.datetime(2026, 3, 2, tzinfo=dt.UTC), 10, calendar)


def test_naive_datetimes_are_refused(office):
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_minutes(dt.datetime(2026, 3, 2, 9, 0), 10, office)  # noqa: DTZ001
