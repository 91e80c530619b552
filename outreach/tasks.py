"""Celery tasks of the outreach app: stable names, ids only, each body calls one service."""

from celery import shared_task


@shared_task(name="outreach.plan_fanout", acks_late=True, reject_on_worker_lost=True)
def plan_fanout(kind: str, object_id: int, after_customer_id: int) -> int | None:
    from outreach.services import fanout_plan_slice  # noqa: PLC0415

    return fanout_plan_slice(kind=kind, object_id=object_id, after_customer_id=after_customer_id)


@shared_task(name="outreach.resume_fanouts", acks_late=True, reject_on_worker_lost=True)
def resume_fanouts() -> int:
    from outreach.services import fanouts_resume  # noqa: PLC0415

    return fanouts_resume()


@shared_task(name="outreach.run_campaigns", acks_late=True, reject_on_worker_lost=True)
def run_campaigns() -> dict[str, int]:
    from outreach.services import campaigns_run  # noqa: PLC0415

    return campaigns_run()


@shared_task(name="outreach.run_reminders", acks_late=True, reject_on_worker_lost=True)
def run_reminders() -> dict[str, int]:
    from outreach.services import reminders_run  # noqa: PLC0415

    return reminders_run()


@shared_task(name="outreach.run_followups", acks_late=True, reject_on_worker_lost=True)
def run_followups() -> dict[str, int]:
    from outreach.services import followups_run  # noqa: PLC0415

    return followups_run()


@shared_task(name="outreach.link_incident_tickets", acks_late=True, reject_on_worker_lost=True)
def link_incident_tickets() -> int:
    from outreach.services import incidents_link_new_tickets  # noqa: PLC0415

    return incidents_link_new_tickets()


@shared_task(name="outreach.release_held_deliveries", acks_late=True, reject_on_worker_lost=True)
def release_held_deliveries() -> dict[str, int]:
    from outreach.services import held_deliveries_release  # noqa: PLC0415

    return held_deliveries_release()
