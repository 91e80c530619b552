"""The outbox's PostgreSQL fast path: planning 100,000 rows of a fan-out in a few statements."""

import datetime as dt
import json

from django.db import connection as db_connection
from django.db.models import JSONField

from customers.models import Delivery
from customers.services.pg import server_side_cursor


def deliveries_insert_new(rows: list[Delivery], now: dt.datetime) -> list[tuple[int, str, str, dt.datetime]]:
    """Insert the rows whose key is new; (id, category, status, next_attempt_at) of those inserted.

    On PostgreSQL one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING`` per
    1,000 rows, each column sent as one array: a fan-out plans 100,000 rows, and the ORM's
    ``bulk_create`` spends more CPU compiling per-value placeholders than PostgreSQL spends inserting.
    """
    if db_connection.vendor != "postgresql":
        Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        keys = [row.idempotency_key for row in rows]
        inserted: list[tuple[int, str, str, dt.datetime]] = []
        for start in range(0, len(keys), 900):
            inserted += Delivery.objects.filter(
                idempotency_key__in=keys[start : start + 900],
                created_at=now,  # rows this call created, not older ones with the same key
            ).values_list("pk", "category", "status", "next_attempt_at")
        return inserted
    fields = [f for f in Delivery._meta.concrete_fields if not f.primary_key and f.attname != "updated_at"]
    columns = ", ".join([f.column for f in fields] + ["updated_at"])
    arrays = ", ".join(f"%s::{f.cast_db_type(db_connection)}[]" for f in fields)  # type: ignore[attr-defined]
    sql = (
        f"INSERT INTO {Delivery._meta.db_table} ({columns}) "  # noqa: S608  (names from the model)
        f"SELECT *, %s FROM unnest({arrays}) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, category, status, next_attempt_at"
    )
    inserted = []
    with server_side_cursor() as cursor:  # arrays go as parameters
        for start in range(0, len(rows), 1000):
            part = rows[start : start + 1000]
            values = [
                [
                    json.dumps(getattr(row, f.attname)) if isinstance(f, JSONField) else getattr(row, f.attname)
                    for row in part
                ]
                for f in fields
            ]
            cursor.execute(sql, [now, *values])
            inserted += cursor.fetchall()
    return inserted
