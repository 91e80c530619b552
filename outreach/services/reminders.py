"""Reminder rules: a template sent an offset from a date, once per (rule, customer, occurrence).

``reminders_run`` is a beat job. It looks at a window of dates (the offset plus
a catch-up of a few days), so a run that is late still sends; the Delivery
idempotency key ``reminder:{rule}:customer:{id}:{occurrence}`` makes a second
run, or two at once, send nothing twice. Set-based: keyset slices of customers.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.conf import helpdesk_setting
from customers.models import Customer
from customers.services import deliveries_plan
from outreach.models import Incident, ReminderRule
from outreach.selectors import incident_customers, segment_customers
from outreach.services.fanout import draft_build
from outreach.services.incidents import maintenance_reminders_run
from outreach.services.rendering import CompiledMessage, incident_context
from outreach.services.rules import drafts_apply_rules

Occurrence = Callable[[Customer], Any]


def _day_range(lo: dt.date, hi: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(lo, dt.time.min, tzinfo=dt.UTC),
        dt.datetime.combine(hi + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC),
    )


def _occurrences(rule: ReminderRule, today: dt.date) -> Iterator[tuple[QuerySet[Customer], Occurrence, dict[str, Any]]]:
    """(customers, occurrence of a customer, extra context) for every anchor date in the rule's window."""
    hi = today - dt.timedelta(days=rule.offset_days)
    lo = hi - dt.timedelta(days=helpdesk_setting("OUTREACH_REMINDER_CATCH_UP_DAYS"))
    if rule.anchor == ReminderRule.Anchor.RENEWAL:
        yield (
            Customer.objects.filter(organization__renewal_date__range=(lo, hi)),
            lambda c: c.organization.renewal_date.isoformat(),  # type: ignore[union-attr]  # filtered on it
            {},
        )
    elif rule.anchor in (ReminderRule.Anchor.CUSTOMER_CREATED, ReminderRule.Anchor.CUSTOMER_LAST_SEEN):
        name = "created_at" if rule.anchor == ReminderRule.Anchor.CUSTOMER_CREATED else "last_seen_at"
        start, end = _day_range(lo, hi)
        yield (
            Customer.objects.filter(**{f"{name}__gte": start, f"{name}__lt": end}),
            lambda c: getattr(c, name).date().isoformat(),
            {},
        )
    elif rule.anchor == ReminderRule.Anchor.MAINTENANCE_START:
        start, end = _day_range(lo, hi)
        incidents = Incident.objects.filter(
            kind=Incident.Kind.MAINTENANCE,
            status=Incident.Status.SCHEDULED,
            scheduled_start__gte=start,
            scheduled_start__lt=end,
        )
        for incident in incidents:
            yield (
                incident_customers(incident=incident),
                lambda c, pk=incident.pk: f"incident-{pk}",  # type: ignore[misc]
                {"incident": incident_context(incident)},
            )


def reminder_rule_run(*, rule: ReminderRule, today: dt.date, now: dt.datetime) -> int:
    """Plan one rule's due reminders. Returns how many rows were planned (new or not)."""
    message = CompiledMessage(subject=rule.template.subject, body=rule.template.body)
    size = helpdesk_setting("OUTREACH_FANOUT_SLICE")
    planned = 0
    for customers, occurrence, extra in _occurrences(rule, today):
        if rule.segment is not None:
            customers = customers.filter(pk__in=segment_customers(segment=rule.segment).values("pk"))
        cursor = 0
        while True:
            batch = list(customers.filter(pk__gt=cursor).select_related("organization").order_by("pk")[:size])
            if not batch:
                break
            drafts = [
                draft_build(
                    customer=customer,
                    message=message,
                    category=rule.template.category,
                    key=f"reminder:{rule.pk}:customer:{customer.pk}:{occurrence(customer)}",
                    source=f"reminder:{rule.pk}",
                    extra=extra,
                )
                for customer in batch
            ]
            with transaction.atomic():
                deliveries_plan(drafts=drafts_apply_rules(drafts, now=now))
            planned += len(batch)
            cursor = batch[-1].pk
            if len(batch) < size:
                break
    return planned


def reminders_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat job: every active reminder rule, and the 24-hour reminders of scheduled maintenance."""
    now = now or timezone.now()
    today = now.date()
    planned = 0
    for rule in ReminderRule.objects.filter(active=True).select_related("template", "segment"):
        planned += reminder_rule_run(rule=rule, today=today, now=now)
    return {"planned": planned, "maintenance_reminders": maintenance_reminders_run(now=now)}
