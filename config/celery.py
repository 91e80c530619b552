"""The Celery application.

Every task is safe to run twice (it takes ids, re-reads state and does nothing
when the work is done), so every task acknowledges late and is rejected back to
the broker when its worker dies.

A worker outlives its database connection. Connections are reused across tasks
(``CELERY_DB_REUSE_MAX``: one connect per task costs a connection per chunk), so
before and after every task the worker drops a connection that failed or is past
``CONN_MAX_AGE`` as Django does between requests, and a task that fails on a
lost database is retried with back-off rather than acknowledged and gone: after
a PostgreSQL restart the next task connects afresh.
"""

import os
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")


class HelpdeskTask(Task):
    """Base of every task: a lost database (restart, failover, network) means try again shortly.

    Back-off 1, 2, 4 ... 30 s with jitter and no limit: every task is idempotent and a database
    down for an hour should cost an hour of delay, not the work. ``retry`` publishes the new
    message before the old one is acknowledged, so nothing is lost in between.
    """

    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 1
    retry_backoff_max = 30
    retry_jitter = True
    max_retries = None

    def retry(self, *args: Any, exc: BaseException | None = None, **kwargs: Any) -> Any:
        if self.request.is_eager and exc is not None:
            raise exc  # an eager retry would run again at once, in a loop, inside the caller's transaction
        return super().retry(*args, exc=exc, **kwargs)


app = Celery("helpdesk", task_cls=HelpdeskTask)


@task_prerun.connect
@task_postrun.connect
def _drop_broken_database_connections(**kwargs: Any) -> None:
    """What Django does around each request: close a connection that errored or is too old.

    Celery's fix-up only closes connections every ``CELERY_DB_REUSE_MAX`` tasks, so without this a
    connection PostgreSQL dropped in a restart failed every task for the next 1,000 tasks."""
    if getattr(kwargs.get("task"), "request", None) is not None and kwargs["task"].request.is_eager:
        return  # an eager task runs inside the caller's transaction (tests); its connection is the caller's
    from django.db import close_old_connections  # noqa: PLC0415

    close_old_connections()


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
    "customers.sweep_deliveries": {
        "task": "customers.sweep_deliveries",
        "schedule": float(os.environ.get("HELPDESK_DELIVERY_SWEEP_INTERVAL_SECONDS", 10)),
    },
    "outreach.resume_fanouts": {
        "task": "outreach.resume_fanouts",
        "schedule": float(os.environ.get("HELPDESK_OUTREACH_RESUME_INTERVAL_SECONDS", 15)),
    },
    "outreach.run_campaigns": {"task": "outreach.run_campaigns", "schedule": 20.0},
    "outreach.run_reminders": {"task": "outreach.run_reminders", "schedule": 15 * 60.0},
    "outreach.run_followups": {"task": "outreach.run_followups", "schedule": 5 * 60.0},
    "outreach.link_incident_tickets": {"task": "outreach.link_incident_tickets", "schedule": 30.0},
    "outreach.release_held_deliveries": {"task": "outreach.release_held_deliveries", "schedule": 60.0},
    "tickets.sla_scan": {"task": "tickets.sla_scan", "schedule": 60.0},
    "tickets.poll_mailboxes": {"task": "tickets.poll_mailboxes", "schedule": 60.0},
    "tickets.autoclose": {"task": "tickets.autoclose", "schedule": crontab(minute=7)},
    "customers.rollup_events": {"task": "customers.rollup_events", "schedule": 5 * 60.0},
    "customers.prune_events": {"task": "customers.prune_events", "schedule": crontab(hour=3, minute=17)},
    # every beat: 'event happened' signals answer within a minute; the others when their interval is up
    "playbooks.evaluate_signals": {"task": "playbooks.evaluate_signals", "schedule": 20.0},
    "playbooks.start_runs": {"task": "playbooks.start_runs", "schedule": 20.0},
    "playbooks.advance_runs": {"task": "playbooks.advance_runs", "schedule": 20.0},
}
app.autodiscover_tasks()
