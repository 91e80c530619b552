"""Outage notices and scheduled maintenance: declare, post updates, resolve; each notice fans out."""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from core.models import User
from customers.models import Customer, Organization, Product
from customers.services import DeliveryDraft
from outreach.models import Fanout, Incident, IncidentUpdate
from outreach.selectors import incident_customers
from outreach.services.fanout import draft_build, fanout_start
from outreach.services.rendering import CompiledMessage, incident_context

BANNER_CACHE_KEY = "outreach:active-incidents"

SUBJECTS: dict[str, str] = {
    IncidentUpdate.Kind.DECLARED: "[{{ incident.severity }}] {{ incident.title }}",
    IncidentUpdate.Kind.UPDATE: "Update: {{ incident.title }}",
    IncidentUpdate.Kind.RESOLVED: "Resolved: {{ incident.title }}",
    IncidentUpdate.Kind.SCHEDULED: "Scheduled maintenance: {{ incident.title }}",
    IncidentUpdate.Kind.REMINDER: "Reminder: maintenance starts {{ local_start }}",
    IncidentUpdate.Kind.STARTED: "Maintenance started: {{ incident.title }}",
}
BODY = """Hello {{ customer.first_name|default:customer.name }},

{{ incident.update }}

{{ incident.title }} ({{ incident.kind }}, {{ incident.status }})
{% if local_start %}Scheduled: {{ local_start }} to {{ local_end }} ({{ customer.timezone }})
{% endif %}
Follow it on our status page: {{ incident.status_url }}
"""


def _fmt(value: dt.datetime | None, customer: Customer) -> str:
    return value.astimezone(customer.zone).strftime("%a %d %b %Y %H:%M") if value else ""


class IncidentUpdatePlanner:
    """Plans one incident update's notice for every affected customer."""

    def __init__(self, update: IncidentUpdate) -> None:
        self.update = update
        self.incident = update.incident
        self.message = CompiledMessage(subject=SUBJECTS[update.kind], body=BODY)
        self.context = incident_context(self.incident, update)

    @classmethod
    def load(cls, update_id: int) -> "IncidentUpdatePlanner | None":
        update = IncidentUpdate.objects.select_related("incident").filter(pk=update_id).first()
        return cls(update) if update is not None else None

    def active(self) -> bool:
        return self.update.notify

    def audience(self) -> QuerySet[Customer]:
        return incident_customers(incident=self.incident)

    def drafts(self, customers: Sequence[Customer], *, position: int, now: dt.datetime) -> list[DeliveryDraft]:
        incident, update = self.incident, self.update
        return [
            draft_build(
                customer=customer,
                message=self.message,
                category=incident.category,
                key=f"incident:{incident.pk}:update:{update.number}:customer:{customer.pk}",
                source=f"incident:{incident.pk}",
                extra={
                    "incident": self.context,
                    "local_start": _fmt(incident.scheduled_start, customer),
                    "local_end": _fmt(incident.scheduled_end, customer),
                },
            )
            for customer in customers
        ]

    def finished(self) -> None:
        pass


def _banner_changed() -> None:
    transaction.on_commit(lambda: cache.delete(BANNER_CACHE_KEY))


def _post(*, incident: Incident, kind: str, message: str, actor: User | None, notify: bool = True) -> IncidentUpdate:
    """Add an update (the incident row is locked by the caller) and fan its notice out on commit."""
    number = (incident.updates.aggregate(n=Max("number"))["n"] or 0) + 1
    update = IncidentUpdate.objects.create(
        incident=incident, number=number, kind=kind, message=message, notify=notify, author=actor
    )
    if notify:
        fanout_start(kind=Fanout.Kind.INCIDENT_UPDATE, object_id=update.pk)
    _banner_changed()
    return update


