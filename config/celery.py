"""The Celery application.

Every task is safe to run twice (it takes ids, re-reads state and does nothing
when the work is done), so every task acknowledges late and is rejected back to
the broker when its worker dies.
"""

import os

from celery import Celery
from celery.schedules import crontab

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
    "outreach.resume_fanouts": {"task": "outreach.resume_fanouts", "schedule": 60.0},
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
