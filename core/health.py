"""Readiness checks for ``/healthz``: can we reach the database and the broker?"""

from django.conf import settings
from django.db import connection
from kombu import Connection


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"database: {type(exc).__name__}: {exc}".strip()
    return None


def check_broker(timeout: float = 2.0) -> str | None:
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=timeout,
        ) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
            conn.default_channel  # noqa: B018  (opens a channel: the broker really answers)
    except Exception as exc:
        return f"broker: {type(exc).__name__}: {exc}".strip()
    return None
