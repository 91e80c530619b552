import datetime as dt

import pytest

from core.humanize import duration


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0, "less than a minute"),
        (0.9, "less than a minute"),
        (1, "1 min"),
        (59.99, "59 min"),
        (60, "1 h"),
        (213, "3 h 33 min"),
        (1439, "23 h 59 min"),
        (1440, "1 d"),
        (1893, "1 d 7 h"),
        (3 * 1440 + 125, "3 d 2 h"),
        (-213, "3 h 33 min"),
    ],
)
def test_duration_in_at_most_two_units(minutes, text):
    assert duration(minutes) == text


def test_duration_of_business_time_keeps_hours_past_a_day():
    assert duration(1893, days=False) == "31 h 33 min"


def test_duration_takes_a_timedelta():
    assert duration(dt.timedelta(hours=3, minutes=33, seconds=59)) == "3 h 33 min"