def _lock(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _set_targets(incident: Incident, products: Iterable[Product], organizations: Iterable[Organization]) -> None:
    incident.products.set(list(products))
    incident.organizations.set(list(organizations))


def _check_targets(products: Sequence[Any], regions: Sequence[str], organizations: Sequence[Any]) -> None:
    if not (products or regions or organizations):
        raise ApplicationError(
            "Choose the affected products, regions or organizations.",
            {"products": "Choose at least one product, region or organization."},
        )


@transaction.atomic
def incident_declare(
    *,
    title: str,
    message: str,
    severity: str = Incident.Severity.MAJOR,
    products: Sequence[Product] = (),
    regions: Sequence[str] = (),
    organizations: Sequence[Organization] = (),
    started_at: dt.datetime | None = None,
    actor: User | None = None,
) -> Incident:
    """Declare an outage: every affected customer is notified at once and the help-center banner shows it."""
    regions = [r.strip() for r in regions if r and r.strip()]
    _check_targets(products, regions, organizations)
    incident = Incident.objects.create(
        kind=Incident.Kind.OUTAGE,
        title=title,
        message=message,
        severity=severity,
        regions=regions,
        started_at=started_at or timezone.now(),
        status=Incident.Status.ACTIVE,
        declared_by=actor if getattr(actor, "pk", None) else None,
    )
    _set_targets(incident, products, organizations)
    _post(incident=incident, kind=IncidentUpdate.Kind.DECLARED, message=message, actor=incident.declared_by)
    return incident


@transaction.atomic
def maintenance_schedule(
    *,
    title: str,
    message: str,
    scheduled_start: dt.datetime,
    scheduled_end: dt.datetime,
    severity: str = Incident.Severity.MINOR,
    products: Sequence[Product] = (),
    regions: Sequence[str] = (),
    organizations: Sequence[Organization] = (),
    actor: User | None = None,
) -> Incident:
    """Announce maintenance ahead; a reminder goes 24 hours before it starts (``reminders_run``)."""
    regions = [r.strip() for r in regions if r and r.strip()]
    _check_targets(products, regions, organizations)
    if scheduled_end <= scheduled_start:
        raise ApplicationError("The maintenance must end after it starts.", {"scheduled_end": "Before the start."})
    if scheduled_start <= timezone.now():
        raise ApplicationError("Maintenance is announced ahead.", {"scheduled_start": "In the past."})
    incident = Incident.objects.create(
        kind=Incident.Kind.MAINTENANCE,
        title=title,
        message=message,
        severity=severity,
        regions=regions,
        started_at=scheduled_start,
        scheduled_start=scheduled_start,
        scheduled_end=scheduled_end,
        status=Incident.Status.SCHEDULED,
        declared_by=actor if getattr(actor, "pk", None) else None,
    )
    _set_targets(incident, products, organizations)
    _post(incident=incident, kind=IncidentUpdate.Kind.SCHEDULED, message=message, actor=incident.declared_by)
    return incident


@transaction.atomic
def incident_update_post(
    *, incident: Incident, message: str, actor: User | None = None, notify: bool = True
) -> IncidentUpdate:
    """Post an update; it notifies the same customers again."""
    incident = _lock(incident)
    if not incident.is_open:
        raise ApplicationError("The incident is resolved.", {"status": incident.status})
    if not message.strip():
        raise ApplicationError("Write the update.", {"message": "This field is required."})
    return _post(incident=incident, kind=IncidentUpdate.Kind.UPDATE, message=message, actor=actor, notify=notify)


@transaction.atomic
def maintenance_start(*, incident: Incident, message: str = "", actor: User | None = None) -> Incident:
    """Mark scheduled maintenance as started (the banner shows it); the status page gets an update."""
    incident = _lock(incident)
    if incident.kind != Incident.Kind.MAINTENANCE or incident.status != Incident.Status.SCHEDULED:
        raise ApplicationError("Only scheduled maintenance can start.", {"status": incident.status})
    incident.status = Incident.Status.ACTIVE
    incident.started_at = timezone.now()
    incident.save(update_fields=["status", "started_at"])
    _post(
        incident=incident,
        kind=IncidentUpdate.Kind.STARTED,
        message=message or "The maintenance has started.",
        actor=actor,
        notify=False,
    )
    return incident


@transaction.atomic
def incident_resolve(*, incident: Incident, message: str = "", actor: User | None = None) -> Incident:
    """Resolve an outage or finish maintenance: customers are told, the banner disappears."""
    incident = _lock(incident)
    if not incident.is_open:
        raise ApplicationError("The incident is resolved already.", {"status": incident.status})
    default = "The maintenance is finished." if incident.kind == Incident.Kind.MAINTENANCE else "This is resolved."
    incident.status = Incident.Status.RESOLVED
    incident.resolved_at = timezone.now()
    incident.save(update_fields=["status", "resolved_at"])
    _post(incident=incident, kind=IncidentUpdate.Kind.RESOLVED, message=message or default, actor=actor)
    return incident


def maintenance_reminders_run(*, now: dt.datetime | None = None) -> int:
    """Beat job: remind affected customers of maintenance starting within 24 hours, exactly once each."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(hours=helpdesk_setting("OUTREACH_MAINTENANCE_REMINDER_HOURS"))
    due = Incident.objects.filter(
        kind=Incident.Kind.MAINTENANCE,
        status=Incident.Status.SCHEDULED,
        reminded_at__isnull=True,
        scheduled_start__gt=now,
        scheduled_start__lte=horizon,
    ).values_list("pk", flat=True)
    reminded = 0
    for pk in list(due):
        with transaction.atomic():
            incident = Incident.objects.select_for_update().get(pk=pk)
            if incident.reminded_at is not None or incident.status != Incident.Status.SCHEDULED:
                continue  # another run got here first
            incident.reminded_at = now
            incident.save(update_fields=["reminded_at"])
            _post(incident=incident, kind=IncidentUpdate.Kind.REMINDER, message=incident.message, actor=None)
            reminded += 1
    return reminded
