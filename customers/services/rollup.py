"""The daily rollup of product-usage events, and the retention job that prunes raw events.

``CustomerEventDay`` holds events per (customer, kind, UTC day). ``events_rollup`` re-aggregates,
from the raw rows, every key touched by events received since the watermark (minus an overlap, so
an event whose transaction committed late is still seen); re-aggregating is idempotent, so the
overlap never double counts. ``events_prune`` deletes raw events older than the retention, adding
what it deletes to ``pruned`` in the same transaction, so ``count = raw rows left + pruned`` always
holds and no signal reading the rollup changes its answer. One statement each, set-based.
"""

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.conf import helpdesk_setting
from customers.models import EventRollupState


def _day(column: str) -> str:
    """SQL for the UTC day of a timestamp column."""
    if connection.vendor == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    return f"date({column})"


def _key_join() -> str:
    """The join of raw events onto touched keys: an index range on PostgreSQL, a day compare elsewhere."""
    if connection.vendor == "postgresql":
        return (
            "e.customer_id = t.customer_id AND e.kind = t.kind"
            " AND e.occurred_at >= (t.day::timestamp AT TIME ZONE 'UTC')"
            " AND e.occurred_at < ((t.day + 1)::timestamp AT TIME ZONE 'UTC')"
        )
    return f"e.customer_id = t.customer_id AND e.kind = t.kind AND {_day('e.occurred_at')} = t.day"


_UPSERT_COUNT = (
    " ON CONFLICT (customer_id, kind, day) DO UPDATE SET count = excluded.count + customers_customereventday.pruned"
)


def _execute(sql: str, params: list[Any]) -> int:
    """Run one statement; ``sql`` is made of this module's constants only, values are parameters."""
    adapted = [connection.ops.adapt_datetimefield_value(p) if isinstance(p, dt.datetime) else p for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, adapted)
        return cursor.rowcount


def _lock_state() -> EventRollupState:
    EventRollupState.objects.get_or_create(pk=1)
    return EventRollupState.objects.select_for_update().get(pk=1)


@transaction.atomic
def events_rollup(*, now: dt.datetime | None = None) -> int:
    """Bring the daily rollup up to ``now``; returns how many (customer, kind, day) rows were written."""
    now = now or timezone.now()
    state = _lock_state()
    if state.watermark is None:
        # the first run: every event there is, in one grouped pass
        written = _execute(
            "INSERT INTO customers_customereventday (customer_id, kind, day, count, pruned)"  # noqa: S608
            f" SELECT customer_id, kind, {_day('occurred_at')}, COUNT(*), 0"
            " FROM customers_customerevent WHERE received_at < %s"
            f" GROUP BY customer_id, kind, {_day('occurred_at')}" + _UPSERT_COUNT,
            [now],
        )
    else:
        since = state.watermark - dt.timedelta(seconds=int(helpdesk_setting("EVENT_ROLLUP_OVERLAP_SECONDS")))
        written = _execute(
            "INSERT INTO customers_customereventday (customer_id, kind, day, count, pruned)"  # noqa: S608
            f" SELECT e.customer_id, e.kind, {_day('e.occurred_at')}, COUNT(*), 0"
            " FROM (SELECT DISTINCT customer_id, kind, "
            f"{_day('occurred_at')} AS day FROM customers_customerevent"
            " WHERE received_at >= %s AND received_at < %s) t"
            f" JOIN customers_customerevent e ON {_key_join()}"
            f" GROUP BY e.customer_id, e.kind, {_day('e.occurred_at')}" + _UPSERT_COUNT,
            [since, now],
        )
    state.watermark = now
    state.save(update_fields=["watermark", "updated_at"])
    return written


@transaction.atomic
def events_prune(*, now: dt.datetime | None = None, retention_days: int | None = None) -> int:
    """Delete raw events that occurred before the retention (default ``EVENT_RETENTION_DAYS``).

    Only events the rollup has already counted go (received before its watermark minus the overlap);
    their number moves to ``pruned``. Returns how many raw events were deleted.
    """
    now = now or timezone.now()
    events_rollup(now=now)
    state = _lock_state()
    assert state.watermark is not None  # events_rollup above set it
    days = retention_days if retention_days is not None else int(helpdesk_setting("EVENT_RETENTION_DAYS"))
    cutoff = dt.datetime.combine((now - dt.timedelta(days=days)).date(), dt.time.min, tzinfo=dt.UTC)
    safe = state.watermark - dt.timedelta(seconds=int(helpdesk_setting("EVENT_ROLLUP_OVERLAP_SECONDS")))
    where = " FROM customers_customerevent WHERE occurred_at < %s AND received_at < %s"
    _execute(
        "INSERT INTO customers_customereventday (customer_id, kind, day, count, pruned)"
        f" SELECT customer_id, kind, {_day('occurred_at')}, COUNT(*), COUNT(*)"
        + where
        + f" GROUP BY customer_id, kind, {_day('occurred_at')}"
        " ON CONFLICT (customer_id, kind, day) DO UPDATE"
        " SET pruned = customers_customereventday.pruned + excluded.pruned",
        [cutoff, safe],
    )
    return _execute("DELETE" + where, [cutoff, safe])
