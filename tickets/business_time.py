"""Business-time arithmetic: pure functions, no database.

A ``Calendar`` is a time zone, wall-clock working intervals per weekday and a
set of holiday dates. Intervals are turned into real instants (UTC) day by day,
so a working day that contains a DST change is as long as it really is, and a
working hour that does not exist (spring forward) simply does not count.

``calendar=None`` means around the clock: business time is wall time.
"""

import datetime as dt
import itertools
import math
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: how far the arithmetic looks ahead before deciding a calendar has no working time at all
MAX_DAYS = 366 * 3


def _parse_time(value: str) -> dt.timedelta:
    """``"09:30"`` -> offset from midnight; ``"24:00"`` is the end of the day."""
    try:
        hours, minutes = (int(part) for part in str(value).split(":"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a time like 09:30") from exc
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError(f"{value!r} is not a time between 00:00 and 24:00")
    return dt.timedelta(hours=hours, minutes=minutes)


def parse_weekly_hours(weekly: Mapping[str, Any]) -> dict[int, tuple[tuple[dt.timedelta, dt.timedelta], ...]]:
    """``{"0": [["09:00", "17:00"]], ...}`` (0 = Monday) to sorted, non-overlapping offsets per weekday."""
    if not isinstance(weekly, Mapping):
        raise ValueError("weekly hours must be an object keyed by weekday 0-6")
    parsed: dict[int, tuple[tuple[dt.timedelta, dt.timedelta], ...]] = {}
    for key, intervals in weekly.items():
        day = int(key)
        if not 0 <= day <= 6:
            raise ValueError(f"weekday {key!r} is not 0 (Monday) to 6 (Sunday)")
        spans = sorted((_parse_time(start), _parse_time(end)) for start, end in intervals)
        for start, end in spans:
            if end <= start:
                raise ValueError(f"on weekday {day} an interval ends before it starts")
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end:
                raise ValueError(f"on weekday {day} intervals overlap")
        if spans:
            parsed[day] = tuple(spans)
    return parsed


@dataclass(frozen=True)
class Calendar:
    zone: zoneinfo.ZoneInfo
    weekly: Mapping[int, tuple[tuple[dt.timedelta, dt.timedelta], ...]]
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def build(cls, *, timezone: str, weekly_hours: Mapping[str, Any], holidays: Iterable[dt.date] = ()) -> "Calendar":
        return cls(
            zone=zoneinfo.ZoneInfo(timezone), weekly=parse_weekly_hours(weekly_hours), holidays=frozenset(holidays)
        )

    def _local_instant(self, day: dt.date, offset: dt.timedelta) -> dt.datetime:
        """A wall-clock time on a local day as a UTC instant (the first of an ambiguous hour)."""
        if offset >= dt.timedelta(days=1):
            day, offset = day + dt.timedelta(days=1), offset - dt.timedelta(days=1)
        seconds = int(offset.total_seconds())
        wall = dt.datetime.combine(day, dt.time(seconds // 3600, seconds % 3600 // 60), tzinfo=self.zone)
        return wall.astimezone(dt.UTC)

    def intervals_from(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working intervals (UTC) that end after ``start``, in order, clipped to begin at ``start``."""
        start = start.astimezone(dt.UTC)
        day = start.astimezone(self.zone).date() - dt.timedelta(days=1)  # yesterday may run past midnight
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for begin, end in self.weekly.get(day.weekday(), ()):
                    lo, hi = self._local_instant(day, begin), self._local_instant(day, end)
                    if hi > start and hi > lo:
                        yield max(lo, start), hi
            day += dt.timedelta(days=1)

    def intervals_until(self, end: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working intervals (UTC) that begin before ``end``, latest first, clipped to stop at ``end``."""
        end = end.astimezone(dt.UTC)
        day = end.astimezone(self.zone).date() + dt.timedelta(days=1)
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for begin, stop in reversed(self.weekly.get(day.weekday(), ())):
                    lo, hi = self._local_instant(day, begin), self._local_instant(day, stop)
                    if lo < end and hi > lo:
                        yield lo, min(hi, end)
            day -= dt.timedelta(days=1)


def _check_aware(*values: dt.datetime) -> None:
    for value in values:
        if value.tzinfo is None:
            raise ValueError("business time needs timezone-aware datetimes")


def add_business_minutes(start: dt.datetime, minutes: float, calendar: Calendar | None) -> dt.datetime:
    """The instant ``minutes`` of business time after ``start`` (before it, for negative minutes).

    Zero minutes from outside business hours is ``start`` itself.
    """
    _check_aware(start)
    if calendar is None:
        return start + dt.timedelta(minutes=minutes)
    if minutes == 0:
        return start
    left = dt.timedelta(minutes=abs(minutes))
    if minutes > 0:
        for lo, hi in calendar.intervals_from(start):
            if hi - lo >= left:
                return lo + left
            left -= hi - lo
    else:
        for lo, hi in calendar.intervals_until(start):
            if hi - lo >= left:
                return hi - left
            left -= hi - lo
    raise ValueError(f"the calendar has no working time within {MAX_DAYS} days")


def business_seconds_between(start: dt.datetime, end: dt.datetime, calendar: Calendar | None) -> float:
    """Seconds of business time from ``start`` to ``end``; negative when ``end`` is earlier."""
    _check_aware(start, end)
    if end < start:
        return -business_seconds_between(end, start, calendar)
    if calendar is None:
        return (end - start).total_seconds()
    total = 0.0
    for lo, hi in calendar.intervals_from(start):
        if lo >= end:
            break
        total += (min(hi, end) - lo).total_seconds()
    return total


def business_minutes_between(start: dt.datetime, end: dt.datetime, calendar: Calendar | None) -> int:
    """Whole business minutes from ``start`` to ``end`` (rounded toward zero)."""
    seconds = business_seconds_between(start, end, calendar)
    return math.trunc(seconds / 60)


def is_business_time(moment: dt.datetime, calendar: Calendar | None) -> bool:
    _check_aware(moment)
    if calendar is None:
        return True
    for lo, _hi in calendar.intervals_from(moment):
        return lo <= moment.astimezone(dt.UTC)
    return False
