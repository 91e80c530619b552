"""The Celery application.

Every task is safe to run twice (it takes ids, re-reads state and does nothing
when the work is done), so every task acknowledges late and is rejected back to
the broker when its worker dies.
"""

import os

from celery import Celery
from celery.schedules import crontab  # noqa: F401  (kept for the schedules later apps add)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="default",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    timezone="UTC",
    enable_utc=True,
)
app.conf.beat_schedule = {
    "customers.sweep_deliveries": {"task": "customers.sweep_deliveries", "schedule": 30.0},
}
app.autodiscover_tasks()
