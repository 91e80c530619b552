"""One parser for the ids, numbers and dates that pages and APIs read from a query string or a form by hand.

    queue_id = parse_id(request.GET, "queue")            # None when absent or blank
    since = parse_datetime(request.GET, "changed_since")

A value that is not what the field takes raises ``ParameterError`` naming the field. Nobody catches it in a
view: the API's exception handler answers ``400 {"message": "Validation error", "extra": {"fields":
{"queue": ["..."]}}}`` like any other validation error, and ``ParameterErrorMiddleware`` answers a page with
``400.html`` saying which parameter was wrong. So a crafted value is a 400, never a 500:

- ids are ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` raises) and at most ``MAX_ID``, the
  largest value of a 64-bit signed column (SQLite raises ``OverflowError`` past it, an ``IN`` list on
  PostgreSQL "out of range");
- numbers are an optional ``-`` and ASCII digits within the same range, then within the caller's bounds;
- dates are ISO 8601 that exist (``2020-13-45`` does not), made aware in UTC when they carry no offset.

Forms and serializers validate their own fields; this is for what a view reads itself.
"""

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import dateparse

#: the largest value of a 64-bit signed integer column (BigAutoField, PositiveBigIntegerField)
MAX_ID = 2**63 - 1
MIN_INT = -(2**63)

_ID = re.compile(r"[0-9]{1,19}")
_INT = re.compile(r"-?[0-9]{1,19}")


class ParameterError(Exception):
    """A query-string or form parameter is not what its field takes; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def errors(self) -> dict[str, list[str]]:
        return {self.field: [self.message]}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)


def to_id(value: Any, *, field: str) -> int:
    """A positive id from a string of ASCII digits (or an int from JSON), at most ``MAX_ID``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _text(value)
        if not _ID.fullmatch(text):
            raise ParameterError(field, "Must be an id: a whole number written with the digits 0-9.")
        number = int(text)
    if not 1 <= number <= MAX_ID:
        raise ParameterError(field, f"Must be an id between 1 and {MAX_ID}.")
    return number


def to_int(value: Any, *, field: str, min_value: int | None = None, max_value: int | None = None) -> int:
    """A whole number written with ASCII digits (and an optional ``-``), within the bounds given."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _text(value)
        if not _INT.fullmatch(text):
            raise ParameterError(field, "Must be a whole number written with the digits 0-9.")
        number = int(text)
    low = MIN_INT if min_value is None else max(min_value, MIN_INT)
    high = MAX_ID if max_value is None else min(max_value, MAX_ID)
    if not low <= number <= high:
        raise ParameterError(field, f"Must be between {low} and {high}.")
    return number


def to_datetime(value: Any, *, field: str) -> dt.datetime:
    """An ISO 8601 date and time (``2026-03-02T09:00:00``, optionally ``Z`` or ``+01:00``), aware, in UTC."""
    if isinstance(value, dt.datetime):
        moment: dt.datetime | None = value
    else:
        try:
            moment = dateparse.parse_datetime(_text(value))
        except ValueError:  # well formed but impossible: month 13, day 45, hour 25
            moment = None
        if moment is None:
            raise ParameterError(field, "Must be a date and time such as 2026-03-02T09:00:00Z.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last representable instant
        raise ParameterError(field, "Must be a date and time between the years 1 and 9999.") from None


def _raw(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def parse_id(params: Mapping[str, Any], name: str, *, default: int | None = None) -> int | None:
    """``params[name]`` as an id; ``default`` when it is absent or blank."""
    value = _raw(params, name)
    return default if value is None else to_id(value, field=name)


def parse_ids(params: Any, name: str) -> list[int]:
    """Every value of ``name`` (``?ticket=1&ticket=2``) as ids, blanks skipped, in order, without repeats."""
    values: Iterable[Any] = params.getlist(name) if hasattr(params, "getlist") else _as_list(params.get(name))
    ids = [to_id(value, field=name) for value in values if _text(value)]
    return list(dict.fromkeys(ids))


def parse_int(
    params: Mapping[str, Any],
    name: str,
    *,
    default: int | None = None,
    min_value: int | None = None,
    max_value: int | None = None,
) -> int | None:
    """``params[name]`` as a whole number within the bounds; ``default`` when it is absent or blank."""
    value = _raw(params, name)
    return default if value is None else to_int(value, field=name, min_value=min_value, max_value=max_value)


def parse_datetime(params: Mapping[str, Any], name: str, *, default: dt.datetime | None = None) -> dt.datetime | None:
    """``params[name]`` as an aware UTC datetime; ``default`` when it is absent or blank."""
    value = _raw(params, name)
    return default if value is None else to_datetime(value, field=name)


def parse_choice(params: Mapping[str, Any], name: str, *, choices: Iterable[str], default: str = "") -> str:
    """``params[name]`` when it is one of ``choices``; ``default`` when absent or blank; else an error."""
    value = _raw(params, name)
    if value is None:
        return default
    allowed = list(choices)
    if value not in allowed:
        raise ParameterError(name, f"Must be one of: {', '.join(allowed)}.")
    return str(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
