"""Durations as people write them: "3 h 33 min", "2 d 4 h", "less than a minute"."""

import datetime as dt
import math


def duration(value: float | dt.timedelta, *, days: bool = True) -> str:
    """``value`` in minutes (or a timedelta), rounded down to the minute, in at most two units.

    ``days=False`` keeps hours above 24: a day of business time (8 h, say) is not 24 h, so
    "31 h 33 min" of business time is honest where "1 d 7 h" would mislead.
    """
    minutes = value.total_seconds() / 60 if isinstance(value, dt.timedelta) else float(value)
    total = math.floor(abs(minutes))
    if total < 1:
        return "less than a minute"
    hours, mins = divmod(total, 60)
    if hours == 0:
        return f"{mins} min"
    if days and hours >= 24:
        whole_days, hours = divmod(hours, 24)
        return f"{whole_days} d {hours} h" if hours else f"{whole_days} d"
    return f"{hours} h {mins} min" if mins else f"{hours} h"
