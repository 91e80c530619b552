"""Compact relative times for dense lists (queues show 50 rows; Django's timesince is ~0.1 ms a call)."""

import datetime as dt

from django import template
from django.utils import timezone

register = template.Library()

_UNITS = ((86400 * 365, "y"), (86400 * 30, "mo"), (86400 * 7, "w"), (86400, "d"), (3600, "h"), (60, "m"))


def _compact(seconds: float) -> str:
    seconds = abs(int(seconds))
    for size, unit in _UNITS:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now" if seconds < 30 else "1m"


@register.filter
def ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``5m``, ``3h``, ``2d``: how long ago."""
    if value is None:
        return ""
    return _compact(((now or timezone.now()) - value).total_seconds())


@register.filter
def until(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``45m``, ``2h``: how long until (or, once past, how long over)."""
    if value is None:
        return ""
    return _compact((value - (now or timezone.now())).total_seconds())
